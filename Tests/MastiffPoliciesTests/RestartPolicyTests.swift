import MastiffCore
import MastiffPolicies
import Testing

/// Restart decisions on snapshots with explicit times (a sample every 15 s): memory sustained
/// over a ceiling, age with jitter, an alert, and the guards (rolling, min_uptime, budget,
/// maintenance, quiet start, health timeout), and the budget surviving a restart of mastiff.
@Suite struct RestartPolicyTests {
    static let start = 1_000_000.0
    static let mib: UInt64 = 1 << 20

    static func process(_ pid: Int, pss: UInt64, startedAt: Double, group: String = "sidekiq", owner: UInt32? = 991) -> ProcessSample {
        ProcessSample(pid: pid, group: group, comm: "ruby", residentBytes: pss * 2, proportionalBytes: pss, swapBytes: 0, openFDs: 10,
                      openFDLimit: 1024, cpuSeconds: 1, startTime: startedAt, threads: 5, majorFaults: 0, ownerUID: owner)
    }

    static func snapshot(_ processes: [ProcessSample], at time: Double = 0) -> Snapshot {
        Snapshot(sequence: 1, time: time, durationSeconds: 0, collection: Collection(
            families: [], views: SnapshotViews(processes: processes, memory: SystemMemorySample(
                totalBytes: 4096 * Double(mib), availableBytes: 2048 * Double(mib), swapTotalBytes: 0, swapFreeBytes: 0)), results: []))
    }

    static func memoryTarget() -> RestartTargetSpec {
        var target = RestartTargetSpec(name: "sidekiq", group: "sidekiq", method: .signal(name: "TERM", number: 15))
        target.maxMemory = .bytes(700 * mib)
        return target
    }

    @Test func aSustainedExcessRestartsTheProcessOnce() {
        var policy = RestartPolicy(targets: [Self.memoryTarget()], startedAt: Self.start - 3600)
        let old = Self.start - 7200
        var actions: [RestartAction] = []
        for step in 0..<3 {
            actions += policy.observe(Self.snapshot([Self.process(10, pss: 800 * Self.mib, startedAt: old)]), now: Self.start + Double(step) * 15)
            #expect(actions.isEmpty == (step < 2), "restarted after the third sample over, not before (step \(step))")
        }
        #expect(actions.map(\.pid) == [10])
        #expect(actions.first?.reason == .memory)
        #expect(actions.first?.detail == "PSS 800MiB over 700MiB for 3 samples")
        // Until a new process appears, nothing else happens (rolling).
        #expect(policy.observe(Self.snapshot([Self.process(10, pss: 800 * Self.mib, startedAt: old)]), now: Self.start + 45).isEmpty)
        _ = policy.observe(Self.snapshot([Self.process(11, pss: 300 * Self.mib, startedAt: Self.start + 50)]), now: Self.start + 60)
        #expect(policy.takeEvents() == [.healthy(target: "sidekiq", pid: 11, after: 30, memory: 300 * Self.mib)])
    }

    @Test func aYoungProcessIsNotRestartedForMemory() {
        var policy = RestartPolicy(targets: [Self.memoryTarget()], startedAt: Self.start - 3600)
        var actions: [RestartAction] = []
        for step in 0..<10 {
            actions += policy.observe(Self.snapshot([Self.process(10, pss: 900 * Self.mib, startedAt: Self.start - 60)]), now: Self.start + Double(step) * 15)
        }
        #expect(actions.isEmpty, "min_uptime 10 min")
    }

    @Test func twoProcessesOverTheCeilingRestartOneAtATime() {
        var policy = RestartPolicy(targets: [Self.memoryTarget()], startedAt: Self.start - 3600)
        let old = Self.start - 7200
        var processes = [Self.process(10, pss: 800 * Self.mib, startedAt: old), Self.process(20, pss: 900 * Self.mib, startedAt: old)]
        var restarted: [Int] = []
        for step in 0..<20 {
            let now = Self.start + Double(step) * 15
            for action in policy.observe(Self.snapshot(processes), now: now) {
                restarted.append(action.pid)
                // The supervisor replaces it a little later.
                processes.removeAll { $0.pid == action.pid }
                processes.append(Self.process(action.pid + 1, pss: 200 * Self.mib, startedAt: now + 5))
            }
        }
        #expect(restarted == [20, 10], "the largest first, the other after the first was replaced")
    }

    @Test func theBudgetStopsAFlappingTarget() {
        var target = Self.memoryTarget()
        target.minUptime = .zero
        var policy = RestartPolicy(targets: [target], startedAt: Self.start - 3600)
        var pid = 100
        var born = Self.start - 1
        var restarts = 0
        for step in 0..<200 {
            let now = Self.start + Double(step) * 15
            // Every new process leaks past the ceiling at once; the supervisor replaces a
            // restarted one before the next sample.
            let actions = policy.observe(Self.snapshot([Self.process(pid, pss: 900 * Self.mib, startedAt: born)]), now: now)
            restarts += actions.count
            if !actions.isEmpty {
                pid += 1
                born = now + 1
            }
        }
        #expect(restarts == 3)
        #expect(policy.budgetRemaining("sidekiq", now: Self.start + 200 * 15) == 0)
        #expect(policy.takeEvents().filter { $0 == .budgetExhausted(target: "sidekiq") }.count == 1)
    }

    /// "Actions that trust nothing", item 10: a local user's process titled like Sidekiq, with
    /// more memory than the real one, was chosen, and its end stopped the target for good when
    /// no replacement appeared. Another account's process is neither chosen nor taken for the
    /// replacement; one between a setuid and its exec (no single owner) neither.
    @Test func anotherAccountsProcessIsNeverChosenNorTakenForTheReplacement() {
        var target = Self.memoryTarget()
        target.owner = ProcessOwner(name: "mastodon", uid: 991)
        target.healthTimeout = .seconds(120)
        var policy = RestartPolicy(targets: [target], startedAt: Self.start - 3600)
        let old = Self.start - 7200
        let real = Self.process(10, pss: 800 * Self.mib, startedAt: old)
        let impostor = Self.process(66, pss: 2000 * Self.mib, startedAt: old, owner: 1001)
        let undecided = Self.process(67, pss: 3000 * Self.mib, startedAt: old, owner: nil)
        var actions: [RestartAction] = []
        for step in 0..<3 {
            actions += policy.observe(Self.snapshot([impostor, undecided, real]), now: Self.start + Double(step) * 15)
        }
        #expect(actions.map(\.pid) == [10], "the mastodon account's process, not the larger impostors")
        #expect(actions.first?.ownerUID == 991, "the owner travels to the signal, which checks it again")
        // The impostor restarts itself (a new pid) while the real one is being replaced: it is
        // not the replacement, so the health check still waits for one of the target's own.
        let reborn = Self.process(68, pss: 100 * Self.mib, startedAt: Self.start + 40, owner: 1001)
        _ = policy.observe(Self.snapshot([impostor, reborn]), now: Self.start + 60)
        #expect(policy.takeEvents().isEmpty, "no replacement yet")
        _ = policy.observe(Self.snapshot([impostor, reborn, Self.process(11, pss: 300 * Self.mib, startedAt: Self.start + 70)]), now: Self.start + 75)
        #expect(policy.takeEvents() == [.healthy(target: "sidekiq", pid: 11, after: 45, memory: 300 * Self.mib)])
        // Only impostors left, for ever: nothing is restarted.
        var later: [RestartAction] = []
        for step in 0..<40 {
            later += policy.observe(Self.snapshot([impostor, undecided]), now: Self.start + 4000 + Double(step) * 15)
        }
        #expect(later.isEmpty)
    }

    /// max_age with jitter: two processes started together restart at different times.
    @Test func maxAgeWithJitterSpreadsRestarts() {
        var target = RestartTargetSpec(name: "sidekiq", group: "sidekiq", method: .signal(name: "TERM", number: 15))
        target.maxAge = .seconds(3 * 3600)
        target.jitter = .seconds(1800)
        target.budget = 10
        var policy = RestartPolicy(targets: [target], startedAt: Self.start - 3600)
        var processes = [Self.process(10, pss: 100 * Self.mib, startedAt: Self.start), Self.process(20, pss: 100 * Self.mib, startedAt: Self.start)]
        var times: [Int: Double] = [:]
        var now = Self.start
        while now < Self.start + 4 * 3600 {
            for action in policy.observe(Self.snapshot(processes), now: now) {
                times[action.pid] = now
                #expect(action.reason == .age)
                processes.removeAll { $0.pid == action.pid }
                processes.append(Self.process(action.pid + 1, pss: 100 * Self.mib, startedAt: now + 5))
            }
            now += 15
        }
        #expect(times.count == 2)
        let (a, b) = (times[10] ?? 0, times[20] ?? 0)
        #expect(a >= Self.start + 3 * 3600 && b >= Self.start + 3 * 3600 && a < Self.start + 3.5 * 3600 + 30 && b < Self.start + 3.5 * 3600 + 30)
        #expect(abs(a - b) >= 60, "jitter spread them: \(a - Self.start) vs \(b - Self.start)")
    }

    @Test func anAlertRestartsTheLargestProcessOncePerEpisode() {
        var target = RestartTargetSpec(name: "sidekiq", group: "sidekiq", method: .signal(name: "TERM", number: 15))
        target.onAlerts = ["OOMRisk"]
        var policy = RestartPolicy(targets: [target], startedAt: Self.start - 3600)
        let old = Self.start - 7200
        var processes = [Self.process(10, pss: 300 * Self.mib, startedAt: old), Self.process(20, pss: 600 * Self.mib, startedAt: old)]
        policy.firingAlerts = ["OOMRisk"]
        let first = policy.observe(Self.snapshot(processes), now: Self.start)
        #expect(first.map(\.pid) == [20] && first.first?.reason == .alert)
        processes = [Self.process(10, pss: 300 * Self.mib, startedAt: old), Self.process(21, pss: 100 * Self.mib, startedAt: Self.start + 5)]
        var later: [RestartAction] = []
        for step in 1..<20 { later += policy.observe(Self.snapshot(processes), now: Self.start + Double(step) * 15) }
        #expect(later.isEmpty, "one restart per firing episode")
    }

    /// SidekiqStalled names its process (`pid`): that one is restarted, not the largest; and a
    /// pid that is not one of the target's processes (another host's Sidekiq) restarts nothing.
    @Test func anAlertThatNamesAProcessRestartsThatOne() {
        var target = RestartTargetSpec(name: "sidekiq", group: "sidekiq", method: .signal(name: "TERM", number: 15))
        target.onAlerts = ["SidekiqStalled"]
        let old = Self.start - 7200
        let processes = [Self.process(10, pss: 300 * Self.mib, startedAt: old), Self.process(20, pss: 600 * Self.mib, startedAt: old)]
        var policy = RestartPolicy(targets: [target], startedAt: Self.start - 3600)
        policy.firingAlerts = ["SidekiqStalled"]
        policy.alertedPIDs = ["SidekiqStalled": [10]]
        let actions = policy.observe(Self.snapshot(processes), now: Self.start)
        #expect(actions.map(\.pid) == [10])
        #expect(actions.first?.detail == "SidekiqStalled names pid 10")

        var elsewhere = RestartPolicy(targets: [target], startedAt: Self.start - 3600)
        elsewhere.firingAlerts = ["SidekiqStalled"]
        elsewhere.alertedPIDs = ["SidekiqStalled": [4242]]
        #expect(elsewhere.observe(Self.snapshot(processes), now: Self.start).isEmpty, "not this host's process: nothing to restart")
    }

    @Test func maintenanceQuietStartAndHealthTimeoutHold() {
        let old = Self.start - 7200
        let over = [Self.process(10, pss: 800 * Self.mib, startedAt: old)]
        var quiet = RestartPolicy(targets: [Self.memoryTarget()], startedAt: Self.start)
        var early: [RestartAction] = []
        for step in 0..<4 { early += quiet.observe(Self.snapshot(over), now: Self.start + Double(step) * 15) }
        #expect(early.isEmpty, "no decision in the first minute after mastiff starts")
        #expect(quiet.observe(Self.snapshot(over), now: Self.start + 60).count == 1)

        var paused = RestartPolicy(targets: [Self.memoryTarget()], startedAt: Self.start - 3600)
        paused.maintenance = true
        var held: [RestartAction] = []
        for step in 0..<5 { held += paused.observe(Self.snapshot(over), now: Self.start + Double(step) * 15) }
        #expect(held.isEmpty)
        paused.maintenance = false
        #expect(paused.observe(Self.snapshot(over), now: Self.start + 90).count == 1)
        // Nothing replaces the restarted process: after health_timeout the target stops.
        for step in 0..<30 { _ = paused.observe(Self.snapshot(over), now: Self.start + 100 + Double(step) * 15) }
        #expect(paused.takeEvents().contains(.healthTimeout(target: "sidekiq", pid: 10)))
        #expect(paused.observe(Self.snapshot(over), now: Self.start + 2000).isEmpty)
    }

    @Test func theBudgetSurvivesARestartOfMastiff() throws {
        var target = Self.memoryTarget()
        target.minUptime = .zero
        var policy = RestartPolicy(targets: [target], startedAt: Self.start - 3600)
        var pid = 100
        var born = Self.start - 1
        var now = Self.start
        var restarts = 0
        for _ in 0..<200 where restarts < 3 {
            let actions = policy.observe(Self.snapshot([Self.process(pid, pss: 900 * Self.mib, startedAt: born)]), now: now)
            restarts += actions.count
            if !actions.isEmpty {
                pid += 1
                born = now + 1
            }
            now += 15
        }
        let saved = try #require(JSONValue.parse(policy.savedState().serialized(indent: false)))
        var restarted = RestartPolicy(targets: [target], startedAt: now)
        restarted.restore(saved)
        var after = 0
        for step in 0..<100 { after += restarted.observe(Self.snapshot([Self.process(pid, pss: 900 * Self.mib, startedAt: born)]), now: now + 60 + Double(step) * 15).count }
        #expect(restarts == 3)
        #expect(after == 0, "the hour's budget is still spent after the restart")
    }

    @Test func aDryRunDecidesOncePerProcessAndRestartsNothing() {
        var target = Self.memoryTarget()
        target.dryRun = true
        var policy = RestartPolicy(targets: [target], startedAt: Self.start - 3600)
        var actions: [RestartAction] = []
        for step in 0..<20 { actions += policy.observe(Self.snapshot([Self.process(10, pss: 800 * Self.mib, startedAt: Self.start - 7200)]), now: Self.start + Double(step) * 15) }
        #expect(actions.count == 1 && actions.first?.dryRun == true)
    }
}
