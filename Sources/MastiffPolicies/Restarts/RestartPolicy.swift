import MastiffCore

/// Why a process is restarted.
public enum RestartReason: String, Sendable, Equatable {
    case age = "max_age", memory = "max_memory", alert = "on_alert"
    /// A Sidekiq process quieted (SIGTSTP) by a drain that mastiff's stop or crash interrupted:
    /// quiet has no undo, so it is restarted first thing at the next start.
    case interruptedDrain = "interrupted_drain"
}

/// A restart to carry out: which process of which target, and why.
public struct RestartAction: Sendable, Equatable {
    public var target: String
    public var pid: Int
    /// With the pid, identifies the process (pids are reused).
    public var startTime: Double
    public var reason: RestartReason
    /// For the log and the notice: "PSS 812MiB over 700MiB for 3 samples", "age 3h 12m".
    public var detail: String
    public var memoryBefore: UInt64?
    public var dryRun: Bool
    /// The account the process ran as when chosen; checked again right before any signal.
    public var ownerUID: UInt32?

    public init(target: String, pid: Int, startTime: Double, reason: RestartReason, detail: String, memoryBefore: UInt64?, dryRun: Bool,
                ownerUID: UInt32? = nil) {
        self.target = target
        self.pid = pid
        self.startTime = startTime
        self.reason = reason
        self.detail = detail
        self.memoryBefore = memoryBefore
        self.dryRun = dryRun
        self.ownerUID = ownerUID
    }
}

/// What became of a restart (from the executor).
public enum RestartOutcome: Sendable, Equatable {
    /// The executor failed to restart (the command failed, the API refused).
    case failed(target: String, reason: String)
}

/// What the caller should log or notify.
public enum RestartEvent: Sendable, Equatable {
    case healthy(target: String, pid: Int, after: Double, memory: UInt64?)
    case healthTimeout(target: String, pid: Int)
    case budgetExhausted(target: String)
}

/// Decides restarts from samples; pure, time from the caller. Guards: rolling (one process of
/// a target at a time, the next only after the group shows a new process), `min_uptime`, a
/// budget per window, maintenance, a quiet start (no decision in the first four samples after
/// mastiff starts — a minute at 15 s — so that a restart of mastiff never triggers one), and a target that failed
/// its health check stops until mastiff is told otherwise (reload).
public struct RestartPolicy: Policy {
    public typealias Action = RestartAction
    public typealias Outcome = RestartOutcome

    /// A process across samples: pids are reused, so the start time is part of it.
    struct ProcessKey: Hashable, Sendable {
        var pid: Int
        var startTime: Int64
        init(_ pid: Int, _ startTime: Double) {
            self.pid = pid
            self.startTime = Int64(startTime)
        }
    }

    struct TargetState: Sendable {
        var restarts: [Double] = []
        var inFlight: (pid: Int, startTime: Double, startedAt: Double)?
        var over: [ProcessKey: Int] = [:]
        var halted = false
        var exhaustedAnnounced = false
        /// Dry-run decisions already logged, so that they are not repeated every sample.
        var decided: Set<ProcessKey> = []
    }

    public private(set) var targets: [RestartTargetSpec]
    var states: [String: TargetState] = [:]
    /// Alerts firing now (set by the caller before `observe`); an alert starts an episode once.
    public var firingAlerts: Set<String> = []
    /// Per firing alert, the pids of this host its instances name (a `pid` label): an on_alert
    /// restart takes one of those, and none at all when they are not the target's processes.
    public var alertedPIDs: [String: Set<Int>] = [:]
    var handledAlerts: Set<String> = []
    public var maintenance = false
    public let quietUntil: Double
    public private(set) var events: [RestartEvent] = []

    /// `startedAt`: when mastiff started; decisions begin `quietStart` seconds later.
    public init(targets: [RestartTargetSpec], startedAt: Double, quietStart: Double = 60) {
        self.targets = targets
        quietUntil = startedAt + quietStart
    }

    public mutating func takeEvents() -> [RestartEvent] {
        defer { events = [] }
        return events
    }

    static func key(_ pid: Int, _ startTime: Double) -> ProcessKey { ProcessKey(pid, startTime) }

    /// A per-process offset in [0, jitter): stable for the process, different between processes.
    static func jitter(_ target: RestartTargetSpec, pid: Int, startTime: Double) -> Double {
        guard target.jitter > .zero else { return 0 }
        return Double(FNV1a.hash("\(target.name)/\(pid)/\(Int(startTime))") % 1_000_000) / 1_000_000 * target.jitter.seconds
    }

    public func budgetRemaining(_ target: String, now: Double) -> Int {
        guard let spec = targets.first(where: { $0.name == target }) else { return 0 }
        let used = (states[target]?.restarts ?? []).filter { $0 > now - spec.budgetWindow.seconds }.count
        return max(0, spec.budget - used)
    }

    public func lastRestart(_ target: String) -> Double? { states[target]?.restarts.last }

    /// Whether a target stopped after a restart whose process never came back (health_timeout).
    public func isHalted(_ target: String) -> Bool { states[target]?.halted ?? false }

    /// Clears every target's stop (a reload); their budgets stay.
    public mutating func resumeStoppedTargets() {
        for name in states.keys { states[name]!.halted = false }
    }

    public mutating func observe(_ snapshot: Snapshot, now: Double) -> [RestartAction] {
        guard let processes = snapshot.views.processes else { return [] }
        let memoryTotal = snapshot.views.memory?.totalBytes ?? 0
        for alert in handledAlerts where !firingAlerts.contains(alert) { handledAlerts.remove(alert) }
        var actions: [RestartAction] = []
        var newlyHandled: Set<String> = []
        let byGroup = Dictionary(grouping: processes, by: \.group)
        for target in targets {
            var state = states[target.name] ?? TargetState()
            defer { states[target.name] = state }
            // A command line is no identity: another account's process titled like the group's
            // is neither restarted nor taken for the replacement of a restarted one.
            let members = (byGroup[target.group] ?? []).filter { target.owner == nil || $0.ownerUID == target.owner?.uid }
            // Rolling: wait for the restarted process to be replaced before anything else.
            if let inFlight = state.inFlight {
                if let replacement = members.first(where: { $0.startTime >= inFlight.startedAt - 1 && Self.key($0.pid, $0.startTime) != Self.key(inFlight.pid, inFlight.startTime) }) {
                    let memory = target.memoryKind == .pss ? (replacement.proportionalBytes ?? replacement.residentBytes) : replacement.residentBytes
                    events.append(.healthy(target: target.name, pid: replacement.pid, after: now - inFlight.startedAt, memory: memory))
                    state.inFlight = nil
                } else if now - inFlight.startedAt > target.healthTimeout.seconds {
                    events.append(.healthTimeout(target: target.name, pid: inFlight.pid))
                    state.inFlight = nil
                    state.halted = true
                    continue
                } else {
                    continue
                }
            }
            // Memory counters run even while restarts are not allowed, so a sustained excess
            // is known the moment they are.
            var overMemory: [(ProcessSample, UInt64, UInt64)] = []
            var present = Set<ProcessKey>()
            for process in members {
                let key = Self.key(process.pid, process.startTime)
                present.insert(key)
                guard let limit = target.maxMemory else { continue }
                let used = target.memoryKind == .pss ? (process.proportionalBytes ?? process.residentBytes) : process.residentBytes
                let ceiling: UInt64
                switch limit {
                case .bytes(let bytes): ceiling = bytes
                case .percentOfMemory(let percent): ceiling = UInt64(max(0, memoryTotal * percent / 100))
                }
                if ceiling > 0 && used > ceiling {
                    state.over[key, default: 0] += 1
                    if state.over[key]! >= target.sustainedSamples { overMemory.append((process, used, ceiling)) }
                } else {
                    state.over[key] = nil
                }
            }
            state.over = state.over.filter { present.contains($0.key) }
            state.decided = state.decided.filter { present.contains($0) }
            guard !state.halted, !maintenance, now >= quietUntil else { continue }
            state.restarts = state.restarts.filter { $0 > now - target.budgetWindow.seconds }
            if state.restarts.count >= target.budget {
                if !state.exhaustedAnnounced {
                    events.append(.budgetExhausted(target: target.name))
                    state.exhaustedAnnounced = true
                }
                continue
            }
            state.exhaustedAnnounced = false
            let eligible = members.filter { now - $0.startTime >= target.minUptime.seconds && !state.decided.contains(Self.key($0.pid, $0.startTime)) }
            func memory(_ process: ProcessSample) -> UInt64 {
                target.memoryKind == .pss ? (process.proportionalBytes ?? process.residentBytes) : process.residentBytes
            }
            var chosen: (ProcessSample, RestartReason, String)?
            let alert = target.onAlerts.first { firingAlerts.contains($0) && !handledAlerts.contains($0) }
            let named = alert.flatMap { alertedPIDs[$0] } ?? []
            if let alert, !named.isEmpty, let process = eligible.filter({ named.contains($0.pid) }).max(by: { memory($0) < memory($1) }) {
                chosen = (process, .alert, "\(alert) names pid \(process.pid)")
                newlyHandled.insert(alert)
            } else if let alert, named.isEmpty, let largest = eligible.max(by: { memory($0) < memory($1) }) {
                chosen = (largest, .alert, "\(alert) is firing; largest \(target.memoryKind.rawValue.uppercased()) \(ByteSize.format(memory(largest)))")
                newlyHandled.insert(alert)
            } else if let worst = overMemory.filter({ entry in eligible.contains { $0.pid == entry.0.pid } }).max(by: { $0.1 < $1.1 }) {
                chosen = (worst.0, .memory, "\(target.memoryKind.rawValue.uppercased()) \(ByteSize.format(worst.1)) over \(ByteSize.format(worst.2)) for \(target.sustainedSamples) samples")
            } else if let maxAge = target.maxAge?.seconds,
                      let oldest = members.filter({ now - $0.startTime >= maxAge + Self.jitter(target, pid: $0.pid, startTime: $0.startTime)
                          && !state.decided.contains(Self.key($0.pid, $0.startTime)) }).min(by: { $0.startTime < $1.startTime }) {
                chosen = (oldest, .age, "running for \(DurationParser.format(.seconds(Int64(now - oldest.startTime)))), max_age \(DurationParser.format(.seconds(Int64(maxAge))))")
            }
            guard let (process, reason, detail) = chosen else { continue }
            let key = Self.key(process.pid, process.startTime)
            actions.append(RestartAction(target: target.name, pid: process.pid, startTime: process.startTime, reason: reason, detail: detail,
                                         memoryBefore: memory(process), dryRun: target.dryRun, ownerUID: process.ownerUID))
            state.restarts.append(now)
            state.over[key] = nil
            if target.dryRun {
                state.decided.insert(key)
            } else {
                state.inFlight = (process.pid, process.startTime, now)
            }
        }
        handledAlerts.formUnion(newlyHandled)
        return actions
    }

    public mutating func record(_ outcome: RestartOutcome, now: Double) {
        switch outcome {
        case .failed(let target, _):
            states[target]?.inFlight = nil
        }
    }

    // MARK: - State file

    /// Restart times per target (what the budgets count), so that losing or keeping the state
    /// file across a restart of mastiff never allows a burst.
    public func savedState() -> JSONValue {
        .object(states.mapValues { state in .object(["restarts": .array(state.restarts.map { .number($0) }), "halted": .bool(state.halted)]) })
    }

    public mutating func restore(_ saved: JSONValue) {
        guard case .object(let members) = saved else { return }
        for (name, value) in members where targets.contains(where: { $0.name == name }) {
            var state = TargetState()
            // Only times 1970–5000, and no more than a budget could ever hold.
            state.restarts = Array((value["restarts"]?.array ?? []).compactMap(\.timestamp).suffix(10_000))
            state.halted = value["halted"] == .bool(true)
            states[name] = state
        }
    }
}
