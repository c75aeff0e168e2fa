import MastiffCore

/// Whether a due job starts now, pure: maintenance holds it, too little MemAvailable defers it
/// (looked at again every `retryAfterDeferral` seconds) until `defer_for` has passed, after
/// which this slot is given up and recorded as deferred. The scheduler carries the answer out.
public enum JobAdmission: Sendable, Equatable {
    case start
    /// Maintenance is on: look again at `retryAt`.
    case paused(retryAt: Double)
    /// Below `min_available_memory`: look again at `retryAt`. `since` is when this slot's wait
    /// began; `firstTime` says the wait begins now (worth a log line).
    case deferred(since: Double, retryAt: Double, firstTime: Bool)
    /// Memory stayed short for the whole `defer_for`: this slot does not run.
    case gaveUp(message: String)

    public static let retryWhilePaused = 60.0
    public static let retryAfterDeferral = 30.0

    /// `availableMemory`: MemAvailable in bytes from the latest sample (nil: unknown, which never
    /// holds a job back). `deferredSince`: when this slot's wait began, if it is waiting.
    public static func decide(_ job: JobSpec, now: Double, paused: Bool, availableMemory: Double?, deferredSince: Double?) -> JobAdmission {
        if paused { return .paused(retryAt: now + retryWhilePaused) }
        guard let minimum = job.minAvailableMemory, let available = availableMemory, available < Double(minimum) else { return .start }
        let since = deferredSince ?? now
        if now - since >= job.deferFor.seconds {
            return .gaveUp(message: "not started: MemAvailable stayed below \(ByteSize.format(minimum)) for \(DurationParser.format(job.deferFor))")
        }
        return .deferred(since: since, retryAt: now + retryAfterDeferral, firstTime: deferredSince == nil)
    }
}
