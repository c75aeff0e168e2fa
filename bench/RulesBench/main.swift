// The cost of mastiff's built-in alert rules (bench/rules.sh runs it on a release build):
//   - parsing and loading alerts/mastiff.rules.yml,
//   - one evaluation cycle of all groups on the default collectors' series, once the history
//     holds the rules' longest range (6 h at 15 s),
//   - the history memory those rules keep.
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

func format3(_ value: Double) -> String {
    let scaled = (value * 1000).rounded() / 1000
    return "\(scaled)"
}
