import MastiffCore

/// When a scheduled task (a backup, a drill, a job) runs next, pure. A fixed offset within
/// `jitter`, derived from the task's name, spreads tasks of one host apart; it is the same on
/// every host, so agents of one cluster reach a once-per-cluster task together and its lock
/// decides. A run missed while mastiff was down (its last run is older than the latest slot) is
/// run once, at start; a task that never ran waits for its first slot.
public struct WorkSchedule: Sendable {
    public let name: String
    public let cron: CronSchedule
    public let offset: Double

    public init(name: String, cron: CronSchedule, jitter: Duration) {
        self.name = name
        self.cron = cron
        let seconds = jitter.seconds
        // Of the name, so every host of a cluster derives the same offset.
        offset = seconds > 0 ? Double(FNV1a.hash(name) % UInt64(seconds.rounded(.down) + 1)) : 0
    }

    /// The time of the next run. `atStart`: the agent has just started, so a missed slot counts.
    public func nextRun(lastRun: Double?, now: Double, atStart: Bool) -> Double? {
        if atStart, let lastRun, let slot = cron.previous(atOrBefore: now - offset), slot > lastRun {
            return now
        }
        let from = max(now, lastRun ?? now) - offset
        return cron.next(after: from).map { $0 + offset }
    }

    /// The slot a run at `time` belongs to (for "already done in this slot" checks).
    public func slot(containing time: Double) -> Double? { cron.previous(atOrBefore: time - offset) }

    /// Seconds between two consecutive slots after `time`: what "stale" is measured against.
    public func interval(after time: Double) -> Double? {
        guard let first = cron.next(after: time), let second = cron.next(after: first) else { return nil }
        return second - first
    }
}
