import MastiffCore
import MastiffServer
import MastiffStatsd

/// What the agent itself measures, beside the collectors. One list for every reader: /metrics
/// renders it, the history records it for the rules and the status page reads it, so a rule on
/// any family /metrics shows (mastiff_state_write_failures_total, mastiff_history_*) can fire
/// inside mastiff too.
public struct OwnMetrics: Sendable {
    let facts: AgentFacts
    let history: HistoryStore
    let alerting: Alerting
    let notifier: Notifier
    let restarts: RestartService
    let work: WorkScheduler
    let stateStore: StateStore?
    let statsdBridge: StatsdBridge?
    let authenticator: BasicAuthenticator

    /// The families at `now`; `latest` is the sample the sampler's own families describe.
    public func families(now: Double, latest: Snapshot?) -> [MetricFamily] {
        var families = facts.metrics()
        families.append(contentsOf: SamplerMetrics.families(latest: latest))
        families.append(contentsOf: history.selfMetrics())
        families.append(contentsOf: alerting.metrics())
        families.append(contentsOf: notifier.metrics())
        families.append(contentsOf: restarts.metrics(now: now))
        families.append(contentsOf: work.metrics(now: now))
        if let stateStore { families.append(contentsOf: stateStore.selfMetrics()) }
        if let statsdBridge { families.append(contentsOf: statsdBridge.selfMetrics()) }
        families.append(contentsOf: authenticator.metrics())
        return families
    }
}
