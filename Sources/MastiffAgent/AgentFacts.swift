import MastiffCore
import Synchronization

/// What the agent knows about itself: which build runs, since when, from which configuration, and
/// how its last configuration load went.
public final class AgentFacts: Sendable {
    public let startTime: Double
    public let source: ConfigLoader.Source
    private let reload: Mutex<(successful: Bool, lastSuccess: Double)>

    public init(source: ConfigLoader.Source, startTime: Double) {
        self.source = source
        self.startTime = startTime
        reload = Mutex((true, startTime))
    }

    public var lastReload: (successful: Bool, lastSuccess: Double) { reload.withLock { $0 } }

    func reloadSucceeded(at time: Double) { reload.withLock { $0 = (true, time) } }
    func reloadFailed() { reload.withLock { $0.successful = false } }

    /// Notes this start in the state file: how many starts, and when the last one was (a crash
    /// loop shows there before anything else).
    public func recordStart(in stateStore: StateStore) {
        let starts = Double(max(0, min(stateStore.section("agent")?["starts"]?.integer ?? 0, 1 << 50)))
        stateStore.update("agent", .object(["starts": .number(starts + 1), "last_start": .number(startTime),
                                             "version": .string(MastiffVersion.current)]))
    }

    /// `mastiff_build_info`, `mastiff_start_time_seconds` and the reload gauges.
    public func metrics() -> [MetricFamily] {
        let status = lastReload
        return [
            MetricFamily(name: "mastiff_build_info", help: "Build of the running mastiff; the value is always 1.", type: .gauge,
                         samples: [Sample(labels: [Label("version", MastiffVersion.current), Label("swift", MastiffVersion.swift)], value: 1)]),
            MetricFamily(name: "mastiff_start_time_seconds", help: "Time mastiff started, in seconds since the Unix epoch.", type: .gauge,
                         samples: [Sample(labels: [], value: startTime)]),
            MetricFamily(name: "mastiff_config_last_reload_successful", help: "Whether the last configuration load or reload succeeded.",
                         type: .gauge, samples: [Sample(labels: [], value: status.successful ? 1 : 0)]),
            MetricFamily(name: "mastiff_config_last_reload_success_timestamp_seconds",
                         help: "Time of the last successful configuration load, in seconds since the Unix epoch.",
                         type: .gauge, samples: [Sample(labels: [], value: status.lastSuccess)]),
        ]
    }
}
