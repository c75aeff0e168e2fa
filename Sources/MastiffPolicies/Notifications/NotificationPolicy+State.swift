import MastiffCore
import MastiffPromQL

/// The policy in the state file, compactly: each alert's labels and annotations once, in a
/// table by fingerprint, and queued notifications and groups referring to it. 10,000 queued
/// notifications about a few dozen alerts take about 1 MiB (docs/benchmarks.md).
extension NotificationPolicy {
    private static func number(_ value: Double) -> JSONValue { value.isFinite ? .number(value) : .string(GoFloat.v(value)) }
    private static func double(_ value: JSONValue?) -> Double? {
        if case .number(let number)? = value { return number }
        switch value?.string {
        case "+Inf"?: return .infinity
        case "-Inf"?: return -.infinity
        case "NaN"?: return .nan
        default: return nil
        }
    }
    private static func labels(_ labels: Labels) -> JSONValue { .object(Dictionary(uniqueKeysWithValues: labels.map { ($0.name, .string($0.value)) })) }
    private static func labels(_ value: JSONValue?) -> Labels {
        guard case .object(let members)? = value else { return [] }
        return members.compactMap { name, value in value.string.map { Label(name, $0) } }.sortedByName()
    }

    private static func reference(_ alert: NotifiedAlert) -> JSONValue {
        alert.status == .firing ? .array([.string(alert.fingerprint), number(alert.value)])
            : .array([.string(alert.fingerprint), number(alert.value), alert.endsAt.map { .number($0) } ?? .null])
    }

    /// What of an alert's annotations the state file keeps: the rule engine renders them anew
    /// at every evaluation, so the file needs only what a queued notification will say, and a
    /// thousand alerts with 5 KB of description must not push the state past its 4 MiB (after
    /// which nothing would be saved at all).
    static let maxAnnotationBytes = 1024
    static let maxAnnotations = 16

    static func kept(_ annotations: Labels) -> Labels {
        annotations.prefix(maxAnnotations).map { annotation in
            guard annotation.value.utf8.count > maxAnnotationBytes else { return annotation }
            return Label(annotation.name, String(decoding: annotation.value.utf8.prefix(maxAnnotationBytes - 3), as: UTF8.self) + "…")
        }
    }

    /// Notification and silence numbers stay far from overflow however long mastiff runs.
    static let maxSequence = 1 << 50

    public func savedState() -> JSONValue {
        var table: [String: JSONValue] = [:]
        func remember(_ alert: NotifiedAlert) {
            table[alert.fingerprint] = .object(["l": Self.labels(alert.labels), "a": Self.labels(Self.kept(alert.annotations)), "s": .number(alert.startsAt)])
        }
        var queued: [JSONValue] = []
        for notification in queue {
            notification.alerts.forEach(remember)
            var entry: [String: JSONValue] = [
                "id": .string(notification.id), "r": .string(notification.receiver), "gl": Self.labels(notification.groupLabels),
                "c": .number(notification.createdAt), "x": .array(notification.alerts.map(Self.reference)),
            ]
            // Defaults left out: most entries are fresh.
            if notification.nextAttemptAt != notification.createdAt { entry["n"] = .number(notification.nextAttemptAt) }
            if notification.attempts > 0 { entry["t"] = .number(Double(notification.attempts)) }
            if let error = notification.lastError { entry["e"] = .string(String(error.prefix(200))) }
            queued.append(.object(entry))
        }
        var savedGroups: [JSONValue] = []
        for group in groups.values.sorted(by: { ($0.receiver, $0.key) < ($1.receiver, $1.key) }) {
            group.alerts.values.forEach(remember)
            var entry: [String: JSONValue] = [
                "r": .string(group.receiver), "g": .string(group.key), "gl": Self.labels(group.labels), "c": .number(group.createdAt),
                "nf": .array(group.notifiedFiring.sorted().map { .string($0) }),
                "x": .array(group.alerts.values.sorted { $0.fingerprint < $1.fingerprint }.map(Self.reference)),
            ]
            if let lastFlush = group.lastFlush { entry["lf"] = .number(lastFlush) }
            if let lastNotification = group.lastNotification { entry["ln"] = .number(lastNotification) }
            savedGroups.append(.object(entry))
        }
        var object: [String: JSONValue] = [
            "v": .number(1), "seq": .number(Double(sequence)), "alerts": .object(table), "queue": .array(queued), "groups": .array(savedGroups),
            "silences": .array(silences.map { silence in
                .object(["id": .string(silence.id), "s": .number(silence.startsAt), "e": .number(silence.endsAt), "comment": .string(silence.comment),
                         "m": .array(silence.matchers.map { .array([.string($0.name), .string($0.value), .bool($0.regex)]) })])
            }),
            "last_success": .object(lastSuccess.mapValues { .number($0) }),
        ]
        if let manual = manualMaintenance { object["maintenance"] = .object(["until": .number(manual.until), "reason": .string(manual.reason)]) }
        return .object(object)
    }

    /// Restores what `savedState` wrote. Entries that cannot be read are skipped (and counted).
    @discardableResult
    public mutating func restore(_ state: JSONValue) -> (queued: Int, skipped: Int) {
        guard case .object(let table)? = state["alerts"] else { return (0, 0) }
        var skipped = 0
        func alert(_ reference: JSONValue) -> NotifiedAlert? {
            // [fingerprint, value] while firing; [fingerprint, value, endsAt] once resolved.
            guard case .array(let parts) = reference, parts.count == 2 || parts.count == 3, let fingerprint = parts[0].string,
                  let entry = table[fingerprint], let startsAt = entry["s"]?.timestamp else { return nil }
            // A resolved alert's end must be a time too; a firing one has none.
            let endsAt = parts.count == 3 ? parts[2].timestamp : nil
            guard parts.count == 2 || endsAt != nil else { return nil }
            var result = NotifiedAlert(labels: Self.labels(entry["l"]), annotations: Self.labels(entry["a"]),
                                       status: parts.count == 2 ? .firing : .resolved, startsAt: startsAt, endsAt: endsAt,
                                       value: Self.double(parts[1]) ?? .nan)
            result.fingerprint = fingerprint
            return result
        }
        // Every number is checked like input: a state file is written by mastiff, but a file
        // that crashes every start is a crash loop no restart can end.
        sequence = max(sequence, min(state["seq"]?.integer ?? 0, Self.maxSequence))
        var ids = Set(queue.map(\.id))
        for entry in state["queue"]?.array ?? [] {
            guard let id = entry["id"]?.string, let receiver = entry["r"]?.string, let created = entry["c"]?.timestamp,
                  case .array(let references)? = entry["x"], entry["n"] == nil || entry["n"]?.timestamp != nil else {
                skipped += 1
                continue
            }
            let alerts = references.compactMap(alert)
            guard alerts.count == references.count, ids.insert(id).inserted else {
                skipped += 1
                continue
            }
            let groupLabels = Self.labels(entry["gl"])
            var notification = Notification(id: id, receiver: receiver, groupKey: groupLabels.promQLText, groupLabels: groupLabels,
                                             alerts: alerts, createdAt: created, nextAttemptAt: entry["n"]?.timestamp ?? created)
            notification.attempts = min(max(entry["t"]?.integer ?? 0, 0), 1_000_000)
            notification.lastError = entry["e"]?.string
            queue.append(notification)
        }
        for entry in state["groups"]?.array ?? [] {
            guard let receiver = entry["r"]?.string, let key = entry["g"]?.string, let created = entry["c"]?.timestamp,
                  case .array(let references)? = entry["x"] else {
                skipped += 1
                continue
            }
            var group = Group(receiver: receiver, key: key, labels: Self.labels(entry["gl"]), createdAt: created)
            for reference in references { if let restored = alert(reference) { group.alerts[restored.fingerprint] = restored } }
            group.notifiedFiring = Set((entry["nf"]?.array ?? []).compactMap(\.string))
            group.lastFlush = entry["lf"]?.timestamp
            group.lastNotification = entry["ln"]?.timestamp
            groups[receiver + "\u{0}" + key] = group
        }
        for entry in state["silences"]?.array ?? [] {
            guard let id = entry["id"]?.string, let startsAt = entry["s"]?.timestamp, let endsAt = entry["e"]?.timestamp else {
                skipped += 1
                continue
            }
            let matchers = (entry["m"]?.array ?? []).compactMap { matcher -> RouteMatcher? in
                guard case .array(let parts) = matcher, parts.count == 3, let name = parts[0].string, let value = parts[1].string else { return nil }
                return RouteMatcher(name: name, value: value, regex: parts[2] == .bool(true))
            }
            silences.append(Silence(id: id, matchers: matchers, startsAt: startsAt, endsAt: endsAt, comment: entry["comment"]?.string ?? ""))
            if let number = Int(id.dropFirst()) { sequence = max(sequence, min(number, Self.maxSequence)) }
        }
        if let until = state["maintenance"]?["until"]?.timestamp {
            manualMaintenance = (until, state["maintenance"]?["reason"]?.string ?? "")
        }
        if case .object(let members)? = state["last_success"] {
            for (name, value) in members { if let time = value.timestamp { lastSuccess[name] = time } }
        }
        let names = Set(receivers.map(\.name))
        let before = queue.count
        queue.removeAll { !names.contains($0.receiver) }
        groups = groups.filter { names.contains($0.value.receiver) }
        return (queue.count, skipped + before - queue.count)
    }
}
