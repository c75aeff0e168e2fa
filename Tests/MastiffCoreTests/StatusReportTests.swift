import MastiffCore
import Testing

/// The status page's report from one sample's families and views, the agent's alerts and
/// restarts, and the history: what each section shows and in which order.
@Suite struct StatusReportTests {
    static let now = 1_800_000_000.0

    static func gauge(_ name: String, _ samples: [([Label], Double)]) -> MetricFamily {
        MetricFamily(name: name, help: "", type: .gauge, samples: samples.map { Sample(labels: $0.0, value: $0.1) })
    }

    static func process(_ pid: Int, _ group: String, pss: UInt64?, rss: UInt64) -> ProcessSample {
        ProcessSample(pid: pid, group: group, comm: group, residentBytes: rss, proportionalBytes: pss, swapBytes: 0, openFDs: nil,
                      openFDLimit: nil, cpuSeconds: 0, startTime: 0, threads: 1, majorFaults: 0)
    }

    static func inputs(history: [StatusReport.TrendSeries: [HistoryStore.Series]] = [:], alerts: [StatusReport.Alert] = []) -> StatusReport.Inputs {
        let families = [
            gauge("probe_success", [([Label("probe", "web")], 1), ([Label("probe", "streaming")], 0)]),
            gauge("probe_duration_seconds", [([Label("probe", "web")], 0.042), ([Label("probe", "streaming")], 5)]),
            gauge("sidekiq_queue_size", [([Label("queue", "default")], 12), ([Label("queue", "push")], 0), ([Label("queue", "pull")], 3)]),
            gauge("sidekiq_queue_latency_seconds", [([Label("queue", "default")], 2), ([Label("queue", "push")], 0), ([Label("queue", "pull")], 40)]),
            gauge("postgres_connections", [([Label("database", "mastodon"), Label("state", "active")], 3),
                                           ([Label("database", "mastodon"), Label("state", "idle")], 20)]),
            gauge("postgres_max_connections", [([], 100)]),
            gauge("system_pressure_stall_ratio", [([Label("resource", "memory"), Label("kind", "some"), Label("window", "10s")], 0.02),
                                                  ([Label("resource", "memory"), Label("kind", "some"), Label("window", "1m")], 0.5)]),
        ]
        var processes: [ProcessSample] = []
        for (index, group) in ["sidekiq", "puma", "postgres", "redis", "streaming", "nginx", "mastiff", "elasticsearch", "cron"].enumerated() {
            processes.append(process(100 + index, group, pss: UInt64(1000 - index * 100) << 20, rss: 1 << 30))
        }
        processes.append(process(200, "puma", pss: nil, rss: 50 << 20))
        return StatusReport.Inputs(
            now: now, version: "1.2.3", instanceURL: "https://admin:hunter2@social.example:8443/about", sampledAt: now - 5,
            collectors: [CollectorResult(name: "postgres", succeeded: true, durationSeconds: 0.01, detail: nil),
                         CollectorResult(name: "redis", succeeded: false, durationSeconds: 1, detail: "connection refused")],
            families: families,
            backups: [StatusReport.Backup(target: "postgres", lastSuccess: now - 3600, sizeBytes: 123_456_789, lastRunSuccessful: true),
                      StatusReport.Backup(target: "redis", lastSuccess: nil, lastRunSuccessful: false)],
            jobs: [StatusReport.Job(name: "media", lastSuccess: now - 600, lastRunSuccessful: true, durationSeconds: 75)],
            views: SnapshotViews(processes: processes, memory: SystemMemorySample(totalBytes: 4_294_967_296, availableBytes: 1_073_741_824,
                                                                                 swapTotalBytes: 1_073_741_824, swapFreeBytes: 805_306_368)),
            alerts: alerts, restarts: (0..<14).map { StatusReport.Restart(time: now - Double($0) * 100, target: "sidekiq", pid: 1000 + $0, reason: "age", result: "restarted") },
            history: history)
    }

    @Test func sectionsShowTheSample() {
        let report = StatusReport.build(Self.inputs())
        #expect(report.instance == "social.example:8443", "host only: no credentials, no path")
        #expect(report.components.map(\.name) == ["postgres", "redis", "web", "streaming"])
        #expect(report.components.map(\.ok) == [true, false, true, false])
        #expect(report.components[1].detail == "connection refused")
        #expect(report.components[2].detail == "42 ms")
        #expect(!report.healthy)
        // Queues by latency, the longest wait first.
        #expect(report.queues.map(\.name) == ["pull", "default", "push"])
        #expect(report.queues.first?.size == 3)
        #expect(report.postgres?.connections == 23)
        #expect(report.postgres?.maxConnections == 100)
        #expect(report.memory?.availableBytes == Double(1 << 30))
        #expect(report.memory?.swapUsedBytes == Double(256 << 20))
        #expect(report.memory?.pressure == 0.02, "the 10 s window")
        // The eight largest groups by PSS; a process without PSS counts its RSS.
        #expect(report.groups.count == StatusReport.topGroups)
        #expect(report.groups.first?.name == "sidekiq")
        #expect(report.groups.first { $0.name == "puma" }?.processes == 2)
        #expect(report.groups.first { $0.name == "puma" }?.proportionalBytes == Double((900 << 20) + (50 << 20)))
        #expect(!report.groups.contains { $0.name == "cron" }, "the smallest is left out")
        #expect(report.backups.map(\.target) == ["postgres", "redis"])
        #expect(report.backups[0].lastSuccess == Self.now - 3600)
        #expect(report.backups[0].sizeBytes == 123_456_789)
        #expect(report.backups[1].lastSuccess == nil, "never")
        #expect(report.backups[1].lastRunSuccessful == false)
        #expect(report.jobs.first?.durationSeconds == 75)
        #expect(report.restarts.count == 10, "the ten newest")
        #expect(report.restarts.first?.pid == 1000)
    }

    @Test func alertsOfSeverityNoneAreNotProblems() {
        let alerts = [StatusReport.Alert(name: "Watchdog", severity: "none", summary: "the pipeline works", since: Self.now - 50),
                      StatusReport.Alert(name: "DiskFilling", severity: "warning", summary: "", since: Self.now - 100),
                      StatusReport.Alert(name: "PostgresDown", severity: "critical", summary: "", since: Self.now - 10)]
        let report = StatusReport.build(Self.inputs(alerts: alerts))
        #expect(report.alerts.map(\.name) == ["PostgresDown", "DiskFilling"], "critical first, Watchdog left out")
    }

    /// 24 h in 120 buckets: each bucket keeps the largest (or, for memory available, the
    /// smallest) value; connections of every state are added; a stretch without points and an
    /// ended series leave gaps.
    @Test func trendsFoldTheHistoryIntoBuckets() throws {
        let start = Self.now - StatusReport.trendWindow
        let step = StatusReport.trendWindow / Double(StatusReport.trendBuckets)
        func series(_ labels: [Label], _ points: [(Double, Double)]) -> HistoryStore.Series {
            HistoryStore.Series(name: "", labels: labels, points: points.map { HistoryStore.Point(time: start + $0.0, value: $0.1) })
        }
        let history: [StatusReport.TrendSeries: [HistoryStore.Series]] = [
            .memoryAvailable: [series([], [(10, 900), (20, 300), (step + 5, 800), (2 * step + 1, HistoryStore.staleMarker)])],
            .postgresConnections: [series([Label("state", "active")], [(10, 3), (step + 10, 4)]),
                                   series([Label("state", "idle")], [(15, 20), (step + 15, 21), (step + 20, 25)])],
            .queueLatency: [series([Label("queue", "pull")], [(StatusReport.trendWindow - 1, 40), (-5, 99)])],
        ]
        let report = StatusReport.build(Self.inputs(history: history))
        let available = try #require(report.memory?.availableTrend)
        #expect(available.values.count == StatusReport.trendBuckets)
        #expect(available.values[0] == 300, "the dip is kept")
        #expect(available.values[1] == 800)
        #expect(available.values[2] == nil, "the end marker is a gap")
        let connections = try #require(report.postgres?.trend)
        #expect(connections.values[0] == 23)
        #expect(connections.values[1] == 29, "4 active + the larger idle value, 25")
        let pull = try #require(report.queues.first { $0.name == "pull" }?.latencyTrend)
        #expect(pull.values.last == 40)
        #expect(pull.values.compactMap { $0 } == [40], "a point older than 24 h is left out")
        #expect(report.queues.first { $0.name == "push" }?.latencyTrend == nil, "no history, no trend")
    }

    @Test func jsonCarriesTheSameFigures() throws {
        let report = StatusReport.build(Self.inputs())
        let json = JSONValue.object(report.json)
        let parsed = try #require(JSONValue.parse(json.serialized()))
        #expect(parsed["healthy"] == .bool(false))
        #expect(parsed["instance"]?.string == "social.example:8443")
        #expect(parsed["postgres"]?["connections"]?.double == 23)
        #expect(parsed["memory"]?["available_bytes"]?.double == Double(1 << 30))
        #expect(parsed["sidekiq_queues"]?.array?.first?["queue"]?.string == "pull")
        #expect(parsed["backups"]?.array?[1]["last_success"] == .null)
        #expect(!json.serialized().contains("hunter2"))
    }
}

/// The federation part: shown only when the Redis collector found Mastodon's records, with the
/// hosts failing longest from the view (never from labels) and the domains given up on.
@Suite struct StatusReportFederationTests {
    @Test func federationComesFromTheViewAndTheFamilies() throws {
        var inputs = StatusReportTests.inputs()
        #expect(StatusReport.build(inputs).federation == nil, "no scan yet: no section")
        inputs.views.federationFailingHosts = [FailingHost(host: "gone.example", days: 9), FailingHost(host: "slow.example", days: 2)]
        inputs.families.append(MetricFamily(name: "mastodon_federation_failing_hosts", help: "", type: .gauge,
                                            samples: [Sample(labels: [Label("days", "2")], value: 4), Sample(labels: [Label("days", "7")], value: 1)]))
        inputs.families.append(MetricFamily(name: "mastodon_federation_unavailable_domains", help: "", type: .gauge, samples: [Sample(labels: [], value: 31)]))
        let report = StatusReport.build(inputs)
        let federation = try #require(report.federation)
        #expect(federation.failingHosts == 5 && federation.unavailableDomains == 31)
        #expect(federation.worst.map(\.host) == ["gone.example", "slow.example"])
        guard case .object(let json)? = report.json["federation"] else {
            Issue.record("no federation in the JSON")
            return
        }
        #expect(json["unavailable_domains"] == .number(31))
        #expect(json["failing_longest"] == .array([.object(["host": .string("gone.example"), "days": .number(9)]),
                                                   .object(["host": .string("slow.example"), "days": .number(2)])]))
    }
}
