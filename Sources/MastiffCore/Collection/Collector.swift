/// A source of metrics. One per file under MastiffCollectors, with a pure parser beside it.
///
/// `collect(into:)` is called once per scrape by `CollectorRunner`, under a timeout. A collector
/// that cannot reach its source throws (or emits `<source>_up 0`); it never takes the scrape
/// down. Collectors never act on what they read.
public protocol Collector: Sendable {
    /// Stable name used in `mastiff_collector_*{collector="…"}` and in logs.
    var name: String { get }
    /// For sources that can be down: the `<source>_up` gauge the runner reports as 0 when the
    /// collector times out or throws, since the collector's own samples are lost then.
    var upMetric: (name: String, help: String)? { get }
    func collect(into sink: MetricSink) async throws
}

extension Collector {
    public var upMetric: (name: String, help: String)? { nil }

    /// `<source>_up 1`.
    public func reportUp(into sink: MetricSink) {
        if let up = upMetric { sink.gauge(up.name, help: up.help, 1) }
    }

    /// `<source>_up 0`, and the run counts as failed (reason `down`) with `detail` logged.
    public func reportDown(_ detail: String, into sink: MetricSink) {
        if let up = upMetric { sink.gauge(up.name, help: up.help, 0) }
        sink.fail(reason: "down", detail: detail)
    }
}

/// What one collector run produced, detached from its sink so it can cross tasks.
public struct CollectorOutput: Sendable {
    public var families: [MetricFamily]
    public var errorReasons: [String: Int]
    /// Why the run failed, when the collector said so with `MetricSink.fail`.
    public var failureReason: String?
    public var failureDetail: String?
    public var views: SnapshotViews
}
