import Logging
import MastiffCore
import MastiffPolicies
import MastiffPromQL
import Synchronization

/// The rule engine inside the agent: after each sample it evaluates the rule groups that are
/// due, on the history (which keeps, per selector, what the rules' ranges need), logs alerts
/// that fire or resolve, keeps alert states in the state file, and exposes recording rules'
/// results and its own metrics.
///
/// Driven by the sampler (no timer of its own): evaluation time is the sample's time, so the
/// rules see exactly what was sampled.
public final class Alerting: Sendable {
    private struct Registration {
        var id: Int
        var retentionMs: Int64
        var maxSeries: Int
        var source: HistoryStore.Source
    }

    /// A rule and the selectors it reads, for what their registrations could not keep.
    private struct RuleSelectors {
        var group: String
        var rule: String
        var selectors: [String]
    }

    private struct State {
        var engine: RuleEngine
        var registrations: [String: Registration] = [:]
        var lastEvaluation: [String: Int64] = [:]
        var lastDuration: [String: Double] = [:]
        /// Failed rule evaluations by group and reason (timeout, error).
        var failures: [String: [String: Int]] = [:]
        /// Recording rules' latest results, for /metrics.
        var recorded: [String: [(Labels, Double)]] = [:]
        var lastSaved: String?
        var evaluations = 0
        /// Counts reloads, so that an evaluation that ran across one is dropped.
        var generation = 0
        var ruleSelectors: [RuleSelectors] = []
        /// Selectors whose dropped series were already logged.
        var droppedWarned: Set<String> = []
    }

    private let state: Mutex<State>
    private let history: HistoryStore
    private let logger: Logger
    private let stateStore: StateStore?
    private let clock: any MonotonicClock

    public init(groups: [RuleGroup], settings: AlertSettings, history: HistoryStore, logger: Logger, stateStore: StateStore?,
                clock: any MonotonicClock = SystemMonotonicClock(), now: Double) {
        self.history = history
        self.logger = logger
        self.stateStore = stateStore
        self.clock = clock
        var engine = RuleEngine(groups: groups, externalLabels: settings.externalLabels)
        if let saved = stateStore?.section("alerts") {
            let restored = engine.restore(saved, now: Int64((now * 1000).rounded()))
            if restored > 0 { logger.info("restored alert states from the state file", metadata: ["alerts": "\(restored)"]) }
        }
        var initial = State(engine: engine)
        Self.register(groups, maxSeries: settings.maxSeries, in: &initial, history: history, logger: logger)
        state = Mutex(initial)
    }

    /// A reload's rules: alert states of rules that still exist are kept, and history
    /// registrations the new rules still need keep their points.
    public func replaceRules(_ groups: [RuleGroup], settings: AlertSettings) {
        state.withLock { state in
            var engine = RuleEngine(groups: groups, externalLabels: settings.externalLabels)
            engine.inherit(from: state.engine)
            state.engine = engine
            state.generation += 1
            state.recorded = [:]
            Self.register(groups, maxSeries: settings.maxSeries, in: &state, history: history, logger: logger)
        }
    }

    public var ruleCount: Int { state.withLock { $0.engine.groups.reduce(0) { $0 + $1.rules.count } } }

    /// One history registration per distinct selector, kept for its longest use: a range plus
    /// its offset, or the 5-minute lookback of an instant selector.
    private static func register(_ groups: [RuleGroup], maxSeries: Int, in state: inout State, history: HistoryStore, logger: Logger) {
        state.ruleSelectors = groups.flatMap { group in
            group.rules.map { rule in RuleSelectors(group: group.name, rule: rule.name, selectors: rule.expressions.flatMap { $0.selectors.map(\.0.key) }) }
        }
        let derived = Set(groups.flatMap(\.rules).compactMap { rule -> String? in
            if case .record(let name) = rule.kind { return name } else { return nil }
        } + ["ALERTS"])
        var needed: [String: (VectorSelector, Int64)] = [:]
        let intervalMs = Int64(history.sampleInterval * 1000)
        for rule in groups.flatMap(\.rules) {
            for expr in rule.expressions {
                for (selector, range) in expr.selectors {
                    // With left-open windows, [1m] over 15 s samples holds 4 points; shorter
                    // ranges hold too few for rate() and friends to say anything.
                    if range > 0 && range < 4 * intervalMs {
                        logger.warning("a rule's range holds fewer than 4 samples at this sampling.interval; its functions may return nothing",
                                       metadata: ["rule": "\(rule.name)", "selector": "\(selector.key)[\(range / 1000)s]",
                                                  "sampling.interval": "\(intervalMs / 1000)s"])
                    }
                    let retention = max(range, Evaluator.lookbackMs) + max(0, selector.offsetMs)
                    let key = selector.key
                    if let existing = needed[key], existing.1 >= retention { continue }
                    needed[key] = (selector, retention)
                }
            }
        }
        for (key, registration) in state.registrations where needed[key]?.1 != registration.retentionMs || registration.maxSeries != maxSeries {
            history.unregister(registration.id)
            state.registrations.removeValue(forKey: key)
        }
        for (key, (selector, retention)) in needed.sorted(by: { $0.key < $1.key }) where state.registrations[key] == nil {
            let source: HistoryStore.Source = derived.contains(selector.metric) ? .derived : .sample
            do {
                let id = try history.register(consumer: "rules", metric: selector.metric, matching: selector.matchers,
                                              retention: .milliseconds(retention), maxSeries: maxSeries, source: source)
                state.registrations[key] = Registration(id: id, retentionMs: retention, maxSeries: maxSeries, source: source)
            } catch {
                logger.error("a rule's selector cannot keep history; rules reading it see no data", metadata: ["selector": "\(key)", "error": "\(error)"])
            }
        }
    }

    /// The longest one rule group's evaluation may take; past it the group's remaining rules
    /// fail with reason "timeout" (and keep their alerts), so that no expression or template
    /// can hold the sampler.
    public static let maxGroupEvaluation: Duration = .seconds(5)

    /// Evaluates the groups due at this sample (each group every `interval`: its own, else
    /// alerts.interval, else every sample), each within `min(its interval / 2, 5 s)`.
    ///
    /// The engine is evaluated as a copy, outside the lock: scrapes, the status page and
    /// `alerts list` read the last results meanwhile and never wait for an evaluation. A reload
    /// during an evaluation wins: that evaluation's results are dropped.
    /// Evaluates the groups due at the snapshot's time and returns what the notifier and the
    /// restart service act on.
    @discardableResult
    public func evaluate(_ snapshot: Snapshot, defaultIntervalMs: Int64?) -> AlertingOutcome {
        let time = Int64((snapshot.time * 1000).rounded())
        var events: [AlertEvent] = []
        let (start, generation, registrations, lastEvaluation) = state.withLock { ($0.engine, $0.generation, $0.registrations, $0.lastEvaluation) }
        var engine = start
        let storage = HistoryStorage(history: history, registrations: registrations.mapValues(\.id))
        var derived: [String: [(Labels, Double)]] = [:]
        var evaluatedNames = Set<String>(["ALERTS"])
        var recorded: [String: [(Labels, Double)]] = [:]
        var durations: [String: Double] = [:]
        var evaluatedAt: [String: Int64] = [:]
        var failures: [String: [String: Int]] = [:]
        for index in engine.groups.indices {
            let group = engine.groups[index]
            let interval = group.intervalMs ?? defaultIntervalMs
            if let interval, let last = lastEvaluation[group.name], time - last < interval - interval / 10 {
                continue
            }
            let started = clock.elapsed()
            let budget = min(Self.maxGroupEvaluation, interval.map { .milliseconds(max(1, $0 / 2)) } ?? Self.maxGroupEvaluation)
            let clock = self.clock
            let evaluation = engine.evaluate(groupAt: index, time: time, storage: storage, pastDeadline: { clock.elapsed() - started > budget },
                                            subqueryStepMs: defaultIntervalMs ?? Int64(history.sampleInterval * 1000))
            durations[group.name] = (clock.elapsed() - started).seconds
            evaluatedAt[group.name] = time
            failures[group.name] = [:]
            for failure in evaluation.failures {
                let reason = (failure.reason == EvaluationError.deadlinePassed.description) ? "timeout" : "error"
                failures[group.name]![reason, default: 0] += 1
                logger.warning("rule evaluation failed", metadata: ["rule.group": "\(group.name)", "rule": "\(failure.rule)", "error": "\(failure.reason)"])
            }
            if evaluation.timedOut {
                logger.error("rule group evaluation stopped at its deadline; the rules not evaluated keep their alerts",
                             metadata: ["rule.group": "\(group.name)", "deadline_seconds": "\(budget.seconds)"])
            }
            for rule in group.rules where !rule.isAlert {
                evaluatedNames.insert(rule.name)
                recorded[rule.name] = []
            }
            for sample in evaluation.samples where !isStale(sample.value) {
                let name = sample.labels.value(of: "__name__") ?? ""
                if name != "ALERTS" { recorded[name, default: []].append((sample.labels, sample.value)) }
                derived[name, default: []].append((sample.labels, sample.value))
            }
            events += evaluation.events
        }
        // ALERTS from every group, pending and firing, so that groups evaluated at other
        // times do not end each other's series.
        derived["ALERTS"] = engine.activeAlerts.filter { $0.state != .inactive }.map { alert in
            var labels = alert.labels
            labels.set("__name__", "ALERTS")
            labels.set("alertstate", alert.state.rawValue)
            return (labels, 1.0)
        }
        let families = derived.filter { evaluatedNames.contains($0.key) }.map { name, samples in
            MetricFamily(name: name, help: "", type: .gauge, samples: samples.map { Sample(labels: $0.0.withoutName, value: $0.1) })
        }
        let current = engine.savedState(now: time)
        let fingerprint = Self.fingerprint(current)
        let (saved, applied) = state.withLock { state -> (JSONValue?, Bool) in
            guard state.generation == generation else { return (nil, false) }
            state.engine = engine
            state.evaluations += 1
            state.lastEvaluation.merge(evaluatedAt) { $1 }
            state.lastDuration.merge(durations) { $1 }
            for (group, reasons) in failures {
                for (reason, count) in reasons { state.failures[group, default: [:]][reason, default: 0] += count }
                if state.failures[group] == nil { state.failures[group] = [:] }
            }
            state.recorded.merge(recorded) { $1 }
            guard fingerprint != state.lastSaved else { return (nil, true) }
            state.lastSaved = fingerprint
            return (current, true)
        }
        guard applied else { return outcome() }
        warnAboutDroppedSeries()
        history.record(families + evaluatedNames.filter { derived[$0] == nil }.map { MetricFamily(name: $0, help: "", type: .gauge) },
                       at: snapshot.time, source: .derived, onlyMetrics: evaluatedNames)
        for event in events { log(event) }
        // Staged: StateFlushService writes it within a second, off the sample's path.
        if let saved, let stateStore { stateStore.stage("alerts", saved) }
        return outcome()
    }

    /// Once per selector: its rules do not see every series (alerts.max_series, or the
    /// history's memory limit), which the admin must know to trust what does not fire.
    private func warnAboutDroppedSeries() {
        let (registrations, rules, warned) = state.withLock { ($0.registrations, $0.ruleSelectors, $0.droppedWarned) }
        for (key, registration) in registrations.sorted(by: { $0.key < $1.key }) where !warned.contains(key) {
            let dropped = history.droppedSeries(registration.id)
            guard dropped > 0 else { continue }
            let readers = rules.filter { $0.selectors.contains(key) }.map { "\($0.group)/\($0.rule)" }
            logger.warning("a rule's selector matches more series than it may keep; the rules do not see the rest (raise alerts.max_series, or sampling.history_limit)",
                           metadata: ["selector": "\(key)", "rules": "\(readers.joined(separator: ", "))", "alerts.max_series": "\(registration.maxSeries)",
                                      "series_dropped": "\(dropped)"])
            state.withLock { _ = $0.droppedWarned.insert(key) }
        }
    }

    /// What identifies a saved state apart from its time and values: which alerts, in which
    /// state, since when. The state file is written only when that changes.
    private static func fingerprint(_ saved: JSONValue) -> String {
        guard case .object(let rules)? = saved["rules"] else { return "" }
        return rules.keys.sorted().map { key in
            let entries = rules[key]?.array ?? []
            return key + ":" + entries.map { entry in
                "\(entry["labels"]?.serialized(indent: false) ?? "")|\(entry["state"]?.string ?? "")|\(entry["active_at"]?.double ?? 0)|\(entry["keep_firing_since"]?.double ?? 0)"
            }.sorted().joined(separator: ";")
        }.joined(separator: "\n")
    }

    private func log(_ event: AlertEvent) {
        switch event {
        case .firing(let alert):
            logger.warning("alert firing", metadata: metadata(alert))
        case .resolved(let alert):
            logger.notice("alert resolved", metadata: metadata(alert))
        }
    }

    private func metadata(_ alert: Alert) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["alertname": "\(alert.rule)", "value": "\(GoFloat.v(alert.value))",
                                         "active_since": "\(Double(alert.activeAt) / 1000)"]
        for label in alert.labels where label.name != "alertname" { metadata["label.\(label.name)"] = "\(label.value)" }
        for annotation in alert.annotations { metadata["annotation.\(annotation.name)"] = "\(annotation.value)" }
        return metadata
    }

    // MARK: - What others read

    /// What the alerts are now: those to notify and the names of those firing.
    public func outcome() -> AlertingOutcome {
        state.withLock { AlertingOutcome($0.engine.activeAlerts, externalLabels: $0.engine.externalLabels) }
    }

    /// Pending and firing alerts, for `mastiff alerts list` and the status; `deliveries` says
    /// where each was sent and when.
    public func alertsJSON(now: Double, deliveries: [String: [String: Double]] = [:]) -> JSONValue {
        let (alerts, rules) = state.withLock { ($0.engine.activeAlerts.filter { $0.state != .inactive }, $0.engine.groups.reduce(0) { $0 + $1.rules.count }) }
        return .object([
            "ok": .bool(true),
            "now": .number(now),
            "rules": .number(Double(rules)),
            "alerts": .array(alerts.map { alert in
                var object: [String: JSONValue] = [
                    "labels": .object(Dictionary(uniqueKeysWithValues: alert.labels.map { ($0.name, JSONValue.string($0.value)) })),
                    "annotations": .object(Dictionary(uniqueKeysWithValues: alert.annotations.map { ($0.name, JSONValue.string($0.value)) })),
                    "state": .string(alert.state.rawValue),
                    "value": alert.value.isFinite ? .number(alert.value) : .string(GoFloat.v(alert.value)),
                    "active_at": .number(Double(alert.activeAt) / 1000),
                    "group": .string(alert.group),
                ]
                if let firedAt = alert.firedAt { object["fired_at"] = .number(Double(firedAt) / 1000) }
                if let sent = deliveries[NotifiedAlert.fingerprint(alert.labels)] { object["sent"] = .object(sent.mapValues { .number($0) }) }
                return .object(object)
            }),
        ])
    }

    public var counts: (pending: Int, firing: Int) {
        state.withLock { state in
            let alerts = state.engine.activeAlerts
            return (alerts.filter { $0.state == .pending }.count, alerts.filter { $0.state == .firing }.count)
        }
    }

    /// `mastiff_alerts`, the rule groups' metrics, and recording rules' results under their
    /// names (those without ':').
    public func metrics() -> [MetricFamily] {
        state.withLock { state in
            var counts: [String: Double] = [:]
            var keys: [String: [Label]] = [:]
            for group in state.engine.groups {
                for rule in group.rules where rule.isAlert {
                    let severity = rule.labels.first { $0.0 == "severity" }.map { $0.1.isConstant ? $0.1.text : "" } ?? ""
                    for alertState in ["pending", "firing"] {
                        let labels = [Label("alertname", rule.name), Label("severity", severity), Label("state", alertState)]
                        keys[labels.key] = labels
                        counts[labels.key, default: 0] += 0
                    }
                }
            }
            for alert in state.engine.activeAlerts where alert.state != .inactive {
                let labels = [Label("alertname", alert.rule), Label("severity", alert.labels.value(of: "severity") ?? ""),
                              Label("state", alert.state.rawValue)]
                keys[labels.key] = labels
                counts[labels.key, default: 0] += 1
            }
            var families = [
                MetricFamily(name: "mastiff_alerts", help: "Alerts of mastiff's own rule evaluation, by name, severity and state.", type: .gauge,
                             samples: keys.keys.sorted().map { Sample(labels: keys[$0]!, value: counts[$0]!) }),
                MetricFamily(name: "mastiff_rule_group_last_duration_seconds", help: "How long the last evaluation of each rule group took.",
                             type: .gauge, samples: state.lastDuration.keys.sorted().map { Sample(labels: [Label("group", $0)], value: state.lastDuration[$0]!) }),
                MetricFamily(name: "mastiff_rule_group_last_evaluation_timestamp_seconds", help: "When each rule group was last evaluated.",
                             type: .gauge, samples: state.lastEvaluation.keys.sorted().map { Sample(labels: [Label("group", $0)], value: Double(state.lastEvaluation[$0]!) / 1000) }),
                MetricFamily(name: "mastiff_rule_evaluation_failures_total",
                             help: "Rule evaluations that failed, by group and reason (error: for example a many-to-many match; timeout: the group's deadline passed).",
                             type: .counter, samples: state.engine.groups.flatMap { group in
                                 ["error", "timeout"].map { Sample(labels: [Label("group", group.name), Label("reason", $0)], value: Double(state.failures[group.name]?[$0] ?? 0)) }
                             }),
            ]
            // One series per group and rule name (a group may hold two rules of one name).
            var dropped: [String: (Labels, Int)] = [:]
            for rule in state.ruleSelectors where !rule.selectors.isEmpty {
                let labels: Labels = [Label("group", rule.group), Label("rule", rule.rule)]
                let count = Set(rule.selectors).compactMap { state.registrations[$0] }.reduce(0) { $0 + history.droppedSeries($1.id) }
                dropped[labels.key, default: (labels, 0)].1 += count
            }
            families.append(MetricFamily(name: "mastiff_rule_series_dropped_total",
                                         help: "Series a rule's selectors matched but could not keep (alerts.max_series or sampling.history_limit): the rule does not see them.",
                                         type: .counter, samples: dropped.keys.sorted().map { Sample(labels: dropped[$0]!.0, value: Double(dropped[$0]!.1)) }))
            // Names with ':' follow Prometheus's convention for recording rules; promtool's lint
            // refuses them in an exposition, and a Prometheus loading the same rule file records
            // them itself, so they stay inside mastiff (docs/adr/0012-rules-evaluated-in-the-agent.md).
            for name in state.recorded.keys.sorted() where !name.contains(":") {
                let samples = state.recorded[name]!
                guard !samples.isEmpty else { continue }
                families.append(MetricFamily(name: name, help: "Recording rule \(name), evaluated by mastiff.", type: .gauge,
                                             samples: samples.map { Sample(labels: $0.0.withoutName, value: $0.1) }))
            }
            return families
        }
    }
}

/// The history as the rule engine reads it: each selector's registration, converted to
/// PromQL's millisecond timestamps and `__name__`-labelled series.
struct HistoryStorage: SeriesStorage {
    let history: HistoryStore
    let registrations: [String: Int]

    func select(_ selector: VectorSelector, after: Int64, through: Int64) -> [StoredSeries] {
        guard let id = registrations[selector.key] else { return [] }
        return history.series(id, now: Double(through) / 1000 + 0.001).compactMap { series in
            var times: [Int64] = []
            var values: [Double] = []
            for point in series.points {
                let time = Int64((point.time * 1000).rounded())
                guard time > after && time <= through else { continue }
                times.append(time)
                values.append(point.value)
            }
            guard !times.isEmpty else { return nil }
            return StoredSeries(labels: (series.labels + [Label("__name__", series.name)]).sortedByName(), times: times, values: values)
        }
    }
}

private func isStale(_ value: Double) -> Bool { HistoryStore.isStale(value) }

/// The alerts after an evaluation, as the notifier and the restart service read them.
public struct AlertingOutcome: Sendable {
    /// Firing alerts and those resolved in the last 15 minutes, for the notifier.
    public var notifiable: [NotifiedAlert]
    /// Names of the alerts firing now (restart targets' on_alert).
    public var firing: Set<String>
    /// The processes firing alerts name with a `pid` label, and the `hostname` beside it (a
    /// Sidekiq's host): what on_alert restarts rather than the largest process.
    public var namedProcesses: [String: [(hostname: String?, pid: Int)]]

    public init(notifiable: [NotifiedAlert] = [], firing: Set<String> = [], namedProcesses: [String: [(hostname: String?, pid: Int)]] = [:]) {
        self.notifiable = notifiable
        self.firing = firing
        self.namedProcesses = namedProcesses
    }

    /// `externalLabels` go on every notified alert that has no label of the same name, as
    /// Prometheus attaches its external labels to the alerts it sends to Alertmanager: with
    /// `alerts.external_labels: {host: web-1}` on each agent, alerts of different hosts stay apart
    /// in Alertmanager, routes and silences can match the host, and messages name it.
    init(_ alerts: [Alert], externalLabels: Labels = []) {
        firing = Set(alerts.filter { $0.state == .firing }.map(\.rule))
        var named: [String: [(hostname: String?, pid: Int)]] = [:]
        for alert in alerts where alert.state == .firing {
            guard let pid = alert.labels.value(of: "pid").flatMap(Int.init), pid > 0 else { continue }
            named[alert.rule, default: []].append((alert.labels.value(of: "hostname"), pid))
        }
        namedProcesses = named
        func labels(_ alert: Alert) -> Labels {
            let missing = externalLabels.filter { alert.labels.value(of: $0.name) == nil }
            return missing.isEmpty ? alert.labels : (alert.labels + missing).sortedByName()
        }
        notifiable = alerts.compactMap { alert -> NotifiedAlert? in
            switch alert.state {
            case .pending: return nil
            case .firing:
                return NotifiedAlert(labels: labels(alert), annotations: alert.annotations, status: .firing, startsAt: Double(alert.activeAt) / 1000,
                                     endsAt: nil, value: alert.value)
            case .inactive:
                return NotifiedAlert(labels: labels(alert), annotations: alert.annotations, status: .resolved, startsAt: Double(alert.activeAt) / 1000,
                                     endsAt: alert.resolvedAt.map { Double($0) / 1000 }, value: alert.value)
            }
        }
    }
}
