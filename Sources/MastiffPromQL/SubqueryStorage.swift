/// The storage a subquery's steps read through: each selector's series are fetched once, for
/// the window every step together needs, and each step then takes its part by binary search —
/// instead of copying the same points out of the history at each of the subquery's steps.
final class SubqueryStorage: SeriesStorage {
    private let base: any SeriesStorage
    /// How far past the first request's end the later steps reach: the subquery's span.
    private let span: Int64
    private var fetched: [String: (after: Int64, through: Int64, series: [StoredSeries])] = [:]

    init(base: any SeriesStorage, span: Int64) {
        self.base = base
        self.span = span
    }

    func select(_ selector: VectorSelector, after: Int64, through: Int64) -> [StoredSeries] {
        // One selector may be read with different offsets or @ times: the key carries the bounds'
        // distance, and a request outside what was fetched goes to the base.
        let key = selector.key + "\u{0}\(through - after)"
        if fetched[key] == nil {
            let (end, overflow) = through.addingReportingOverflow(span)
            let reach = overflow ? Int64.max : end
            fetched[key] = (after, reach, base.select(selector, after: after, through: reach))
        }
        guard let window = fetched[key], after >= window.after, through <= window.through else {
            return base.select(selector, after: after, through: through)
        }
        return window.series.compactMap { series in
            let low = Self.firstIndex(in: series.times, after: after)
            let high = Self.firstIndex(in: series.times, after: through)
            guard low < high else { return nil }
            return StoredSeries(labels: series.labels, times: Array(series.times[low..<high]), values: Array(series.values[low..<high]))
        }
    }

    /// The index of the first time greater than `time` (times are ascending).
    private static func firstIndex(in times: [Int64], after time: Int64) -> Int {
        var low = 0
        var high = times.count
        while low < high {
            let middle = (low + high) / 2
            if times[middle] <= time { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
