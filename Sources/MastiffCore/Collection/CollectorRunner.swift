import Logging
import Synchronization

/// Runs every collector concurrently, each under a timeout, and adds the agent's own
/// `mastiff_collector_*` families.
///
/// A collector that hangs (a blocked read, a dead socket) is abandoned after the timeout, not
/// awaited: its run keeps going in the background until it returns. Scrapes that arrive in the
/// meantime join that run rather than piling up a second one, and time out in turn. That run is
/// the one task no caller owns, on purpose: a read blocked in the kernel ignores cancellation,
/// so owning it would make every caller (and mastiff's shutdown) wait out the hang; the
/// collector's own deadlines (connect and statement timeouts) end it (docs/adr/0019).
public final class CollectorRunner: Sendable {
    private let timeoutSetting: Mutex<Duration>
    private let logger: Logger
    private let clock: any MonotonicClock
    private let inFlight = Mutex<[String: CollectorFlight<Outcome>]>([:])
    private let errorTotals = Mutex<[ErrorKey: Int]>([:])
    private let lastSuccess = Mutex<[String: Bool]>([:])

    private struct ErrorKey: Hashable {
        var collector: String
        var reason: String
    }

    private enum Outcome: Sendable {
        case finished(CollectorOutput)
        case failed(reason: String, detail: String)
    }

    public init(timeout: Duration, logger: Logger, clock: any MonotonicClock = SystemMonotonicClock()) {
        timeoutSetting = Mutex(timeout)
        self.logger = logger
        self.clock = clock
    }

    /// Each collector's limit per run; a reload may change it (the runner, with its error
    /// counters and runs in flight, is kept across reloads).
    public var timeout: Duration {
        get { timeoutSetting.withLock { $0 } }
        set { timeoutSetting.withLock { $0 = newValue } }
    }

    /// The families of one run of every collector (what a scrape renders).
    public func collect(_ collectors: [any Collector]) async -> [MetricFamily] {
        await run(collectors).families
    }

    /// One run of every collector: families, typed views and each collector's result.
    public func run(_ collectors: [any Collector]) async -> Collection {
        let results = await withTaskGroup(of: (String, Outcome, Duration).self) { group in
            for collector in collectors {
                group.addTask {
                    let start = self.clock.elapsed()
                    let outcome = await self.runOne(collector)
                    return (collector.name, outcome, self.clock.elapsed() - start)
                }
            }
            var all: [(String, Outcome, Duration)] = []
            for await result in group { all.append(result) }
            return all
        }

        let upMetrics = Dictionary(collectors.map { ($0.name, $0.upMetric) }, uniquingKeysWith: { first, _ in first })
        var families: [MetricFamily] = []
        var views = SnapshotViews()
        var collectorResults: [CollectorResult] = []
        var success = MetricFamily(
            name: "mastiff_collector_success",
            help: "Whether the collector's last run succeeded within its timeout (1) or not (0).",
            type: .gauge)
        var duration = MetricFamily(
            name: "mastiff_collector_duration_seconds",
            help: "Duration of the collector's last run in seconds (the timeout if it timed out).",
            type: .gauge)
        for (name, outcome, elapsed) in results.sorted(by: { $0.0 < $1.0 }) {
            let labels = [Label("collector", name)]
            duration.samples.append(Sample(labels: labels, value: elapsed.seconds))
            switch outcome {
            case .finished(let output):
                families.append(contentsOf: output.families)
                add(errors: output.errorReasons, collector: name)
                if let reason = output.failureReason {
                    add(errors: [reason: 1], collector: name)
                    success.samples.append(Sample(labels: labels, value: 0))
                    noteState(collector: name, ok: false, detail: output.failureDetail ?? reason)
                    collectorResults.append(CollectorResult(name: name, succeeded: false, durationSeconds: elapsed.seconds,
                                                            detail: output.failureDetail ?? reason))
                } else {
                    success.samples.append(Sample(labels: labels, value: 1))
                    noteState(collector: name, ok: true, detail: "")
                    views.merge(output.views)
                    collectorResults.append(CollectorResult(name: name, succeeded: true, durationSeconds: elapsed.seconds, detail: nil))
                }
            case .failed(let reason, let detail):
                if let up = upMetrics[name] ?? nil {
                    families.append(MetricFamily(name: up.name, help: up.help, type: .gauge, samples: [Sample(labels: [], value: 0)]))
                }
                add(errors: [reason: 1], collector: name)
                success.samples.append(Sample(labels: labels, value: 0))
                noteState(collector: name, ok: false, detail: detail)
                collectorResults.append(CollectorResult(name: name, succeeded: false, durationSeconds: elapsed.seconds, detail: detail))
            }
        }
        families.append(success)
        families.append(duration)
        families.append(errorFamily())
        return Collection(families: families, views: views, results: collectorResults)
    }

    private func runOne(_ collector: any Collector) async -> Outcome {
        let name = collector.name
        // Single flight: a scrape that arrives while this collector is already running waits for
        // that run instead of starting a second one against the same source.
        let flight = inFlight.withLock { flights -> CollectorFlight<Outcome> in
            if let existing = flights[name] { return existing }
            let flight = CollectorFlight<Outcome>()
            flights[name] = flight
            // Abandoned on a timeout, by design (see the type's comment).
            Task<Void, Never> {
                let outcome: Outcome
                do {
                    let sink = MetricSink()
                    try await collector.collect(into: sink)
                    outcome = .finished(CollectorOutput(families: sink.families, errorReasons: sink.errorReasons,
                                                        failureReason: sink.failure?.reason, failureDetail: sink.failure?.detail,
                                                        views: sink.views))
                } catch {
                    outcome = .failed(reason: "error", detail: String(describing: error))
                }
                self.inFlight.withLock { _ = $0.removeValue(forKey: name) }
                flight.finish(outcome)
            }
            return flight
        }
        let timeout = self.timeout
        // The run's outcome or the timeout, whichever comes first; the other child is cancelled.
        return await withTaskGroup(of: Outcome?.self) { race in
            race.addTask { await flight.outcome() }
            race.addTask {
                guard (try? await Task.sleep(for: timeout)) != nil else { return nil }
                return .failed(reason: "timeout", detail: "no answer within \(timeout.seconds)s")
            }
            let first = await race.next() ?? nil
            race.cancelAll()
            return first ?? .failed(reason: "timeout", detail: "mastiff stopped waiting")
        }
    }

    private func add(errors: [String: Int], collector: String) {
        guard !errors.isEmpty else { return }
        errorTotals.withLock { totals in
            for (reason, count) in errors {
                totals[ErrorKey(collector: collector, reason: reason), default: 0] += count
            }
        }
    }

    private func errorFamily() -> MetricFamily {
        let totals = errorTotals.withLock { $0 }
        var family = MetricFamily(
            name: "mastiff_collector_errors_total",
            help: "Problems a collector skipped or failed on, by reason (timeout, error, or the collector's own).",
            type: .counter)
        for (key, count) in totals.sorted(by: { ($0.key.collector, $0.key.reason) < ($1.key.collector, $1.key.reason) }) {
            family.samples.append(Sample(
                labels: [Label("collector", key.collector), Label("reason", key.reason)],
                value: Double(count)))
        }
        return family
    }

    /// Logs transitions only, so a source that stays down does not fill the journal.
    private func noteState(collector: String, ok: Bool, detail: String) {
        let previous = lastSuccess.withLock { state -> Bool? in
            let previous = state[collector]
            state[collector] = ok
            return previous
        }
        if ok, previous == false {
            logger.info("collector recovered", metadata: ["collector.name": "\(collector)"])
        } else if !ok, previous != false {
            logger.warning("collector failed", metadata: ["collector.name": "\(collector)", "error": "\(detail)"])
        }
    }
}

/// What one run of the collectors produced.
public struct Collection: Sendable {
    public var families: [MetricFamily]
    public var views: SnapshotViews
    /// Sorted by collector name.
    public var results: [CollectorResult]

    public init(families: [MetricFamily], views: SnapshotViews, results: [CollectorResult]) {
        self.families = families
        self.views = views
        self.results = results
    }
}

/// How one collector's run went: what `mastiff status` shows per collector.
public struct CollectorResult: Sendable, Equatable {
    public var name: String
    public var succeeded: Bool
    public var durationSeconds: Double
    /// Why it failed (already redacted by the collector), nil on success.
    public var detail: String?

    public init(name: String, succeeded: Bool, durationSeconds: Double, detail: String?) {
        self.name = name
        self.succeeded = succeeded
        self.durationSeconds = durationSeconds
        self.detail = detail
    }
}

private enum FlightWait<Value> {
    case value(Value)
    case cancelled
    case wait
}

/// One run of one collector, which several callers may wait for; a waiter that is cancelled
/// stops waiting at once (nil) and the run goes on for the others.
private final class CollectorFlight<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [Int: CheckedContinuation<Value?, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    func finish(_ value: Value) {
        let waiters = state.withLock { state in
            state.value = value
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    /// The run's value, or nil when the waiting task is cancelled first.
    func outcome() async -> Value? {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
                let now = state.withLock { state -> FlightWait<Value> in
                    if let value = state.value { return .value(value) }
                    if Task.isCancelled { return .cancelled }
                    state.waiters[id] = continuation
                    return .wait
                }
                switch now {
                case .value(let value): continuation.resume(returning: value)
                case .cancelled: continuation.resume(returning: nil)
                case .wait: break
                }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: nil)
        }
    }
}

extension Duration {
    /// The duration as floating-point seconds, for exposition.
    public var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
