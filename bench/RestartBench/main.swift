// One restart-policy cycle over 500 processes (bench/restarts.sh runs it on a release build):
// 10 targets of 50 processes each, every process checked for memory (PSS over a ceiling for 3
// samples), age with jitter and an alert, after a warm-up that fills the over-ceiling counters.
//
//   restart-bench [CYCLES]
import Glibc
import MastiffCore
import MastiffPolicies

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

let cycles = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 2000 : 2000
let mib: UInt64 = 1 << 20
var targets: [RestartTargetSpec] = []
for index in 0..<10 {
    var target = RestartTargetSpec(name: "target\(index)", group: "group\(index)", method: .signal(name: "TERM", number: 15))
    target.maxMemory = .bytes(700 * mib)
    target.maxAge = .seconds(3 * 3600)
    target.jitter = .seconds(1800)
    target.onAlerts = ["OOMRisk"]
    // Decisions are made but nothing restarts, so every cycle does the full work.
    target.dryRun = true
    targets.append(target)
}
let start = 1_800_000_000.0
let processes = (0..<500).map { index in
    ProcessSample(pid: 1000 + index, group: "group\(index % 10)", comm: "ruby", residentBytes: UInt64(200 + index) * mib,
                  proportionalBytes: UInt64(100 + index % 300) * mib, swapBytes: 0, openFDs: 20, openFDLimit: 1024, cpuSeconds: 10,
                  startTime: start - Double(index * 30), threads: 10, majorFaults: 0)
}
let snapshot = Snapshot(sequence: 1, time: start, durationSeconds: 0, collection: Collection(
    families: [], views: SnapshotViews(processes: processes, memory: SystemMemorySample(
        totalBytes: 8192 * Double(mib), availableBytes: 4096 * Double(mib), swapTotalBytes: 0, swapFreeBytes: 0)), results: []))
var policy = RestartPolicy(targets: targets, startedAt: start - 3600)
var times: [Double] = []
var decisions = 0
for cycle in 0..<cycles {
    let started = now()
    decisions += policy.observe(snapshot, now: start + Double(cycle) * 15).count
    times.append((now() - started) * 1000)
}
let steady = Array(times.dropFirst(10)).sorted()
print("500 processes in 10 targets, \(cycles) cycles, \(decisions) decisions (dry run)")
print("policy cycle: median \((steady[steady.count / 2] * 1000).rounded() / 1000) ms, p99 \((steady[Int(Double(steady.count) * 0.99)] * 1000).rounded() / 1000) ms, max \((steady.last! * 1000).rounded() / 1000) ms")
