import MastiffCore
import MastiffTestSupport
import Testing

/// The history on explicit sample times: bounds, retention and staleness.
@Suite struct HistoryStoreTests {
    private func processes(_ groups: [String: Double]) -> [MetricFamily] {
        [MetricFamily(name: "process_group_processes", help: "", type: .gauge,
                      samples: groups.sorted { $0.key < $1.key }.map { Sample(labels: [Label("group", $0.key)], value: $0.value) })]
    }

    @Test func keepsMatchingSeriesForTheRetention() throws {
        let history = HistoryStore(limitBytes: 1 << 20, sampleInterval: .seconds(15))
        let id = try history.register(consumer: "rules", metric: "process_group_processes",
                                       matching: [try LabelMatcher("group", .matches, "side.*")], retention: .seconds(60), maxSeries: 10)
        for step in 0..<10 {
            history.record(processes(["sidekiq": Double(step), "puma": 2]), at: 1000 + Double(step) * 15)
        }
        let series = history.series(id, now: 1135)
        #expect(series.map(\.labels) == [[Label("group", "sidekiq")]], "puma does not match")
        // 60 s of retention at 15 s: the points at 1075…1135.
        #expect(series.first?.points.map(\.time) == [1075, 1090, 1105, 1120, 1135])
        #expect(series.first?.points.map(\.value) == [5, 6, 7, 8, 9])
    }

    /// A selector without a metric name ({__name__=~"…"}): every family is looked at, the name
    /// matcher sees each sample's full name (a histogram's `_count` too), and series keep it.
    @Test func aNamelessRegistrationKeepsEveryMetricItsMatchersAccept() throws {
        let history = HistoryStore(limitBytes: 1 << 20, sampleInterval: .seconds(15))
        let id = try history.register(consumer: "rules", metric: "", matching: [try LabelMatcher("__name__", .matches, "process_.+|h_count"),
                                                                                try LabelMatcher("group", .notEqual, "puma")],
                                      retention: .seconds(60), maxSeries: 10)
        var families = processes(["sidekiq": 3, "puma": 2])
        families.append(MetricFamily(name: "h", help: "", type: .histogram, samples: [Sample(suffix: "_count", labels: [], value: 7),
                                                                                     Sample(suffix: "_sum", labels: [], value: 1)]))
        families.append(MetricFamily(name: "other", help: "", type: .gauge, samples: [Sample(labels: [], value: 1)]))
        history.record(families, at: 1000)
        let series = history.series(id, now: 1000)
        #expect(series.map(\.name).sorted() == ["h_count", "process_group_processes"])
        #expect(series.first { $0.name == "process_group_processes" }?.labels == [Label("group", "sidekiq")])
    }

    /// A process group that empties, or a collector that fails, ends its series with a
    /// staleness marker instead of freezing its last value; after a retention it is forgotten.
    @Test func vanishedSeriesEndWithAStalenessMarker() throws {
        let history = HistoryStore(limitBytes: 1 << 20, sampleInterval: .seconds(15))
        let id = try history.register(consumer: "status", metric: "process_group_processes", retention: .seconds(60), maxSeries: 10)
        history.record(processes(["sidekiq": 3, "puma": 2]), at: 1000)
        history.record(processes(["puma": 2]), at: 1015)
        history.record(processes(["puma": 2]), at: 1030)
        let sidekiq = try #require(history.series(id, now: 1030).first { $0.labels == [Label("group", "sidekiq")] })
        #expect(sidekiq.points.count == 2)
        #expect(sidekiq.points[0].value == 3)
        #expect(HistoryStore.isStale(sidekiq.points[1].value))
        #expect(sidekiq.points[1].time == 1015, "marked once, when it vanished")
        #expect(!HistoryStore.isStale(.nan), "an ordinary NaN is a value, not the end of a series")
        // The collector fails: no family at all.
        history.record([], at: 1045)
        let puma = try #require(history.series(id, now: 1045).first { $0.labels == [Label("group", "puma")] })
        #expect(HistoryStore.isStale(try #require(puma.points.last).value))
        for time in stride(from: 1060.0, through: 1200, by: 15) { history.record([], at: time) }
        #expect(history.series(id, now: 1200).isEmpty)
        #expect(sampleValue(history.selfMetrics(), "mastiff_history_series") == 0)
    }

    /// Each series reserves its ring when it first appears: retention / interval points × 16 B.
    /// A series that would pass the limit is not kept, and counted; a registration whose single
    /// series could not fit is refused with what it needs.
    @Test func memoryIsBoundedByTheLimit() throws {
        let history = HistoryStore(limitBytes: 10_000, sampleInterval: .seconds(15))
        // 1 h at 15 s = 241 points × 16 B = 3,856 B per series: two fit in 10,000 B, not three.
        let id = try history.register(consumer: "status", metric: "process_group_processes", retention: .seconds(3600), maxSeries: 200)
        #expect(sampleValue(history.selfMetrics(), "mastiff_history_bytes") == 0, "nothing reserved before series arrive")
        history.record(processes(["a": 1, "b": 2, "c": 3]), at: 1000)
        #expect(history.series(id, now: 1000).count == 2)
        #expect(sampleValue(history.selfMetrics(), "mastiff_history_bytes") == 7712)
        #expect(sampleValue(history.selfMetrics(), "mastiff_history_series_dropped_total") == 1)
        #expect {
            try history.register(consumer: "rules", metric: "b", retention: .seconds(86400), maxSeries: 1)
        } throws: { error in
            "\(error)" == "history for b (rules) needs 92176B per series (5761 points of 16 B for 1d), more than sampling.history_limit (10000B): shorten the range or raise the limit"
        }
        history.unregister(id)
        #expect(sampleValue(history.selfMetrics(), "mastiff_history_bytes") == 0)
    }

    @Test func seriesBeyondARegistrationsMaximumAreCountedNotKept() throws {
        let history = HistoryStore(limitBytes: 1 << 20, sampleInterval: .seconds(15))
        let id = try history.register(consumer: "rules", metric: "process_group_processes", retention: .seconds(60), maxSeries: 2)
        history.record(processes(["a": 1, "b": 1, "c": 1]), at: 1000)
        #expect(history.series(id, now: 1000).count == 2)
        #expect(sampleValue(history.selfMetrics(), "mastiff_history_series_dropped_total") == 1)
    }

    @Test func histogramPartsAreSeriesOfTheirOwn() throws {
        let history = HistoryStore(limitBytes: 1 << 20, sampleInterval: .seconds(15))
        let id = try history.register(consumer: "rules", metric: "request_duration_seconds_count", retention: .seconds(60), maxSeries: 5)
        let family = MetricFamily(name: "request_duration_seconds", help: "", type: .histogram, samples: [
            Sample(suffix: "_bucket", labels: [Label("le", "+Inf")], value: 4), Sample(suffix: "_count", labels: [], value: 4),
        ])
        history.record([family], at: 1000)
        #expect(history.series(id, now: 1000).map(\.points) == [[HistoryStore.Point(time: 1000, value: 4)]])
    }

    /// A downsampled registration keeps one point per step, the step's largest (or smallest)
    /// value, so a spike between points is kept; an end marker starts a point of its own.
    @Test func downsampledSeriesKeepOnePointPerStep() throws {
        let history = HistoryStore(limitBytes: 1 << 20, sampleInterval: .seconds(15))
        let highest = try history.register(consumer: "status page", metric: "process_group_processes", retention: .seconds(3600),
                                            maxSeries: 4, resolution: .seconds(120))
        let lowest = try history.register(consumer: "status page", metric: "process_group_processes", retention: .seconds(3600),
                                           maxSeries: 4, resolution: .seconds(120), downsampling: .minimum)
        // 16 samples over 240 s: a spike to 9 at 60 s, a dip to 0 at 150 s.
        for step in 0..<16 {
            let value: Double = step == 4 ? 9 : step == 10 ? 0 : 3
            history.record(processes(["sidekiq": value]), at: 1000 + Double(step) * 15)
        }
        let high = try #require(history.series(highest, now: 1225).first)
        #expect(high.points.map(\.time) == [1000, 1120])
        #expect(high.points.map(\.value) == [9, 3])
        let low = try #require(history.series(lowest, now: 1225).first)
        #expect(low.points.map(\.value) == [3, 0])
        // Gone, then back within the same step: the marker and the return are points of their own.
        history.record([], at: 1240)
        history.record(processes(["sidekiq": 5]), at: 1255)
        let after = try #require(history.series(highest, now: 1255).first).points
        #expect(after.count == 4)
        #expect(HistoryStore.isStale(after[2].value))
        #expect(after[3] == HistoryStore.Point(time: 1255, value: 5))
        // 1 h at 2 min: 31 points of 16 B per series, where every 15 s sample would be 241.
        #expect(history.reservedBytes(consumer: "status page") == 2 * 31 * 16)
        #expect(history.maximumBytes(consumer: "status page") == 2 * 4 * 31 * 16)
    }
}
