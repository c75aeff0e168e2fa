import MastiffCore
import MastiffPromQL
import Testing

/// What promtool 2.42 cannot check because its windows are closed at the start: Prometheus 3's
/// left-open windows, and NaN results (promtool never finds NaN equal to NaN). Values from
/// ../shared/notes/promql-parity.md and Prometheus 3's promql/promqltest files.
@Suite struct EvaluatorTests {
    final class Storage: SeriesStorage {
        var series: [StoredSeries] = []
        func add(_ name: String, labels: [Label] = [], every seconds: Int64 = 60, values: [Double?]) {
            var stored = StoredSeries(labels: ([Label("__name__", name)] + labels).sortedByName(), times: [], values: [])
            for (index, value) in values.enumerated() {
                guard let value else { continue }
                stored.times.append(Int64(index) * seconds * 1000)
                stored.values.append(value)
            }
            series.append(stored)
        }
        func select(_ selector: VectorSelector, after: Int64, through: Int64) -> [StoredSeries] {
            series.filter { stored in (selector.metric.isEmpty || stored.labels.value(of: "__name__") == selector.metric) && selector.matchers.allSatisfy { $0.matches(stored.labels) } }
                .map { stored in
                    let indices = stored.times.indices.filter { stored.times[$0] > after && stored.times[$0] <= through }
                    return StoredSeries(labels: stored.labels, times: indices.map { stored.times[$0] }, values: indices.map { stored.values[$0] })
                }
        }
    }

    static func values(_ storage: Storage, _ expr: String, at seconds: Double) throws -> [Double] {
        let result = try Evaluator(storage: storage, time: Int64(seconds * 1000)).evaluate(try PromQLParser.parse(expr))
        switch result {
        case .vector(let samples): return samples.map(\.value)
        case .scalar(let value): return [value]
        default: return []
        }
    }

    @Test func windowsAreLeftOpen() throws {
        let storage = Storage()
        storage.add("c", values: [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200])
        // 1m samples, [5m] at 10m: (5m, 10m] holds 6..10, not 5.
        #expect(try Self.values(storage, "count_over_time(c[5m])", at: 600) == [5])
        #expect(try Self.values(storage, "rate(c[5m])", at: 600) == [10.0 / 60 * 1.0])
        #expect(try Self.values(storage, "increase(c[5m])", at: 600) == [50])
        // [1m] over 1m samples holds one sample: nothing (promtool 2.42 gives 10).
        #expect(try Self.values(storage, "increase(c[1m])", at: 600) == [])
        // The lookback: the last sample at 30s is returned at 329s and gone at 330s.
        let gone = Storage()
        gone.add("g", every: 30, values: [1, 1])
        #expect(try Self.values(gone, "g", at: 329) == [1])
        #expect(try Self.values(gone, "g", at: 330) == [])
    }

    /// Issue 24, item 1: keywords in any case, numbers as durations and durations as numbers,
    /// as Prometheus 3's parser takes them. Each spelling evaluates as the canonical one.
    @Test(arguments: [
        ("SUM BY (job) (c)", "sum by (job) (c)"),
        ("Sum(c) WITHOUT (instance)", "sum without (instance) (c)"),
        ("c > BOOL 100", "c > bool 100"),
        ("c AND ON (job) c", "c and on (job) c"),
        ("c OR c", "c or c"),
        ("c UNLESS IGNORING (instance) c{job=\"a\"}", "c unless ignoring (instance) c{job=\"a\"}"),
        ("TOPK(1, c)", "topk(1, c)"),
        ("count_over_time(c[600])", "count_over_time(c[10m])"),
        ("count_over_time(c[299.5])", "count_over_time(c[299500ms])"),
        ("c OFFSET 120", "c offset 2m"),
        ("c offset -60", "c offset -1m"),
        ("time() - 10m", "time() - 600"),
        ("c > 1h", "c > 3600"),
        ("rate((c[5m]))", "rate(c[5m])"),
        ("count_over_time(((c[10m])))", "count_over_time(c[10m])"),
    ])
    func prometheus3Spellings(_ spelled: String, _ canonical: String) throws {
        let storage = Storage()
        storage.add("c", labels: [Label("job", "a"), Label("instance", "x")], values: (0...20).map { Double($0) * 10 })
        storage.add("c", labels: [Label("job", "b"), Label("instance", "y")], values: (0...20).map { Double($0) * 1000 })
        #expect(try Self.values(storage, spelled, at: 900).sorted() == (try Self.values(storage, canonical, at: 900)).sorted(), "\(spelled)")
        #expect(!(try Self.values(storage, canonical, at: 900)).isEmpty, "\(canonical) selects something")
    }

    /// The date functions (issue 24 item 3) on times the corpus (10m30s into 1970) cannot reach:
    /// a leap day, the last second of a year, and a value before the epoch truncated toward zero
    /// as Go's int64() truncates it.
    @Test func dateFunctionsOnALeapDayAndAroundTheEpoch() throws {
        let storage = Storage()
        storage.add("t", labels: [Label("at", "leap")], values: [1_709_208_000])      // 2024-02-29T12:00:00Z, a Thursday
        storage.add("t", labels: [Label("at", "newyear")], values: [1_735_689_599])   // 2024-12-31T23:59:59Z
        storage.add("t", labels: [Label("at", "before")], values: [-1.5])             // 1969-12-31T23:59:59Z
        func fields(_ function: String) throws -> [Double] {
            let result = try Evaluator(storage: storage, time: 60_000).evaluate(try PromQLParser.parse("\(function)(t)"))
            guard case .vector(let samples) = result else { return [] }
            return ["leap", "newyear", "before"].compactMap { name in samples.first { $0.labels.value(of: "at") == name }?.value }
        }
        #expect(try fields("year") == [2024, 2024, 1969])
        #expect(try fields("month") == [2, 12, 12])
        #expect(try fields("day_of_month") == [29, 31, 31])
        #expect(try fields("day_of_year") == [60, 366, 365])
        #expect(try fields("days_in_month") == [29, 31, 31])
        #expect(try fields("day_of_week") == [4, 2, 3])
        #expect(try fields("hour") == [12, 23, 23])
        #expect(try fields("minute") == [0, 59, 59])
        // Without an argument: the evaluation time, and no labels.
        #expect(try Self.values(storage, "hour()", at: 7 * 3600 + 59) == [7])
    }

    /// A keyword stays a label name where one is expected: `by (ON)` groups by the label `ON`.
    @Test func keywordsInAGroupingListAreLabelNames() throws {
        let storage = Storage()
        storage.add("c", labels: [Label("ON", "1")], values: [5])
        storage.add("c", labels: [Label("ON", "2")], values: [7])
        let result = try Evaluator(storage: storage, time: 60_000).evaluate(try PromQLParser.parse("SUM BY (ON) (c)"))
        guard case .vector(let samples) = result else { Issue.record("\(result)"); return }
        #expect(samples.map { $0.labels.value(of: "ON") ?? "" }.sorted() == ["1", "2"])
        // Function names are not keywords: case matters.
        #expect(throws: PromQLError.self) { _ = try PromQLParser.parse("RATE(c[5m])") }
    }

    @Test func aSlowCounterIncreasesByOnePointTwoFive() throws {
        let storage = Storage()
        storage.add("slow", values: [5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6])
        // (5m, 10m]: 6..10 = 5 5 6 6 6 → delta 1 over 4 min, extrapolated to 5 min.
        #expect(try Self.values(storage, "increase(slow[5m])", at: 600) == [1.25])
    }

    @Test func aCounterThatAppearsClampsToZero() throws {
        let storage = Storage()
        storage.add("late", values: [nil, nil, nil, nil, nil, nil, nil, nil, 0, 10, 20])
        #expect(try Self.values(storage, "increase(late[5m])", at: 600) == [20])
    }

    @Test func nanAndInfinities() throws {
        let storage = Storage()
        storage.add("x", values: [0])
        #expect(try Self.values(storage, "x / 0", at: 30).first?.isNaN == true)
        #expect(try Self.values(storage, "scalar(nothing)", at: 30).first?.isNaN == true)
        #expect(try Self.values(storage, "(x + 1) / 0", at: 30) == [.infinity])
        #expect(try Self.values(storage, "max(x / 0)", at: 30).first?.isNaN == true)
        #expect(try Self.values(storage, "sort_desc(vector(1) / 0 or vector(2))", at: 30) == [.infinity])
    }

    @Test func staleMarkersEndASeriesAtOnce() throws {
        let storage = Storage()
        storage.add("s", values: [1, 1, Double(bitPattern: staleMarkerBits)])
        #expect(try Self.values(storage, "s", at: 90) == [1])
        #expect(try Self.values(storage, "s", at: 150) == [])
        #expect(try Self.values(storage, "count_over_time(s[5m])", at: 150) == [2], "markers are not samples of a range")
    }

    @Test func dataErrorsAreEvaluationErrors() throws {
        let storage = Storage()
        storage.add("a", labels: [Label("x", "1")], values: [1])
        storage.add("a", labels: [Label("x", "2")], values: [1])
        storage.add("b", values: [1])
        #expect(throws: EvaluationError.self) { try Self.values(storage, "a + on() b", at: 30) }
        #expect(throws: EvaluationError.self) { try Self.values(storage, "b + on() a", at: 30) }
        #expect(try Self.values(storage, "a + on() group_left b", at: 30) == [2, 2])
    }
}

/// Issue 24, item 2: label_replace as Prometheus 3 runs it — RE2, `^(?s:…)$`, Go's Expand with
/// named groups — where promtool's corpus cannot reach (a newline in a label value).
@Suite struct LabelReplaceRegexTests {
    static func labels(_ expr: String, value: String) throws -> [String] {
        let storage = EvaluatorTests.Storage()
        storage.add("x", labels: [Label("path", value)], values: [1])
        let result = try Evaluator(storage: storage, time: 30_000).evaluate(try PromQLParser.parse(expr))
        guard case .vector(let samples) = result else { return [] }
        return samples.compactMap { $0.labels.value(of: "out") }
    }

    @Test func namedGroupsExpandByName() throws {
        #expect(try Self.labels(#"label_replace(x, "out", "${code}-$kind", "path", "(?P<kind>[a-z]+)/(?P<code>\\d+)")"#, value: "api/503") == ["503-api"])
        #expect(try Self.labels(#"label_replace(x, "out", "[$missing]", "path", "(?P<kind>.*)")"#, value: "api") == ["[]"])
    }

    @Test func dotMatchesANewlineAndTheMatchIsAnchored() throws {
        #expect(try Self.labels(#"label_replace(x, "out", "$1", "path", "a(.*)")"#, value: "a\nb") == ["\nb"])
        #expect(try Self.labels(#"label_replace(x, "out", "$1", "path", "b")"#, value: "ab").isEmpty, "anchored: no partial match")
    }
}

/// Issue 24, item 3: subqueries and @ with Prometheus 3's semantics where promtool 2.42 (its
/// closed windows) cannot be the reference: promql/engine.go `subqueryTimeRange` starts at the
/// first multiple of the step strictly after `end - range`.
@Suite struct SubqueryTests {
    static func storage() -> EvaluatorTests.Storage {
        let storage = EvaluatorTests.Storage()
        storage.add("g", every: 30, values: (0..<41).map(Double.init))   // 0, 1, 2, … every 30 s up to 20m
        return storage
    }

    @Test func stepsAreAlignedToTheEpochAndTheRangeIsLeftOpen() throws {
        // At 10m: (5m, 10m] with 30 s steps is 330 s … 600 s: ten points, not eleven.
        #expect(try EvaluatorTests.values(Self.storage(), "count_over_time(g[5m:30s])", at: 600) == [10])
        #expect(try EvaluatorTests.values(Self.storage(), "min_over_time(g[5m:30s])", at: 600) == [11])
        // At 10m15s the first step after 5m15s is 5m30s; the last is 10m (not 10m15s).
        #expect(try EvaluatorTests.values(Self.storage(), "count_over_time(g[5m:30s])", at: 615) == [10])
        #expect(try EvaluatorTests.values(Self.storage(), "max_over_time(g[5m:30s])", at: 615) == [20])
    }

    @Test func theDefaultStepIsTheEvaluationInterval() throws {
        let result = try Evaluator(storage: Self.storage(), time: 600_000, defaultSubqueryStepMs: 120_000)
            .evaluate(try PromQLParser.parse("count_over_time(g[10m:])"))
        guard case .vector(let samples) = result else { Issue.record("not a vector"); return }
        #expect(samples.map(\.value) == [5], "2m, 4m, 6m, 8m, 10m")
    }

    @Test func atFixesTheTimeAndStartAndEndAreTheQuerysTime() throws {
        #expect(try EvaluatorTests.values(Self.storage(), "g @ 150", at: 1200) == [5])
        #expect(try EvaluatorTests.values(Self.storage(), "g @ 150 offset 60s", at: 1200) == [3])
        #expect(try EvaluatorTests.values(Self.storage(), "g @ end()", at: 900) == [30])
        // Inside a subquery, start() and end() are still the whole query's time.
        #expect(try EvaluatorTests.values(Self.storage(), "max_over_time((g @ end())[5m:1m])", at: 900) == [30])
        #expect(try EvaluatorTests.values(Self.storage(), "sum_over_time(g[2m:1m] @ 300)", at: 1200) == [8 + 10])
        // rate's window follows @: it ends at the @ time, whatever the evaluation time.
        #expect(try EvaluatorTests.values(Self.storage(), "increase(g[2m] @ 300)", at: 1200) == [4])
    }

    @Test func aSubqueryOfTooManyStepsFailsWithAReason() throws {
        #expect(throws: EvaluationError.self) { try EvaluatorTests.values(Self.storage(), "max_over_time(g[1y:1s])", at: 600) }
        do {
            _ = try EvaluatorTests.values(Self.storage(), "max_over_time(g[1y:1s])", at: 600)
        } catch {
            #expect("\(error)".contains("at most 100000"))
        }
    }
}

/// Issue 24, item 1: selectors without a metric name, with Prometheus's "at least one non-empty
/// matcher" rule.
@Suite struct NamelessSelectorTests {
    @Test func aNamelessSelectorReadsEveryMetricItsMatchersAccept() throws {
        let storage = EvaluatorTests.Storage()
        storage.add("a_total", labels: [Label("job", "x")], values: [1])
        storage.add("b_total", labels: [Label("job", "x")], values: [2])
        storage.add("c", labels: [Label("job", "y")], values: [4])
        #expect(try EvaluatorTests.values(storage, #"sum({__name__=~".+_total"})"#, at: 30) == [3])
        #expect(try EvaluatorTests.values(storage, #"sum({job="x"})"#, at: 30) == [3])
        #expect(try EvaluatorTests.values(storage, #"{__name__!~".+_total", job=~"x|y"}"#, at: 30) == [4])
    }

    @Test(arguments: [#"{job=~".*"}"#, #"{job=""}"#, #"{__name__=~".*", job!="x"}"#])
    func aSelectorThatWouldMatchEverythingIsRefused(text: String) {
        #expect(throws: PromQLError.self) { try PromQLParser.parse(text) }
        do {
            _ = try PromQLParser.parse(text)
        } catch {
            #expect(error.message == "vector selector must contain at least one non-empty matcher")
        }
    }
}
