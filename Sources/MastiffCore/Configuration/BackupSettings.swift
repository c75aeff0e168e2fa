/// `backups:`: where backups go, what is backed up when, how long it is kept.
public struct BackupSettings: Sendable, Equatable {
    public var enabled = false
    public var storage = StorageSettings()
    /// age recipients (`age1…`); none: backups are not encrypted.
    public var recipients: [String] = []
    /// The age identity file, only where verify, restore or drills run.
    public var identityFile: String?
    /// The key manifests are signed with (HMAC-SHA256), the same on every agent of a cluster;
    /// nil: state_dir/backup-manifest.key, made at first use (one host).
    public var manifestKey: Secret?
    /// Take a PostgreSQL advisory lock so that one agent of a cluster runs each backup.
    public var oncePerCluster = true
    /// Schedules and retention days: the host's local time (TZ of the service) or UTC.
    public var utc = false
    public var postgres = PostgresBackupSettings()
    public var redis = RedisBackupSettings()
    public var files = FilesBackupSettings()
    public var retention = RetentionSettings()
    public var drill = DrillSettings()

    public struct StorageSettings: Sendable, Equatable {
        public var endpoint = ""
        public var region = "us-east-1"
        public var bucket = ""
        public var prefix = "mastiff/"
        public var pathStyle = true
        public var accessKeyID = Secret("")
        public var secretAccessKey = Secret("")
        public var sessionToken: Secret?
        public var caFile: String?
        /// nil (`auto`): chosen per backup from the database's size (BackupPartSize).
        public var partSize: Int?
        public var connectTimeout: Duration = .seconds(10)
        public var lowSpeedTimeout: Duration = .seconds(60)
        public var attempts = 5
        public init() {}
    }

    public struct PostgresBackupSettings: Sendable, Equatable {
        public var enabled = true
        public var schedule = "@daily"
        public var jitter: Duration = .zero
        /// The database to dump; nil: collectors.postgres.dsn.
        public var dsn: Secret?
        public var compression: String?
        public var nice: Int? = 10
        public var ioniceClass: Int? = 3
        public var ioniceLevel: Int?
        public init() {}
    }

    public struct RedisBackupSettings: Sendable, Equatable {
        public var enabled = false
        public var schedule = "@daily"
        public var jitter: Duration = .zero
        /// nil: collectors.redis.url.
        public var url: RedisURL?
        /// The RDB file; nil: asked from Redis (CONFIG GET dir and dbfilename).
        public var rdbPath: String?
        public var bgsaveTimeout: Duration = .seconds(600)
        public init() {}
    }

    /// The instance's files that exist nowhere else: `.env.production` (its secrets and keys) by
    /// default, plus any paths listed. Always encrypted.
    public struct FilesBackupSettings: Sendable, Equatable {
        public var enabled = false
        public var schedule = "@daily"
        public var jitter: Duration = .zero
        /// Files and directories (recursively) to archive; empty: `instance.env_file`.
        public var paths: [String] = []
        public init() {}
    }

    public struct RetentionSettings: Sendable, Equatable {
        public var keepLast = 3
        public var daily = 7
        public var weekly = 4
        public var monthly = 6
        public init() {}
    }

    public struct DrillSettings: Sendable, Equatable {
        /// nil: no scheduled drills.
        public var schedule: String?
        /// The server to restore into (any database on it); nil: the backed-up database's server.
        public var dsn: Secret?
        public var scratchDatabase = "mastiff_restore_drill"
        public init() {}
    }

    public init() {}
}

/// `jobs:`: one scheduled command.
public struct JobSpec: Sendable, Equatable {
    public var name: String
    public var schedule: String
    public var command: [String]
    public var user: String?
    public var environment: [String: String] = [:]
    public var workingDirectory: String?
    public var timeout: Duration = .seconds(3600)
    public var killGrace: Duration = .seconds(30)
    public var jitter: Duration = .zero
    /// Do not start while MemAvailable is below this; retry until `deferFor` has passed.
    public var minAvailableMemory: UInt64?
    public var deferFor: Duration = .seconds(3600)
    public var oncePerCluster = false
    public var enabled = true

    public init(name: String, schedule: String, command: [String]) {
        self.name = name
        self.schedule = schedule
        self.command = command
    }
}

extension BackupSettings {
    /// `backups:`.
    public static let section = ConfigSection<BackupSettings>([
        .key("enabled") { settings, node, _ throws(ConfigError) in settings.enabled = try node.bool() },
        .section("storage", StorageSettings.section, at: \.storage),
        .key("encryption", nested: encryption.schema) { settings, node, context throws(ConfigError) in
            try encryption.read(node, into: &settings, context: context)
        },
        .key("manifest_key") { settings, node, context throws(ConfigError) in
            let key = try node.secret(environment: context.environment)
            guard key.reveal().utf8.count >= 32 else {
                throw node.error("a manifest key is at least 32 characters (e.g. the 64 hex digits of `openssl rand -hex 32`)")
            }
            settings.manifestKey = key
        },
        .key("once_per_cluster") { settings, node, _ throws(ConfigError) in settings.oncePerCluster = try node.bool() },
        .key("time_zone") { settings, node, _ throws(ConfigError) in
            let text = try node.string()
            guard text == "local" || text == "UTC" else { throw node.error("expected local (the host's zone, from the service's TZ) or UTC") }
            settings.utc = text == "UTC"
        },
        .section("postgres", PostgresBackupSettings.section, at: \.postgres),
        .section("redis", RedisBackupSettings.section, at: \.redis),
        .section("files", FilesBackupSettings.section, at: \.files),
        .section("retention", RetentionSettings.section, at: \.retention),
        .key("drill", nested: DrillSettings.section.schema) { settings, node, context throws(ConfigError) in
            var drillContext = context
            drillContext.collectorDSN = settings.postgres.dsn ?? context.collectorDSN
            try DrillSettings.section.read(node, into: &settings.drill, context: drillContext)
        },
    ], check: { settings, map, _ throws(ConfigError) in
        if settings.enabled, map["storage"] == nil {
            throw map.owner.error("backups are enabled but have no storage: section (endpoint, bucket, keys)")
        }
        // These are the instance's keys: never stored in a bucket in the clear.
        if settings.files.enabled, settings.recipients.isEmpty, let files = map["files"] {
            throw files.error("a files backup holds the instance's secrets and is always encrypted: set backups.encryption.recipients")
        }
    })

    /// `backups.encryption`, whose two keys are kept on the settings themselves.
    static let encryption = ConfigSection<BackupSettings>([
        .key("recipients") { settings, node, _ throws(ConfigError) in
            settings.recipients = try node.stringList()
            for (index, recipient) in settings.recipients.enumerated() where !(recipient.hasPrefix("age1") && recipient.count == 62) {
                throw node.error("recipient \(index + 1) '\(recipient.prefix(12))…' is not an age X25519 recipient (age1…, 62 characters, as age-keygen -y prints)")
            }
        },
        .key("identity_file") { settings, node, _ throws(ConfigError) in settings.identityFile = try node.absolutePath() },
    ])
}

extension BackupSettings.StorageSettings {
    static let section = ConfigSection<Self>([
        .key("endpoint", required: true) { storage, node, _ throws(ConfigError) in
            storage.endpoint = try node.string()
            guard storage.endpoint.hasPrefix("https://") || storage.endpoint.hasPrefix("http://"), !storage.endpoint.dropFirst(8).contains("/") else {
                throw node.error("expected the S3 endpoint as scheme://host[:port], e.g. https://s3.eu-central-1.amazonaws.com")
            }
        },
        .key("region") { storage, node, _ throws(ConfigError) in storage.region = try node.string() },
        .key("bucket", required: true) { storage, node, _ throws(ConfigError) in
            storage.bucket = try node.string()
            guard (3...63).contains(storage.bucket.count), storage.bucket.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "." }) else {
                throw node.error("'\(storage.bucket)' is not a bucket name (3-63 lowercase letters, digits, - and .)")
            }
        },
        .key("prefix") { storage, node, _ throws(ConfigError) in
            let prefix = try node.string()
            guard !prefix.hasPrefix("/") else { throw node.error("a key prefix does not start with /") }
            storage.prefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
        },
        .key("addressing") { storage, node, _ throws(ConfigError) in
            let text = try node.string()
            guard text == "path" || text == "virtual" else { throw node.error("expected path or virtual") }
            storage.pathStyle = text == "path"
        },
        .key("access_key_id", required: true) { storage, node, context throws(ConfigError) in storage.accessKeyID = try node.secret(environment: context.environment) },
        .key("secret_access_key", required: true) { storage, node, context throws(ConfigError) in
            storage.secretAccessKey = try node.secret(environment: context.environment)
        },
        .key("session_token") { storage, node, context throws(ConfigError) in storage.sessionToken = try node.secret(environment: context.environment) },
        .key("ca_file") { storage, node, _ throws(ConfigError) in storage.caFile = try node.string() },
        .key("part_size") { storage, node, _ throws(ConfigError) in
            if (try? node.string()) == "auto" {
                storage.partSize = nil
                return
            }
            guard case .bytes(let bytes) = try node.byteSize(allowPercent: false), bytes >= 5 << 20, bytes <= 5 << 30 else {
                throw node.error("a part is auto, or 5MiB to 5GiB (S3's limits)")
            }
            storage.partSize = Int(bytes)
        },
        .key("connect_timeout") { storage, node, _ throws(ConfigError) in storage.connectTimeout = try node.duration(atLeast: .seconds(1)) },
        .key("low_speed_timeout") { storage, node, _ throws(ConfigError) in storage.lowSpeedTimeout = try node.duration(atLeast: .seconds(5)) },
        .key("attempts") { storage, node, _ throws(ConfigError) in storage.attempts = try node.int(in: 1...20) },
    ])
}

extension BackupSettings.PostgresBackupSettings {
    static let section = ConfigSection<Self>([
        .key("enabled") { settings, node, _ throws(ConfigError) in settings.enabled = try node.bool() },
        .key("schedule") { settings, node, _ throws(ConfigError) in settings.schedule = try node.cron() },
        .key("jitter") { settings, node, _ throws(ConfigError) in settings.jitter = try node.duration() },
        .key("dsn") { settings, node, context throws(ConfigError) in settings.dsn = try node.secret(environment: context.environment) },
        .key("compression") { settings, node, _ throws(ConfigError) in
            let text = try node.string()
            let method = text.split(separator: ":").first.map(String.init) ?? ""
            guard Int(text).map({ (0...9).contains($0) }) ?? ["gzip", "lz4", "zstd", "none"].contains(method) else {
                throw node.error("expected 0-9, gzip[:level], lz4[:level], zstd[:level] or none (pg_dump --compress)")
            }
            settings.compression = text
        },
        .key("nice") { settings, node, _ throws(ConfigError) in settings.nice = try node.int(in: -20...19) },
        .key("ionice") { settings, node, _ throws(ConfigError) in
            let text = try node.string()
            let parts = text.split(separator: ":")
            let classes = ["realtime": 1, "best-effort": 2, "idle": 3]
            guard let first = parts.first, let ioClass = classes[String(first)], parts.count <= 2,
                  parts.count == 1 || Int(parts[1]).map({ (0...7).contains($0) }) == true else {
                throw node.error("expected idle, best-effort[:0-7] or realtime[:0-7]")
            }
            settings.ioniceClass = ioClass
            settings.ioniceLevel = parts.count == 2 ? Int(parts[1]) : nil
        },
    ])
}

extension BackupSettings.RedisBackupSettings {
    static let section = ConfigSection<Self>([
        .key("enabled") { settings, node, _ throws(ConfigError) in settings.enabled = try node.bool() },
        .key("schedule") { settings, node, _ throws(ConfigError) in settings.schedule = try node.cron() },
        .key("jitter") { settings, node, _ throws(ConfigError) in settings.jitter = try node.duration() },
        .key("url") { settings, node, context throws(ConfigError) in settings.url = try node.redisURL(environment: context.environment) },
        .key("rdb_path") { settings, node, _ throws(ConfigError) in settings.rdbPath = try node.absolutePath() },
        .key("bgsave_timeout") { settings, node, _ throws(ConfigError) in settings.bgsaveTimeout = try node.duration(atLeast: .seconds(5)) },
    ])
}

extension BackupSettings.FilesBackupSettings {
    static let section = ConfigSection<Self>([
        .key("enabled") { settings, node, _ throws(ConfigError) in settings.enabled = try node.bool() },
        .key("schedule") { settings, node, _ throws(ConfigError) in settings.schedule = try node.cron() },
        .key("jitter") { settings, node, _ throws(ConfigError) in settings.jitter = try node.duration() },
        .key("paths") { settings, node, _ throws(ConfigError) in
            for item in try node.list() {
                guard let path = try item.absolutePath(), path != "/" else { throw item.error("'/' is the whole host: list what to keep") }
                settings.paths.append(path)
            }
        },
    ])
}

extension BackupSettings.RetentionSettings {
    static let section = ConfigSection<Self>([
        .key("keep_last") { retention, node, _ throws(ConfigError) in retention.keepLast = try node.int(in: 1...10_000) },
        .key("daily") { retention, node, _ throws(ConfigError) in retention.daily = try node.int(in: 0...10_000) },
        .key("weekly") { retention, node, _ throws(ConfigError) in retention.weekly = try node.int(in: 0...10_000) },
        .key("monthly") { retention, node, _ throws(ConfigError) in retention.monthly = try node.int(in: 0...10_000) },
    ])
}

extension BackupSettings.DrillSettings {
    /// `context.collectorDSN` is the database backed up, which a drill must never drop.
    static let section = ConfigSection<Self>([
        .key("schedule") { drill, node, _ throws(ConfigError) in drill.schedule = try node.cron() },
        .key("dsn") { drill, node, context throws(ConfigError) in drill.dsn = try node.secret(environment: context.environment) },
        .key("scratch_database") { drill, node, context throws(ConfigError) in
            let name = try node.string()
            guard !name.isEmpty, name.count < 64, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw node.error("expected a plain database name (letters, digits, _)")
            }
            // Each drill drops its scratch database: never one that holds anything else.
            let backedUp = context.collectorDSN.flatMap { ConnectionStringParts.database($0.reveal()) }
            guard name != backedUp, !["postgres", "template0", "template1"].contains(name) else {
                throw node.error("'\(name)' is \(name == backedUp ? "the database that is backed up" : "one of the server's own databases"); "
                    + "each drill drops its scratch database, so give it a name of its own (default mastiff_restore_drill)")
            }
            drill.scratchDatabase = name
        },
    ])
}

extension JobSpec {
    /// One item of `jobs:`.
    static let section = ConfigSection<JobSpec>([
        .key("name", required: true) { job, node, _ throws(ConfigError) in job.name = try node.identifierName("job") },
        .key("schedule", required: true) { job, node, _ throws(ConfigError) in job.schedule = try node.cron() },
        .key("command", required: true) { job, node, _ throws(ConfigError) in
            job.command = try node.stringList()
            guard let first = job.command.first, first.hasPrefix("/") else {
                throw node.error("expected an argv list starting with an absolute path, e.g. [/home/mastodon/live/bin/tootctl, media, remove, --days, \"7\"]")
            }
        },
        .key("user") { job, node, _ throws(ConfigError) in
            let user = try node.string()
            guard !user.isEmpty, user.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else { throw node.error("expected a user name") }
            job.user = user
        },
        .key("environment") { job, node, _ throws(ConfigError) in
            for (keyNode, _, name, value) in try node.stringPairs("NAME: value pairs (plain strings)") {
                guard !name.isEmpty, !name.contains("=") else { throw keyNode.error("'\(name)' is not an environment variable name") }
                job.environment[name] = value
            }
        },
        .key("working_directory") { job, node, _ throws(ConfigError) in job.workingDirectory = try node.absolutePath() },
        .key("timeout") { job, node, _ throws(ConfigError) in job.timeout = try node.duration(atLeast: .seconds(1)) },
        .key("kill_grace") { job, node, _ throws(ConfigError) in job.killGrace = try node.duration(atLeast: .seconds(1)) },
        .key("jitter") { job, node, _ throws(ConfigError) in job.jitter = try node.duration() },
        .key("min_available_memory") { job, node, _ throws(ConfigError) in
            guard case .bytes(let bytes) = try node.byteSize(allowPercent: false) else { throw node.error("expected a size such as 300MiB") }
            job.minAvailableMemory = bytes
        },
        .key("defer_for") { job, node, _ throws(ConfigError) in job.deferFor = try node.duration() },
        .key("once_per_cluster") { job, node, _ throws(ConfigError) in job.oncePerCluster = try node.bool() },
        .key("enabled") { job, node, _ throws(ConfigError) in job.enabled = try node.bool() },
    ])
}
