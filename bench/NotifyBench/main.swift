// The notification queue in the state file (bench/notifications.sh runs it on a release build):
// 10,000 queued notifications — a receiver down while 50 alerts flap 100 times — written through
// the StateStore, then read back as a restart does (file read, JSON parse, policy restore).
//
//   notify-bench DIRECTORY
import Glibc
import Logging
import MastiffCore
import MastiffPolicies
import MastiffPromQL

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

guard CommandLine.arguments.count >= 2 else {
    print("usage: notify-bench DIRECTORY")
    exit(2)
}
let directory = CommandLine.arguments[1]
let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
var settings = AlertSettings()
settings.receivers = [ReceiverSpec(name: "hook", kind: .webhook(.init(url: Secret("http://127.0.0.1:9/hook"))))]
settings.groupBy = ["alertname", "instance"]
settings.groupWait = .zero
settings.groupInterval = .seconds(1)
settings.repeatInterval = .seconds(1_000_000_000)
var policy = NotificationPolicy(settings: settings)
let description = String(repeating: "Sidekiq's default queue is behind; add threads or processes for this queue, or look for a slow job. ", count: 3)
func alerts(_ status: NotifiedAlert.Status, at time: Double) -> [NotifiedAlert] {
    (0..<50).map { index in
        NotifiedAlert(labels: [Label("alertname", "Flapping\(index % 10)"), Label("instance", "host-\(index)"), Label("severity", "warning")],
                      annotations: [Label("summary", "alert \(index) flaps"), Label("description", description), Label("runbook_url", "docs/alerting.md#x")],
                      status: status, startsAt: 1000, endsAt: status == .resolved ? time : nil, value: Double(index))
    }
}
var time = 1000.0
while policy.queue.count < 10_000 {
    policy.observe(alerts(.firing, at: time), now: time)
    policy.flush(now: time)
    time += 1
    policy.observe(alerts(.resolved, at: time), now: time)
    policy.flush(now: time)
    time += 1
}
let store = StateStore(directory: directory, logger: logger)
let saved = policy.savedState()
store.update("notifications", saved)
var size = 0
var info = stat()
if stat(directory + "/" + StateStore.fileName, &info) == 0 { size = Int(info.st_size) }
var loads: [Double] = []
var restoredCount = 0
for _ in 0..<5 {
    let started = now()
    let reopened = StateStore(directory: directory, logger: logger)
    var restored = NotificationPolicy(settings: settings)
    restoredCount = restored.restore(reopened.section("notifications") ?? .null).queued
    loads.append((now() - started) * 1000)
}
loads.sort()
print("queued notifications: \(policy.queue.count) (50 alerts, each firing and resolved \(policy.queue.count / 100) times)")
print("state file: \(size) bytes (\((Double(size) / 1_048_576 * 1000).rounded() / 1000) MiB)")
print("reload (read, parse, restore \(restoredCount)): median \((loads[2] * 10).rounded() / 10) ms, max \((loads[4] * 10).rounded() / 10) ms")
