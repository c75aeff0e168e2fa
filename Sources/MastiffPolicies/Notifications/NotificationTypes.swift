import MastiffCore
import MastiffPromQL

/// An alert as the notification path sees it: firing, or resolved with the value it had.
public struct NotifiedAlert: Sendable, Equatable {
    public enum Status: String, Sendable { case firing, resolved }
    /// Stable for a label set, across restarts (FNV-1a of the sorted labels).
    public var fingerprint: String
    public var labels: Labels
    public var annotations: Labels
    public var status: Status
    /// When it became active (seconds since the epoch).
    public var startsAt: Double
    /// When it resolved.
    public var endsAt: Double?
    /// The value at the last evaluation that returned it (at resolution, for a resolved one).
    public var value: Double

    public init(labels: Labels, annotations: Labels, status: Status, startsAt: Double, endsAt: Double?, value: Double) {
        self.labels = labels
        self.annotations = annotations
        self.status = status
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.value = value
        fingerprint = Self.fingerprint(labels)
    }

    public static func fingerprint(_ labels: Labels) -> String {
        let hex = String(FNV1a.hash(labels.sortedByName().key), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    public var name: String { labels.value(of: "alertname") ?? "" }
}

/// One message to one receiver: a group's firing alerts and its newly resolved ones.
public struct Notification: Sendable, Equatable {
    public var id: String
    public var receiver: String
    public var groupKey: String
    public var groupLabels: Labels
    public var alerts: [NotifiedAlert]
    public var createdAt: Double
    public var attempts = 0
    public var nextAttemptAt: Double
    public var lastError: String?

    public init(id: String, receiver: String, groupKey: String, groupLabels: Labels, alerts: [NotifiedAlert], createdAt: Double, nextAttemptAt: Double) {
        self.id = id
        self.receiver = receiver
        self.groupKey = groupKey
        self.groupLabels = groupLabels
        self.alerts = alerts
        self.createdAt = createdAt
        self.nextAttemptAt = nextAttemptAt
    }

    public var status: NotifiedAlert.Status { alerts.contains { $0.status == .firing } ? .firing : .resolved }
    public var firing: [NotifiedAlert] { alerts.filter { $0.status == .firing } }
    public var resolved: [NotifiedAlert] { alerts.filter { $0.status == .resolved } }
}

/// What a receiver made of a delivery.
public enum DeliveryResult: Sendable, Equatable {
    /// Accepted (2xx, or the SMTP server took the message): `answer` is what it said, cut.
    case delivered(answer: String)
    /// Worth trying again: a timeout, a refused connection, 429 or 5xx. `retryAfter` from a
    /// Retry-After header, in seconds.
    case retry(reason: String, retryAfter: Double?)
    /// Will not work by retrying: other 4xx, a bad address, authentication refused.
    case failed(reason: String)
}

/// A silence: alerts whose labels match every matcher are not notified until `endsAt`.
public struct Silence: Sendable, Equatable {
    public var id: String
    public var matchers: [RouteMatcher]
    public var startsAt: Double
    public var endsAt: Double
    public var comment: String

    public init(id: String, matchers: [RouteMatcher], startsAt: Double, endsAt: Double, comment: String) {
        self.id = id
        self.matchers = matchers
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.comment = comment
    }

    public func matches(_ labels: Labels) -> Bool {
        matchers.allSatisfy { RouteMatching.matches($0, labels) }
    }
}

/// Alertmanager-style routing: routes in order, the first that matches wins unless it says
/// `continue`; no match: the default receivers. `Watchdog`, the always-firing dead man's
/// switch, goes only where a route names it, and to Alertmanagers (which expect it).
public enum RouteMatching {
    public static func matches(_ matcher: RouteMatcher, _ labels: Labels) -> Bool {
        let actual = labels.value(of: matcher.name) ?? ""
        guard matcher.regex else { return actual == matcher.value }
        // Anchored as Alertmanager anchors it: ^(?:…)$.
        guard let regex = try? CapturingRegex("^(?:" + matcher.value + ")$") else { return false }
        return regex.firstMatch(in: actual) != nil
    }

    public static func receivers(for labels: Labels, routes: [RouteSpec], defaultReceivers: [String], alertmanagers: Set<String>) -> [String] {
        var result: [String] = []
        var matched = false
        for route in routes where route.matchers.allSatisfy({ matches($0, labels) }) {
            if labels.value(of: "alertname") == "Watchdog", !route.matchers.contains(where: { $0.name == "alertname" }) { continue }
            matched = true
            for receiver in route.receivers where !result.contains(receiver) { result.append(receiver) }
            if !route.continue { break }
        }
        if !matched {
            result = labels.value(of: "alertname") == "Watchdog" ? defaultReceivers.filter { alertmanagers.contains($0) } : defaultReceivers
        }
        return result
    }
}
