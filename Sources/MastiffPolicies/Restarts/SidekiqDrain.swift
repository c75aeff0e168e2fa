/// When a quieted Sidekiq process is drained: its busy count, read from each new sample, is 0 —
/// not the first check after the SIGTSTP, which may still show the count from before it — or
/// the drain timeout has passed. Pure: times are the caller's (seconds on a monotonic clock).
public struct SidekiqDrain: Sendable, Equatable {
    public enum Decision: Sendable, Equatable {
        /// Not drained yet; check again later.
        case wait
        /// Busy is 0: restart now. `seconds` since the quiet.
        case drained(seconds: Double)
        /// The timeout passed with jobs still running (or none known): restart anyway.
        case timedOut(seconds: Double)
    }

    public let startedAt: Double
    public let timeout: Double
    private var checks = 0

    public init(startedAt: Double, timeout: Double) {
        self.startedAt = startedAt
        self.timeout = timeout
    }

    /// `busy`: the process's busy jobs in the latest sample, nil when the sample has no Sidekiq
    /// data for it (unknown is not drained).
    public mutating func check(busy: Int?, now: Double) -> Decision {
        let elapsed = now - startedAt
        guard elapsed < timeout else { return .timedOut(seconds: timeout) }
        checks += 1
        if checks > 1, busy == 0 { return .drained(seconds: elapsed) }
        return .wait
    }
}
