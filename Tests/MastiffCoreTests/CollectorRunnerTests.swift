import Logging
import MastiffCore
import MastiffTestSupport
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

private struct FixedCollector: Collector {
    let name: String
    let value: Double
    func collect(into sink: MetricSink) async throws {
        sink.gauge("test_value", help: "A test value.", value, labels: [Label("source", name)])
        sink.recordError(reason: "skipped_line")
    }
}

private struct HangingCollector: Collector {
    let name = "hanging"
    func collect(into sink: MetricSink) async throws {
        // Ignores cancellation, like a read blocked in the kernel.
        try await BlockingWork.run { sleepBlocking(seconds: 30) }
    }
}

private struct FailingCollector: Collector {
    struct Failure: Error {}
    let name = "failing"
    func collect(into sink: MetricSink) async throws { throw Failure() }
}

private final class CountingCollector: Collector {
    let name = "counting"
    let runs = Mutex(0)
    func collect(into sink: MetricSink) async throws {
        runs.withLock { $0 += 1 }
        try await Task.sleep(for: .milliseconds(300))
        sink.gauge("test_value", help: "A test value.", 1)
    }
}

private func sleepBlocking(seconds: Double) {
    usleep(UInt32(seconds * 1_000_000))
}

@Suite struct CollectorRunnerTests {
    let logger = Logger(label: "test")

    @Test func hungAndFailingCollectorsDoNotFailTheScrape() async {
        let runner = CollectorRunner(timeout: .milliseconds(300), logger: logger)
        let clock = ContinuousClock()
        let start = clock.now
        let families = await runner.collect([FixedCollector(name: "good", value: 7), HangingCollector(), FailingCollector()])
        let elapsed = clock.now - start
        // Far below the 30 s hang, and loose enough for a loaded machine (3.5 s was seen under a parallel build).
        #expect(elapsed < .seconds(10), "the scrape waited for the hung collector: \(elapsed)")
        #expect(sampleValue(families, "test_value", [Label("source", "good")]) == 7)
        #expect(sampleValue(families, "mastiff_collector_success", [Label("collector", "good")]) == 1)
        #expect(sampleValue(families, "mastiff_collector_success", [Label("collector", "hanging")]) == 0)
        #expect(sampleValue(families, "mastiff_collector_success", [Label("collector", "failing")]) == 0)
        let hungDuration = sampleValue(families, "mastiff_collector_duration_seconds", [Label("collector", "hanging")]) ?? 0
        #expect(hungDuration >= 0.29 && hungDuration < 3)
        let errors = families.first { $0.name == "mastiff_collector_errors_total" }!.samples
        #expect(errors.contains { $0.labels == [Label("collector", "hanging"), Label("reason", "timeout")] && $0.value == 1 })
        #expect(errors.contains { $0.labels == [Label("collector", "failing"), Label("reason", "error")] && $0.value == 1 })
        #expect(errors.contains { $0.labels == [Label("collector", "good"), Label("reason", "skipped_line")] && $0.value == 1 })
    }

    @Test func errorCountsAccumulateAcrossScrapes() async {
        let runner = CollectorRunner(timeout: .seconds(1), logger: logger)
        _ = await runner.collect([FixedCollector(name: "good", value: 1)])
        let families = await runner.collect([FixedCollector(name: "good", value: 1)])
        let errors = families.first { $0.name == "mastiff_collector_errors_total" }!.samples
        #expect(errors.first?.value == 2)
    }

    @Test func concurrentScrapesShareOneRun() async {
        let runner = CollectorRunner(timeout: .seconds(2), logger: logger)
        let collector = CountingCollector()
        async let first = runner.collect([collector])
        async let second = runner.collect([collector])
        let (a, b) = await (first, second)
        #expect(collector.runs.withLock { $0 } == 1)
        #expect(sampleValue(a, "mastiff_collector_success", [Label("collector", "counting")]) == 1)
        #expect(sampleValue(b, "mastiff_collector_success", [Label("collector", "counting")]) == 1)
    }
}
