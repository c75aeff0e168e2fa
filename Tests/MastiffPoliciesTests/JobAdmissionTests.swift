import MastiffCore
import MastiffPolicies
import Testing

/// When a due job starts, waits or gives its slot up, from maintenance and MemAvailable alone.
@Suite struct JobAdmissionTests {
    static let now = 1_800_000_000.0
    static let mib = Double(1 << 20)

    static func job(minimum: UInt64? = 300 << 20) -> JobSpec {
        var job = JobSpec(name: "media", schedule: "@daily", command: ["/bin/true"])
        job.minAvailableMemory = minimum
        job.deferFor = .seconds(600)
        return job
    }

    @Test func enoughMemoryOrNoMinimumStarts() {
        #expect(JobAdmission.decide(Self.job(), now: Self.now, paused: false, availableMemory: 800 * Self.mib, deferredSince: nil) == .start)
        #expect(JobAdmission.decide(Self.job(minimum: nil), now: Self.now, paused: false, availableMemory: 1, deferredSince: nil) == .start)
        // Unknown memory never holds a job back.
        #expect(JobAdmission.decide(Self.job(), now: Self.now, paused: false, availableMemory: nil, deferredSince: nil) == .start)
    }

    @Test func maintenancePausesBeforeAnythingElse() {
        #expect(JobAdmission.decide(Self.job(), now: Self.now, paused: true, availableMemory: 1, deferredSince: Self.now - 10_000)
            == .paused(retryAt: Self.now + 60))
    }

    @Test func shortMemoryDefersUntilDeferForThenGivesTheSlotUp() {
        let first = JobAdmission.decide(Self.job(), now: Self.now, paused: false, availableMemory: 100 * Self.mib, deferredSince: nil)
        #expect(first == .deferred(since: Self.now, retryAt: Self.now + 30, firstTime: true))
        let later = JobAdmission.decide(Self.job(), now: Self.now + 599, paused: false, availableMemory: 100 * Self.mib, deferredSince: Self.now)
        #expect(later == .deferred(since: Self.now, retryAt: Self.now + 629, firstTime: false))
        let end = JobAdmission.decide(Self.job(), now: Self.now + 600, paused: false, availableMemory: 100 * Self.mib, deferredSince: Self.now)
        #expect(end == .gaveUp(message: "not started: MemAvailable stayed below 300MiB for 10m"))
    }
}
