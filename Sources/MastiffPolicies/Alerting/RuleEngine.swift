import MastiffCore
import MastiffPromQL

public enum AlertState: String, Sendable {
    case pending, firing, inactive
}

/// One alert of an alerting rule: a label set the expression returned, with its state.
public struct Alert: Sendable {
    public var group: String
    public var rule: String
    /// The alert's labels: the sample's (without `__name__`), the rule's, and `alertname`.
    public var labels: Labels
    public var annotations: Labels
    public var state: AlertState
    public var value: Double
    /// When the expression first returned this label set (ms).
    public var activeAt: Int64
    public var firedAt: Int64?
    public var resolvedAt: Int64?
    public var keepFiringSince: Int64?
}

/// What changed in one evaluation, for the log and (next) the notifier.
public enum AlertEvent: Sendable {
    case firing(Alert)
    case resolved(Alert)
}

/// The result of evaluating one group at one time.
public struct GroupEvaluation: Sendable {
    public var group: String
    /// Series the rules wrote at this time: recording rules' results, `ALERTS`, and staleness
    /// markers for series that stopped.
    public var samples: [(labels: Labels, value: Double)] = []
    public var events: [AlertEvent] = []
    /// Rules whose evaluation failed this time (a data-dependent error such as a many-to-many
    /// match), with the reason.
    public var failures: [(rule: String, reason: String)] = []
    /// The group's deadline passed: the failures include rules that were not evaluated.
    public var timedOut = false
}

/// Evaluates rule groups the way Prometheus's rule manager does (rules/alerting.go,
/// rules/recording.go): a rule sees the results of the rules before it in its group at the
/// same time; `for` and `keep_firing_for` move alerts between pending, firing and resolved;
/// resolved alerts are kept 15 minutes.
///
/// Pure: time and storage are given; the caller logs, stores and notifies.
public struct RuleEngine: Sendable {
    public static let resolvedRetentionMs: Int64 = 15 * 60_000
    /// A restart of mastiff shorter than this keeps pending and firing alerts' progress
    /// (Prometheus's for-outage-tolerance).
    public static let restoreToleranceMs: Int64 = 60 * 60_000

    public private(set) var groups: [RuleGroup]
    public var externalLabels: Labels
    public var externalURL: String
    /// Alerts by rule key, then by label set.
    private var alerts: [String: [String: Alert]] = [:]
    /// Series each rule wrote at its last evaluation, to end the ones that stop.
    private var written: [String: [String: Labels]] = [:]

    public init(groups: [RuleGroup], externalLabels: Labels = [], externalURL: String = "") {
        self.groups = groups
        self.externalLabels = externalLabels
        self.externalURL = externalURL
    }

    /// A rule's identity across reloads and restarts: its group, its name and which rule of
    /// that name in the group it is.
    static func ruleKey(_ group: RuleGroup, _ index: Int) -> String {
        let name = group.rules[index].name
        let occurrence = group.rules[..<index].filter { $0.name == name }.count
        return "\(group.name)/\(name)/\(occurrence)"
    }

    /// Keeps the alert states of rules that still exist after a reload.
    public mutating func inherit(from previous: RuleEngine) {
        for (index, group) in groups.enumerated() {
            for ruleIndex in group.rules.indices {
                let key = Self.ruleKey(groups[index], ruleIndex)
                if let existing = previous.alerts[key] { alerts[key] = existing }
                if let existing = previous.written[key] { written[key] = existing }
            }
        }
    }

    /// Every alert that is pending or firing, and resolved ones still retained.
    public var activeAlerts: [Alert] {
        alerts.values.flatMap(\.values).sorted { ($0.rule, $0.labels.promQLText) < ($1.rule, $1.labels.promQLText) }
    }

    /// Evaluates one group at `time`. With `pastDeadline`, rules still to run when it says the
    /// time is up fail (reason: the deadline) and keep their previous alerts, as any failing
    /// rule does; `timedOut` says so.
    ///
    /// `subqueryStepMs` is the step of a subquery written without one (`x[1h:]`): the evaluation
    /// interval, as Prometheus takes its global evaluation_interval.
    public mutating func evaluate(groupAt index: Int, time: Int64, storage: any SeriesStorage, pastDeadline: DeadlineCheck? = nil,
                                  subqueryStepMs: Int64 = 60_000) -> GroupEvaluation {
        let group = groups[index]
        var result = GroupEvaluation(group: group.name)
        let overlay = OverlayStorage(base: storage)
        for ruleIndex in group.rules.indices {
            let rule = group.rules[ruleIndex]
            let key = Self.ruleKey(group, ruleIndex)
            let evaluator = Evaluator(storage: overlay, time: time, pastDeadline: pastDeadline, defaultSubqueryStepMs: subqueryStepMs)
            var output: [String: Labels] = [:]
            var values: [String: Double] = [:]
            do {
                if let pastDeadline, pastDeadline() { throw EvaluationError.deadlinePassed }
                let vector = try Self.instantVector(try evaluator.evaluate(rule.expr))
                switch rule.kind {
                case .record(let name):
                    for sample in vector {
                        var labels = sample.labels
                        labels.set("__name__", name)
                        for (label, template) in rule.labels { labels.set(label, template.text) }
                        let seriesKey = labels.key
                        guard output[seriesKey] == nil else {
                            throw EvaluationError("vector contains metrics with the same labelset after applying rule labels")
                        }
                        output[seriesKey] = labels
                        values[seriesKey] = sample.value
                    }
                case .alert(let name):
                    let alertsNow = try evaluateAlert(rule, name: name, key: key, group: group.name, vector: vector, time: time,
                                                      evaluator: evaluator, events: &result.events)
                    for alert in alertsNow {
                        var labels = alert.labels
                        labels.set("__name__", "ALERTS")
                        labels.set("alertstate", alert.state.rawValue)
                        output[labels.key] = labels
                        values[labels.key] = 1
                    }
                }
            } catch {
                if (error as? EvaluationError) == .deadlinePassed { result.timedOut = true }
                result.failures.append((rule.name, "\(error)"))
                // Prometheus keeps the previous alerts untouched when an evaluation fails.
                if rule.isAlert {
                    for alert in alerts[key]?.values.filter({ $0.state != .inactive }) ?? [] {
                        var labels = alert.labels
                        labels.set("__name__", "ALERTS")
                        labels.set("alertstate", alert.state.rawValue)
                        output[labels.key] = labels
                        values[labels.key] = 1
                    }
                }
            }
            for (seriesKey, labels) in output.sorted(by: { $0.key < $1.key }) {
                result.samples.append((labels, values[seriesKey]!))
                overlay.append(labels, time: time, value: values[seriesKey]!)
            }
            for (seriesKey, labels) in (written[key] ?? [:]).sorted(by: { $0.key < $1.key }) where output[seriesKey] == nil {
                let stale = Double(bitPattern: staleMarkerBits)
                result.samples.append((labels, stale))
                overlay.append(labels, time: time, value: stale)
            }
            written[key] = output
        }
        return result
    }

    static func instantVector(_ value: Value) throws(EvaluationError) -> [VectorSample] {
        switch value {
        case .vector(let samples): return samples
        case .scalar(let number): return [VectorSample(labels: [], value: number, timestamp: 0)]
        default: throw EvaluationError("rule expression did not return a vector or a scalar")
        }
    }

    private mutating func evaluateAlert(_ rule: Rule, name: String, key: String, group: String, vector: [VectorSample], time: Int64,
                                        evaluator: Evaluator, events: inout [AlertEvent]) throws(EvaluationError) -> [Alert] {
        var current = alerts[key] ?? [:]
        var seen = Set<String>()
        var pendingUpdates: [(String, Labels, Labels, Double)] = []
        for sample in vector {
            var context = TemplateContext(labels: sample.labels, externalLabels: externalLabels, externalURL: externalURL,
                                          value: sample.value) { (expr: Expr) throws(EvaluationError) -> [VectorSample] in
                try Self.instantVector(try evaluator.evaluate(expr))
            }
            context.pastDeadline = evaluator.pastDeadline
            if let pastDeadline = evaluator.pastDeadline, pastDeadline() { throw EvaluationError.deadlinePassed }
            var labels = sample.labels.withoutName
            for (label, template) in rule.labels { labels.set(label, template.expand(context)) }
            labels.set("alertname", name)
            var annotations: Labels = []
            for (annotation, template) in rule.annotations { annotations.set(annotation, template.expand(context)) }
            let alertKey = labels.key
            guard seen.insert(alertKey).inserted else {
                throw EvaluationError("vector contains metrics with the same labelset after applying alert labels")
            }
            pendingUpdates.append((alertKey, labels, annotations, sample.value))
        }
        for (alertKey, labels, annotations, value) in pendingUpdates {
            if var alert = current[alertKey], alert.state != .inactive {
                alert.value = value
                alert.annotations = annotations
                current[alertKey] = alert
                continue
            }
            current[alertKey] = Alert(group: group, rule: name, labels: labels, annotations: annotations, state: .pending, value: value,
                                      activeAt: time, firedAt: nil, resolvedAt: nil, keepFiringSince: nil)
        }
        var active: [Alert] = []
        for (alertKey, var alert) in current.sorted(by: { $0.key < $1.key }) {
            if !seen.contains(alertKey) {
                var keepFiring = false
                if alert.state == .firing && rule.keepFiringForMs > 0 {
                    if alert.keepFiringSince == nil { alert.keepFiringSince = time }
                    if time - alert.keepFiringSince! < rule.keepFiringForMs { keepFiring = true }
                }
                if alert.state == .pending || (alert.resolvedAt.map { time - $0 > Self.resolvedRetentionMs } ?? false) {
                    current.removeValue(forKey: alertKey)
                    continue
                }
                if alert.state != .inactive && !keepFiring {
                    alert.state = .inactive
                    alert.resolvedAt = time
                    events.append(.resolved(alert))
                }
                current[alertKey] = alert
                if !keepFiring { continue }
            } else {
                alert.keepFiringSince = nil
            }
            if alert.state == .pending && time - alert.activeAt >= rule.forMs {
                alert.state = .firing
                alert.firedAt = time
                events.append(.firing(alert))
            }
            current[alertKey] = alert
            active.append(alert)
        }
        alerts[key] = current
        return active
    }

    // MARK: - Surviving a restart

    /// Pending and firing alerts with their progress, for the state file.
    public func savedState(now: Int64) -> JSONValue {
        var rules: [String: JSONValue] = [:]
        for (key, byLabels) in alerts {
            let saved = byLabels.values.filter { $0.state != .inactive }.map { alert -> JSONValue in
                var object: [String: JSONValue] = [
                    "labels": .object(Dictionary(uniqueKeysWithValues: alert.labels.map { ($0.name, JSONValue.string($0.value)) })),
                    "state": .string(alert.state.rawValue),
                    "active_at": .number(Double(alert.activeAt) / 1000),
                    "value": alert.value.isFinite ? .number(alert.value) : .string(GoFloat.v(alert.value)),
                ]
                if let firedAt = alert.firedAt { object["fired_at"] = .number(Double(firedAt) / 1000) }
                if let since = alert.keepFiringSince { object["keep_firing_since"] = .number(Double(since) / 1000) }
                return .object(object)
            }
            if !saved.isEmpty { rules[key] = .array(saved) }
        }
        return .object(["saved_at": .number(Double(now) / 1000), "rules": .object(rules)])
    }

    /// Restores what `savedState` wrote, if mastiff was down for less than the tolerance: a
    /// pending alert keeps counting its `for` from when it became active, and a firing alert
    /// stays firing without being announced again. Alerts of rules that no longer exist are
    /// dropped. Returns how many alerts were restored.
    @discardableResult
    public mutating func restore(_ state: JSONValue, now: Int64) -> Int {
        // Times are checked like input (a state file that crashes every start is a crash loop):
        // a time outside 1970–5000 drops its entry.
        guard let savedAt = state["saved_at"]?.timestamp, Double(now) / 1000 - savedAt < Double(Self.restoreToleranceMs) / 1000,
              case .object(let rules)? = state["rules"] else { return 0 }
        var known: [String: (group: String, rule: String)] = [:]
        for group in groups {
            for index in group.rules.indices where group.rules[index].isAlert {
                known[Self.ruleKey(group, index)] = (group.name, group.rules[index].name)
            }
        }
        var restored = 0
        for (key, entries) in rules {
            guard let owner = known[key], case .array(let list) = entries else { continue }
            for entry in list {
                guard case .object(let labelObject)? = entry["labels"], let stateText = entry["state"]?.string,
                      let state = AlertState(rawValue: stateText), let activeAt = entry["active_at"]?.timestamp,
                      entry["fired_at"] == nil || entry["fired_at"]?.timestamp != nil,
                      entry["keep_firing_since"] == nil || entry["keep_firing_since"]?.timestamp != nil else { continue }
                let labels = labelObject.compactMap { name, value in value.string.map { Label(name, $0) } }.sortedByName()
                let value = entry["value"]?.finite ?? entry["value"]?.string.flatMap { Double($0.replacingPlusInf) } ?? .nan
                let alert = Alert(group: owner.group, rule: owner.rule, labels: labels, annotations: [], state: state, value: value,
                                  activeAt: Int64((activeAt * 1000).rounded()),
                                  firedAt: entry["fired_at"]?.timestamp.map { Int64(($0 * 1000).rounded()) }, resolvedAt: nil,
                                  keepFiringSince: entry["keep_firing_since"]?.timestamp.map { Int64(($0 * 1000).rounded()) })
                alerts[key, default: [:]][labels.key] = alert
                restored += 1
            }
        }
        return restored
    }
}

private extension String {
    var replacingPlusInf: String { self == "+Inf" ? "inf" : self == "-Inf" ? "-inf" : self }
}

/// The storage as a rule sees it during a group's evaluation: what was stored before, plus
/// what the earlier rules of the group wrote at this time.
final class OverlayStorage: SeriesStorage {
    let base: any SeriesStorage
    private var written: [String: [(Labels, Int64, Double)]] = [:]

    init(base: any SeriesStorage) { self.base = base }

    func append(_ labels: Labels, time: Int64, value: Double) {
        written[labels.value(of: "__name__") ?? "", default: []].append((labels, time, value))
    }

    func select(_ selector: VectorSelector, after: Int64, through: Int64) -> [StoredSeries] {
        var result = base.select(selector, after: after, through: through)
        let extra = selector.metric.isEmpty ? written.values.flatMap { $0 } : written[selector.metric] ?? []
        for (labels, time, value) in extra where time > after && time <= through && selector.matchers.allSatisfy({ $0.matches(labels) }) {
            if let index = result.firstIndex(where: { $0.labels == labels }) {
                result[index].times.append(time)
                result[index].values.append(value)
            } else {
                result.append(StoredSeries(labels: labels, times: [time], values: [value]))
            }
        }
        return result
    }
}
