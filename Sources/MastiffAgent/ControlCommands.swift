import MastiffCore
import MastiffPolicies

/// The control socket's commands (`mastiff status`, `alerts`, `maintenance`, `silence`,
/// `restarts`, `backup run`): each request's fields checked, then handed to the service it is
/// for. Nothing here changes state by itself.
public struct ControlCommands: Sendable {
    let status: AgentStatus
    let alerting: Alerting
    let notifier: Notifier
    let restarts: RestartService
    let work: WorkScheduler
    let clock: any WallClock

    /// The answer to one request.
    public func answer(_ command: String, _ request: JSONValue) async -> JSONValue {
        switch command {
        case "status": return status.status()
        case "alerts": return alerting.alertsJSON(now: clock.now(), deliveries: notifier.deliveries())
        case "maintenance":
            let seconds = request["seconds"]
            if let seconds, Self.holdSeconds(seconds) == nil { return ControlSocketService.error(Self.holdSecondsProblem) }
            return notifier.maintenance(action: request["action"]?.string ?? "status", seconds: seconds.flatMap(Self.holdSeconds), reason: request["reason"]?.string)
        case "silence":
            switch request["action"]?.string {
            case "add":
                var matchers: [RouteMatcher] = []
                for item in request["matchers"]?.array ?? [] {
                    guard let text = item.string, let parsed = Self.parseMatcher(text) else {
                        return ControlSocketService.error("'\(item.string ?? "?")' is not a matcher (label=value or label=~regex)")
                    }
                    matchers.append(parsed)
                }
                guard !matchers.isEmpty else { return ControlSocketService.error("a silence needs at least one matcher, e.g. alertname=SidekiqRetriesGrowing") }
                guard let value = request["seconds"] else { return ControlSocketService.error("a silence needs --for, e.g. --for 2h") }
                guard let seconds = Self.holdSeconds(value) else { return ControlSocketService.error(Self.holdSecondsProblem) }
                return notifier.addSilence(matchers: matchers, seconds: seconds, comment: request["comment"]?.string ?? "")
            case "expire":
                return notifier.expireSilence(request["id"]?.string ?? "")
            default:
                return notifier.silences()
            }
        case "restarts": return restarts.listJSON(now: clock.now())
        case "notify_test": return await notifier.sendTest(receiver: request["receiver"]?.string ?? "")
        case "backup_run": return work.request(target: request["target"]?.string ?? "postgres")
        case "work": return work.statusJSON(now: clock.now())
        default: return ControlSocketService.error("unknown command '\(command)' (known: status, alerts, maintenance, silence, notify_test, restarts, backup_run, work)")
        }
    }

    /// The longest maintenance or silence a request may ask for: ten years.
    static let maxHoldSeconds = 10 * 365 * 86400.0
    static let holdSecondsProblem = "'seconds' must be a number of seconds above 0 and at most ten years"

    /// A maintenance's or a silence's length from a control request: a number in (0, ten years].
    public static func holdSeconds(_ value: JSONValue) -> Double? {
        guard case .number(let seconds) = value, seconds.isFinite, seconds > 0, seconds <= maxHoldSeconds else { return nil }
        return seconds
    }

    /// `label=value` or `label=~regex`; the name as Alertmanager takes it (`[a-zA-Z_][a-zA-Z0-9_]*`).
    public static func parseMatcher(_ text: String) -> RouteMatcher? {
        guard let equals = text.firstIndex(of: "=") else { return nil }
        let name = String(text[..<equals])
        var value = text[text.index(after: equals)...]
        let regex = value.hasPrefix("~")
        if regex { value = value.dropFirst() }
        guard MetricName.isValidLabelName(name) else { return nil }
        if regex, CapturingRegex.problem("^(?:" + value + ")$") != nil { return nil }
        return RouteMatcher(name: name, value: String(value), regex: regex)
    }
}
