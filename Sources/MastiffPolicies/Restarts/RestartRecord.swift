import MastiffCore

/// One restart decided and carried out (or failed, or only logged in a dry run), as `mastiff
/// status`, `mastiff restarts list` and the status page show it.
public struct RestartRecord: Sendable, Equatable {
    public var target: String
    public var pid: Int
    public var reason: RestartReason
    public var detail: String
    /// restarted, failed or dry_run.
    public var result: String
    public var time: Double
    public var memoryBefore: UInt64?
    public var drainSeconds: Double?
    /// Filled in when the replacement process shows up.
    public var healthyAfterSeconds: Double?
    public var memoryAfter: UInt64?

    public init(action: RestartAction, result: String, time: Double) {
        target = action.target
        pid = action.pid
        reason = action.reason
        detail = action.detail
        self.result = result
        self.time = time
        memoryBefore = action.memoryBefore
    }

    /// The control socket's and `/api/v1/status`'s shape of it.
    public var json: JSONValue {
        var entry: [String: JSONValue] = ["target": .string(target), "pid": .number(Double(pid)), "reason": .string(reason.rawValue),
                                          "detail": .string(detail), "result": .string(result), "time": .number(time)]
        if let memoryBefore { entry["memory_before"] = .number(Double(memoryBefore)) }
        if let drainSeconds { entry["drain_seconds"] = .number(drainSeconds) }
        if let healthyAfterSeconds { entry["healthy_after_seconds"] = .number(healthyAfterSeconds) }
        if let memoryAfter { entry["memory_after"] = .number(Double(memoryAfter)) }
        return .object(entry)
    }
}
