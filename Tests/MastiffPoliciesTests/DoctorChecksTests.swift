@testable import MastiffPolicies
import Testing

/// Each doctor check on gathered facts (fixtures, not this host): the verdict, what it measured
/// and what it recommends.
@Suite struct DoctorChecksTests {
    typealias Process = DoctorFacts.Process
    static let gib: UInt64 = 1 << 30

    static func host(ram: UInt64 = 4 * gib, available: UInt64 = 1 * gib, swap: UInt64 = 0, cpus: Int = 2) -> DoctorFacts {
        var facts = DoctorFacts()
        facts.memTotalBytes = ram
        facts.memAvailableBytes = available
        facts.swapTotalBytes = swap
        facts.cpus = cpus
        return facts
    }

    func finding(_ facts: DoctorFacts, _ check: String) -> DoctorFinding? { DoctorChecks.run(facts).first { $0.check == check } }

    @Test func pumaWorkersAgainstRAM() {
        var facts = Self.host(ram: 2 * Self.gib)
        facts.processes = (0..<3).map { Process(pid: 100 + $0, comm: "ruby", cmdline: ["puma: cluster worker \($0): 99 [live]"], pssBytes: 450 << 20) }
        let result = finding(facts, "puma-memory")
        #expect(result?.level == .fail)
        #expect(result?.measured == "3 workers, 1.3 GiB PSS = 65 % of 2.0 GiB")
        facts.processes = [Process(pid: 100, comm: "ruby", cmdline: ["puma: cluster worker 0: 99 [live]"], pssBytes: 300 << 20)]
        #expect(finding(facts, "puma-memory")?.level == .ok)
    }

    @Test func dbPoolMustCoverSidekiqThreads() {
        var facts = Self.host()
        facts.processes = [Process(pid: 7, comm: "ruby", cmdline: ["bundle", "exec", "sidekiq", "-c", "25"], environment: ["DB_POOL": "10"])]
        let short = finding(facts, "db-pool")
        #expect(short?.level == .fail && short?.measured == "DB_POOL 10, Sidekiq concurrency 25")
        facts.processes[0].environment["DB_POOL"] = "25"
        #expect(finding(facts, "db-pool")?.level == .ok)
        // From .env.production when the process does not carry it.
        facts.processes[0].environment = [:]
        facts.env = ["DB_POOL": "30"]
        #expect(finding(facts, "db-pool")?.level == .ok)
        facts.env = [:]
        #expect(finding(facts, "db-pool")?.level == .warn)
    }

    @Test func sidekiqConcurrencyAgainstCoresAndRAM() {
        var facts = Self.host(ram: 1 * Self.gib, cpus: 1)
        facts.processes = [Process(pid: 7, comm: "ruby", cmdline: ["sidekiq", "6.5.12", "live", "[0", "of", "25", "busy]"])]
        let result = finding(facts, "sidekiq-concurrency")
        #expect(result?.level == .warn && result?.recommended.hasPrefix("≤ 10") == true)
    }

    @Test func allocatorAndConnections() {
        var facts = Self.host()
        facts.processes = [Process(pid: 7, comm: "ruby", cmdline: ["sidekiq", "-c", "25"], jemalloc: true),
                           Process(pid: 8, comm: "ruby", cmdline: ["puma: cluster worker 0: 5 [live]"], environment: ["MAX_THREADS": "5"]),
                           Process(pid: 9, comm: "ruby", cmdline: ["puma: cluster worker 1: 5 [live]"], environment: ["MAX_THREADS": "5"])]
        let allocator = finding(facts, "allocator")
        #expect(allocator?.level == .warn && allocator?.measured.contains("8, 9") == true)
        facts.postgresMaxConnections = 100
        // 2 × 5 + 25 + 0 + 5 = 40 of 100: under half.
        #expect(finding(facts, "connections")?.level == .ok)
        facts.postgresMaxConnections = 60
        #expect(finding(facts, "connections")?.level == .warn)
        facts.postgresMaxConnections = 30
        #expect(finding(facts, "connections")?.level == .fail)
    }

    @Test func smallHostsNeedSwapAndHeadroom() {
        let small = Self.host(ram: 1 * Self.gib, available: 200 << 20, swap: 0)
        #expect(finding(small, "swap")?.level == .warn)
        #expect(finding(small, "memory-headroom")?.level == .fail)
        #expect(finding(Self.host(ram: 8 * Self.gib), "swap") == nil)
    }

    @Test func logLevelMediaCleanupAndBackups() {
        var facts = Self.host()
        facts.env = ["RAILS_LOG_LEVEL": "debug"]
        #expect(finding(facts, "rails-log-level")?.level == .warn)
        #expect(finding(facts, "media-cleanup")?.level == .warn)
        facts.jobCommands = [["/home/mastodon/live/bin/tootctl", "media", "remove", "--days", "7"]]
        #expect(finding(facts, "media-cleanup")?.level == .ok)
        // A crontab line, or Mastodon's own retention setting, serves as well.
        facts.jobCommands = []
        facts.cronTootctlLines = ["/etc/cron.d/mastodon: 0 3 * * * mastodon RAILS_ENV=production /home/mastodon/live/bin/tootctl media remove --days 7"]
        #expect(finding(facts, "media-cleanup")?.measured == "a cron entry runs tootctl media remove (/etc/cron.d/mastodon)")
        facts.cronTootctlLines = ["/etc/cron.d/mastodon: 0 3 * * * mastodon /home/mastodon/live/bin/tootctl accounts cull"]
        #expect(finding(facts, "media-cleanup")?.level == .warn, "another tootctl command is not a media cleanup")
        facts.mediaCacheRetentionDays = 14
        #expect(finding(facts, "media-cleanup")?.measured == "Mastodon's media cache retention period, 14 days")
        facts.mediaCacheRetentionDays = 0
        #expect(finding(facts, "media-cleanup")?.level == .warn, "0 days is Mastodon's way of saying never")
        #expect(finding(facts, "backup")?.level == .warn)
        facts.backupsConfigured = true
        #expect(finding(facts, "backup")?.level == .fail)
        facts.lastBackupAge = 3 * 3600
        #expect(finding(facts, "backup")?.level == .ok)
        facts.lastBackupAge = 30 * 3600
        #expect(finding(facts, "backup")?.measured == "newest good backup 30 h old")
    }

    // MARK: The services beside Mastodon

    /// PgTune's web profile on 4 GiB: shared_buffers 1 GiB, effective_cache_size 3 GiB,
    /// maintenance_work_mem 256 MiB, work_mem (4 GiB − 1 GiB) / (3 × 100) = 10.2 MiB.
    @Test func postgresMemoryAgainstPgTune() {
        var facts = Self.host(ram: 4 * Self.gib)
        facts.postgresMaxConnections = 100
        facts.postgresMemorySettings = ["shared_buffers": 128 << 20, "effective_cache_size": 4 * Self.gib, "work_mem": 4 << 20, "maintenance_work_mem": 64 << 20]
        #expect(finding(facts, "postgres-memory") == nil, "PostgreSQL on another host: its RAM is not this one")
        facts.processes = [Process(pid: 50, comm: "postgres", cmdline: ["/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql/15/main"])]
        let defaults = finding(facts, "postgres-memory")
        #expect(defaults?.level == .warn)
        #expect(defaults?.recommended == "PgTune (web): shared_buffers 1.0 GiB, effective_cache_size 3.0 GiB, work_mem 10.2 MiB, maintenance_work_mem 256 MiB")
        #expect(defaults?.why.contains("shared_buffers low") == true)
        #expect(defaults?.why.contains("effective_cache_size") == false, "4 GiB is within a third of 3 GiB")
        facts.postgresMemorySettings = ["shared_buffers": Self.gib, "effective_cache_size": 3 * Self.gib, "work_mem": 8 << 20, "maintenance_work_mem": 256 << 20]
        #expect(finding(facts, "postgres-memory")?.level == .ok)
        // 100 connections × 64 MiB of work_mem is more than 4 GiB.
        facts.postgresMemorySettings["work_mem"] = 64 << 20
        let greedy = finding(facts, "postgres-memory")
        #expect(greedy?.level == .fail)
        #expect(greedy?.why.contains("work_mem × max_connections (6.3 GiB) is more than the RAM") == true)
    }

    @Test func openFilesAgainstTheLimits() {
        var facts = Self.host()
        #expect(finding(facts, "open-files") == nil)
        facts.processes = [
            Process(pid: 10, comm: "nginx", cmdline: ["nginx: worker process"], openFDs: 900, openFileLimit: 1024),
            Process(pid: 11, comm: "nginx", cmdline: ["nginx: worker process"], openFDs: 10, openFileLimit: 1024),
            Process(pid: 20, comm: "postgres", cmdline: ["postgres: mastodon"], openFDs: 30, openFileLimit: 1024),
            Process(pid: 30, comm: "node", cmdline: ["node", "./streaming"], openFDs: 100, openFileLimit: 65536),
        ]
        let near = finding(facts, "open-files")
        #expect(near?.level == .fail)
        #expect(near?.measured == "nginx 900 of 1024 (87 %), postgres 30 of 1024 (2 %), streaming 100 of 65536 (0 %)")
        facts.processes[0].openFDs = 20
        let small = finding(facts, "open-files")
        #expect(small?.level == .warn && small?.why.contains("nginx's limit 1024 is below 4096") == true)
        facts.processes[0].openFileLimit = 65536
        facts.processes[1].openFileLimit = 65536
        #expect(finding(facts, "open-files")?.level == .ok)
    }

    @Test func exactlyOneSidekiqServesTheScheduler() {
        var facts = Self.host()
        #expect(finding(facts, "sidekiq-scheduler") == nil)
        // From Redis: every host's processes.
        facts.sidekiqQueues = [["default", "push"], ["pull", "ingress"]]
        let none = finding(facts, "sidekiq-scheduler")
        #expect(none?.level == .fail && none?.measured == "0 of 2 Sidekiq processes in Redis (all hosts) serve the scheduler queue")
        facts.sidekiqQueues = [["default", "scheduler"], ["scheduler"]]
        #expect(finding(facts, "sidekiq-scheduler")?.level == .warn)
        facts.sidekiqQueues = [["default", "push", "scheduler"], ["pull"]]
        #expect(finding(facts, "sidekiq-scheduler")?.level == .ok)
        // Without Redis: this host's command lines; no -q means every queue.
        facts.sidekiqQueues = nil
        facts.processes = [Process(pid: 1, comm: "ruby", cmdline: ["bundle", "exec", "sidekiq", "-c", "25"]),
                           Process(pid: 2, comm: "ruby", cmdline: ["bundle", "exec", "sidekiq", "-q", "pull", "-q", "push,2"])]
        let local = finding(facts, "sidekiq-scheduler")
        #expect(local?.level == .ok && local?.measured.hasSuffix("on this host (Redis not read) serve the scheduler queue") == true)
    }

    @Test func redisPersistenceAndTheLastSave() {
        var facts = Self.host()
        #expect(finding(facts, "redis-persistence") == nil)
        facts.redisPersistence = ["save": "", "appendonly": "no", "rdb_last_bgsave_status": "ok"]
        #expect(finding(facts, "redis-persistence")?.level == .warn)
        facts.redisPersistence = ["save": "3600 1 300 100 60 10000", "appendonly": "no", "rdb_last_bgsave_status": "err"]
        let failed = finding(facts, "redis-persistence")
        #expect(failed?.level == .fail && failed?.measured == "save \"3600 1 300 100 60 10000\", appendonly no, last bgsave err")
        facts.redisPersistence?["rdb_last_bgsave_status"] = "ok"
        #expect(finding(facts, "redis-persistence")?.level == .ok)
        facts.redisPersistence = ["save": "", "appendonly": "yes", "aof_enabled": "1", "aof_last_write_status": "ok"]
        #expect(finding(facts, "redis-persistence")?.level == .ok)
    }

    /// Mastodon's sample unit stops Sidekiq after 15 s while Sidekiq gives its jobs 25.
    @Test func sidekiqUnitStopTimeout() {
        var facts = Self.host()
        #expect(finding(facts, "sidekiq-stop-timeout") == nil)
        let sample = """
            [Service]
            ExecStart=/home/mastodon/.rbenv/shims/bundle exec sidekiq -c 25
            TimeoutSec=15
            """
        facts.sidekiqUnits = [DoctorFacts.UnitFile(path: "/etc/systemd/system/mastodon-sidekiq.service", text: sample)]
        let short = finding(facts, "sidekiq-stop-timeout")
        #expect(short?.level == .fail)
        #expect(short?.measured == "mastodon-sidekiq.service: stop timeout 15 s, Sidekiq -t 25 s")
        // A drop-in's TimeoutStopSec wins over TimeoutSec.
        facts.sidekiqUnits[0].text += "\n[Service]\nTimeoutStopSec=1min 30s\n"
        #expect(finding(facts, "sidekiq-stop-timeout")?.level == .ok)
        facts.sidekiqUnits[0].text = "[Service]\nExecStart=/usr/bin/bundle exec sidekiq -c 10 -t 60\n"
        let defaulted = finding(facts, "sidekiq-stop-timeout")
        #expect(defaulted?.level == .ok && defaulted?.measured == "mastodon-sidekiq.service: stop timeout 90 s (systemd's default), Sidekiq -t 60 s")
        facts.sidekiqUnits[0].text += "TimeoutStopSec=60s\n"
        #expect(finding(facts, "sidekiq-stop-timeout")?.level == .fail, "60 s is not 60 + 5")
        #expect(DoctorChecks.timeSpan("2min") == 120 && DoctorChecks.timeSpan("500ms") == 0.5 && DoctorChecks.timeSpan("infinity") == .infinity)
        #expect(DoctorChecks.timeSpan("15 fortnights") == nil)
    }

    @Test func mediaBucketMustNotListAnonymously() {
        var facts = Self.host()
        facts.env = ["S3_ENABLED": "false"]
        #expect(finding(facts, "media-bucket") == nil)
        facts.env = ["S3_ENABLED": "true", "S3_BUCKET": "files"]
        facts.mediaBucket = DoctorFacts.MediaBucketListing(url: "https://s3.example/files", status: 200, listed: true)
        let open = finding(facts, "media-bucket")
        #expect(open?.level == .fail && open?.measured == "https://s3.example/files lists its objects to anyone (HTTP 200)")
        facts.mediaBucket = DoctorFacts.MediaBucketListing(url: "https://s3.example/files", status: 403, listed: false)
        #expect(finding(facts, "media-bucket")?.level == .ok)
        facts.mediaBucket = DoctorFacts.MediaBucketListing(url: "https://s3.example/files", status: nil, listed: false, error: "connection refused")
        #expect(finding(facts, "media-bucket")?.level == .warn)
    }

    @Test func elasticsearchHeapAgainstRAM() {
        var facts = Self.host(ram: 4 * Self.gib)
        #expect(finding(facts, "elasticsearch-heap") == nil)
        let java = ["/usr/share/elasticsearch/jdk/bin/java", "-Xms1g", "-Xmx1g", "-Xmx3g", "org.elasticsearch.bootstrap.Elasticsearch"]
        facts.processes = [Process(pid: 9, comm: "java", cmdline: java)]
        let big = finding(facts, "elasticsearch-heap")
        #expect(big?.level == .fail && big?.measured == "heap 3.0 GiB = 75 % of 4.0 GiB", "the last -Xmx wins")
        facts.processes[0].cmdline = ["java", "-Xmx1024m", "org.elasticsearch.bootstrap.Elasticsearch"]
        #expect(finding(facts, "elasticsearch-heap")?.level == .ok)
        facts.processes[0].cmdline = ["java", "org.opensearch.bootstrap.OpenSearch"]
        #expect(finding(facts, "elasticsearch-heap")?.level == .warn)
    }
}
