/// What the status page (`/`) and `/api/v1/status` show: one value built from the last sample,
/// the agent's own state and the history, so the HTML and the JSON cannot disagree. Plain
/// values only; `StatusReport.build` is pure and `StatusPage` (MastiffServer) renders it.
public struct StatusReport: Sendable, Equatable {
    /// A 24 h trend in fixed buckets, oldest first: nil where nothing was recorded (mastiff was
    /// not running, or the series had ended). What a sparkline draws, at the page's width.
    public struct Trend: Sendable, Equatable {
        public var start: Double
        public var step: Double
        public var values: [Double?]

        public init(start: Double, step: Double, values: [Double?]) {
            self.start = start
            self.step = step
            self.values = values
        }

        public var isEmpty: Bool { values.allSatisfy { $0 == nil } }
    }

    /// A collector, a data source or a health probe: whether it answered in the last sample.
    public struct Component: Sendable, Equatable {
        public var name: String
        public var kind: String
        public var ok: Bool
        /// The collector's own redacted message, or the probe's duration.
        public var detail: String?
        public var trend: Trend?

        public init(name: String, kind: String, ok: Bool, detail: String? = nil, trend: Trend? = nil) {
            self.name = name
            self.kind = kind
            self.ok = ok
            self.detail = detail
            self.trend = trend
        }
    }

    public struct Alert: Sendable, Equatable {
        public var name: String
        public var severity: String
        public var summary: String
        public var since: Double

        public init(name: String, severity: String, summary: String, since: Double) {
            self.name = name
            self.severity = severity
            self.summary = summary
            self.since = since
        }
    }

    public struct Memory: Sendable, Equatable {
        public var totalBytes: Double
        public var availableBytes: Double
        public var swapTotalBytes: Double
        public var swapUsedBytes: Double
        /// Memory PSI "some", 10 s average, as a ratio; nil without PSI.
        public var pressure: Double?
        public var availableTrend: Trend?
        public var pressureTrend: Trend?

        public init(totalBytes: Double, availableBytes: Double, swapTotalBytes: Double, swapUsedBytes: Double, pressure: Double? = nil, availableTrend: Trend? = nil, pressureTrend: Trend? = nil) {
            self.totalBytes = totalBytes
            self.availableBytes = availableBytes
            self.swapTotalBytes = swapTotalBytes
            self.swapUsedBytes = swapUsedBytes
            self.pressure = pressure
            self.availableTrend = availableTrend
            self.pressureTrend = pressureTrend
        }
    }

    public struct ProcessGroup: Sendable, Equatable {
        public var name: String
        public var processes: Int
        public var proportionalBytes: Double
        public var trend: Trend?

        public init(name: String, processes: Int, proportionalBytes: Double, trend: Trend? = nil) {
            self.name = name
            self.processes = processes
            self.proportionalBytes = proportionalBytes
            self.trend = trend
        }
    }

    public struct Queue: Sendable, Equatable {
        public var name: String
        public var size: Double
        public var latencySeconds: Double
        public var latencyTrend: Trend?

        public init(name: String, size: Double, latencySeconds: Double, latencyTrend: Trend? = nil) {
            self.name = name
            self.size = size
            self.latencySeconds = latencySeconds
            self.latencyTrend = latencyTrend
        }
    }

    public struct Postgres: Sendable, Equatable {
        public var connections: Double
        public var maxConnections: Double?
        public var trend: Trend?

        public init(connections: Double, maxConnections: Double? = nil, trend: Trend? = nil) {
            self.connections = connections
            self.maxConnections = maxConnections
            self.trend = trend
        }
    }

    /// Mastodon's outbound federation: domains given up on, and the hosts failing longest.
    public struct Federation: Sendable, Equatable {
        public var unavailableDomains: Double?
        /// Hosts with failed deliveries on at least one day (from the last complete scan).
        public var failingHosts: Double
        public var worst: [FailingHost]

        public init(unavailableDomains: Double?, failingHosts: Double, worst: [FailingHost]) {
            self.unavailableDomains = unavailableDomains
            self.failingHosts = failingHosts
            self.worst = worst
        }
    }

    public struct Backup: Sendable, Equatable {
        public var target: String
        /// nil when no backup of the target has succeeded yet.
        public var lastSuccess: Double?
        public var sizeBytes: Double?
        public var lastRunSuccessful: Bool?

        public init(target: String, lastSuccess: Double? = nil, sizeBytes: Double? = nil, lastRunSuccessful: Bool? = nil) {
            self.target = target
            self.lastSuccess = lastSuccess
            self.sizeBytes = sizeBytes
            self.lastRunSuccessful = lastRunSuccessful
        }
    }

    public struct Restart: Sendable, Equatable {
        public var time: Double
        public var target: String
        public var pid: Int
        public var reason: String
        public var result: String

        public init(time: Double, target: String, pid: Int, reason: String, result: String) {
            self.time = time
            self.target = target
            self.pid = pid
            self.reason = reason
            self.result = result
        }
    }

    public struct Job: Sendable, Equatable {
        public var name: String
        public var lastSuccess: Double?
        public var lastRunSuccessful: Bool?
        public var durationSeconds: Double?

        public init(name: String, lastSuccess: Double? = nil, lastRunSuccessful: Bool? = nil, durationSeconds: Double? = nil) {
            self.name = name
            self.lastSuccess = lastSuccess
            self.lastRunSuccessful = lastRunSuccessful
            self.durationSeconds = durationSeconds
        }
    }

    public var now: Double
    public var version: String
    /// The instance's host name (from `instance.url`), for the title; nil when not configured.
    public var instance: String?
    /// When the sample shown was taken; nil before the first sample.
    public var sampledAt: Double?
    public var components: [Component] = []
    public var alerts: [Alert] = []
    public var memory: Memory?
    public var groups: [ProcessGroup] = []
    public var queues: [Queue] = []
    public var postgres: Postgres?
    public var federation: Federation?
    public var backups: [Backup] = []
    public var restarts: [Restart] = []
    public var jobs: [Job] = []

    public init(now: Double, version: String, instance: String?, sampledAt: Double?) {
        self.now = now
        self.version = version
        self.instance = instance
        self.sampledAt = sampledAt
    }

    /// Whether everything answered and nothing fires: the page's headline.
    public var healthy: Bool { components.allSatisfy(\.ok) && alerts.isEmpty }
}

// MARK: Building

extension StatusReport {
    /// The history series the report draws, by the name the agent registered them under.
    public enum TrendSeries: String, CaseIterable, Sendable {
        case memoryAvailable = "system_memory_available_bytes"
        case memoryPressure = "system_pressure_stall_ratio"
        case groupPSS = "process_group_proportional_memory_bytes"
        case queueLatency = "sidekiq_queue_latency_seconds"
        case postgresConnections = "postgres_connections"
        case probeDuration = "probe_duration_seconds"
    }

    /// How many process groups the page lists (the largest by PSS).
    public static let topGroups = 8
    /// Sparkline buckets over 24 h: 12 minutes each.
    public static let trendBuckets = 120
    public static let trendWindow = 86_400.0

    public struct Inputs: Sendable {
        public var now: Double
        public var version: String
        public var instanceURL: String?
        public var sampledAt: Double?
        public var collectors: [CollectorResult]
        /// The sample's families and the agent's own.
        public var families: [MetricFamily]
        /// Each backup target's and job's last runs, from the scheduled work.
        public var backups: [Backup]
        public var jobs: [Job]
        public var views: SnapshotViews
        public var alerts: [Alert]
        public var restarts: [Restart]
        /// The history's series for each trend (empty when not kept).
        public var history: [TrendSeries: [HistoryStore.Series]]

        public init(now: Double, version: String, instanceURL: String?, sampledAt: Double?, collectors: [CollectorResult],
                    families: [MetricFamily], backups: [Backup] = [], jobs: [Job] = [], views: SnapshotViews, alerts: [Alert], restarts: [Restart],
                    history: [TrendSeries: [HistoryStore.Series]]) {
            self.backups = backups
            self.jobs = jobs
            self.now = now
            self.version = version
            self.instanceURL = instanceURL
            self.sampledAt = sampledAt
            self.collectors = collectors
            self.families = families
            self.views = views
            self.alerts = alerts
            self.restarts = restarts
            self.history = history
        }
    }

    public static func build(_ inputs: Inputs) -> StatusReport {
        var report = StatusReport(now: inputs.now, version: inputs.version, instance: inputs.instanceURL.flatMap(URLText.host),
                                  sampledAt: inputs.sampledAt)
        let start = inputs.now - trendWindow
        func trend(_ series: TrendSeries, where matches: (HistoryStore.Series) -> Bool = { _ in true },
                   keep: HistoryStore.Downsampling = .maximum, sum: Bool = false) -> Trend? {
            let chosen = (inputs.history[series] ?? []).filter(matches)
            guard !chosen.isEmpty else { return nil }
            let result = bucketed(chosen, start: start, keep: keep, sum: sum)
            return result.isEmpty ? nil : result
        }
        func label(_ series: HistoryStore.Series, _ name: String) -> String? { series.labels.first { $0.name == name }?.value }
        let samples = Dictionary(inputs.families.map { ($0.name, $0.samples) }, uniquingKeysWith: { first, _ in first })
        func value(_ sample: Sample, _ name: String) -> String? { sample.labels.first { $0.name == name }?.value }
        /// A family's values by one label's value (`probe`, `queue`, `target`, `job`).
        func values(_ family: String, by label: String) -> [String: Double] {
            Dictionary((samples[family] ?? []).compactMap { sample in value(sample, label).map { ($0, sample.value) } },
                       uniquingKeysWith: { first, _ in first })
        }

        // Components: every collector, then every probe.
        for collector in inputs.collectors {
            report.components.append(Component(name: collector.name, kind: "collector", ok: collector.succeeded, detail: collector.detail))
        }
        let durations = values("probe_duration_seconds", by: "probe")
        for sample in samples["probe_success"] ?? [] {
            guard let probe = value(sample, "probe") else { continue }
            report.components.append(Component(name: probe, kind: "probe", ok: sample.value == 1,
                                               detail: durations[probe].map { "\(Int(($0 * 1000).rounded())) ms" },
                                               trend: trend(.probeDuration, where: { label($0, "probe") == probe })))
        }
        // An alert of severity "none" (the shipped Watchdog) fires all the time to prove the
        // pipeline works; it is not a problem to show.
        report.alerts = inputs.alerts.filter { $0.severity != "none" }.sorted { ($0.severity == "critical" ? 0 : 1, $0.since, $0.name) < ($1.severity == "critical" ? 0 : 1, $1.since, $1.name) }

        if let memory = inputs.views.memory {
            let pressure = (samples["system_pressure_stall_ratio"] ?? []).first {
                value($0, "resource") == "memory" && value($0, "kind") == "some" && value($0, "window") == "10s"
            }?.value
            report.memory = Memory(totalBytes: memory.totalBytes, availableBytes: memory.availableBytes, swapTotalBytes: memory.swapTotalBytes,
                                   swapUsedBytes: max(0, memory.swapTotalBytes - memory.swapFreeBytes), pressure: pressure,
                                   availableTrend: trend(.memoryAvailable, keep: .minimum), pressureTrend: trend(.memoryPressure))
        }
        if let processes = inputs.views.processes {
            var byGroup: [String: (count: Int, pss: Double)] = [:]
            for process in processes {
                byGroup[process.group, default: (0, 0)].count += 1
                byGroup[process.group, default: (0, 0)].pss += Double(process.proportionalBytes ?? process.residentBytes)
            }
            report.groups = byGroup.sorted { ($1.value.pss, $0.key) < ($0.value.pss, $1.key) }.prefix(topGroups).map { name, totals in
                ProcessGroup(name: name, processes: totals.count, proportionalBytes: totals.pss,
                             trend: trend(.groupPSS, where: { label($0, "group") == name }, sum: true))
            }
        }
        let latencies = values("sidekiq_queue_latency_seconds", by: "queue")
        report.queues = (samples["sidekiq_queue_size"] ?? []).compactMap { sample in
            guard let queue = value(sample, "queue") else { return nil }
            return Queue(name: queue, size: sample.value, latencySeconds: latencies[queue] ?? 0,
                         latencyTrend: trend(.queueLatency, where: { label($0, "queue") == queue }))
        }.sorted { ($1.latencySeconds, $0.name) < ($0.latencySeconds, $1.name) }
        if let connections = samples["postgres_connections"] {
            report.postgres = Postgres(connections: connections.reduce(0) { $0 + $1.value },
                                       maxConnections: samples["postgres_max_connections"]?.first?.value,
                                       trend: trend(.postgresConnections, sum: true))
        }
        if let worst = inputs.views.federationFailingHosts {
            report.federation = Federation(unavailableDomains: samples["mastodon_federation_unavailable_domains"]?.first?.value,
                                           failingHosts: (samples["mastodon_federation_failing_hosts"] ?? []).reduce(0) { $0 + $1.value },
                                           worst: worst)
        }
        report.backups = inputs.backups
        report.jobs = inputs.jobs
        // The newest first; the page has room for ten.
        report.restarts = Array(inputs.restarts.sorted { $0.time > $1.time }.prefix(10))
        return report
    }

    /// Folds series into the trend's buckets: each series keeps its largest (or smallest) value
    /// per bucket; with `sum`, the series' buckets are added (connections of every state).
    static func bucketed(_ series: [HistoryStore.Series], start: Double, keep: HistoryStore.Downsampling, sum: Bool) -> Trend {
        let step = trendWindow / Double(trendBuckets)
        var total = [Double?](repeating: nil, count: trendBuckets)
        for one in series {
            var buckets = [Double?](repeating: nil, count: trendBuckets)
            for point in one.points where point.value.isFinite {
                let index = Int(((point.time - start) / step).rounded(.down))
                guard index >= 0, index < trendBuckets else { continue }
                if let existing = buckets[index] {
                    buckets[index] = keep == .maximum ? max(existing, point.value) : min(existing, point.value)
                } else {
                    buckets[index] = point.value
                }
            }
            for index in 0..<trendBuckets {
                guard let value = buckets[index] else { continue }
                if let existing = total[index] {
                    total[index] = sum ? existing + value : (keep == .maximum ? max(existing, value) : min(existing, value))
                } else {
                    total[index] = value
                }
            }
        }
        return Trend(start: start, step: step, values: total)
    }
}

// MARK: JSON

extension StatusReport {
    /// The report as `/api/v1/status` serves it, beside the agent's status.
    public var json: [String: JSONValue] {
        func optional(_ value: Double?) -> JSONValue { value.map { .number($0) } ?? .null }
        func optional(_ value: Bool?) -> JSONValue { value.map { .bool($0) } ?? .null }
        func trendJSON(_ trend: Trend?) -> JSONValue {
            guard let trend else { return .null }
            return .object(["start": .number(trend.start), "step_seconds": .number(trend.step),
                            "values": .array(trend.values.map { $0.map { .number($0) } ?? .null })])
        }
        var object: [String: JSONValue] = [
            "healthy": .bool(healthy),
            "components": .array(components.map { component in
                .object(["name": .string(component.name), "kind": .string(component.kind), "ok": .bool(component.ok),
                         "detail": component.detail.map { .string($0) } ?? .null, "trend": trendJSON(component.trend)])
            }),
            "firing_alerts": .array(alerts.map { alert in
                .object(["alertname": .string(alert.name), "severity": .string(alert.severity), "summary": .string(alert.summary),
                         "since": .number(alert.since)])
            }),
            "process_groups": .array(groups.map { group in
                .object(["group": .string(group.name), "processes": .number(Double(group.processes)),
                         "pss_bytes": .number(group.proportionalBytes), "trend": trendJSON(group.trend)])
            }),
            "sidekiq_queues": .array(queues.map { queue in
                .object(["queue": .string(queue.name), "size": .number(queue.size), "latency_seconds": .number(queue.latencySeconds),
                         "latency_trend": trendJSON(queue.latencyTrend)])
            }),
            "backups": .array(backups.map { backup in
                .object(["target": .string(backup.target), "last_success": optional(backup.lastSuccess), "size_bytes": optional(backup.sizeBytes),
                         "last_run_successful": optional(backup.lastRunSuccessful)])
            }),
            "recent_restarts": .array(restarts.map { restart in
                .object(["time": .number(restart.time), "target": .string(restart.target), "pid": .number(Double(restart.pid)),
                         "reason": .string(restart.reason), "result": .string(restart.result)])
            }),
            "jobs": .array(jobs.map { job in
                .object(["job": .string(job.name), "last_success": optional(job.lastSuccess), "last_run_successful": optional(job.lastRunSuccessful),
                         "duration_seconds": optional(job.durationSeconds)])
            }),
        ]
        if let memory {
            object["memory"] = .object([
                "total_bytes": .number(memory.totalBytes), "available_bytes": .number(memory.availableBytes),
                "swap_total_bytes": .number(memory.swapTotalBytes), "swap_used_bytes": .number(memory.swapUsedBytes),
                "pressure_some_10s": optional(memory.pressure), "available_trend": trendJSON(memory.availableTrend),
                "pressure_trend": trendJSON(memory.pressureTrend),
            ])
        }
        if let postgres {
            object["postgres"] = .object(["connections": .number(postgres.connections), "max_connections": optional(postgres.maxConnections),
                                          "trend": trendJSON(postgres.trend)])
        }
        if let federation {
            object["federation"] = .object([
                "unavailable_domains": optional(federation.unavailableDomains), "failing_hosts": .number(federation.failingHosts),
                "failing_longest": .array(federation.worst.map { .object(["host": .string($0.host), "days": .number(Double($0.days))]) }),
            ])
        }
        if let instance { object["instance"] = .string(instance) }
        return object
    }
}
