import Logging

/// The validated configuration. Every default is written here and documented, key by key, in
/// etc/mastiff.yml; `MastiffConfig()` is what `mastiff run` uses without a file.
public struct MastiffConfig: Sendable, Equatable {
    /// Address for /metrics and /healthz.
    public var listen = ListenAddress(host: "127.0.0.1", port: 9815)
    /// Where state that must survive a restart is kept.
    public var stateDirectory = "/var/lib/mastiff"
    public var log = LogSettings()
    public var collectors = CollectorSettings()
    public var statsd = StatsdSettings()
    public var sampling = SamplingSettings()
    public var alerts = AlertSettings()
    public var instance = InstanceSettings()
    /// Restart targets (`restarts:`); none by default.
    public var restarts: [RestartTargetSpec] = []
    /// Backups to S3-compatible storage (off by default).
    public var backups = BackupSettings()
    /// Scheduled maintenance commands.
    public var jobs: [JobSpec] = []
    /// The Unix socket for the CLI (`mastiff status`); nil: none.
    public var controlSocket: String? = "/run/mastiff/control.sock"
    /// exporter-toolkit's web configuration file (basic auth, headers) for the HTTP paths; nil:
    /// none (serve on loopback, or behind a proxy that authenticates).
    public var webConfig: String?

    public init() {}
}

/// The sampler: how often the collectors run when nothing scrapes.
public struct SamplingSettings: Sendable, Equatable {
    /// Collectors run this often, scraped or not; a scrape gets values at most this old.
    public var interval: Duration = .seconds(15)
    /// Memory the in-memory history may reserve for the series rules and the status page keep.
    public var historyLimit = 8 << 20
    public init() {}
}

public struct LogSettings: Sendable, Equatable {
    public enum Format: String, Sendable, Equatable { case text, json }
    public var level: Logger.Level = .info
    public var format: Format = .text
    public init() {}
}

/// The Mastodon instance mastiff watches (instance:).
public struct InstanceSettings: Sendable, Equatable {
    /// Its public URL; nil: not set (no default probes).
    public var url: String?
    /// Mastodon's environment file, which `mastiff doctor` reads (never printed).
    public var envFile = "/home/mastodon/live/.env.production"
    /// /health/deep and /api/v1/health answer without the web configuration's credentials, for
    /// uptime checkers that cannot send them; they say only which parts fail.
    public var healthOpen = false
    public init() {}
}


extension MastiffConfig {
    /// The whole file. Sections are read in this order, so each may use those above it
    /// (statsd checks `listen`, restart targets name process groups, backups default to the
    /// collector's database, routes name receivers).
    public static let section = ConfigSection<MastiffConfig>([
        .key("listen") { config, node, _ throws(ConfigError) in config.listen = try node.listenAddress() },
        .key("state_dir") { config, node, _ throws(ConfigError) in config.stateDirectory = try node.absolutePath() ?? config.stateDirectory },
        .section("log", LogSettings.section, at: \.log),
        .section("collectors", CollectorSettings.section, at: \.collectors),
        .key("statsd", nested: StatsdSettings.section.schema) { config, node, context throws(ConfigError) in
            var statsdContext = context
            statsdContext.httpListen = config.listen
            try StatsdSettings.section.read(node, into: &config.statsd, context: statsdContext)
        },
        .key("control_socket") { config, node, _ throws(ConfigError) in
            let path = try node.absolutePath(emptyMeans: "none")
            guard (path?.utf8.count ?? 0) < 108 else { throw node.error("a Unix socket path must be shorter than 108 bytes") }
            config.controlSocket = path
        },
        .key("web_config") { config, node, _ throws(ConfigError) in config.webConfig = try node.absolutePath(emptyMeans: "none") },
        .section("sampling", SamplingSettings.section, at: \.sampling),
        .section("instance", InstanceSettings.section, at: \.instance),
        .key("restarts", nested: RestartTargetSpec.section.schema.listItems) { config, node, context throws(ConfigError) in
            var restartContext = context
            restartContext.processGroups = config.collectors.processes.effectiveGroups
            let initial = RestartTargetSpec(name: "", group: "", method: .signal(name: "TERM", number: 15))
            config.restarts = try node.items(RestartTargetSpec.section, initial: initial, context: restartContext, uniqueBy: \.name, what: "restart target")
        },
        .key("backups", nested: BackupSettings.section.schema) { config, node, context throws(ConfigError) in
            var backupContext = context
            backupContext.collectorDSN = config.collectors.postgres.dsn
            try BackupSettings.section.read(node, into: &config.backups, context: backupContext)
        },
        .key("jobs", nested: JobSpec.section.schema.listItems) { config, node, context throws(ConfigError) in
            config.jobs = try node.items(JobSpec.section, initial: JobSpec(name: "", schedule: "", command: []), context: context, uniqueBy: \.name, what: "job")
        },
        .key("alerts", nested: AlertSettings.section.schema) { config, node, context throws(ConfigError) in
            try AlertSettings.section.read(node, into: &config.alerts, context: context)
            // Relative to the configuration file, as Prometheus resolves rule_files.
            let file = context.file
            let directory = file.contains("/") ? String(file[..<file.lastIndex(of: "/")!]) : "."
            config.alerts.ruleFiles = config.alerts.ruleFiles.map { $0.hasPrefix("/") ? $0 : (directory.isEmpty ? "" : directory) + "/" + $0 }
        },
    ])
}

extension LogSettings {
    static let section = ConfigSection<LogSettings>([
        .key("level") { log, node, _ throws(ConfigError) in
            let text = try node.string()
            guard let parsed = Logger.Level(rawValue: text) else {
                throw node.error("unknown level '\(text)' (trace, debug, info, notice, warning, error, critical)")
            }
            log.level = parsed
        },
        .key("format") { log, node, _ throws(ConfigError) in log.format = Format(rawValue: try node.choice(["text", "json"], what: "format"))! },
    ])
}

extension SamplingSettings {
    static let section = ConfigSection<SamplingSettings>([
        .key("interval") { settings, node, _ throws(ConfigError) in settings.interval = try node.duration(atLeast: .seconds(1)) },
        .key("history_limit") { settings, node, _ throws(ConfigError) in
            guard case .bytes(let bytes) = try node.byteSize(allowPercent: false), bytes <= 1 << 30 else {
                throw node.error("must be a size up to 1GiB (0 keeps no history)")
            }
            settings.historyLimit = Int(bytes)
        },
    ])
}

extension InstanceSettings {
    static let section = ConfigSection<InstanceSettings>([
        .key("url") { instance, node, _ throws(ConfigError) in instance.url = try node.httpURL() },
        .key("env_file") { instance, node, _ throws(ConfigError) in instance.envFile = try node.absolutePath() ?? instance.envFile },
        .key("health_open") { instance, node, _ throws(ConfigError) in instance.healthOpen = try node.bool() },
    ])
}
