import MastiffCore

/// What `mastiff doctor` found on the host: gathered once, then judged by pure checks.
public struct DoctorFacts: Sendable, Equatable {
    public struct Process: Sendable, Equatable {
        public var pid: Int
        public var comm: String
        public var cmdline: [String]
        public var environment: [String: String]
        public var pssBytes: UInt64?
        /// jemalloc mapped (/proc/PID/maps).
        public var jemalloc: Bool
        /// Open descriptors and the soft limit, read for nginx, PostgreSQL and streaming only.
        public var openFDs: Int?
        public var openFileLimit: UInt64?
        public init(pid: Int, comm: String, cmdline: [String], environment: [String: String] = [:], pssBytes: UInt64? = nil, jemalloc: Bool = false,
                    openFDs: Int? = nil, openFileLimit: UInt64? = nil) {
            self.pid = pid
            self.comm = comm
            self.cmdline = cmdline
            self.environment = environment
            self.pssBytes = pssBytes
            self.jemalloc = jemalloc
            self.openFDs = openFDs
            self.openFileLimit = openFileLimit
        }
        var commandLine: String { cmdline.joined(separator: " ") }
        public var isSidekiq: Bool { commandLine.hasPrefix("sidekiq") || comm == "sidekiq" || cmdline.contains { $0 == "sidekiq" || $0.hasSuffix("/sidekiq") } }
        public var isPumaWorker: Bool { commandLine.hasPrefix("puma: cluster worker") }
        public var isPumaMaster: Bool { commandLine.hasPrefix("puma ") && !isPumaWorker }
        public var isNginx: Bool { comm == "nginx" }
        public var isPostgres: Bool { comm == "postgres" || comm == "postmaster" }
        public var isStreaming: Bool { comm == "node" && commandLine.contains("streaming") }
        public var isElasticsearch: Bool { comm == "java" && (commandLine.contains("org.elasticsearch") || commandLine.contains("org.opensearch")) }
    }

    public var memTotalBytes: UInt64 = 0
    public var memAvailableBytes: UInt64 = 0
    public var swapTotalBytes: UInt64 = 0
    public var cpus = 1
    public var processes: [Process] = []
    /// Mastodon's .env.production, when readable.
    public var env: [String: String]?
    /// Why it could not be used (unreadable, a FIFO or directory, too large, binary), with its path.
    public var envProblem: String?
    public var postgresMaxConnections: Int?
    /// Seconds since the newest good backup, when backups are configured.
    public var lastBackupAge: Double?
    public var backupsConfigured = false
    /// Commands of scheduled jobs (mastiff's `jobs:`).
    public var jobCommands: [[String]] = []
    /// Crontab lines that run tootctl (with the file they are in).
    public var cronTootctlLines: [String] = []
    /// Mastodon's admin setting "Media cache retention period" (days; settings table), when read.
    public var mediaCacheRetentionDays: Int?
    /// shared_buffers, effective_cache_size, work_mem and maintenance_work_mem in bytes.
    public var postgresMemorySettings: [String: UInt64] = [:]
    /// Redis's INFO persistence fields and CONFIG GET save / appendonly, when Redis answered.
    public var redisPersistence: [String: String]?
    /// The queues of every Sidekiq process in Redis's processes set (all hosts), when read.
    public var sidekiqQueues: [[String]]?
    /// The queues of the installation's config/sidekiq.yml, when it could be read.
    public var configuredSidekiqQueues: [String]?
    /// For `--upgrade-to`: Mastodon's version (lib/mastodon/version.rb), PostgreSQL's
    /// server_version_num, Redis's version, the largest table and the free space where
    /// PostgreSQL keeps its data (when its data_directory may be read).
    public var mastodonVersion: String?
    public var postgresVersionNumber: Int?
    public var redisVersion: String?
    public var largestTable: Table?
    public struct Table: Sendable, Equatable {
        public var name: String
        public var bytes: UInt64
        public init(name: String, bytes: UInt64) {
            self.name = name
            self.bytes = bytes
        }
    }
    public var postgresDataFreeBytes: UInt64?
    /// nginx's site configurations (sites-enabled, conf.d), nil when none could be read.
    public var nginxConfigs: [UnitFile]?
    /// systemd unit files that start Sidekiq.
    public var sidekiqUnits: [UnitFile] = []

    public struct UnitFile: Sendable, Equatable {
        public var path: String
        public var text: String
        public init(path: String, text: String) {
            self.path = path
            self.text = text
        }
    }
    /// An anonymous ListObjects on Mastodon's media bucket (from .env.production).
    public var mediaBucket: MediaBucketListing?

    public struct MediaBucketListing: Sendable, Equatable {
        /// The bucket's URL, without credentials.
        public var url: String
        /// The HTTP status of the anonymous listing; nil when the request failed.
        public var status: Int?
        /// Whether the answer was a listing (ListBucketResult).
        public var listed: Bool
        public var error: String?

        public init(url: String, status: Int?, listed: Bool, error: String? = nil) {
            self.url = url
            self.status = status
            self.listed = listed
            self.error = error
        }
    }

    public init() {}
}

public struct DoctorFinding: Sendable, Equatable {
    public enum Level: String, Sendable { case ok, warn, fail }
    public var check: String
    public var level: Level
    public var measured: String
    public var recommended: String
    public var why: String

    public init(_ check: String, _ level: Level, measured: String, recommended: String, why: String) {
        self.check = check
        self.level = level
        self.measured = measured
        self.recommended = recommended
        self.why = why
    }
}

/// The checks, each a pure function of the facts; nil when it does not apply (nothing to judge).
public enum DoctorChecks {
    public static func run(_ facts: DoctorFacts) -> [DoctorFinding] {
        [envFile, pumaMemory, sidekiqConcurrency, databasePool, allocator, connections, postgresMemory, openFiles, scheduler, sidekiqQueueTopology, mastodonExporter, logLevel,
         mediaCleanup, backup, redisPersistence, swap, sidekiqStopTimeout, mediaBucket, headroom, elasticsearchHeap]
            .compactMap { $0(facts) }
    }

    static func mib(_ bytes: UInt64) -> String { ByteSize.approximate(Double(bytes)) }

    /// The file half the checks read; when it cannot be used, say so rather than judge less.
    static func envFile(_ facts: DoctorFacts) -> DoctorFinding? {
        guard let problem = facts.envProblem else { return nil }
        return DoctorFinding("env-file", .warn, measured: problem, recommended: "instance.env_file naming Mastodon's readable .env.production",
                             why: "without it, the database pool, the media bucket and Sidekiq's settings cannot be judged")
    }

    /// `-c N` or `--concurrency N` of a Sidekiq command line (Sidekiq's default is 5 in
    /// Mastodon's config/sidekiq.yml).
    static func concurrency(_ process: DoctorFacts.Process) -> Int {
        if let index = process.cmdline.firstIndex(where: { $0 == "-c" || $0 == "--concurrency" }), index + 1 < process.cmdline.count,
           let value = Int(process.cmdline[index + 1]) { return value }
        // "sidekiq 6.5.12 live [0 of 25 busy]" as Sidekiq titles itself.
        if let of = process.cmdline.firstIndex(of: "of"), of + 1 < process.cmdline.count, let value = Int(process.cmdline[of + 1]) { return value }
        return 5
    }

    static func pumaMemory(_ facts: DoctorFacts) -> DoctorFinding? {
        let workers = facts.processes.filter(\.isPumaWorker)
        guard !workers.isEmpty, facts.memTotalBytes > 0 else { return nil }
        let total = workers.compactMap(\.pssBytes).reduce(0, +)
        let share = Double(total) / Double(facts.memTotalBytes)
        let level: DoctorFinding.Level = share > 0.6 ? .fail : share > 0.4 ? .warn : .ok
        return DoctorFinding("puma-memory", level, measured: "\(workers.count) workers, \(mib(total)) PSS = \(Int(share * 100)) % of \(mib(facts.memTotalBytes))",
                             recommended: "≤ 40 % of RAM (lower WEB_CONCURRENCY, or restart workers above a ceiling)",
                             why: "Puma workers grow over time; with Sidekiq, PostgreSQL and Redis beside them they are what runs a small host out of memory")
    }

    static func sidekiqConcurrency(_ facts: DoctorFacts) -> DoctorFinding? {
        let sidekiqs = facts.processes.filter(\.isSidekiq)
        guard !sidekiqs.isEmpty else { return nil }
        let total = sidekiqs.map(concurrency).reduce(0, +)
        let gib = max(1, Double(facts.memTotalBytes) / Double(1 << 30))
        let limit = Int(max(5, min(Double(facts.cpus) * 25, gib * 10)))
        return DoctorFinding("sidekiq-concurrency", total > limit ? .warn : .ok,
                             measured: "\(total) threads in \(sidekiqs.count) process\(sidekiqs.count == 1 ? "" : "es"), \(facts.cpus) cores, \(mib(facts.memTotalBytes))",
                             recommended: "≤ \(limit) (25 per core, 10 per GiB of RAM)",
                             why: "more threads than the host can run only queue up on CPU and database connections, and each holds memory")
    }

    static func databasePool(_ facts: DoctorFacts) -> DoctorFinding? {
        let sidekiqs = facts.processes.filter(\.isSidekiq)
        guard let first = sidekiqs.first else { return nil }
        let threads = concurrency(first)
        guard let pool = first.environment["DB_POOL"].flatMap(Int.init) ?? facts.env?["DB_POOL"].flatMap(Int.init) else {
            return DoctorFinding("db-pool", .warn, measured: "DB_POOL not set for Sidekiq (pid \(first.pid))", recommended: "DB_POOL ≥ \(threads)",
                                 why: "without it Rails's pool is 5 connections: Sidekiq threads wait for one (ActiveRecord::ConnectionTimeoutError)")
        }
        return DoctorFinding("db-pool", pool >= threads ? .ok : .fail, measured: "DB_POOL \(pool), Sidekiq concurrency \(threads)",
                             recommended: "DB_POOL ≥ \(threads)", why: "each Sidekiq thread needs its own database connection")
    }

    static func allocator(_ facts: DoctorFacts) -> DoctorFinding? {
        let ruby = facts.processes.filter { $0.isSidekiq || $0.isPumaMaster || $0.isPumaWorker }
        guard !ruby.isEmpty else { return nil }
        let plain = ruby.filter { !$0.jemalloc && $0.environment["MALLOC_ARENA_MAX"] == nil }
        return DoctorFinding("allocator", plain.isEmpty ? .ok : .warn,
                             measured: plain.isEmpty ? "jemalloc or MALLOC_ARENA_MAX in all \(ruby.count) Ruby processes"
                                 : "glibc malloc without MALLOC_ARENA_MAX in pid \(plain.map { String($0.pid) }.joined(separator: ", "))",
                             recommended: "LD_PRELOAD=libjemalloc.so.2, or MALLOC_ARENA_MAX=2",
                             why: "glibc's per-thread arenas fragment Ruby's heap; Mastodon's processes use a third to half less memory with jemalloc")
    }

    static func connections(_ facts: DoctorFacts) -> DoctorFinding? {
        guard let maximum = facts.postgresMaxConnections, maximum > 0 else { return nil }
        let sidekiq = facts.processes.filter(\.isSidekiq).map(concurrency).reduce(0, +)
        let workers = facts.processes.filter(\.isPumaWorker)
        let threads = workers.first.flatMap { $0.environment["MAX_THREADS"].flatMap(Int.init) } ?? facts.env?["MAX_THREADS"].flatMap(Int.init) ?? 5
        let streaming = facts.processes.contains { $0.comm == "node" && $0.commandLine.contains("streaming") } ? 10 : 0
        let needed = workers.count * threads + sidekiq + streaming + 5
        let share = Double(needed) / Double(maximum)
        let level: DoctorFinding.Level = share > 1 ? .fail : share > 0.5 ? .warn : .ok
        return DoctorFinding("connections", level,
                             measured: "\(needed) needed (\(workers.count) web workers × \(threads) threads + \(sidekiq) Sidekiq + \(streaming) streaming + 5 tootctl) of max_connections \(maximum)",
                             recommended: share > 0.5 ? "PgBouncer in transaction mode, or a higher max_connections" : "below 50 % of max_connections",
                             why: "past the limit new connections fail; past half, a deploy's second set of processes can reach it")
    }

    static func logLevel(_ facts: DoctorFacts) -> DoctorFinding? {
        guard let env = facts.env else { return nil }
        let level = env["RAILS_LOG_LEVEL"] ?? "info"
        return DoctorFinding("rails-log-level", level == "debug" ? .warn : .ok, measured: "RAILS_LOG_LEVEL=\(level)", recommended: "info or warn",
                             why: "debug logs every SQL query: gigabytes a day, and slower requests")
    }

    static func swap(_ facts: DoctorFacts) -> DoctorFinding? {
        guard facts.memTotalBytes > 0, facts.memTotalBytes <= 2 << 30 else { return nil }
        return DoctorFinding("swap", facts.swapTotalBytes > 0 ? .ok : .warn, measured: "\(mib(facts.swapTotalBytes)) swap with \(mib(facts.memTotalBytes)) RAM",
                             recommended: "some swap (1-2 GiB) on a host with 2 GiB or less",
                             why: "without swap, a brief spike (an import, a media conversion) goes straight to the OOM killer")
    }

    static func headroom(_ facts: DoctorFacts) -> DoctorFinding? {
        guard facts.memTotalBytes > 0 else { return nil }
        let needed: UInt64 = 500 << 20
        return DoctorFinding("memory-headroom", facts.memAvailableBytes >= needed ? .ok : .fail,
                             measured: "MemAvailable \(mib(facts.memAvailableBytes))", recommended: "≥ 500MiB",
                             why: "ffmpeg and ImageMagick take hundreds of MiB for one video or large image")
    }

    static func mediaCleanup(_ facts: DoctorFacts) -> DoctorFinding? {
        var found: [String] = []
        if facts.jobCommands.contains(where: { $0.contains("media") && $0.contains("remove") }) { found.append("a mastiff job runs tootctl media remove") }
        if let line = facts.cronTootctlLines.first(where: { $0.contains("media") && $0.contains("remove") }) {
            found.append("a cron entry runs tootctl media remove (\(line.prefix { $0 != ":" }))")
        }
        if let days = facts.mediaCacheRetentionDays, days > 0 { found.append("Mastodon's media cache retention period, \(days) days") }
        if facts.env?["MEDIA_CACHE_RETENTION_PERIOD"] != nil { found.append("MEDIA_CACHE_RETENTION_PERIOD") }
        return DoctorFinding("media-cleanup", found.isEmpty ? .warn : .ok,
                             measured: found.isEmpty ? "none found (mastiff jobs, crontabs, Mastodon's content retention)" : found.joined(separator: "; "),
                             recommended: "tootctl media remove --days 7 daily (a job in jobs:) or a media cache retention period",
                             why: "remote media is cached forever otherwise; it is what fills a small server's disk")
    }

    static func backup(_ facts: DoctorFacts) -> DoctorFinding? {
        guard facts.backupsConfigured else {
            return DoctorFinding("backup", .warn, measured: "no backups: configured", recommended: "daily backups (backups: in mastiff.yml)",
                                 why: "a database without a recent, restorable backup is one disk failure from losing the instance")
        }
        guard let age = facts.lastBackupAge else {
            return DoctorFinding("backup", .fail, measured: "no backup with a manifest", recommended: "a good backup within 26 h",
                                 why: "backups are configured but none has completed")
        }
        return DoctorFinding("backup", age <= 26 * 3600 ? .ok : .fail, measured: "newest good backup \(Int(saturating: age / 3600)) h old",
                             recommended: "within 26 h", why: "a day's posts are what a restore would lose")
    }
}
