import MastiffCore

/// Where each sample goes, in order, as the sampler publishes it: into the history (with the
/// agent's own families), through the rules, and from their outcome to the notifier and the
/// restart service; the scheduled work takes the sample's available memory. Runs before the
/// sampler frees its in-flight slot, so samples arrive one at a time and in order.
struct SamplePipeline: Sendable {
    let configuration: RunningConfiguration
    let history: HistoryStore
    let ownMetrics: OwnMetrics
    let alerting: Alerting
    let notifier: Notifier
    let maintenance: MaintenanceState
    let restarts: RestartService
    let work: WorkScheduler

    func publish(_ snapshot: Snapshot) {
        history.record(snapshot.families + ownMetrics.families(now: snapshot.time, latest: snapshot), at: snapshot.time)
        let interval = configuration.current.alerts.interval
        let outcome = alerting.evaluate(snapshot, defaultIntervalMs: interval.map { Int64($0.seconds * 1000) })
        notifier.observe(outcome.notifiable)
        restarts.observe(snapshot, firingAlerts: outcome.firing, namedProcesses: outcome.namedProcesses, maintenance: maintenance.isActive)
        work.observe(snapshot)
    }
}
