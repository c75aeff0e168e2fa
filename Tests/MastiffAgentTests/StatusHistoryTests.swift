import Logging
@testable import MastiffAgent
import MastiffCore
import Testing

/// The status page's share of the history: bounded at 2 MiB by construction (each trend's
/// maximum number of series × 721 points × 16 B) and within it after a day of series that come
/// and go, far more of them than the page keeps.
@Suite struct StatusHistoryTests {
    static let limit = 2 * 1_048_576

    static func families(hour: Int, value: Double) -> [MetricFamily] {
        // Names that change every six hours: old series end and new ones arrive, as process
        // groups and queues do on a real host; more of each than the registrations keep.
        let generation = hour / 6
        func gauge(_ name: String, _ labels: [[Label]]) -> MetricFamily {
            MetricFamily(name: name, help: "", type: .gauge, samples: labels.map { Sample(labels: $0, value: value) })
        }
        return [
            gauge("system_memory_available_bytes", [[]]),
            gauge("system_pressure_stall_ratio", ["10s", "1m", "5m"].flatMap { window in
                ["some", "full"].map { [Label("resource", "memory"), Label("kind", $0), Label("window", window)] } }),
            gauge("process_group_proportional_memory_bytes", (0..<40).map { [Label("group", "group-\(generation)-\($0)")] }),
            gauge("sidekiq_queue_latency_seconds", (0..<40).map { [Label("queue", "queue-\(generation)-\($0)")] }),
            gauge("postgres_connections", (0..<40).map { [Label("database", "db\(generation)"), Label("state", "state\($0)")] }),
            gauge("probe_duration_seconds", (0..<20).map { [Label("probe", "probe\($0)")] }),
        ]
    }

    @Test func aDayOfChurnStaysWithinTwoMebibytes() {
        // Sampling every 60 s: the page's series keep one point per 2 minutes whatever the
        // interval, and a quarter of the samples keeps this test from holding a core for seconds.
        let history = HistoryStore(limitBytes: 8 * 1_048_576, sampleInterval: .seconds(60))
        let statusHistory = StatusHistory(history: history, logger: Logger(label: "test"))
        let bound = history.maximumBytes(consumer: StatusHistory.consumer)
        #expect(bound == 74 * 721 * 16, "74 series of 721 points: 0.81 MiB")
        #expect(bound <= Self.limit)
        var largest = 0
        let start = 1_800_000_000.0
        for step in 0..<(26 * 60) {
            let time = start + Double(step) * 60
            history.record(Self.families(hour: step / 60, value: Double(step)), at: time)
            if step % 60 == 0 { largest = max(largest, history.reservedBytes(consumer: StatusHistory.consumer)) }
        }
        #expect(largest > 0)
        #expect(largest <= bound, "reserved \(largest) B")
        let now = start + Double(26 * 60 - 1) * 60
        let series = statusHistory.series(in: history, now: now)
        #expect(series[.probeDuration]?.count == 8, "the maximum, not the 20 offered")
        #expect(series[.memoryPressure]?.count == 1, "memory, some, 10 s only")
        // One point per two minutes over 24 h (the ring's 721st lies on the window's edge).
        let points = series[.memoryAvailable]?.first?.points ?? []
        #expect((720...721).contains(points.count))
        #expect((points.last?.time ?? 0) - (points.first?.time ?? 0) <= 86_400)
    }
}
