import Logging
@testable import MastiffAgent
import MastiffCore
import MastiffTestSupport
import ServiceLifecycle
import Synchronization
import Testing

/// The sampler on a manual clock: time moves only when the test says so.
@Suite struct SamplerTests {
    /// Counts collections; each can be held until released, to test overlapping callers.
    final class CountingSource: Sendable {
        let count = Mutex(0)
        let gate = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let holding: Bool
        init(holding: Bool = false) { self.holding = holding }

        func collect() async -> Collection {
            if holding { await withCheckedContinuation { continuation in gate.withLock { $0 = continuation } } }
            let runs = count.withLock { value -> Int in
                value += 1
                return value
            }
            let family = MetricFamily(name: "runs", help: "Collections so far.", type: .gauge, samples: [Sample(labels: [], value: Double(runs))])
            return Collection(families: [family], views: SnapshotViews(), results: [])
        }

        func release() {
            gate.withLock { continuation in
                continuation?.resume()
                continuation = nil
            }
        }
        var isHeld: Bool { gate.withLock { $0 != nil } }
        var runs: Int { count.withLock { $0 } }
    }

    struct FixedWallClock: WallClock {
        func now() -> Double { 1_700_000_000 }
    }

    /// Waits (in real time, bounded) until `condition` holds.
    func eventually(_ condition: () -> Bool) async throws {
        for _ in 0..<2_000 where !condition() { try await Task.sleep(for: .milliseconds(1)) }
        #expect(condition())
    }

    @Test func samplesOnTheIntervalWithoutAnyScrape() async throws {
        let clock = ManualClock()
        let source = CountingSource()
        let sampler = Sampler(interval: .seconds(15), clock: clock, wallClock: FixedWallClock()) { await source.collect() }
        let group = ServiceGroup(services: [sampler], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await eventually { source.runs == 1 && clock.sleeperCount == 1 }
            clock.advance(by: .seconds(14))
            try await Task.sleep(for: .milliseconds(20))
            #expect(source.runs == 1, "not due yet")
            for expected in 2...5 {
                clock.advance(by: .seconds(15))
                try await eventually { source.runs == expected && clock.sleeperCount == 1 }
            }
            #expect(sampler.latest?.sequence == 5)
            #expect(sampler.latest?.time == 1_700_000_000)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// One collection serves a scrape and the policies: a scrape within the interval gets the
    /// sampler's latest sample and collects nothing.
    @Test func aScrapeWithinTheIntervalReusesTheLatestSample() async throws {
        let clock = ManualClock()
        let source = CountingSource()
        let sampler = Sampler(interval: .seconds(15), clock: clock, wallClock: FixedWallClock()) { await source.collect() }
        let first = await sampler.snapshot(maxAge: .seconds(15))
        #expect(source.runs == 1)
        clock.advance(by: .seconds(15))
        #expect(await sampler.snapshot(maxAge: .seconds(15)).sequence == first.sequence, "exactly one interval old is still fresh")
        clock.advance(by: .milliseconds(1))
        #expect(await sampler.snapshot(maxAge: .seconds(15)).sequence == 2, "older than the interval: collected anew")
        #expect(source.runs == 2)
    }

    /// A scrape that collects moves the sampler's next tick: one interval after that collection.
    @Test func theTimerCountsFromTheLatestSampleWhoeverTookIt() async throws {
        let clock = ManualClock()
        let source = CountingSource()
        let sampler = Sampler(interval: .seconds(10), clock: clock, wallClock: FixedWallClock()) { await source.collect() }
        let group = ServiceGroup(services: [sampler], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await eventually { source.runs == 1 && clock.sleeperCount == 1 }
            clock.advance(by: .seconds(6))
            _ = await sampler.snapshot(maxAge: .seconds(5))  // a caller wanting fresher data
            #expect(source.runs == 2)
            clock.advance(by: .seconds(4))                   // the old tick time: not due any more
            try await eventually { clock.sleeperCount == 1 }
            try await Task.sleep(for: .milliseconds(20))
            #expect(source.runs == 2)
            clock.advance(by: .seconds(6))                   // 10 s after the scrape's collection
            try await eventually { source.runs == 3 }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// After a reload the next caller gets a sample taken with the new configuration, however
    /// fresh the latest one is.
    @Test func invalidateForcesTheNextSample() async throws {
        let clock = ManualClock()
        let source = CountingSource()
        let sampler = Sampler(interval: .seconds(15), clock: clock, wallClock: FixedWallClock()) { await source.collect() }
        _ = await sampler.snapshot(maxAge: .seconds(15))
        sampler.invalidate()
        #expect(await sampler.snapshot(maxAge: .seconds(15)).sequence == 2)
        #expect(await sampler.snapshot(maxAge: .seconds(15)).sequence == 2, "then served as usual")
    }

    /// Every published sample reaches onSample (the history), in order.
    @Test func onSampleSeesEverySampleInOrder() async throws {
        let clock = ManualClock()
        let source = CountingSource()
        let seen = Mutex<[Int]>([])
        let sampler = Sampler(interval: .seconds(15), clock: clock, wallClock: FixedWallClock(),
                              onSample: { snapshot in seen.withLock { $0.append(snapshot.sequence) } }) { await source.collect() }
        for _ in 0..<3 {
            _ = await sampler.snapshot(maxAge: .zero)
            clock.advance(by: .seconds(1))
        }
        #expect(seen.withLock { $0 } == [1, 2, 3])
    }

    @Test func overlappingCallersShareOneCollection() async throws {
        let clock = ManualClock()
        let source = CountingSource(holding: true)
        let sampler = Sampler(interval: .seconds(15), clock: clock, wallClock: FixedWallClock()) { await source.collect() }
        async let first = sampler.snapshot(maxAge: .zero)
        async let second = sampler.snapshot(maxAge: .zero)
        try await eventually { source.isHeld }
        try await Task.sleep(for: .milliseconds(20))
        source.release()
        let (a, b) = await (first, second)
        #expect(source.runs == 1)
        #expect(a.sequence == b.sequence)
    }

    @Test func selfMetricsCountRunsAndSayWhen() async throws {
        let clock = ManualClock()
        let source = CountingSource()
        let sampler = Sampler(interval: .seconds(15), clock: clock, wallClock: FixedWallClock()) { await source.collect() }
        #expect(sampleValue(sampler.selfMetrics(), "mastiff_sample_runs_total") == 0)
        _ = await sampler.snapshot(maxAge: .zero)
        clock.advance(by: .seconds(1))
        _ = await sampler.snapshot(maxAge: .zero)
        let metrics = sampler.selfMetrics()
        #expect(sampleValue(metrics, "mastiff_sample_runs_total") == 2)
        #expect(sampleValue(metrics, "mastiff_sample_timestamp_seconds") == 1_700_000_000)
        #expect(sampleValue(metrics, "mastiff_sample_duration_seconds") == 0, "no manual time passed during the collection")
    }
}
