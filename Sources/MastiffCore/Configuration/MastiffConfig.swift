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

/// The alert rules mastiff evaluates itself (docs/alerting.md).
public struct AlertSettings: Sendable, Equatable {
    /// How often rule groups are evaluated; nil: every sample (`sampling.interval`). A group's
    /// own `interval` in its rule file takes precedence.
    public var interval: Duration?
    /// Whether alerts/mastiff.rules.yml (compiled in) is loaded.
    public var builtin = true
    /// Globs of further Prometheus rule files; relative ones are made absolute against the
    /// configuration file's directory when it is read.
    public var ruleFiles: [String] = []
    /// Alerting rules not to evaluate, by alert name.
    public var disable: [String] = []
    /// `$externalLabels` in templates.
    public var externalLabels: [Label] = []
    /// The most series one selector of the rules keeps (so the most alerts one rule can have);
    /// more are not seen by the rules, and said so in the log and in
    /// `mastiff_rule_series_dropped_total`. Memory stays bounded by sampling.history_limit.
    public var maxSeries = 1000
    /// Where each `disable` entry is written, for the error when no rule has that name.
    public var disableLocations: [String: String] = [:]
    /// Where notifications go; none: the log.
    public var receivers: [ReceiverSpec] = []
    public var routes: [RouteSpec] = []
    /// Receivers of alerts no route matches; nil: every receiver.
    public var defaultReceivers: [String]?
    public var groupBy = ["alertname"]
    public var groupWait: Duration = .seconds(30)
    public var groupInterval: Duration = .seconds(300)
    public var repeatInterval: Duration = .seconds(14400)
    public var heartbeat: HeartbeatSettings?
    public var maintenanceWindows: [MaintenanceWindowSpec] = []
    public init() {}
}

/// The statsd bridge (Mastodon ≤ 4.2 and any statsd client).
public struct StatsdSettings: Sendable, Equatable {
    public var enabled = true
    /// nil: that listener is off.
    public var udp: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 8125)
    public var tcp: ListenAddress?
    public var unixgram: String?
    public var maxPacketSize = 65_535
    public var receiveBuffer = 4 << 20
    /// A TCP connection silent for this long is closed.
    public var tcpIdleTimeout: Duration = .seconds(300)
    /// A statsd_exporter mapping file; nil: the built-in Mastodon mapping
    /// (etc/statsd-mapping-mastodon.yml) with `mastodonNamespace`.
    public var mappingFile: String?
    /// Mastodon's STATSD_NAMESPACE, substituted into the built-in mapping.
    public var mastodonNamespace = "Mastodon.production"
    public var maxSeries = 10_000
    /// escape, escape_exact or drop (see UnmappedNames).
    public var unmapped = "escape"
    public var mappingCacheSize = 10_000
    /// `total`: counters get `_total` appended when their name lacks it (promtool's rule);
    /// `as_mapped`: the name as the mapping gives it, as statsd_exporter exposes it.
    public var counterSuffix = "total"
    public init() {}
}

public struct LogSettings: Sendable, Equatable {
    public enum Format: String, Sendable, Equatable { case text, json }
    public var level: Logger.Level = .info
    public var format: Format = .text
    public init() {}
}

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

/// The Mastodon instance mastiff watches (instance:).
public struct InstanceSettings: Sendable, Equatable {
    /// Its public URL; nil: not set (no default probes).
    public var url: String?
    /// Mastodon's environment file, which `mastiff doctor` reads (never printed).
    public var envFile = "/home/mastodon/live/.env.production"
    public init() {}
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
