#if canImport(Glibc)
import Glibc
#endif
import Logging
import MastiffCore
import MastiffExecutors
import MastiffPolicies
import ServiceLifecycle
import Synchronization

/// Runs the restart policy after each sample and carries out its decisions with each target's
/// restarter (docs/restarts.md). Restart times go to the state file (section `restarts`), so
/// budgets survive a restart of mastiff. Maintenance pauses restarts.
///
/// Deciding happens in `observe` (called after each sample); acting — a drain, a restarter —
/// happens in `run`, each restart a child task of the service's own group, so that stopping
/// mastiff ends every one of them deliberately (a drain in progress stops waiting and leaves its
/// process recorded as quieted, to be restarted first at the next start).
public final class RestartService: Service, Sendable {
    /// A decided restart, waiting for `run` to carry it out.
    private struct Work: Sendable {
        var action: RestartAction
        var restarter: any Restarter
        var drain: Duration?
        var metadata: Logger.Metadata
        var decidedAt: Double
    }

    private struct State {
        var policy: RestartPolicy
        var restarters: [String: any Restarter]
        /// Targets restarted gracefully (Sidekiq): their drain timeout.
        var drains: [String: Duration] = [:]
        /// Busy jobs per Sidekiq process pid, from the latest sample.
        var sidekiqBusy: [Int: Int] = [:]
        /// How long the last drain of each target took.
        var drainSeconds: [String: Double] = [:]
        /// A replacement seen before its restart was recorded (the supervisor is quick).
        var healthyEarly: [String: (after: Double, memory: UInt64?)] = [:]
        var counts: [String: Int] = [:]
        var recent: [RestartRecord] = []
        /// Processes quieted by a drain and not yet restarted, by target (state section
        /// `restarts_quieted`): a stop or crash mid-drain must not leave Sidekiq quiet forever.
        var quieted: [String: (pid: Int, startTime: Double)] = [:]
        /// Quieted processes found in the state file at start, restarted at the first sample.
        var resumeQuieted = true
    }

    private let state: Mutex<State>
    private let work = AsyncStream.makeStream(of: Work.self)
    private let stateStore: StateStore?
    private let logger: Logger
    private let procRoot: String
    /// Each restart carried out or failed, as a notice for the receivers.
    private let announce: (@Sendable (RestartAction, String, Bool) -> Void)?

    /// Builds each target's restarter; the composition root gives the real ones
    /// (`Agent.restarters`), tests recording ones.
    public typealias RestarterFactory = @Sendable ([RestartTargetSpec]) -> [String: any Restarter]

    private let makeRestarters: RestarterFactory
    /// This host's name as Sidekiq reports it (gethostname), to tell its processes from others'.
    private let hostName: String

    /// `samplingInterval`: decisions start four samples after mastiff does (a minute at 15 s).
    public init(targets: [RestartTargetSpec], stateStore: StateStore?, logger: Logger, startedAt: Double, samplingInterval: Duration = .seconds(15),
                procRoot: String = "/proc", hostName: String = HostName.current, restarters: @escaping RestarterFactory,
                announce: (@Sendable (RestartAction, String, Bool) -> Void)? = nil) {
        self.hostName = hostName
        self.procRoot = procRoot
        self.stateStore = stateStore
        self.logger = logger
        self.announce = announce
        self.makeRestarters = restarters
        var policy = RestartPolicy(targets: targets, startedAt: startedAt, quietStart: 4 * samplingInterval.seconds)
        if let saved = stateStore?.section("restarts") { policy.restore(saved) }
        var initial = State(policy: policy, restarters: restarters(targets), drains: Self.drains(targets))
        if case .object(let entries)? = stateStore?.section("restarts_quieted") {
            for (target, entry) in entries {
                if let pid = entry["pid"]?.integer, pid > 0, let startTime = entry["start_time"]?.timestamp { initial.quieted[target] = (pid, startTime) }
            }
        }
        state = Mutex(initial)
    }

    static func drains(_ targets: [RestartTargetSpec]) -> [String: Duration] {
        Dictionary(uniqueKeysWithValues: targets.filter(\.gracefulSidekiq).map { ($0.name, $0.drainTimeout) })
    }

    /// A reload: new targets; the restart history of targets that remain is kept.
    public func replaceTargets(_ targets: [RestartTargetSpec], startedAt: Double) {
        state.withLock { state in
            let saved = state.policy.savedState()
            var policy = RestartPolicy(targets: targets, startedAt: startedAt, quietStart: 0)
            policy.restore(saved)
            // A reload is how an admin says "try again" to a stopped target (docs/restarts.md).
            policy.resumeStoppedTargets()
            state.policy = policy
            state.restarters = makeRestarters(targets)
            state.drains = Self.drains(targets)
        }
    }

    /// `namedProcesses`: the processes firing alerts name (`pid`, `hostname` labels); those of
    /// this host are what an on_alert target restarts, so a stalled Sidekiq on another host never
    /// restarts one here that happens to share its pid.
    public func observe(_ snapshot: Snapshot, firingAlerts: Set<String>, namedProcesses: [String: [(hostname: String?, pid: Int)]] = [:],
                        maintenance: Bool) {
        let localHost = hostName
        let now = snapshot.time
        var droppedQuieted = false
        let (actions, events, restarters, drains) = state.withLock { state -> ([RestartAction], [RestartEvent], [String: any Restarter], [String: Duration]) in
            if let sidekiq = snapshot.views.sidekiqProcesses {
                state.sidekiqBusy = Dictionary(sidekiq.compactMap { process in process.pid.map { ($0, process.busy) } }, uniquingKeysWith: { $0 + $1 })
            }
            state.policy.firingAlerts = firingAlerts
            state.policy.alertedPIDs = namedProcesses.mapValues { processes in
                Set(processes.filter { $0.hostname == nil || $0.hostname == localHost }.map(\.pid))
            }
            state.policy.maintenance = maintenance
            var actions = state.policy.observe(snapshot, now: now)
            if state.resumeQuieted {
                // Left quiet by a drain mastiff did not finish: restart those first, whatever the
                // policy says now, if the very process is still there.
                state.resumeQuieted = false
                for (target, process) in state.quieted.sorted(by: { $0.key < $1.key }) {
                    let owner = state.policy.targets.first(where: { $0.name == target })?.owner?.uid
                    guard state.restarters[target] != nil,
                          let current = snapshot.views.processes?.first(where: { $0.pid == process.pid && Swift.abs($0.startTime - process.startTime) < 0.5 }),
                          owner == nil || current.ownerUID == owner,
                          !actions.contains(where: { $0.target == target && $0.pid == process.pid }) else {
                        // Gone (or already being restarted): nothing left quiet to undo.
                        state.quieted[target] = nil
                        droppedQuieted = true
                        continue
                    }
                    actions.insert(RestartAction(target: target, pid: process.pid, startTime: process.startTime, reason: .interruptedDrain,
                                                 detail: "left quiet by a drain that mastiff's stop interrupted", memoryBefore: nil, dryRun: false,
                                                 ownerUID: current.ownerUID), at: 0)
                }
            }
            return (actions, state.policy.takeEvents(), state.restarters, state.drains)
        }
        if droppedQuieted { saveQuieted() }
        for event in events {
            switch event {
            case .healthy(let target, let pid, let after, let memory):
                logger.info("restarted process is back", metadata: ["restart.target": "\(target)", "pid": "\(pid)", "after_seconds": "\(Int(after))"])
                state.withLock { state in
                    // The latest restart of this target learns how it ended; if the restarter has
                    // not returned yet, its record will take it.
                    guard let index = state.recent.lastIndex(where: { $0.target == target && $0.healthyAfterSeconds == nil }) else {
                        state.healthyEarly[target] = (after, memory)
                        return
                    }
                    state.recent[index].healthyAfterSeconds = after
                    if let memory { state.recent[index].memoryAfter = memory }
                }
            case .healthTimeout(let target, let pid):
                logger.error("no new process appeared after a restart; restarts of this target stop until the configuration is reloaded",
                             metadata: ["restart.target": "\(target)", "pid": "\(pid)"])
            case .budgetExhausted(let target):
                logger.error("restart budget spent: no more restarts of this target in this window (RestartBudgetExhausted)",
                             metadata: ["restart.target": "\(target)"])
            }
        }
        guard !actions.isEmpty else { return }
        save()
        for action in actions {
            let metadata: Logger.Metadata = ["restart.target": "\(action.target)", "pid": "\(action.pid)", "reason": "\(action.reason.rawValue)",
                                             "detail": "\(action.detail)"]
            if action.dryRun {
                logger.notice("restart decided (dry run: nothing is done)", metadata: metadata)
                count(action, "dry_run", now: now)
                continue
            }
            logger.notice("restarting", metadata: metadata)
            guard let restarter = restarters[action.target] else { continue }
            // An interrupted drain's process is quiet already: no second drain.
            let drain = action.reason == .interruptedDrain ? nil : drains[action.target]
            work.continuation.yield(Work(action: action, restarter: restarter, drain: drain, metadata: metadata, decidedAt: now))
        }
    }

    /// Carries out what `observe` decided, each restart a child task; on shutdown the group is
    /// cancelled and every restart in progress ends as `carryOut` says.
    public func run() async {
        await withDiscardingTaskGroup { group in
            for await pending in work.stream.cancelOnGracefulShutdown() {
                group.addTask { await self.carryOut(pending) }
            }
            group.cancelAll()
        }
    }

    private func carryOut(_ work: Work) async {
        let action = work.action
        var metadata = work.metadata
        if let drain = work.drain {
            let seconds = await quietAndDrain(action, timeout: drain, metadata: metadata)
            state.withLock { $0.drainSeconds[action.target] = seconds }
            guard !Task.isCancelled else {
                // Quiet has no undo: the process stays recorded (restarts_quieted) and the next
                // start restarts it first.
                logger.notice("mastiff is stopping mid-drain; the quieted process is restarted first at the next start", metadata: metadata)
                return
            }
        }
        let result = await work.restarter.restart(action)
        forgetQuieted(action.target)
        switch result {
        case .success(let what):
            metadata["done"] = "\(what)"
            logger.info("restart carried out", metadata: metadata)
            count(action, "restarted", now: work.decidedAt)
            announce?(action, what, true)
        case .failure(let failure):
            metadata["error"] = "\(failure)"
            logger.error("restart failed", metadata: metadata)
            announce?(action, failure.description, false)
            state.withLock { $0.policy.record(.failed(target: action.target, reason: failure.description), now: work.decidedAt) }
            count(action, "failed", now: work.decidedAt)
        }
    }

    /// Sidekiq gracefully: SIGTSTP (quiet: it stops fetching, finishes what it runs), then check
    /// twice a second until `SidekiqDrain` says it is drained or out of time.
    @discardableResult
    private func quietAndDrain(_ action: RestartAction, timeout: Duration, metadata: Logger.Metadata) async -> Double {
        if case .failure(let failure) = ProcessSignal.send(SIGTSTP, to: action.pid, startedAt: action.startTime, ownerUID: action.ownerUID, procRoot: procRoot) {
            var failed = metadata
            failed["error"] = "\(failure)"
            logger.warning("could not quiet the Sidekiq process; restarting without a drain", metadata: failed)
            return 0
        }
        rememberQuieted(action)
        let clock = ContinuousClock()
        let origin = clock.now
        let elapsed = { (origin.duration(to: clock.now)).seconds }
        var drain = SidekiqDrain(startedAt: 0, timeout: timeout.seconds)
        while true {
            do { try await Task.sleep(for: .milliseconds(500)) } catch { return elapsed() }
            let busy = state.withLock { $0.sidekiqBusy[action.pid] }
            switch drain.check(busy: busy, now: elapsed()) {
            case .wait:
                continue
            case .drained(let seconds):
                var drained = metadata
                drained["drain_seconds"] = "\(Int(seconds * 10) / 10)"
                logger.info("Sidekiq process quiet and drained", metadata: drained)
                return seconds
            case .timedOut(let seconds):
                logger.warning("Sidekiq did not drain within drain_timeout; restarting anyway (unfinished jobs go back to Redis)", metadata: metadata)
                return seconds
            }
        }
    }

    private func count(_ action: RestartAction, _ result: String, now: Double) {
        state.withLock { state in
            state.counts["\(action.target)\u{0}\(action.reason.rawValue)\u{0}\(result)", default: 0] += 1
            var record = RestartRecord(action: action, result: result, time: now)
            record.drainSeconds = state.drainSeconds.removeValue(forKey: action.target)
            if let early = state.healthyEarly.removeValue(forKey: action.target) {
                record.healthyAfterSeconds = early.after
                record.memoryAfter = early.memory
            }
            state.recent.append(record)
            if state.recent.count > 50 { state.recent.removeFirst(state.recent.count - 50) }
        }
    }

    private func save() {
        guard let stateStore else { return }
        stateStore.update("restarts", state.withLock { $0.policy.savedState() })
    }

    /// Written before the drain waits: if mastiff stops now, the next start finds it.
    private func rememberQuieted(_ action: RestartAction) {
        state.withLock { $0.quieted[action.target] = (action.pid, action.startTime) }
        saveQuieted()
    }

    private func forgetQuieted(_ target: String) {
        let known = state.withLock { $0.quieted.removeValue(forKey: target) != nil }
        if known { saveQuieted() }
    }

    private func saveQuieted() {
        guard let stateStore else { return }
        let entries = state.withLock { state in
            state.quieted.mapValues { JSONValue.object(["pid": .number(Double($0.pid)), "start_time": .number($0.startTime)]) }
        }
        stateStore.update("restarts_quieted", .object(entries))
    }

    /// The latest restarts (at most 50), newest last.
    public func recentRestarts() -> [RestartRecord] { state.withLock { $0.recent } }

    /// The latest restarts, newest last, for `mastiff status`.
    public func recentJSON() -> JSONValue { .array(recentRestarts().map(\.json)) }

    /// `mastiff restarts list`: each target's budget and last restart, and the latest restarts.
    public func listJSON(now: Double) -> JSONValue {
        state.withLock { state in
            .object([
                "ok": .bool(true), "now": .number(now),
                "targets": .array(state.policy.targets.map { target in
                    var entry: [String: JSONValue] = ["name": .string(target.name), "group": .string(target.group),
                                                      "budget_remaining": .number(Double(state.policy.budgetRemaining(target.name, now: now))),
                                                      "budget": .number(Double(target.budget)), "dry_run": .bool(target.dryRun)]
                    if let last = state.policy.lastRestart(target.name) { entry["last_restart"] = .number(last) }
                    return .object(entry)
                }),
                "recent": .array(state.recent.map(\.json)),
            ])
        }
    }

    public func metrics(now: Double) -> [MetricFamily] {
        state.withLock { state in
            let names = state.policy.targets.map(\.name)
            var totals: [Sample] = []
            for key in state.counts.keys.sorted() {
                let parts = key.split(separator: "\u{0}").map(String.init)
                totals.append(Sample(labels: [Label("target", parts[0]), Label("reason", parts[1]), Label("result", parts[2])], value: Double(state.counts[key]!)))
            }
            return [
                MetricFamily(name: "mastiff_restarts_total", help: "Restarts decided by mastiff, by target, reason and result (restarted, failed, dry_run).",
                             type: .counter, samples: totals),
                MetricFamily(name: "mastiff_restart_last_timestamp_seconds", help: "When each target was last restarted.", type: .gauge,
                             samples: names.compactMap { name in state.policy.lastRestart(name).map { Sample(labels: [Label("target", name)], value: $0) } }),
                MetricFamily(name: "mastiff_restart_budget_remaining", help: "Restarts each target may still have in its budget window.", type: .gauge,
                             samples: names.map { Sample(labels: [Label("target", $0)], value: Double(state.policy.budgetRemaining($0, now: now))) }),
                MetricFamily(name: "mastiff_restart_target_stopped", help: "1 when a target stopped because a restarted process did not come back within health_timeout.",
                             type: .gauge, samples: names.map { Sample(labels: [Label("target", $0)], value: state.policy.isHalted($0) ? 1 : 0) }),
            ]
        }
    }
}
