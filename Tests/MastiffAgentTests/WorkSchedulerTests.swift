import Foundation
import Logging
@testable import MastiffAgent
import MastiffCore
import MastiffExecutors
import MastiffTestSupport
import Synchronization
import Testing

/// Jobs in the scheduler on a manual clock and a fixture /proc/meminfo: memory-aware deferral,
/// maintenance pause, and the job runner's user, environment and working directory.
@Suite struct WorkSchedulerTests {
    static func procRoot(availableKiB: Int) throws -> String {
        let directory = NSTemporaryDirectory() + "mastiff-proc-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try setAvailable(directory, availableKiB)
        return directory
    }

    static func setAvailable(_ root: String, _ kib: Int) throws {
        try "MemTotal:        1000000 kB\nMemFree:          10000 kB\nMemAvailable:   \(kib) kB\n".write(toFile: root + "/meminfo", atomically: true, encoding: .utf8)
    }

    static func job(_ name: String = "cleanup", command: [String] = ["/bin/true"]) -> JobSpec {
        var job = JobSpec(name: name, schedule: "* * * * *", command: command)
        job.minAvailableMemory = 300 << 20
        job.deferFor = .seconds(90)
        return job
    }

    func value(_ scheduler: WorkScheduler, _ name: String, _ labels: [Label], now: Double) -> Double? {
        scheduler.metrics(now: now).first { $0.name == name }?.samples.first { $0.labels == labels }?.value
    }

    @Test func jobWaitsForMemoryThenCountsAsDeferredAndRunsWhenThereIsEnough() async throws {
        let root = try Self.procRoot(availableKiB: 100 * 1024)
        let clock = ManualWallClock(1_800_000_000 - 30) // 30 s before a whole minute
        var config = MastiffConfig()
        config.jobs = [Self.job()]
        let (logger, records) = RecordingLogHandler.logger()
        let scheduler = WorkScheduler(config: config, stateStore: nil, logger: logger, procRoot: root, clock: clock)
        await scheduler.startUp()
        clock.advance(by: 31)
        await scheduler.tick()
        #expect(records.all.contains { $0.message.contains("job deferred") })
        #expect(value(scheduler, "mastiff_job_runs_total", [Label("job", "cleanup"), Label("result", "deferred")], now: clock.now()) == 0)
        // Still short after the whole defer_for: counted as deferred, and JobFailed's metric is 0.
        for _ in 0..<4 {
            clock.advance(by: 30)
            await scheduler.tick()
        }
        #expect(value(scheduler, "mastiff_job_runs_total", [Label("job", "cleanup"), Label("result", "deferred")], now: clock.now()) == 1)
        #expect(value(scheduler, "mastiff_job_last_run_successful", [Label("job", "cleanup")], now: clock.now()) == 0)
        // Memory comes back: the next slot runs it.
        try Self.setAvailable(root, 800 * 1024)
        clock.advance(by: 60)
        await scheduler.tick()
        #expect(value(scheduler, "mastiff_job_runs_total", [Label("job", "cleanup"), Label("result", "success")], now: clock.now()) == 1)
        #expect(value(scheduler, "mastiff_job_last_run_successful", [Label("job", "cleanup")], now: clock.now()) == 1)
    }

    @Test func maintenanceModePausesJobs() async throws {
        let root = try Self.procRoot(availableKiB: 800 * 1024)
        let clock = ManualWallClock(1_800_000_000 - 30)
        var config = MastiffConfig()
        config.jobs = [Self.job()]
        let paused = Mutex(true)
        let (logger, _) = RecordingLogHandler.logger()
        let scheduler = WorkScheduler(config: config, stateStore: nil, logger: logger, procRoot: root, clock: clock, isPaused: { paused.withLock { $0 } })
        await scheduler.startUp()
        clock.advance(by: 31)
        await scheduler.tick()
        #expect(value(scheduler, "mastiff_job_runs_total", [Label("job", "cleanup"), Label("result", "success")], now: clock.now()) == 0)
        paused.withLock { $0 = false }
        clock.advance(by: 61)
        await scheduler.tick()
        #expect(value(scheduler, "mastiff_job_runs_total", [Label("job", "cleanup"), Label("result", "success")], now: clock.now()) == 1)
    }

    /// As another user (setpriv), with the job's environment and working directory; a non-zero
    /// exit is a failure with the status.
    @Test(.enabled(if: getuid() == 0, "switching users needs root")) func jobRunsAsItsUserWithItsEnvironment() async throws {
        var job = JobSpec(name: "whoami", schedule: "@daily", command: ["/bin/sh", "-c", "id -un; echo \"$GREETING\"; pwd; exit 3"])
        job.user = "nobody"
        job.environment = ["GREETING": "hello from mastiff"]
        job.workingDirectory = "/tmp"
        let outcome = try await JobRunner().run(job)
        #expect(outcome.output.split(separator: "\n") == ["nobody", "hello from mastiff", "/tmp"], "\(outcome.output)")
        #expect(outcome.exitCode == 3 && !outcome.succeeded && outcome.summary == "exited with status 3")
    }
}
