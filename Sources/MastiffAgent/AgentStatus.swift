import MastiffCore

/// What `mastiff status`, `/api/v1/status`, /healthz and the status page say about the running
/// agent: the last sample, each collector's last result, which sources answered, the alerts,
/// notifications, restarts, scheduled work and the state file's health. Collector details are the
/// collectors' own redacted messages.
public struct AgentStatus: Sendable {
    let facts: AgentFacts
    let clock: any WallClock
    let configuration: RunningConfiguration
    let sampler: Sampler<ContinuousClock>
    let alerting: Alerting
    let notifier: Notifier
    let restarts: RestartService
    let work: WorkScheduler
    let stateStore: StateStore?
    let history: HistoryStore
    let statusHistory: StatusHistory
    let ownMetrics: OwnMetrics

    /// What `mastiff status` shows.
    public func status() -> JSONValue {
        let reload = facts.lastReload
        var object: [String: JSONValue] = [
            "ok": .bool(true),
            "version": .string(MastiffVersion.current),
            "started_at": .number(facts.startTime),
            "now": .number(clock.now()),
            "config": .string("\(facts.source)"),
            "reload": .object(["successful": .bool(reload.successful), "last_success": .number(reload.lastSuccess)]),
        ]
        object["interval_seconds"] = .number(sampler.interval.seconds)
        if let latest = sampler.latest {
            object["sample"] = .object([
                "sequence": .number(Double(latest.sequence)), "time": .number(latest.time),
                "duration_seconds": .number(latest.durationSeconds),
            ])
            object["collectors"] = .array(latest.collectors.map { result in
                var entry: [String: JSONValue] = ["name": .string(result.name), "ok": .bool(result.succeeded),
                                                  "duration_seconds": .number(result.durationSeconds)]
                if let detail = result.detail { entry["detail"] = .string(detail) }
                return .object(entry)
            })
            object["sources"] = .object(latest.sourcesUp.mapValues { .bool($0) })
        }
        let counts = alerting.counts
        object["alerts"] = .object(["rules": .number(Double(alerting.ruleCount)), "pending": .number(Double(counts.pending)),
                                    "firing": .number(Double(counts.firing))])
        object["notifications"] = notifier.statusJSON()
        object["restarts"] = restarts.recentJSON()
        if work.hasWork { object["work"] = work.statusJSON(now: clock.now()) }
        if let stateStore {
            var health: [String: JSONValue] = ["path": .string(stateStore.path), "health": .string(stateStore.health.description),
                                               "write_failures": .number(Double(stateStore.writeFailures))]
            health["ok"] = .bool(stateStore.health == .ok || stateStore.health == .empty)
            object["state"] = .object(health)
        }
        return .object(object)
    }

    /// How old the last sample may be before it says nothing: three sampling intervals plus the
    /// collectors' timeout (/healthz and the deep health URLs).
    private var sampleAllowance: Double { 3 * sampler.interval.seconds + configuration.current.collectors.timeout.seconds }

    /// /healthz: unhealthy when the sampler has not completed a sample for three intervals
    /// (plus the collectors' timeout): mastiff then watches nothing, whatever else still answers.
    public func health() -> (healthy: Bool, body: String) {
        let now = clock.now()
        let allowed = sampleAllowance
        let latest = sampler.latest
        let age = now - (latest?.time ?? facts.startTime)
        guard age <= allowed else {
            return (false, "sampler stalled: \(latest == nil ? "no sample since the start" : "last sample") \(Int(saturating: age.rounded())) s ago (allowed \(Int(saturating: allowed)) s)\n")
        }
        return (true, "ok\n")
    }

    /// /health/deep and /api/v1/health: Mastodon's parts from the last sample, which must be at
    /// most three sampling intervals (plus the collectors' timeout) old, as for /healthz.
    public func instanceHealth() -> InstanceHealth {
        let latest = sampler.latest
        return InstanceHealth.evaluate(families: latest?.families ?? [], sampledAt: latest?.time, now: clock.now(), maxAge: sampleAllowance)
    }

    /// `/api/v1/status`: the agent's status (what `mastiff status` shows) and the status page's
    /// report, in one object.
    public func document() -> JSONValue {
        guard case .object(var object) = status() else { return status() }
        object.merge(report().json) { agent, _ in agent }
        return .object(object)
    }

    /// What the status page and `/api/v1/status` show, from the last sample (none before the
    /// first one), the agent's own state and the history.
    public func report() -> StatusReport {
        let now = clock.now()
        let latest = sampler.latest
        let alerts = alerting.outcome().notifiable.filter { $0.status == .firing }.map { alert in
            StatusReport.Alert(name: alert.labels.first { $0.name == "alertname" }?.value ?? "?",
                               severity: alert.labels.first { $0.name == "severity" }?.value ?? "",
                               summary: alert.annotations.first { $0.name == "summary" }?.value ?? "", since: alert.startsAt)
        }
        let restarts = restarts.recentRestarts().map { record in
            StatusReport.Restart(time: record.time, target: record.target, pid: record.pid, reason: record.reason.rawValue, result: record.result)
        }
        return StatusReport.build(StatusReport.Inputs(
            now: now, version: MastiffVersion.current, instanceURL: configuration.current.instance.url, sampledAt: latest?.time,
            collectors: latest?.collectors ?? [], families: (latest?.families ?? []) + ownMetrics.families(now: now, latest: latest),
            backups: work.backupSummaries(), jobs: work.jobSummaries(),
            views: latest?.views ?? SnapshotViews(), alerts: alerts, restarts: restarts,
            history: statusHistory.series(in: history, now: now)))
    }
}
