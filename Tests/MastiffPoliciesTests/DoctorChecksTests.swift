import MastiffPolicies
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
        #expect(result?.measured == "3 workers, 1350MiB PSS = 65 % of 2GiB")
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
        #expect(finding(facts, "backup")?.level == .warn)
        facts.backupsConfigured = true
        #expect(finding(facts, "backup")?.level == .fail)
        facts.lastBackupAge = 3 * 3600
        #expect(finding(facts, "backup")?.level == .ok)
        facts.lastBackupAge = 30 * 3600
        #expect(finding(facts, "backup")?.measured == "newest good backup 30 h old")
    }
}
