import Glibc
import MastiffCollectors
import MastiffCore

// Issue 26's federation figure: the Redis collector's collection time on a Redis holding many
// unrelated keys and Mastodon's exhausted_deliveries sets, against the same collector on an
// almost empty database (its INFO alone): the difference is what the federation scan costs.
//
//     mastodon-health-bench REDIS_URL_WITH_KEYS REDIS_URL_EMPTY [PASSES]

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

func percentile(_ values: [Double], _ fraction: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * fraction))]
}

/// Two decimals, without Foundation.
func fixed(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let sign = hundredths < 0 ? "-" : ""
    let magnitude = abs(hundredths)
    return sign + String(magnitude / 100) + "." + (magnitude % 100 < 10 ? "0" : "") + String(magnitude % 100)
}

func url(_ text: String) -> RedisURL {
    guard case .success(let url) = RedisURL.parse(text) else {
        print("not a Redis URL: \(text)")
        exit(2)
    }
    return url
}

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    print("usage: mastodon-health-bench REDIS_URL_WITH_KEYS REDIS_URL_EMPTY [PASSES]")
    exit(2)
}
let passes = arguments.count > 3 ? Int(arguments[3]) ?? 2 : 2

func measure(_ collector: RedisCollector, until done: (MetricSink, Int) -> Bool) async throws -> (times: [Double], collections: Int, sink: MetricSink) {
    let clock = ContinuousClock()
    var times: [Double] = []
    var sink = MetricSink()
    var collections = 0
    repeat {
        sink = MetricSink()
        let started = clock.now
        try await collector.collect(into: sink)
        times.append(milliseconds(started.duration(to: clock.now)))
        collections += 1
    } while !done(sink, collections) && collections < 100_000
    return (times, collections, sink)
}

/// Locals, not top-level variables: those belong to the main actor, and the collector's
/// closures run elsewhere.
func run() async throws {
    let loaded = RedisCollector(url: url(arguments[1]), collectorTimeout: .seconds(5))
    var completed: Set<Double> = []
    var perPass: [Int] = []
    var sinceLast = 0
    let withKeys = try await measure(loaded) { sink, _ in
        sinceLast += 1
        if let stamp = sink.families.first(where: { $0.name == "mastodon_federation_scan_completed_timestamp_seconds" })?.samples.first?.value,
           completed.insert(stamp).inserted {
            perPass.append(sinceLast)
            sinceLast = 0
        }
        return completed.count > passes
    }
    let failing = withKeys.sink.families.first { $0.name == "mastodon_federation_failing_hosts" }?.samples.reduce(0) { $0 + $1.value } ?? 0
    let empty = RedisCollector(url: url(arguments[2]), collectorTimeout: .seconds(5))
    let baseline = try await measure(empty) { _, count in count >= withKeys.collections }

    let federation = percentile(withKeys.times, 0.5) - percentile(baseline.times, 0.5)
    print("collections: \(withKeys.collections); collections per complete pass: \(perPass.dropFirst().map(String.init).joined(separator: ", ")); failing hosts counted: \(Int(failing))")
    print("redis collector with the keys: median \(fixed(percentile(withKeys.times, 0.5))) ms, p95 \(fixed(percentile(withKeys.times, 0.95))) ms, "
          + "max \(fixed(withKeys.times.max() ?? 0)) ms")
    print("redis collector on an empty database: median \(fixed(percentile(baseline.times, 0.5))) ms, p95 \(fixed(percentile(baseline.times, 0.95))) ms")
    print("federation part: \(fixed(federation)) ms per collection (median difference)")
}

try await run()
