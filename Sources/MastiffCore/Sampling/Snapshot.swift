/// One sample of everything mastiff collects, immutable once published: what a scrape renders
/// and what the policies read. Policies never parse the families' text; they read the views.
public struct Snapshot: Sendable {
    /// 1 for the first sample since start, then one more per sample.
    public var sequence: Int
    /// When the collection started, in seconds since the Unix epoch.
    public var time: Double
    public var durationSeconds: Double
    public var families: [MetricFamily]
    public var views: SnapshotViews
    /// Each collector's result, by name.
    public var collectors: [CollectorResult]

    public init(sequence: Int, time: Double, durationSeconds: Double, collection: Collection) {
        self.sequence = sequence
        self.time = time
        self.durationSeconds = durationSeconds
        families = collection.families
        views = collection.views
        collectors = collection.results
    }

    /// Whether each data source answered: the `<source>_up` gauges (postgres, pgbouncer, redis,
    /// sidekiq), as the sample saw them.
    public var sourcesUp: [String: Bool] {
        var result: [String: Bool] = [:]
        for family in families where family.name.hasSuffix("_up") && family.type == .gauge {
            guard family.samples.count == 1, let sample = family.samples.first, sample.labels.isEmpty else { continue }
            result[String(family.name.dropLast(3))] = sample.value == 1
        }
        return result
    }
}
