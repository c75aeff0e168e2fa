// statsd-pipeline-bench: CPU per statsd line inside mastiff — parse, map, apply — measured
// with the thread's CPU clock over a corpus of datagrams (one line each, as statsd-ruby sends
// them), handed to the bridge in batches of 32 as the UDP listener does.
//   statsd-pipeline-bench CORPUS [ROUNDS]
// Prints each round's µs/line and the median. bench/statsd.sh builds it in release mode.
#if canImport(Glibc)
import Glibc
#endif
import MastiffCore
import MastiffStatsd

func threadCPUSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

let arguments = CommandLine.arguments
guard arguments.count >= 2, let corpus = try? FileSystemAccess.readFile(arguments[1], maxBytes: 512 << 20) else {
    StderrLogHandler.writeToStderr("usage: statsd-pipeline-bench CORPUS [ROUNDS]\n")
    exit(2)
}
let rounds = arguments.count > 2 ? Int(arguments[2]) ?? 7 : 7
let lines: [[UInt8]] = corpus.utf8.split(separator: UInt8(ascii: "\n")).map(Array.init)
let mapping = try StatsdMapping.parse(MastodonStatsdMapping.shipped, file: "built-in")
let bridge = StatsdBridge(mapping: mapping, maxSeries: 100_000, unmapped: .escape)

func runRound() -> Double {
    var result = StatsdLineParser.Result()
    let start = threadCPUSeconds()
    var index = 0
    while index < lines.count {
        result.removeAll()
        let end = min(index + 32, lines.count)
        for line in lines[index..<end] {
            line.withUnsafeBytes { StatsdLineParser.parse(packet: $0, into: &result) }
        }
        bridge.ingest(result, packets: end - index, transport: .udp)
        index = end
    }
    return (threadCPUSeconds() - start) / Double(lines.count) * 1e6
}

_ = runRound()  // warm-up: series created, mapping cache filled
var perLine: [Double] = []
for round in 1...rounds {
    let micros = runRound()
    perLine.append(micros)
    print("round \(round): \(micros) µs/line")
}
let sorted = perLine.sorted()
let series = bridge.selfMetrics().first { $0.name == "statsd_series" }?.samples.first?.value ?? 0
print("lines \(lines.count) series \(Int(series)) median_us_per_line \(sorted[sorted.count / 2])")
