import Logging
import MastiffCore

/// The history the status page draws its 24 h sparklines from: a few series registered in the
/// agent's history store at two-minute resolution (721 points, 11.5 KiB per series), each with
/// a maximum number of series, so the page's share of the store is bounded by construction:
/// `maximumBytes` (74 series, 0.81 MiB), within sampling.history_limit.
public struct StatusHistory: Sendable {
    public static let consumer = "status page"
    static let resolution = Duration.seconds(120)

    /// Each trend's registration: how many series it may keep and which value of a step it keeps.
    static let registrations: [(series: StatusReport.TrendSeries, matchers: [(String, String)], maxSeries: Int, keep: HistoryStore.Downsampling)] = [
        (.memoryAvailable, [], 1, .minimum),
        (.memoryPressure, [("resource", "memory"), ("kind", "some"), ("window", "10s")], 1, .maximum),
        (.groupPSS, [], 16, .maximum),
        (.queueLatency, [], 16, .maximum),
        (.postgresConnections, [], 32, .maximum),
        (.probeDuration, [], 8, .maximum),
    ]

    private let ids: [StatusReport.TrendSeries: Int]

    public init(history: HistoryStore, logger: Logger) {
        var ids: [StatusReport.TrendSeries: Int] = [:]
        for registration in Self.registrations {
            do {
                let matchers = try registration.matchers.map { name, value throws(ConfigErrorReason) in try LabelMatcher(name, .equal, value) }
                ids[registration.series] = try history.register(consumer: Self.consumer, metric: registration.series.rawValue, matching: matchers,
                                                                retention: .seconds(StatusReport.trendWindow), maxSeries: registration.maxSeries,
                                                                resolution: Self.resolution, downsampling: registration.keep)
            } catch {
                logger.warning("the status page draws no trend of this series", metadata: ["metric": "\(registration.series.rawValue)", "error": "\(error)"])
            }
        }
        self.ids = ids
    }

    public func series(in history: HistoryStore, now: Double) -> [StatusReport.TrendSeries: [HistoryStore.Series]] {
        ids.mapValues { history.series($0, now: now) }
    }
}
