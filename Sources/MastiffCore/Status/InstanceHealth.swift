/// Whether the Mastodon instance works, from mastiff's last sample alone: what `/health/deep`
/// and `/api/v1/health` answer for uptime checkers and load balancers (Mastodon's own `/health`
/// says OK while its database is down). Pure and cheap: no collection of its own.
public struct InstanceHealth: Sendable, Equatable {
    public struct Check: Sendable, Equatable {
        public var name: String
        public var ok: Bool
        public var detail: String
    }

    public var checks: [Check]
    public var sampledAt: Double?

    public var healthy: Bool { !checks.isEmpty && checks.allSatisfy(\.ok) }

    /// A filesystem with less than this share available fails, as DiskNearlyFull fires.
    public static let diskThreshold = 0.10

    /// `families`: the last sample's. `maxAge`: older than this, the sample says nothing.
    /// Checks are made only for the parts whose collectors run (a family present); the web and
    /// streaming probes are always expected, since without them nothing says Mastodon answers.
    public static func evaluate(families: [MetricFamily], sampledAt: Double?, now: Double, maxAge: Double) -> InstanceHealth {
        guard let sampledAt, now - sampledAt <= maxAge else {
            let detail = sampledAt.map { "the last sample is \(Int(saturating: (now - $0).rounded())) s old" } ?? "no sample yet"
            return InstanceHealth(checks: [Check(name: "sample", ok: false, detail: detail)], sampledAt: sampledAt)
        }
        let byName = Dictionary(families.map { ($0.name, $0.samples) }, uniquingKeysWith: { first, _ in first })
        func label(_ sample: Sample, _ name: String) -> String? { sample.labels.first { $0.name == name }?.value }
        var checks: [Check] = []

        for probe in ["web", "streaming"] {
            if let sample = (byName["probe_success"] ?? []).first(where: { label($0, "probe") == probe }) {
                checks.append(Check(name: probe, ok: sample.value == 1, detail: sample.value == 1 ? "answers" : "the \(probe) probe fails"))
            } else {
                checks.append(Check(name: probe, ok: false, detail: "no \(probe) probe (set instance.url, or a probe named \(probe))"))
            }
        }
        for (name, up) in [("postgres", "postgres_up"), ("redis", "redis_up")] {
            guard let value = byName[up]?.first?.value else { continue }
            checks.append(Check(name: name, ok: value == 1, detail: value == 1 ? "up" : "\(name) does not answer"))
        }
        if let up = byName["sidekiq_up"]?.first?.value {
            let served = byName["sidekiq_queue_processes"] ?? []
            let sizes = Dictionary((byName["sidekiq_queue_size"] ?? []).compactMap { sample in label(sample, "queue").map { ($0, sample.value) } },
                                   uniquingKeysWith: { first, _ in first })
            let unserved = served.filter { $0.value == 0 && (sizes[label($0, "queue") ?? ""] ?? 0) > 0 }.compactMap { label($0, "queue") }.sorted()
            let stalled = (byName["sidekiq_process_stalled"] ?? []).filter { $0.value == 1 }
                .map { "\(label($0, "hostname") ?? "?"):\(label($0, "pid") ?? "?")" }.sorted()
            let live = served.contains { $0.value > 0 }
            var problems: [String] = []
            if up != 1 { problems.append("Sidekiq's data in Redis cannot be read") }
            if up == 1, !live { problems.append("no live Sidekiq process") }
            if !unserved.isEmpty { problems.append("no process serves \(unserved.joined(separator: ", "))") }
            if !stalled.isEmpty { problems.append("stalled: \(stalled.joined(separator: ", "))") }
            checks.append(Check(name: "sidekiq", ok: problems.isEmpty, detail: problems.isEmpty ? "processes serve every queue with jobs" : problems.joined(separator: "; ")))
        }
        let sizes = byName["system_filesystem_size_bytes"] ?? []
        if !sizes.isEmpty {
            let available = Dictionary((byName["system_filesystem_available_bytes"] ?? []).compactMap { sample in
                label(sample, "mountpoint").map { ($0, sample.value) }
            }, uniquingKeysWith: { first, _ in first })
            let full = sizes.compactMap { sample -> String? in
                guard let mountpoint = label(sample, "mountpoint"), sample.value > 0, let free = available[mountpoint] else { return nil }
                return free / sample.value < diskThreshold ? mountpoint : nil
            }.sorted()
            checks.append(Check(name: "disk", ok: full.isEmpty,
                                detail: full.isEmpty ? "every filesystem has 10 % or more available" : "less than 10 % available on \(full.joined(separator: ", "))"))
        }
        return InstanceHealth(checks: checks, sampledAt: sampledAt)
    }

    /// `/health/deep`: "ok" or "unhealthy", then a line per check (failing ones first).
    public var text: String {
        var lines = [healthy ? "ok" : "unhealthy"]
        for check in checks.sorted(by: { ($0.ok ? 1 : 0, $0.name) < ($1.ok ? 1 : 0, $1.name) }) {
            lines.append("\(check.ok ? "ok" : "FAIL") \(check.name): \(check.detail)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `/api/v1/health`.
    public var json: JSONValue {
        .object([
            "healthy": .bool(healthy),
            "sampled_at": sampledAt.map { .number($0) } ?? .null,
            "checks": .array(checks.map { .object(["name": .string($0.name), "ok": .bool($0.ok), "detail": .string($0.detail)]) }),
            "failing": .array(checks.filter { !$0.ok }.map { .string($0.name) }),
        ])
    }
}
