import MastiffCore
import MastiffStatsd

/// What /metrics serves: the latest sample (at most one sampling interval old, else a new one),
/// the agent's own families, then the statsd series written straight from the store.
public struct MetricsEndpoint: Sendable {
    let sampler: Sampler<ContinuousClock>
    let ownMetrics: OwnMetrics
    let statsdBridge: StatsdBridge?
    let clock: any WallClock

    /// The families a scrape renders, without the statsd series.
    public func families() async -> [MetricFamily] {
        let snapshot = await sampler.snapshot(maxAge: sampler.interval)
        return snapshot.families + ownMetrics.families(now: clock.now(), latest: snapshot)
    }

    /// The exposition. Two families of one name would make the whole exposition invalid, so a
    /// statsd family whose name is already taken is left out (the renderer likewise keeps the
    /// first of two same-named families from collectors).
    public func scrape() async -> String {
        let families = await families()
        var text = ExpositionRenderer.render(families)
        statsdBridge?.renderSeries(into: &text, excluding: Set(families.map(\.name)))
        return text
    }
}
