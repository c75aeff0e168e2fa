// Issue 13's status page figures: the page rendered server-side (report built from the last
// sample, the agent's state and 24 h of history, then HTML) ≤ 5 ms, and the history it draws
// from ≤ 2 MiB. A busy host's day: 300 processes in 12 groups, 8 Sidekiq queues, 16
// PostgreSQL connection series, 3 probes, every 15 s for 24 h 10 min, then BENCH_RENDERS
// renders (default 2000). Run by bench/status-page.sh in release mode.
import Logging
import MastiffAgent
import MastiffCore
import MastiffServer
#if canImport(Glibc)
import Glibc
#endif

func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
let renders = Int(environment("BENCH_RENDERS") ?? "") ?? 2000
let interval = 15.0
let samples = Int(environment("BENCH_SAMPLES") ?? "") ?? Int((86_400 + 600) / interval)

func seconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

let groups = ["sidekiq", "puma", "postgres", "redis", "streaming", "nginx", "mastiff", "elasticsearch", "pgbouncer", "cron", "sshd", "other"]
let queues = ["default", "push", "ingress", "mailers", "pull", "scheduler", "fasp", "search"]
let states = ["active", "idle", "idle in transaction", "idle in transaction (aborted)", "fastpath function call", "disabled", "starting", "unknown"]

func gauge(_ name: String, _ samples: [([Label], Double)]) -> MetricFamily {
    MetricFamily(name: name, help: "", type: .gauge, samples: samples.map { Sample(labels: $0.0, value: $0.1) })
}

func families(step: Int) -> [MetricFamily] {
    let wave = Double(step % 240) / 240
    return [
        gauge("system_memory_available_bytes", [([], 1.5e9 + 5e8 * wave)]),
        gauge("system_memory_total_bytes", [([], 4e9)]),
        gauge("system_pressure_stall_ratio", ["10s", "1m", "5m"].flatMap { window in ["some", "full"].map {
            ([Label("resource", "memory"), Label("kind", $0), Label("window", window)], 0.01 * wave) } }),
        gauge("process_group_proportional_memory_bytes", groups.enumerated().map { ([Label("group", $1)], Double(900 - $0 * 70) * 1_048_576 * (1 + wave / 4)) }),
        gauge("sidekiq_queue_size", queues.enumerated().map { ([Label("queue", $1)], Double($0 * 10) * wave) }),
        gauge("sidekiq_queue_latency_seconds", queues.enumerated().map { ([Label("queue", $1)], Double($0) * 3 * wave) }),
        gauge("postgres_connections", ["mastodon", "postgres"].flatMap { database in states.map { ([Label("database", database), Label("state", $0)], 5 * wave) } }),
        gauge("postgres_max_connections", [([], 200)]),
        gauge("probe_success", ["web", "api", "streaming"].map { ([Label("probe", $0)], 1) }),
        gauge("probe_duration_seconds", ["web", "api", "streaming"].map { ([Label("probe", $0)], 0.05 + 0.2 * wave) }),
    ]
}

let history = HistoryStore(limitBytes: 8 * 1_048_576, sampleInterval: .seconds(15))
let statusHistory = StatusHistory(history: history, logger: Logger(label: "bench"))
let start = 1.8e9 - Double(samples) * interval
let recordStarted = seconds()
for step in 0..<samples {
    history.record(families(step: step), at: start + Double(step) * interval)
}
let recordSeconds = seconds() - recordStarted
let now = start + Double(samples - 1) * interval

let processes = (0..<300).map { index in
    ProcessSample(pid: 1000 + index, group: groups[index % groups.count], comm: "worker", residentBytes: 300 << 20, proportionalBytes: 200 << 20,
                  swapBytes: 0, openFDs: 40, openFDLimit: 65536, cpuSeconds: 10, startTime: 0, threads: 5, majorFaults: 0)
}
let lastFamilies = families(step: samples - 1)
let collectors = ["system", "processes", "postgres", "redis", "sidekiq", "probes"].map {
    CollectorResult(name: $0, succeeded: true, durationSeconds: 0.01, detail: nil)
}
let alerts = [StatusReport.Alert(name: "SidekiqQueueLatencyHigh", severity: "warning", summary: "Queue pull has waited 21 s", since: now - 600)]
let restarts = (0..<10).map { StatusReport.Restart(time: now - Double($0) * 10_800, target: "sidekiq", pid: 2000 + $0, reason: "age", result: "restarted") }

var durations: [Double] = []
durations.reserveCapacity(renders)
var pageBytes = 0
for _ in 0..<renders {
    let began = seconds()
    let report = StatusReport.build(StatusReport.Inputs(
        now: now, version: "bench", instanceURL: "https://social.example", sampledAt: now, collectors: collectors,
        families: lastFamilies,
        backups: [StatusReport.Backup(target: "postgres", lastSuccess: 1.8e9 - 3600, sizeBytes: 4.2e9, lastRunSuccessful: true),
                  StatusReport.Backup(target: "redis", lastSuccess: 1.8e9 - 7200, sizeBytes: 2e8, lastRunSuccessful: true)],
        jobs: [StatusReport.Job(name: "media-remove", lastSuccess: 1.8e9 - 600, lastRunSuccessful: true),
               StatusReport.Job(name: "preview-cards", lastSuccess: 1.8e9 - 900, lastRunSuccessful: true)],
        views: SnapshotViews(processes: processes, memory: SystemMemorySample(totalBytes: 4e9, availableBytes: 1.6e9, swapTotalBytes: 1e9, swapFreeBytes: 9e8)),
        alerts: alerts, restarts: restarts, history: statusHistory.series(in: history, now: now)))
    let html = StatusPage.render(report)
    durations.append(seconds() - began)
    pageBytes = html.utf8.count
}
durations.sort()
func ms(_ value: Double) -> String {
    let hundredths = Int((value * 100_000).rounded())
    return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100) ms"
}
let reserved = history.reservedBytes(consumer: StatusHistory.consumer)
let bound = history.maximumBytes(consumer: StatusHistory.consumer)
print("history: \(samples) samples (\(samples * Int(interval) / 3600) h at 15 s) recorded in \(ms(recordSeconds / Double(samples))) each")
print("status page history: \(reserved) B reserved (\(reserved * 100 / 2_097_152) % of the 2 MiB target), bound \(bound) B for 74 series")
print("status page render (report + HTML, \(pageBytes) B): median \(ms(durations[durations.count / 2])), p99 \(ms(durations[durations.count * 99 / 100])), max \(ms(durations.last!)) over \(renders) renders (target <= 5 ms)")
