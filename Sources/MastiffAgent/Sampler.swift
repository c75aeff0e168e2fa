import Logging
import MastiffCore
import ServiceLifecycle
import Synchronization

/// Runs the collectors every `interval`, whether or not anything scrapes, and publishes each
/// result as an immutable `Snapshot`.
///
/// A scrape asks for a snapshot no older than the interval: in the steady state it gets the
/// sampler's latest, so a Prometheus scraping at the sampling interval costs no second
/// collection. A scrape that finds the latest too old (at start, or after a slow sample)
/// collects, and that collection becomes the latest sample; the timer then counts from it.
/// Collections never overlap: callers arriving during one wait for it.
///
/// Time comes from the injected clock, so tests advance it instead of sleeping.
public final class Sampler<C: Clock>: Service, Sendable where C.Duration == Duration, C: Sendable, C.Instant: Sendable {
    private struct Published {
        var snapshot: Snapshot
        var takenAt: C.Instant
    }

    /// What a caller of `published` does: serve the latest, wait for the sample being taken, or
    /// take one.
    private enum Turn {
        case fresh(Published)
        case wait
        case take
    }

    private struct State {
        var interval: Duration
        var latest: Published?
        /// Set while a sample is being taken: the callers waiting for it.
        var waiting: [CheckedContinuation<Published, Never>]?
        var runs = 0
        /// Set by `invalidate()`: the latest sample is not to be served again.
        var invalidated = false
    }

    private let clock: C
    private let wallClock: any WallClock
    private let collect: @Sendable () async -> Collection
    private let onSample: (@Sendable (Snapshot) -> Void)?
    private let state: Mutex<State>

    /// `onSample` sees every published sample, in order (the history records it).
    public init(interval: Duration, clock: C, wallClock: any WallClock = SystemWallClock(),
                onSample: (@Sendable (Snapshot) -> Void)? = nil, collect: @escaping @Sendable () async -> Collection) {
        self.clock = clock
        self.wallClock = wallClock
        self.collect = collect
        self.onSample = onSample
        state = Mutex(State(interval: interval))
    }

    public var interval: Duration {
        get { state.withLock { $0.interval } }
    }

    /// A reload's new `sampling.interval`; the next sample is due one new interval after the last.
    public func setInterval(_ interval: Duration) {
        state.withLock { $0.interval = interval }
    }

    /// After a reload: the next caller gets a new sample, taken with the new configuration.
    public func invalidate() {
        state.withLock { $0.invalidated = true }
    }

    /// The last published sample, nil before the first.
    public var latest: Snapshot? { state.withLock { $0.latest?.snapshot } }

    /// The latest sample if it is at most `maxAge` old, else a new one.
    public func snapshot(maxAge: Duration) async -> Snapshot {
        await published(maxAge: maxAge).snapshot
    }

    /// The caller that finds the latest too old takes the sample itself, in its own task; callers
    /// arriving meanwhile wait for that sample rather than start a second one.
    private func published(maxAge: Duration) async -> Published {
        let now = clock.now
        let turn = state.withLock { state -> Turn in
            if !state.invalidated, let latest = state.latest, latest.takenAt.duration(to: now) <= maxAge { return .fresh(latest) }
            if state.waiting != nil { return .wait }
            state.invalidated = false
            state.waiting = []
            return .take
        }
        switch turn {
        case .fresh(let latest):
            return latest
        case .take:
            return await sample()
        case .wait:
            return await withCheckedContinuation { continuation in
                let published = state.withLock { state -> Published? in
                    // The sample may have ended between the two locks.
                    guard state.waiting != nil else { return state.latest }
                    state.waiting!.append(continuation)
                    return nil
                }
                if let published { continuation.resume(returning: published) }
            }
        }
    }

    private func sample() async -> Published {
        let started = clock.now
        let time = wallClock.now()
        let collection = await collect()
        let duration = started.duration(to: clock.now)
        let published = state.withLock { state in
            state.runs += 1
            let published = Published(snapshot: Snapshot(sequence: state.runs, time: time, durationSeconds: duration.seconds,
                                                         collection: collection),
                                      takenAt: started)
            state.latest = published
            return published
        }
        // Before the in-flight slot is freed: samples reach onSample one at a time, in order.
        onSample?(published.snapshot)
        let waiting = state.withLock { state in
            defer { state.waiting = nil }
            return state.waiting ?? []
        }
        for waiter in waiting { waiter.resume(returning: published) }
        return published
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    // Sample when the latest is due (a scrape may have taken a newer one meanwhile).
                    let (due, interval) = self.state.withLock { state in
                        (state.latest.map { $0.takenAt.advanced(by: state.interval) }, state.interval)
                    }
                    if let due, self.clock.now < due {
                        try await self.clock.sleep(until: due, tolerance: nil)
                        continue
                    }
                    _ = await self.published(maxAge: interval / 1000)
                }
            }
        } catch is CancellationError {
            return
        }
    }

    /// `mastiff_sample_*`: how often and how long sampling runs, and when it last did.
    public func selfMetrics() -> [MetricFamily] {
        SamplerMetrics.families(latest: latest)
    }
}

/// `mastiff_sample_*`, from the latest sample alone (its sequence counts the samples taken), so
/// that whoever holds the sample can render them.
public enum SamplerMetrics {
    public static func families(latest: Snapshot?) -> [MetricFamily] {
        var families = [
            MetricFamily(name: "mastiff_sample_runs_total", help: "Collections of every collector, by the sampler or a scrape.",
                         type: .counter, samples: [Sample(labels: [], value: Double(latest?.sequence ?? 0))]),
        ]
        if let latest {
            families.append(MetricFamily(name: "mastiff_sample_duration_seconds", help: "Duration of the last sample, in seconds.",
                                         type: .gauge, samples: [Sample(labels: [], value: latest.durationSeconds)]))
            families.append(MetricFamily(name: "mastiff_sample_timestamp_seconds",
                                         help: "When the last sample started, in seconds since the Unix epoch.",
                                         type: .gauge, samples: [Sample(labels: [], value: latest.time)]))
        }
        return families
    }
}
