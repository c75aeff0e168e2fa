// The cost of mastiff's built-in alert rules (bench/rules.sh runs it on a release build):
//   - parsing and loading alerts/mastiff.rules.yml,
//   - one evaluation cycle of all groups on the default collectors' series, once the history
//     holds the rules' longest range (6 h at 15 s),
//   - the history memory those rules keep,
//   - issue 24's figures: a rule with a 1h:1m subquery over 50 series (the agent's alerting over
//     its history), and a regex matcher over 10,000 series (RE2, anchored as Prometheus does).
// Input: an exposition taken with `mastiff collect --once` (the default collectors on real
// PostgreSQL, Redis and Sidekiq data); each cycle replays it 15 s later with gauges moved a
// little, so ranges fill with distinct points.
//
//   rules-bench EXPOSITION [CYCLES]
import Glibc
import Logging
import MastiffAgent
import MastiffCore
import MastiffPolicies
import MastiffPromQL

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
func percentile(_ values: [Double], _ p: Double) -> Double { values.sorted()[min(values.count - 1, Int(Double(values.count) * p))] }

let arguments = CommandLine.arguments
guard arguments.count >= 2, let text = try? FileSystemAccess.readFile(arguments[1], maxBytes: 64 << 20) else {
    print("usage: rules-bench EXPOSITION [CYCLES]")
    exit(2)
}
let cycles = arguments.count > 2 ? Int(arguments[2]) ?? 1500 : 1500
let families = try PrometheusTextParser.parse(text)
let seriesCount = families.reduce(0) { $0 + $1.samples.count }

var loadTimes: [Double] = []
var groups: [RuleGroup] = []
for _ in 0..<50 {
    let started = now()
    groups = try RuleFileLoader.load(text: BuiltinRules.shipped, file: BuiltinRules.fileName)
    loadTimes.append((now() - started) * 1000)
}

let history = HistoryStore(limitBytes: 8 << 20, sampleInterval: .seconds(15))
let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
let start = 1_800_000_000.0
let alerting = Alerting(groups: groups, settings: AlertSettings(), history: history, logger: logger, stateStore: nil, now: start)
var times: [Double] = []
for cycle in 0..<cycles {
    let time = start + Double(cycle) * 15
    var moved = families
    for index in moved.indices where moved[index].type == .gauge {
        for sampleIndex in moved[index].samples.indices {
            moved[index].samples[sampleIndex].value *= 1 + 0.01 * sin(Double(cycle + sampleIndex) / 7)
        }
    }
    let snapshot = Snapshot(sequence: cycle + 1, time: time, durationSeconds: 0,
                            collection: Collection(families: moved, views: SnapshotViews(), results: []))
    history.record(snapshot.families, at: time)
    let started = now()
    alerting.evaluate(snapshot, defaultIntervalMs: nil)
    times.append((now() - started) * 1000)
}
let steady = Array(times.suffix(200))
let historyBytes = history.selfMetrics().first { $0.name == "mastiff_history_bytes" }!.samples[0].value
let historySeries = history.selfMetrics().first { $0.name == "mastiff_history_series" }!.samples[0].value
let rules = groups.flatMap(\.rules)
print("input: \(families.count) families, \(seriesCount) series; \(rules.count) rules in \(groups.count) groups; \(cycles) cycles of 15 s")
print("load alerts/mastiff.rules.yml: median \(format3(median(loadTimes))) ms, max \(format3(loadTimes.max()!)) ms")
print("evaluate all groups per cycle (last 200 cycles): median \(format3(median(steady))) ms, p99 \(format3(percentile(steady, 0.99))) ms, max \(format3(steady.max()!)) ms")
print("history for the rules: \(Int(historySeries)) series, \(format3(historyBytes / 1_048_576)) MiB")

/// Series held in memory, selected by their matchers (the regex runs on every series).
final class MemoryStorage: SeriesStorage {
    var series: [StoredSeries] = []
    func select(_ selector: VectorSelector, after: Int64, through: Int64) -> [StoredSeries] {
        series.filter { stored in stored.labels.value(of: "__name__") == selector.metric && selector.matchers.allSatisfy { $0.matches(stored.labels) } }
            .map { stored in
                let indices = stored.times.indices.filter { stored.times[$0] > after && stored.times[$0] <= through }
                return StoredSeries(labels: stored.labels, times: indices.map { stored.times[$0] }, values: indices.map { stored.values[$0] })
            }
    }
}

func timed(_ expr: String, _ storage: MemoryStorage, at time: Int64, runs: Int) throws -> (median: Double, samples: Int) {
    let parsed = try PromQLParser.parse(expr)
    var durations: [Double] = []
    var count = 0
    for _ in 0..<runs {
        let started = now()
        if case .vector(let samples) = try Evaluator(storage: storage, time: time, defaultSubqueryStepMs: 15_000).evaluate(parsed) { count = samples.count }
        durations.append((now() - started) * 1000)
    }
    return (median(durations), count)
}

// A recording rule with a subquery, evaluated by the agent's alerting over its history: 50
// counters sampled every 15 s; max_over_time(rate(x[5m])[1h:1m]) evaluates the inner rate at 60
// steps over each series. Timed once the history holds the rule's whole window (1h05m).
let subqueryRules = try RuleFileLoader.load(text: """
    groups:
      - name: subquery
        rules:
          - record: x:rate5m:max1h
            expr: max_over_time(rate(x_total[5m])[1h:1m])
    """, file: "subquery.yml")
let subqueryHistory = HistoryStore(limitBytes: 8 << 20, sampleInterval: .seconds(15))
let subqueryAlerting = Alerting(groups: subqueryRules, settings: AlertSettings(), history: subqueryHistory, logger: logger, stateStore: nil, now: start)
var subqueryTimes: [Double] = []
for cycle in 0..<360 {
    let time = start + Double(cycle) * 15
    let counters = MetricFamily(name: "x_total", help: "", type: .counter, samples: (0..<50).map { index in
        Sample(labels: [Label("instance", "host-\(index)")], value: Double(cycle * (index + 1)))
    })
    let snapshot = Snapshot(sequence: cycle + 1, time: time, durationSeconds: 0, collection: Collection(families: [counters], views: SnapshotViews(), results: []))
    subqueryHistory.record(snapshot.families, at: time)
    let started = now()
    subqueryAlerting.evaluate(snapshot, defaultIntervalMs: nil)
    if cycle >= 300 { subqueryTimes.append((now() - started) * 1000) }
}
print("a rule with a 1h:1m subquery over 50 series, max_over_time(rate(x_total[5m])[1h:1m]), per evaluation: median \(format3(median(subqueryTimes))) ms, max \(format3(subqueryTimes.max()!)) ms")

// 10,000 series with Mastodon-like paths; the matcher keeps a fifth of them.
let end: Int64 = 1_800_000_000_000
let paths = MemoryStorage()
let kinds = ["statuses", "timelines", "accounts", "notifications", "media"]
for index in 0..<10_000 {
    paths.series.append(StoredSeries(labels: [Label("__name__", "http_requests_total"), Label("path", "/api/v1/\(kinds[index % 5])/\(index)")],
                                     times: [end], values: [1]))
}
let regex = try timed(#"count(http_requests_total{path=~"/api/v1/(statuses|timelines)/[0-9]+", path!~"(?i).*/9[0-9]*"})"#, paths, at: end, runs: 50)
print("a regex matcher over 10,000 series (=~ and !~, RE2): median \(format3(regex.median)) ms")

func format3(_ value: Double) -> String {
    let scaled = (value * 1000).rounded() / 1000
    return "\(scaled)"
}
