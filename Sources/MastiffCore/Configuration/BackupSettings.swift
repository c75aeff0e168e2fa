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
        public var partSize = 16 << 20
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
