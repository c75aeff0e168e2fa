import MastiffCore
import Testing

/// What /health/deep decides from one sample's families.
@Suite struct InstanceHealthTests {
    static let now = 1_800_000_000.0

    static func gauge(_ name: String, _ samples: [([Label], Double)]) -> MetricFamily {
        MetricFamily(name: name, help: "", type: .gauge, samples: samples.map { Sample(labels: $0.0, value: $0.1) })
    }

    static func healthyFamilies() -> [MetricFamily] {
        [
            gauge("probe_success", [([Label("probe", "web")], 1), ([Label("probe", "streaming")], 1), ([Label("probe", "instance_api")], 0)]),
            gauge("postgres_up", [([], 1)]), gauge("redis_up", [([], 1)]), gauge("sidekiq_up", [([], 1)]),
            gauge("sidekiq_queue_size", [([Label("queue", "default")], 3), ([Label("queue", "fasp")], 0)]),
            gauge("sidekiq_queue_processes", [([Label("queue", "default")], 1), ([Label("queue", "fasp")], 0)]),
            gauge("sidekiq_process_stalled", [([Label("hostname", "app1"), Label("pid", "7"), Label("tag", "live")], 0)]),
            gauge("system_filesystem_size_bytes", [([Label("mountpoint", "/")], 100)]),
            gauge("system_filesystem_available_bytes", [([Label("mountpoint", "/")], 50)]),
        ]
    }

    static func replacing(_ name: String, with family: MetricFamily, in families: [MetricFamily]) -> [MetricFamily] {
        families.filter { $0.name != name } + [family]
    }

    @Test func everyPartWorkingIsHealthy() {
        let health = InstanceHealth.evaluate(families: Self.healthyFamilies(), sampledAt: Self.now - 5, now: Self.now, maxAge: 50)
        #expect(health.healthy, "\(health.text)")
        #expect(health.checks.map(\.name) == ["web", "streaming", "postgres", "redis", "sidekiq", "disk"])
        #expect(health.text.hasPrefix("ok\nok disk: "))
    }

    @Test(arguments: [
        ("postgres_up", gauge("postgres_up", [([], 0)]), "postgres"),
        ("probe_success", gauge("probe_success", [([Label("probe", "web")], 1)]), "streaming"),
        ("sidekiq_queue_processes", gauge("sidekiq_queue_processes", [([Label("queue", "default")], 0), ([Label("queue", "fasp")], 0)]), "sidekiq"),
        ("sidekiq_process_stalled", gauge("sidekiq_process_stalled", [([Label("hostname", "app1"), Label("pid", "7"), Label("tag", "live")], 1)]), "sidekiq"),
        ("system_filesystem_available_bytes", gauge("system_filesystem_available_bytes", [([Label("mountpoint", "/")], 5)]), "disk"),
    ])
    func oneFailingPartIsNamed(replaced: String, family: MetricFamily, failing: String) {
        let families = Self.replacing(replaced, with: family, in: Self.healthyFamilies())
        let health = InstanceHealth.evaluate(families: families, sampledAt: Self.now, now: Self.now, maxAge: 50)
        #expect(!health.healthy)
        #expect(health.checks.filter { !$0.ok }.map(\.name) == [failing], "\(health.text)")
        #expect(health.json["failing"] == .array([.string(failing)]))
    }

    @Test func sidekiqDetailsNameTheQueueAndTheProcess() {
        var families = Self.replacing("sidekiq_queue_processes", with: Self.gauge("sidekiq_queue_processes", [([Label("queue", "default")], 0),
                                                                                                            ([Label("queue", "ingress")], 1)]),
                                      in: Self.healthyFamilies())
        families = Self.replacing("sidekiq_process_stalled", with: Self.gauge("sidekiq_process_stalled", [([Label("hostname", "app1"), Label("pid", "7")], 1)]),
                                  in: families)
        let sidekiq = InstanceHealth.evaluate(families: families, sampledAt: Self.now, now: Self.now, maxAge: 50).checks.first { $0.name == "sidekiq" }
        #expect(sidekiq?.detail == "no process serves default; stalled: app1:7")
    }

    @Test func aStaleOrMissingSampleSaysNothingWorks() {
        let stale = InstanceHealth.evaluate(families: Self.healthyFamilies(), sampledAt: Self.now - 100, now: Self.now, maxAge: 50)
        #expect(!stale.healthy && stale.text == "unhealthy\nFAIL sample: the last sample is 100 s old\n")
        #expect(!InstanceHealth.evaluate(families: [], sampledAt: nil, now: Self.now, maxAge: 50).healthy)
    }

    @Test func partsWhoseCollectorIsOffAreNotChecked() {
        let families = Self.healthyFamilies().filter { !$0.name.hasPrefix("sidekiq") && $0.name != "postgres_up" }
        let health = InstanceHealth.evaluate(families: families, sampledAt: Self.now, now: Self.now, maxAge: 50)
        #expect(health.healthy && health.checks.map(\.name) == ["web", "streaming", "redis", "disk"])
    }
}
