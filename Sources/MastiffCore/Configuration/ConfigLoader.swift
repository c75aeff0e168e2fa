import Logging

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

    public static func load(_ source: Source, environment: @escaping (String) -> String? = FileSystemAccess.environment) throws(ConfigError) -> MastiffConfig {
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
            return try parse(text, file: path, environment: environment)
        }
    }

    public static func parse(_ text: String, file: String, environment: (String) -> String? = FileSystemAccess.environment) throws(ConfigError) -> MastiffConfig {
        let root = try ConfigNode.parse(text, file: file)
        let top = try root.mapping(allowing: ["listen", "state_dir", "log", "collectors", "statsd", "sampling", "control_socket"])
        var config = MastiffConfig()
        if let node = top["listen"] { config.listen = try node.listenAddress() }
        if let node = top["state_dir"] {
            config.stateDirectory = try node.string()
            guard config.stateDirectory.hasPrefix("/") else { throw node.error("must be an absolute path") }
        }
        if let node = top["log"] { config.log = try parseLog(node) }
        if let node = top["collectors"] { config.collectors = try parseCollectors(node, environment: environment) }
        if let node = top["statsd"] { config.statsd = try parseStatsd(node, httpListen: config.listen) }
        if let node = top["control_socket"] {
            let path = try node.string()
            guard path.isEmpty || path.hasPrefix("/") else { throw node.error("must be an absolute path, or \"\" for none") }
            guard path.utf8.count < 108 else { throw node.error("a Unix socket path must be shorter than 108 bytes") }
            config.controlSocket = path.isEmpty ? nil : path
        }
        if let node = top["sampling"] {
            let map = try node.mapping(allowing: ["interval", "history_limit"])
            if let interval = map["interval"] { config.sampling.interval = try interval.duration(atLeast: .seconds(1)) }
            if let limit = map["history_limit"] {
                guard case .bytes(let bytes) = try limit.byteSize(allowPercent: false), bytes <= 1 << 30 else {
                    throw limit.error("must be a size up to 1GiB (0 keeps no history)")
                }
                config.sampling.historyLimit = Int(bytes)
            }
        }
        return config
    }

    private static func parseStatsd(_ node: ConfigNode, httpListen: ListenAddress) throws(ConfigError) -> StatsdSettings {
        let map = try node.mapping(allowing: ["enabled", "udp", "tcp", "unixgram", "max_packet_size", "receive_buffer", "tcp_idle_timeout", "mapping",
                                              "mastodon_namespace", "max_series", "unmapped", "mapping_cache_size"])
        var settings = StatsdSettings()
        if let enabled = map["enabled"] { settings.enabled = try enabled.bool() }
        // An empty string turns a listener off.
        func address(_ key: String) throws(ConfigError) -> ListenAddress?? {
            guard let node = map[key] else { return .none }
            if try node.string().isEmpty { return .some(nil) }
            return .some(try node.listenAddress())
        }
        if let udp = try address("udp") { settings.udp = udp }
        if let tcp = try address("tcp") {
            // Both would be TCP listeners on one port: whichever bound second would fail.
            if let tcp, tcp.port != 0, tcp.sharesPort(with: httpListen) {
                throw map["tcp"]!.error("\(tcp) is also the HTTP listen address (\(httpListen)); give statsd TCP another port")
            }
            settings.tcp = tcp
        }
        if let path = map["unixgram"] {
            let text = try path.string()
            guard text.isEmpty || text.hasPrefix("/") else { throw path.error("must be an absolute path, or \"\" for off") }
            settings.unixgram = text.isEmpty ? nil : text
        }
        if let size = map["max_packet_size"] {
            guard case .bytes(let bytes) = try size.byteSize(allowPercent: false), (512...(1 << 20)).contains(bytes) else {
                throw size.error("must be from 512 bytes to 1MiB")
            }
            settings.maxPacketSize = Int(bytes)
        }
        if let size = map["receive_buffer"] {
            guard case .bytes(let bytes) = try size.byteSize(allowPercent: false), (4096...(256 << 20)).contains(bytes) else {
                throw size.error("must be from 4KiB to 256MiB")
            }
            settings.receiveBuffer = Int(bytes)
        }
        if let timeout = map["tcp_idle_timeout"] { settings.tcpIdleTimeout = try timeout.duration(atLeast: .seconds(1)) }
        if let mapping = map["mapping"] {
            let text = try mapping.string()
            guard text.isEmpty || text.hasPrefix("/") else { throw mapping.error("must be an absolute path, or \"\" for the built-in Mastodon mapping") }
            settings.mappingFile = text.isEmpty ? nil : text
        }
        if let namespace = map["mastodon_namespace"] {
            let text = try namespace.string()
            let valid = !text.isEmpty && text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { field in
                (field.utf8.first?.isNameStartByte ?? false) && field.utf8.allSatisfy(\.isNameByte)
            }
            guard valid else { throw namespace.error("'\(text)' is not a statsd namespace (dot-separated names such as Mastodon.production)") }
            settings.mastodonNamespace = text
        }
        if let series = map["max_series"] { settings.maxSeries = try series.int(in: 1...10_000_000) }
        if let unmapped = map["unmapped"] {
            let text = try unmapped.string()
            guard ["escape", "escape_exact", "drop"].contains(text) else { throw unmapped.error("unknown value '\(text)' (escape, escape_exact, drop)") }
            settings.unmapped = text
        }
        if let size = map["mapping_cache_size"] { settings.mappingCacheSize = try size.int(in: 0...10_000_000) }
        return settings
    }

    private static func parseLog(_ node: ConfigNode) throws(ConfigError) -> LogSettings {
        let map = try node.mapping(allowing: ["level", "format"])
        var log = LogSettings()
        if let level = map["level"] {
            let text = try level.string()
            guard let parsed = Logger.Level(rawValue: text) else {
                throw level.error("unknown level '\(text)' (trace, debug, info, notice, warning, error, critical)")
            }
            log.level = parsed
        }
        if let format = map["format"] {
            let text = try format.string()
            guard let parsed = LogSettings.Format(rawValue: text) else { throw format.error("unknown format '\(text)' (text, json)") }
            log.format = parsed
        }
        return log
    }

    private static func parseCollectors(_ node: ConfigNode, environment: (String) -> String?) throws(ConfigError) -> CollectorSettings {
        let map = try node.mapping(allowing: ["timeout", "system", "processes", "postgres", "pgbouncer", "redis", "sidekiq", "mastodon_endpoints"])
        var settings = CollectorSettings()
        if let timeout = map["timeout"] { settings.timeout = try timeout.duration(atLeast: .milliseconds(10)) }
        if let system = map["system"] {
            let systemMap = try system.mapping(allowing: ["enabled", "filesystems"])
            if let enabled = systemMap["enabled"] { settings.system.enabled = try enabled.bool() }
            if let filesystems = systemMap["filesystems"] {
                var paths: [String] = []
                for item in try filesystems.list() {
                    let path = try item.string()
                    guard path.hasPrefix("/") else { throw item.error("'\(path)' is not an absolute path") }
                    paths.append(path)
                }
                settings.system.filesystems = paths
            }
        }
        if let processes = map["processes"] {
            let processMap = try processes.mapping(allowing: ["enabled", "pss", "groups", "default_groups"])
            if let enabled = processMap["enabled"] { settings.processes.enabled = try enabled.bool() }
            if let pss = processMap["pss"] { settings.processes.pss = try pss.bool() }
            if let defaults = processMap["default_groups"] { settings.processes.defaultGroups = try defaults.bool() }
            if let groups = processMap["groups"] {
                var seen = Set<String>()
                for item in try groups.list() {
                    let group = try parseGroup(item)
                    guard seen.insert(group.name).inserted else { throw item.error("duplicate group name '\(group.name)'") }
                    settings.processes.groups.append(group)
                }
            }
        }
        if let postgres = map["postgres"] {
            let postgresMap = try postgres.mapping(allowing: ["enabled", "dsn", "top_tables", "size_interval", "mastodon_interval"])
            if let enabled = postgresMap["enabled"] { settings.postgres.enabled = try enabled.bool() }
            if let dsn = postgresMap["dsn"] { settings.postgres.dsn = try dsn.secret(environment: environment) }
            if let top = postgresMap["top_tables"] { settings.postgres.topTables = try top.int(in: 0...1000) }
            if let interval = postgresMap["size_interval"] { settings.postgres.sizeInterval = try interval.duration() }
            if let interval = postgresMap["mastodon_interval"] { settings.postgres.mastodonInterval = try interval.duration() }
        }
        if let pgbouncer = map["pgbouncer"] {
            let pgbouncerMap = try pgbouncer.mapping(allowing: ["enabled", "dsn"])
            // Writing the section turns the collector on unless it says otherwise.
            settings.pgbouncer.enabled = true
            if let enabled = pgbouncerMap["enabled"] { settings.pgbouncer.enabled = try enabled.bool() }
            if let dsn = pgbouncerMap["dsn"] { settings.pgbouncer.dsn = try dsn.secret(environment: environment) }
        }
        if let redis = map["redis"] {
            let redisMap = try redis.mapping(allowing: ["enabled", "url"])
            if let enabled = redisMap["enabled"] { settings.redis.enabled = try enabled.bool() }
            if let url = redisMap["url"] { settings.redis.url = try url.redisURL(environment: environment) }
        }
        if let sidekiq = map["sidekiq"] {
            let sidekiqMap = try sidekiq.mapping(allowing: ["enabled", "redis_url", "namespace"])
            if let enabled = sidekiqMap["enabled"] { settings.sidekiq.enabled = try enabled.bool() }
            if let url = sidekiqMap["redis_url"] { settings.sidekiq.redisURL = try url.redisURL(environment: environment) }
            if let namespace = sidekiqMap["namespace"] { settings.sidekiq.namespace = try namespace.string() }
        }
        if let endpoints = map["mastodon_endpoints"] {
            for item in try endpoints.list() {
                let endpointMap = try item.mapping(allowing: ["name", "url"])
                let nameNode = try endpointMap.required("name")
                let name = try nameNode.string()
                guard !name.isEmpty, name.utf8.count <= 64, !name.contains("\""), !name.contains("\\") else {
                    throw nameNode.error("'\(name)' is not a usable endpoint name")
                }
                guard !settings.mastodonEndpoints.contains(where: { $0.name == name }) else { throw nameNode.error("duplicate endpoint name '\(name)'") }
                let urlNode = try endpointMap.required("url")
                let url = try urlNode.string()
                guard url.hasPrefix("http://") || url.hasPrefix("https://") else { throw urlNode.error("'\(url)' is not an http:// or https:// URL") }
                settings.mastodonEndpoints.append(MastodonEndpoint(name: name, url: url))
            }
        }
        return settings
    }

    private static func parseGroup(_ node: ConfigNode) throws(ConfigError) -> ProcessGroupSpec {
        let map = try node.mapping(allowing: ["name", "comm", "exe", "cmdline"])
        let nameNode = try map.required("name")
        let name = try nameNode.string()
        guard MetricName.isValidLabelName(name) || (!name.isEmpty && name.utf8.count <= 64 && !name.contains("\"")) else {
            throw nameNode.error("'\(name)' is not a usable group name")
        }
        var spec = ProcessGroupSpec(name: name)
        if let comm = map["comm"] { spec.comm = try comm.stringList() }
        if let exe = map["exe"] { spec.exe = try exe.stringList() }
        if let cmdline = map["cmdline"] {
            let pattern = try cmdline.string()
            if let reason = POSIXRegex.validate(pattern) {
                throw cmdline.error("'\(pattern)' is not a valid POSIX extended regular expression (\(reason))")
            }
            spec.cmdline = pattern
        }
        guard !spec.comm.isEmpty || !spec.exe.isEmpty || spec.cmdline != nil else {
            throw node.error("group '\(name)' needs at least one matcher: comm, exe or cmdline")
        }
        return spec
    }
}
