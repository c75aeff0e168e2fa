#if canImport(Glibc)
import Glibc
#endif

/// Monotonic time, injected wherever a decision depends on elapsed time (back-off, caches,
/// durations), so tests move it instead of sleeping. Only differences between readings mean
/// anything.
public protocol MonotonicClock: Sendable {
    /// Time since an arbitrary fixed origin.
    func elapsed() -> Duration
}

/// CLOCK_MONOTONIC: unaffected by changes to the wall clock.
public struct SystemMonotonicClock: MonotonicClock {
    public init() {}
    public func elapsed() -> Duration {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return .seconds(ts.tv_sec) + .nanoseconds(ts.tv_nsec)
    }
}
