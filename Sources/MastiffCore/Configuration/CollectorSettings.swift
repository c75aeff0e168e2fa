public struct CollectorSettings: Sendable, Equatable {
    /// Per-collector limit for one scrape; a collector over it is reported as failed.
    public var timeout: Duration = .seconds(5)
    public var system = SystemCollectorSettings()
    public var processes = ProcessCollectorSettings()
    public var postgres = PostgresCollectorSettings()
    public var pgbouncer = PgBouncerCollectorSettings()
    public var redis = RedisCollectorSettings()
    public var sidekiq = SidekiqCollectorSettings()
    /// Mastodon's own Prometheus endpoints, fetched at scrape time.
    public var mastodonEndpoints: [MastodonEndpoint] = []
    /// HTTP health probes. Empty with `instance.url` set: the default probes of that instance.
    public var probes: [ProbeSpec] = []
    public init() {}
}

/// One HTTP probe (collectors.probes).
public struct ProbeSpec: Sendable, Equatable {
    public var name: String
    public var url: String
    public var method = "GET"
    /// Accepted status codes; empty: any 2xx.
    public var statusCodes: [Int] = []
    /// The body must contain this text.
    public var bodyContains: String?
    /// A dotted path into a JSON body (`domain`, `configuration.urls.streaming`) that must be
    /// present and not empty, and equal `jsonEquals` when that is given.
    public var jsonField: String?
    public var jsonEquals: String?
    public var timeout: Duration = .seconds(5)
    /// Sent as the Host header (a probe of 127.0.0.1 for a virtual host).
    public var host: String?
    /// A CA bundle for a certificate the system does not trust.
    public var caFile: String?

    public init(name: String, url: String) {
        self.name = name
        self.url = url
    }

    /// The probes of a Mastodon instance at `base` (https://example.social): web `/health`,
    /// streaming `/api/v1/streaming/health`, and `/api/v2/instance` answering JSON with a domain.
    public static func defaults(instanceURL base: String) -> [ProbeSpec] {
        let root = base.hasSuffix("/") ? String(base.dropLast()) : base
        var web = ProbeSpec(name: "web", url: root + "/health")
        web.bodyContains = "OK"
        var streaming = ProbeSpec(name: "streaming", url: root + "/api/v1/streaming/health")
        streaming.bodyContains = "OK"
        var api = ProbeSpec(name: "instance_api", url: root + "/api/v2/instance")
        api.jsonField = "domain"
        return [web, streaming, api]
    }
}

/// One Prometheus endpoint of Mastodon: streaming's /metrics (4.2+), or the prometheus_exporter
/// of web and Sidekiq (4.4+, port 9394).
public struct MastodonEndpoint: Sendable, Equatable {
    public var name: String
    public var url: String
    public init(name: String, url: String) {
        self.name = name
        self.url = url
    }
}

public struct PostgresCollectorSettings: Sendable, Equatable {
    public var enabled = true
    /// Any libpq conninfo or URI; Mastodon's default database on the local socket.
    public var dsn = Secret("host=/var/run/postgresql dbname=mastodon_production user=mastodon")
    /// Largest tables (by total size) exported with size, tuples, scans and vacuum age.
    public var topTables = 10
    /// Database and table sizes (which stat every file) are read on this interval and cached.
    public var sizeInterval: Duration = .seconds(60)
    /// Mastodon's own tables (users, statuses, media) are read on this slower interval and the
    /// values cached in between; 0 turns the Mastodon metrics off.
    public var mastodonInterval: Duration = .seconds(300)
    public init() {}
}

public struct PgBouncerCollectorSettings: Sendable, Equatable {
    public var enabled = false
    /// Conninfo for PgBouncer's admin console (database `pgbouncer`, a user in stats_users).
    public var dsn = Secret("host=127.0.0.1 port=6432 dbname=pgbouncer user=pgbouncer")
    public init() {}
}

public struct RedisCollectorSettings: Sendable, Equatable {
    public var enabled = true
    public var url = RedisURL(location: .tcp(host: "127.0.0.1", port: 6379))
    public init() {}
}

public struct SidekiqCollectorSettings: Sendable, Equatable {
    public var enabled = true
    /// The Redis Sidekiq uses; nil means the same as `collectors.redis.url`.
    public var redisURL: RedisURL?
    /// REDIS_NAMESPACE of Mastodon ≤ 4.3 (keys are prefixed with `<namespace>:`); empty for none.
    public var namespace = ""
    /// A live process that starts no job for this long while a queue it serves waits longer is
    /// stalled (`sidekiq_process_stalled`, the SidekiqStalled alert).
    public var stallAfter: Duration = .seconds(600)
    public init() {}
}

public struct SystemCollectorSettings: Sendable, Equatable {
    public var enabled = true
    /// Mount points whose size and free space are exported.
    public var filesystems = ["/"]
    public init() {}
}

public struct ProcessCollectorSettings: Sendable, Equatable {
    public var enabled = true
    /// Read smaps_rollup for PSS. Costs ~0.1 ms per process; off on hosts with thousands of them.
    public var pss = true
    /// Groups from the file, matched before the defaults.
    public var groups: [ProcessGroupSpec] = []
    /// Append `ProcessGroupSpec.mastodonDefaults` after the configured groups.
    public var defaultGroups = true
    public init() {}

    /// The groups in matching order: a process belongs to the first group it matches.
    public var effectiveGroups: [ProcessGroupSpec] {
        var seen = Set(groups.map(\.name))
        var result = groups
        if defaultGroups {
            for group in ProcessGroupSpec.mastodonDefaults where !seen.contains(group.name) {
                result.append(group)
                seen.insert(group.name)
            }
        }
        return result
    }
}

/// A named group of processes. A process matches when any given matcher matches: its `comm`
/// (the kernel's 15-character name) equals one of `comm`, its executable's basename equals one of
/// `exe`, or its command line (arguments joined by spaces) matches the `cmdline` POSIX extended
/// regular expression; and, when `user` is set, it runs as that account.
public struct ProcessGroupSpec: Sendable, Equatable {
    public var name: String
    public var comm: [String]
    public var exe: [String]
    public var cmdline: String?
    /// Only processes of this account belong to the group (a command line is no identity: any
    /// local user can start a process titled `sidekiq 7.2.4 mastodon [0 of 25 busy]`).
    public var user: ProcessOwner?

    public init(name: String, comm: [String] = [], exe: [String] = [], cmdline: String? = nil, user: ProcessOwner? = nil) {
        self.name = name
        self.comm = comm
        self.exe = exe
        self.cmdline = cmdline
        self.user = user
    }

    /// The groups of Mastodon's own processes, whose restart targets restart only the
    /// `mastodon` account's processes unless told otherwise.
    public static let mastodonAccountGroups: Set<String> = ["puma", "sidekiq", "streaming"]

    /// What runs on a Mastodon host. Puma and Sidekiq rename their processes (`puma 6.4.2
    /// (tcp://…) [live]`, `puma: cluster worker 0: …`, `sidekiq 6.5.12 live [0 of 25 busy]`), so
    /// they are matched on the command line; the streaming server is node running streaming/.
    public static let mastodonDefaults: [ProcessGroupSpec] = [
        ProcessGroupSpec(name: "puma", cmdline: "^puma[ :]"),
        ProcessGroupSpec(name: "sidekiq", cmdline: "^sidekiq "),
        ProcessGroupSpec(name: "streaming", cmdline: "^node .*streaming"),
        ProcessGroupSpec(name: "postgres", comm: ["postgres", "postmaster"]),
        ProcessGroupSpec(name: "pgbouncer", comm: ["pgbouncer"]),
        ProcessGroupSpec(name: "redis", comm: ["redis-server"]),
        ProcessGroupSpec(name: "nginx", comm: ["nginx"]),
        ProcessGroupSpec(name: "media", comm: ["ffmpeg", "ffprobe", "convert", "magick", "identify", "vips"]),
        ProcessGroupSpec(name: "elasticsearch", cmdline: "org\\.elasticsearch\\.bootstrap"),
        ProcessGroupSpec(name: "mastiff", comm: ["mastiff"]),
    ]
}

extension CollectorSettings {
    /// `collectors:`.
    public static let section = ConfigSection<CollectorSettings>([
        .key("timeout") { settings, node, _ throws(ConfigError) in settings.timeout = try node.duration(atLeast: .milliseconds(10)) },
        .section("system", SystemCollectorSettings.section, at: \.system),
        .section("processes", ProcessCollectorSettings.section, at: \.processes),
        .section("postgres", PostgresCollectorSettings.section, at: \.postgres),
        .section("pgbouncer", PgBouncerCollectorSettings.section, at: \.pgbouncer),
        .section("redis", RedisCollectorSettings.section, at: \.redis),
        .section("sidekiq", SidekiqCollectorSettings.section, at: \.sidekiq),
        .key("mastodon_endpoints", nested: MastodonEndpoint.section.schema.listItems) { settings, node, context throws(ConfigError) in
            settings.mastodonEndpoints = try node.items(MastodonEndpoint.section, initial: MastodonEndpoint(name: "", url: ""), context: context,
                                                        uniqueBy: \.name, what: "endpoint name")
        },
        .key("probes", nested: ProbeSpec.section.schema.listItems) { settings, node, context throws(ConfigError) in
            var probeContext = context
            probeContext.collectorTimeout = settings.timeout
            settings.probes = try node.items(ProbeSpec.section, initial: ProbeSpec(name: "", url: ""), context: probeContext, uniqueBy: \.name, what: "probe name")
        },
    ])
}

extension SystemCollectorSettings {
    static let section = ConfigSection<SystemCollectorSettings>([
        .key("enabled") { settings, node, _ throws(ConfigError) in settings.enabled = try node.bool() },
        .key("filesystems") { settings, node, _ throws(ConfigError) in
            var paths: [String] = []
            for item in try node.list() {
                let path = try item.string()
                guard path.hasPrefix("/") else { throw item.error("'\(path)' is not an absolute path") }
                paths.append(path)
            }
            settings.filesystems = paths
        },
    ])
}

extension ProcessCollectorSettings {
    static let section = ConfigSection<ProcessCollectorSettings>([
        .key("enabled") { settings, node, _ throws(ConfigError) in settings.enabled = try node.bool() },
        .key("pss") { settings, node, _ throws(ConfigError) in settings.pss = try node.bool() },
        .key("groups", nested: ProcessGroupSpec.section.schema.listItems) { settings, node, context throws(ConfigError) in
            settings.groups = try node.items(ProcessGroupSpec.section, initial: ProcessGroupSpec(name: ""), context: context, uniqueBy: \.name, what: "group name")
        },
        .key("default_groups") { settings, node, _ throws(ConfigError) in settings.defaultGroups = try node.bool() },
    ])
}

extension ProcessGroupSpec {
    static let section = ConfigSection<ProcessGroupSpec>([
        .key("name", required: true) { spec, node, _ throws(ConfigError) in
            let name = try node.string()
            guard MetricName.isValidLabelName(name) || (!name.isEmpty && name.utf8.count <= 64 && !name.contains("\"")) else {
                throw node.error("'\(name)' is not a usable group name")
            }
            spec.name = name
        },
        .key("comm") { spec, node, _ throws(ConfigError) in spec.comm = try node.stringList() },
        .key("exe") { spec, node, _ throws(ConfigError) in spec.exe = try node.stringList() },
        .key("cmdline") { spec, node, _ throws(ConfigError) in
            let pattern = try node.string()
            if let reason = POSIXRegex.validate(pattern) {
                throw node.error("'\(pattern)' is not a valid POSIX extended regular expression (\(reason))")
            }
            spec.cmdline = pattern
        },
        .key("user") { spec, node, context throws(ConfigError) in spec.user = try node.account(context.accounts) },
    ], check: { spec, map, _ throws(ConfigError) in
        guard !spec.comm.isEmpty || !spec.exe.isEmpty || spec.cmdline != nil else {
            throw map.owner.error("group '\(spec.name)' needs at least one matcher: comm, exe or cmdline")
        }
    })
}

extension PostgresCollectorSettings {
    static let section = ConfigSection<PostgresCollectorSettings>([
        .key("enabled") { settings, node, _ throws(ConfigError) in settings.enabled = try node.bool() },
        .key("dsn") { settings, node, context throws(ConfigError) in settings.dsn = try node.postgresDSN(environment: context.environment) },
        .key("top_tables") { settings, node, _ throws(ConfigError) in settings.topTables = try node.int(in: 0...1000) },
        .key("size_interval") { settings, node, _ throws(ConfigError) in settings.sizeInterval = try node.duration() },
        .key("mastodon_interval") { settings, node, _ throws(ConfigError) in settings.mastodonInterval = try node.duration() },
    ])
}

extension PgBouncerCollectorSettings {
    static let section = ConfigSection<PgBouncerCollectorSettings>([
        .key("enabled") { settings, node, _ throws(ConfigError) in settings.enabled = try node.bool() },
        .key("dsn") { settings, node, context throws(ConfigError) in settings.dsn = try node.postgresDSN(environment: context.environment) },
    ], before: { settings, _, _ throws(ConfigError) in
        // Writing the section turns the collector on unless it says otherwise.
        settings.enabled = true
    })
}

extension RedisCollectorSettings {
    static let section = ConfigSection<RedisCollectorSettings>([
        .key("enabled") { settings, node, _ throws(ConfigError) in settings.enabled = try node.bool() },
        .key("url") { settings, node, context throws(ConfigError) in settings.url = try node.redisURL(environment: context.environment) },
    ])
}

extension SidekiqCollectorSettings {
    static let section = ConfigSection<SidekiqCollectorSettings>([
        .key("enabled") { settings, node, _ throws(ConfigError) in settings.enabled = try node.bool() },
        .key("redis_url") { settings, node, context throws(ConfigError) in settings.redisURL = try node.redisURL(environment: context.environment) },
        .key("namespace") { settings, node, _ throws(ConfigError) in settings.namespace = try node.string() },
        .key("stall_after") { settings, node, _ throws(ConfigError) in settings.stallAfter = try node.duration(atLeast: .seconds(60)) },
    ])
}

extension MastodonEndpoint {
    static let section = ConfigSection<MastodonEndpoint>([
        .key("name", required: true) { endpoint, node, _ throws(ConfigError) in endpoint.name = try node.labelValueName("endpoint") },
        .key("url", required: true) { endpoint, node, _ throws(ConfigError) in endpoint.url = try node.httpURL() },
    ])
}

extension ProbeSpec {
    static let section = ConfigSection<ProbeSpec>([
        .key("name", required: true) { probe, node, _ throws(ConfigError) in probe.name = try node.labelValueName("probe") },
        .key("url", required: true) { probe, node, _ throws(ConfigError) in probe.url = try node.httpURL() },
        .key("method") { probe, node, _ throws(ConfigError) in probe.method = try node.choice(["GET", "HEAD", "POST", "OPTIONS"], what: "method") },
        .key("status") { probe, node, _ throws(ConfigError) in
            for item in try node.list() { probe.statusCodes.append(try item.int(in: 100...599)) }
        },
        .key("body_contains") { probe, node, _ throws(ConfigError) in probe.bodyContains = try node.string() },
        .key("json_field") { probe, node, _ throws(ConfigError) in probe.jsonField = try node.string() },
        .key("json_equals") { probe, node, _ throws(ConfigError) in
            guard probe.jsonField != nil else { throw node.error("json_equals needs json_field") }
            probe.jsonEquals = try node.string()
        },
        .key("timeout") { probe, node, context throws(ConfigError) in
            probe.timeout = try node.duration(atLeast: .milliseconds(100))
            guard probe.timeout <= context.collectorTimeout else {
                throw node.error("must not be longer than collectors.timeout (\(DurationParser.format(context.collectorTimeout))): a probe never holds up a sample")
            }
        },
        .key("host") { probe, node, _ throws(ConfigError) in probe.host = try node.string() },
        .key("ca_file") { probe, node, _ throws(ConfigError) in probe.caFile = try node.absolutePath() },
    ], check: { probe, map, context throws(ConfigError) in
        if map["timeout"] == nil { probe.timeout = min(probe.timeout, context.collectorTimeout) }
    })
}

extension ConfigNode {
    /// A name that becomes a label value: not empty, at most 64 bytes, no quote or backslash.
    func labelValueName(_ what: String) throws(ConfigError) -> String {
        let name = try string()
        guard !name.isEmpty, name.utf8.count <= 64, !name.contains("\""), !name.contains("\\") else {
            throw error("'\(name)' is not a usable \(what) name")
        }
        return name
    }

    /// A `user:`: an account of this host, or a numeric uid.
    func account(_ accounts: SystemAccounts) throws(ConfigError) -> ProcessOwner {
        let name = try string()
        guard let owner = accounts.owner(name) else {
            let shown = name.escapingControlCharacters
            throw error("this host has no user '\(shown)' (getent passwd \(shown) finds nothing); name the account the processes run as, or its numeric uid")
        }
        return owner
    }

    /// A libpq connection string. A URI whose user info holds a raw "@" is refused: libpq ends
    /// the user info at the first "@" and would take the rest of the password for a host name,
    /// look it up in DNS and quote it in its errors. The message never repeats the value.
    func postgresDSN(environment: (String) -> String?) throws(ConfigError) -> Secret {
        let secret = try self.secret(environment: environment)
        let text = secret.reveal()
        for scheme in ["postgresql://", "postgres://"] where text.hasPrefix(scheme) {
            let rest = text.dropFirst(scheme.count)
            let authority = rest.prefix { $0 != "/" && $0 != "?" }
            if authority.filter({ $0 == "@" }).count > 1 {
                throw error("the user info of a postgresql:// URI holds a raw '@': write it as %40 (libpq would read the rest of the password as the host)")
            }
        }
        return secret
    }
}
