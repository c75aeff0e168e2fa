import Logging
import MastiffAgent
import MastiffCore
import MastiffExecutors
import MastiffPolicies
import MastiffTestSupport
import Synchronization
import Testing

/// The restart service between the policy's decision and the restarter: what `run` carries
/// out, what it counts and announces, what maintenance and dry runs hold back, and that a stop
/// ends a restart in progress. Restarters are recording ones; snapshots carry explicit times.
@Suite struct RestartServiceTests {
    static let now = 1_800_000_000.0
    static let mib: UInt64 = 1 << 20

    /// Records each restart it is asked for and answers `result`; with `hangs`, it waits until
    /// its task is cancelled (a restarter stuck on a slow supervisor).
    final class RecordingRestarter: Restarter {
        let result: Result<String, RestartFailure>
        let hangs: Bool
        let calls = Mutex<[RestartAction]>([])
        let ended = Mutex(false)

        init(result: Result<String, RestartFailure> = .success("restarted by the test"), hangs: Bool = false) {
            self.result = result
            self.hangs = hangs
        }

        func restart(_ action: RestartAction) async -> Result<String, RestartFailure> {
            calls.withLock { $0.append(action) }
            if hangs {
                while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
                ended.withLock { $0 = true }
                return .failure(RestartFailure("cancelled"))
            }
            return result
        }
    }

    /// What the service announced to the receivers: text and whether the restart succeeded.
    final class Announcements: Sendable {
        let list = Mutex<[(text: String, succeeded: Bool)]>([])
        var texts: [String] { list.withLock { $0.map(\.text) } }
        var outcomes: [Bool] { list.withLock { $0.map(\.succeeded) } }
    }

    static func target(dryRun: Bool = false) -> RestartTargetSpec {
        var target = RestartTargetSpec(name: "sidekiq", group: "sidekiq", method: .signal(name: "TERM", number: 15))
        target.maxAge = .seconds(3600)
        target.dryRun = dryRun
        return target
    }

    /// One Sidekiq process two hours old: over the target's max_age.
    static func snapshot(at time: Double = now) -> Snapshot {
        let process = ProcessSample(pid: 4242, group: "sidekiq", comm: "ruby", residentBytes: 600 * mib, proportionalBytes: 500 * mib, swapBytes: 0,
                                    openFDs: 10, openFDLimit: 1024, cpuSeconds: 1, startTime: time - 7200, threads: 5, majorFaults: 0, ownerUID: 991)
        return Snapshot(sequence: 1, time: time, durationSeconds: 0, collection: Collection(
            families: [], views: SnapshotViews(processes: [process], memory: SystemMemorySample(
                totalBytes: 4096 * Double(mib), availableBytes: 2048 * Double(mib), swapTotalBytes: 0, swapFreeBytes: 0)), results: []))
    }

    static func service(_ restarter: RecordingRestarter, target: RestartTargetSpec = target(),
                        announced: Announcements = Announcements()) -> RestartService {
        let (logger, _) = RecordingLogHandler.logger()
        // Started an hour ago: past the quiet start.
        return RestartService(targets: [target], stateStore: nil, logger: logger, startedAt: now - 3600,
                              restarters: { targets in Dictionary(uniqueKeysWithValues: targets.map { ($0.name, restarter as any Restarter) }) }) { action, what, succeeded in
            announced.list.withLock { $0.append(("\(action.target) \(action.pid): \(what)", succeeded)) }
        }
    }

    /// Runs `service` while `body` runs, then stops it as a shutdown would.
    static func whileRunning(_ service: RestartService, _ body: () async throws -> Void) async rethrows {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await service.run() }
            try await body()
            group.cancelAll()
        }
    }

    static func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<200 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    static func restarts(_ service: RestartService, result: String) -> Double? {
        sampleValue(service.metrics(now: now), "mastiff_restarts_total", [Label("target", "sidekiq"), Label("reason", "max_age"), Label("result", result)])
    }

    @Test func aDecidedRestartIsCarriedOutCountedAndAnnounced() async {
        let restarter = RecordingRestarter()
        let announced = Announcements()
        let service = Self.service(restarter, announced: announced)
        await Self.whileRunning(service) {
            service.observe(Self.snapshot(), firingAlerts: [], maintenance: false)
            #expect(await Self.eventually { Self.restarts(service, result: "restarted") == 1 })
        }
        #expect(restarter.calls.withLock { $0.map { $0.pid } } == [4242])
        #expect(announced.outcomes == [true])
        #expect(service.recentRestarts().map { $0.result } == ["restarted"])
        #expect(sampleValue(service.metrics(now: Self.now), "mastiff_restart_budget_remaining", [Label("target", "sidekiq")]) == 2)
    }

    @Test func aFailedRestartIsCountedAsFailedAndAnnouncedSo() async {
        let restarter = RecordingRestarter(result: .failure(RestartFailure("supervisord said no")))
        let announced = Announcements()
        let service = Self.service(restarter, announced: announced)
        await Self.whileRunning(service) {
            service.observe(Self.snapshot(), firingAlerts: [], maintenance: false)
            #expect(await Self.eventually { Self.restarts(service, result: "failed") == 1 })
        }
        #expect(announced.texts == ["sidekiq 4242: supervisord said no"])
        #expect(announced.outcomes == [false])
        #expect(Self.restarts(service, result: "restarted") == nil)
    }

    @Test func aDryRunDecidesButNeverCallsTheRestarter() async {
        let restarter = RecordingRestarter()
        let service = Self.service(restarter, target: Self.target(dryRun: true))
        await Self.whileRunning(service) {
            service.observe(Self.snapshot(), firingAlerts: [], maintenance: false)
            #expect(Self.restarts(service, result: "dry_run") == 1)
            try? await Task.sleep(for: .milliseconds(200))
        }
        #expect(restarter.calls.withLock { $0.isEmpty })
    }

    @Test func maintenanceHoldsRestartsBack() async {
        let restarter = RecordingRestarter()
        let service = Self.service(restarter)
        await Self.whileRunning(service) {
            service.observe(Self.snapshot(), firingAlerts: [], maintenance: true)
            try? await Task.sleep(for: .milliseconds(200))
        }
        #expect(restarter.calls.withLock { $0.isEmpty })
        #expect(service.recentRestarts().isEmpty)
    }

    /// An on_alert restart takes the process the alert names, when it is on this host.
    @Test func anAlertNamingAProcessOfAnotherHostRestartsNothingHere() async {
        let restarter = RecordingRestarter()
        var target = RestartTargetSpec(name: "sidekiq", group: "sidekiq", method: .signal(name: "TERM", number: 15))
        target.onAlerts = ["SidekiqStalled"]
        let (logger, _) = RecordingLogHandler.logger()
        let service = RestartService(targets: [target], stateStore: nil, logger: logger, startedAt: Self.now - 3600, hostName: "app1",
                                     restarters: { _ in ["sidekiq": restarter] })
        await Self.whileRunning(service) {
            service.observe(Self.snapshot(), firingAlerts: ["SidekiqStalled"], namedProcesses: ["SidekiqStalled": [("app2", 4242)]], maintenance: false)
            try? await Task.sleep(for: .milliseconds(200))
            #expect(restarter.calls.withLock { $0.isEmpty }, "pid 4242 on app2 is not this host's process 4242")
            service.observe(Self.snapshot(at: Self.now + 15), firingAlerts: ["SidekiqStalled"], namedProcesses: ["SidekiqStalled": [("app1", 4242)]],
                            maintenance: false)
            #expect(await Self.eventually { restarter.calls.withLock { $0.map { $0.pid } } == [4242] })
        }
    }

    /// A restart in progress is a child task of the service: a stop cancels it and `run`
    /// returns, instead of leaving it running on its own.
    @Test func aStopEndsARestartInProgress() async {
        let restarter = RecordingRestarter(hangs: true)
        let service = Self.service(restarter)
        let clock = ContinuousClock()
        var stoppedAt = clock.now
        await Self.whileRunning(service) {
            service.observe(Self.snapshot(), firingAlerts: [], maintenance: false)
            #expect(await Self.eventually { restarter.calls.withLock { !$0.isEmpty } })
            stoppedAt = clock.now
        }
        #expect(stoppedAt.duration(to: clock.now) < .seconds(1), "run returned once its restart was cancelled")
        #expect(restarter.ended.withLock { $0 }, "the restarter saw the cancellation")
    }
}
