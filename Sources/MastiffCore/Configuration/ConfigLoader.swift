/// Reads mastiff.yml strictly into a `MastiffConfig`.
public enum ConfigLoader {
    public static let defaultPath = "/etc/mastiff/mastiff.yml"
    /// Larger configuration files are refused whole (never cut and half-read).
    public static let maxFileSize = 1 << 20

    /// Where the configuration comes from: `--config`, then `MASTIFF_CONFIG`, then the default
    /// path if that file exists, else the embedded defaults.
    public enum Source: Sendable, Equatable, CustomStringConvertible {
        case file(String)
        case embeddedDefaults

        public static func resolve(explicitPath: String?, environment: (String) -> String? = FileSystemAccess.environment,
                                   fileExists: (String) -> Bool = FileSystemAccess.fileExists) -> Source {
            if let explicitPath { return .file(explicitPath) }
            if let fromEnvironment = environment("MASTIFF_CONFIG"), !fromEnvironment.isEmpty { return .file(fromEnvironment) }
            if fileExists(defaultPath) { return .file(defaultPath) }
            return .embeddedDefaults
        }

        public var description: String {
            switch self {
            case .file(let path): return path
            case .embeddedDefaults: return "embedded defaults"
            }
        }
    }

    public static func load(_ source: Source, environment: @escaping (String) -> String? = FileSystemAccess.environment,
                            accounts: SystemAccounts = .host) throws(ConfigError) -> MastiffConfig {
        switch source {
        case .embeddedDefaults:
            return MastiffConfig()
        case .file(let path):
            let text: String
            do {
                text = try FileSystemAccess.readRegularFile(path, limit: maxFileSize)
            } catch {
                throw ConfigError(unreadable: path, error)
            }
            return try parse(text, file: path, environment: environment, accounts: accounts)
        }
    }

    /// `accounts` resolves the `user:` of process groups and restart targets (the host's by default).
    public static func parse(_ text: String, file: String, environment: (String) -> String? = FileSystemAccess.environment,
                             accounts: SystemAccounts = .host) throws(ConfigError) -> MastiffConfig {
        let root = try ConfigNode.parse(text, file: file)
        let top = try root.mapping(allowing: ConfigKeys.topLevel)
        var config = MastiffConfig()
        if let node = top["listen"] { config.listen = try node.listenAddress() }
        if let node = top["state_dir"] {
            config.stateDirectory = try node.string()
            guard config.stateDirectory.hasPrefix("/") else { throw node.error("must be an absolute path") }
        }
        if let node = top["log"] { config.log = try parseLog(node) }
        if let node = top["collectors"] { config.collectors = try parseCollectors(node, environment: environment, accounts: accounts) }
        if let node = top["statsd"] { config.statsd = try parseStatsd(node, httpListen: config.listen) }
        if let node = top["control_socket"] {
            let path = try node.string()
            guard path.isEmpty || path.hasPrefix("/") else { throw node.error("must be an absolute path, or \"\" for none") }
            guard path.utf8.count < 108 else { throw node.error("a Unix socket path must be shorter than 108 bytes") }
            config.controlSocket = path.isEmpty ? nil : path
        }
        if let node = top["web_config"] {
            let path = try node.string()
            guard path.isEmpty || path.hasPrefix("/") else { throw node.error("must be an absolute path, or \"\" for none") }
            config.webConfig = path.isEmpty ? nil : path
        }
        if let node = top["sampling"] { config.sampling = try parseSampling(node) }
        if let node = top["instance"] {
            let map = try node.mapping(allowing: ConfigKeys.instance)
            if let urlNode = map["url"] {
                config.instance.url = try urlNode.httpURL()
            }
            if let envNode = map["env_file"] {
                let path = try envNode.string()
                guard path.hasPrefix("/") else { throw envNode.error("must be an absolute path") }
                config.instance.envFile = path
            }
        }
        if let node = top["restarts"] {
            let groups = config.collectors.processes.effectiveGroups
            for item in try node.list() {
                let target = try parseRestartTarget(item, groups: groups, accounts: accounts)
                guard !config.restarts.contains(where: { $0.name == target.name }) else { throw item.error("duplicate restart target '\(target.name)'") }
                config.restarts.append(target)
            }
        }
        if let node = top["backups"] { config.backups = try parseBackups(node, environment: environment, collectorDSN: config.collectors.postgres.dsn) }
        if let node = top["jobs"] {
            for item in try node.list() {
                let job = try parseJob(item)
                guard !config.jobs.contains(where: { $0.name == job.name }) else { throw item.error("duplicate job '\(job.name)'") }
                config.jobs.append(job)
            }
        }
        if let node = top["alerts"] {
            config.alerts = try parseAlerts(node)
            // Relative to the configuration file, as Prometheus resolves rule_files.
            let directory = file.contains("/") ? String(file[..<file.lastIndex(of: "/")!]) : "."
            config.alerts.ruleFiles = config.alerts.ruleFiles.map { $0.hasPrefix("/") ? $0 : (directory.isEmpty ? "" : directory) + "/" + $0 }
        }
        return config
    }

}
