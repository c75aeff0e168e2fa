/// How long a collector gives its source (a query, a Redis round trip) within the collector
/// timeout: the rest is left for cancelling and answering, so a slow source is reported as
/// `<source>_up 0` by the collector itself rather than abandoned by the runner.
enum SourceDeadline {
    static func within(collectorTimeout: Duration) -> Duration {
        max(.milliseconds(100), collectorTimeout - min(.seconds(1), collectorTimeout / 4))
    }

    static func milliseconds(within collectorTimeout: Duration) -> Int {
        Int(within(collectorTimeout: collectorTimeout).seconds * 1000)
    }
}
