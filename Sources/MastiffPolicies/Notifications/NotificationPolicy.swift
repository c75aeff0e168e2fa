import MastiffCore
import MastiffPromQL

/// Routing, grouping and the delivery queue of notifications: Alertmanager's model kept small,
/// with the queue in the state file so that nothing is lost across failures and restarts.
///
/// - `observe` takes every firing and recently resolved alert after each evaluation; each goes
///   to the receivers its route names, into a group per receiver and `group_by` labels.
/// - `flush` sends a group's first notification `group_wait` after it formed, then looks again
///   every `group_interval`: new firing alerts or resolved ones that were announced make a new
///   notification; an unchanged firing group is repeated every `repeat_interval`. During
///   maintenance groups are held (not flushed); when it ends, what still fires is sent, and
///   what resolved meanwhile without having been announced is not.
/// - `due` hands out notifications whose time has come (within each receiver's hourly limit);
///   `record` takes the outcome: delivered, retried with exponential backoff and jitter (or
///   the server's Retry-After) until `give_up_after`, or failed for good.
///
/// Pure: time, jitter and outcomes come from the caller (the agent's Notifier).
public struct NotificationPolicy: Sendable {
    /// The receiver notifications go to when the configuration names none: the log.
    public static let logReceiverName = "log"

    /// What the policy needs of a receiver, read from its `alerts.receivers` entry.
    struct Receiver: Sendable {
        var name: String
        var sendResolved = true
        var maxPerHour = 0
        var giveUpAfter: Double = 86400
        /// Alertmanager receivers take every alert as it is, re-sent while firing; they do not
        /// go through groups and the queue.
        var isAlertmanager = false
    }

    struct Group: Sendable {
        var receiver: String
        var key: String
        var labels: Labels
        var alerts: [String: NotifiedAlert] = [:]
        var notifiedFiring: Set<String> = []
        var createdAt: Double
        var lastFlush: Double?
        var lastNotification: Double?
    }

    /// Something the caller should log.
    public enum Event: Sendable, Equatable {
        case gaveUp(Notification, reason: String)
        case failed(Notification, reason: String)
        case retrying(Notification, reason: String, next: Double)
        case maintenanceStarted(reason: String)
        case maintenanceEnded
    }

    /// `alerts:` as configured; what follows is read from it once, not kept as a second shape.
    public private(set) var settings: AlertSettings
    /// The configured receivers, or the log when there are none.
    private(set) var receivers: [Receiver] = []
    /// Their names, in configuration order: what metrics and `mastiff status` list.
    public var receiverNames: [String] { receivers.map(\.name) }
    /// Receivers of alerts no route matches: `default_receivers`, else every receiver.
    private(set) var defaultReceivers: [String] = []
    /// Maintenance windows whose cron the loader already checked.
    private var windows: [(schedule: CronSchedule, duration: Double, reason: String)] = []
    var groups: [String: Group] = [:]
    public internal(set) var queue: [Notification] = []
    var inFlight: Set<String> = []
    var sentTimes: [String: [Double]] = [:]
    public internal(set) var silences: [Silence] = []
    public internal(set) var manualMaintenance: (until: Double, reason: String)?
    var sequence = 0
    var wasInMaintenance = false
    /// The latest alerts seen, for Alertmanager receivers and `alerts list`.
    public internal(set) var current: [NotifiedAlert] = []
    /// Per alert fingerprint: where and when it was last delivered.
    public internal(set) var deliveries: [String: [String: Double]] = [:]
    public internal(set) var counters: [String: [String: Int]] = [:]
    public internal(set) var lastSuccess: [String: Double] = [:]
    public internal(set) var events: [Event] = []
    var alertmanagerCadence: [String: AlertmanagerCadence] = [:]
    /// Changes whenever something the state file holds changes, so that the caller writes it
    /// only then (serializing a long queue every second would cost for nothing).
    public internal(set) var revision = 0

    private var groupShape: [String: [String: NotifiedAlert.Status]] {
        groups.mapValues { $0.alerts.mapValues(\.status) }
    }

    public init(settings: AlertSettings) {
        self.settings = settings
        apply(settings)
    }

    private mutating func apply(_ settings: AlertSettings) {
        self.settings = settings
        receivers = settings.receivers.map { spec in
            var isAlertmanager = false
            if case .alertmanager = spec.kind { isAlertmanager = true }
            return Receiver(name: spec.name, sendResolved: spec.sendResolved, maxPerHour: spec.maxPerHour, giveUpAfter: spec.giveUpAfter.seconds,
                            isAlertmanager: isAlertmanager)
        }
        if receivers.isEmpty { receivers = [Receiver(name: Self.logReceiverName)] }
        defaultReceivers = settings.defaultReceivers ?? receivers.map(\.name)
        windows = settings.maintenanceWindows.compactMap { window in
            (try? CronSchedule(window.cron)).map { ($0, window.duration.seconds, window.reason) }
        }
    }

    /// A reload's settings: groups and queued notifications of receivers that still exist stay.
    public mutating func replaceSettings(_ settings: AlertSettings) {
        apply(settings)
        let names = Set(receivers.map(\.name))
        groups = groups.filter { names.contains($0.value.receiver) }
        queue.removeAll { !names.contains($0.receiver) }
    }

    private func receiver(_ name: String) -> Receiver? { receivers.first { $0.name == name } }

    public mutating func takeEvents() -> [Event] {
        defer { events = [] }
        return events
    }

    // MARK: - Maintenance and silences

    /// Whether notifications are held now, and why.
    public func maintenance(at now: Double) -> (active: Bool, reason: String, until: Double?) {
        if let manual = manualMaintenance, now < manual.until { return (true, manual.reason, manual.until) }
        for window in windows {
            if let start = window.schedule.windowStart(containing: now, duration: window.duration) {
                return (true, window.reason, start + window.duration)
            }
        }
        return (false, "", nil)
    }

    public mutating func startMaintenance(until: Double, reason: String) {
        manualMaintenance = (until, reason)
        revision += 1
    }

    public mutating func endMaintenance() {
        manualMaintenance = nil
        revision += 1
    }

    public mutating func addSilence(matchers: [RouteMatcher], startsAt: Double, endsAt: Double, comment: String) -> Silence {
        sequence += 1
        let silence = Silence(id: "s\(sequence)", matchers: matchers, startsAt: startsAt, endsAt: endsAt, comment: comment)
        silences.append(silence)
        revision += 1
        return silence
    }

    @discardableResult
    public mutating func expireSilence(_ id: String, now: Double) -> Bool {
        guard let index = silences.firstIndex(where: { $0.id == id && $0.endsAt > now }) else { return false }
        silences[index].endsAt = now
        revision += 1
        return true
    }

    public func activeSilences(at now: Double) -> [Silence] { silences.filter { $0.startsAt <= now && now < $0.endsAt } }

    // MARK: - Alerts in

    private func groupKey(_ labels: Labels) -> (String, Labels) {
        let grouped = settings.groupBy.compactMap { name in labels.value(of: name).map { Label(name, $0) } }.sortedByName()
        return (grouped.promQLText, grouped)
    }

    /// Every firing alert and the recently resolved ones, after an evaluation.
    public mutating func observe(_ alerts: [NotifiedAlert], now: Double) {
        let before = groupShape
        defer { if groupShape != before { revision += 1 } }
        silences.removeAll { $0.endsAt < now - 86400 }
        let silenced = Set(alerts.filter { alert in activeSilences(at: now).contains { $0.matches(alert.labels) } }.map(\.fingerprint))
        current = alerts.filter { !silenced.contains($0.fingerprint) }
        let alertmanagers = Set(self.receivers.filter(\.isAlertmanager).map(\.name))
        var present: [String: Set<String>] = [:]
        for alert in current {
            let receivers = RouteMatching.receivers(for: alert.labels, routes: settings.routes, defaultReceivers: defaultReceivers,
                                                    alertmanagers: alertmanagers)
            for name in receivers where !alertmanagers.contains(name) {
                let (key, labels) = groupKey(alert.labels)
                let id = name + "\u{0}" + key
                present[id, default: []].insert(alert.fingerprint)
                switch alert.status {
                case .firing:
                    if groups[id] == nil { groups[id] = Group(receiver: name, key: key, labels: labels, createdAt: now) }
                    groups[id]!.alerts[alert.fingerprint] = alert
                case .resolved:
                    // Only an alert the group holds as firing resolves in it; the engine keeps
                    // reporting resolved alerts for 15 minutes.
                    guard let existing = groups[id]?.alerts[alert.fingerprint], existing.status == .firing else { continue }
                    groups[id]!.alerts[alert.fingerprint] = alert
                }
            }
        }
        // An alert that vanished (its rule removed, or silenced now) resolves where it fired.
        for id in groups.keys {
            for (fingerprint, alert) in groups[id]!.alerts where alert.status == .firing && present[id]?.contains(fingerprint) != true {
                var resolved = alert
                resolved.status = .resolved
                resolved.endsAt = now
                groups[id]!.alerts[fingerprint] = silenced.contains(fingerprint) ? nil : resolved
                if silenced.contains(fingerprint) { groups[id]!.notifiedFiring.remove(fingerprint) }
            }
        }
    }

    /// Turns due groups into queued notifications.
    public mutating func flush(now: Double) {
        let queued = queue.count
        let before = groupShape
        defer { if queue.count != queued || groupShape != before { revision += 1 } }
        let maintenance = self.maintenance(at: now)
        if maintenance.active != wasInMaintenance {
            events.append(maintenance.active ? .maintenanceStarted(reason: maintenance.reason) : .maintenanceEnded)
            wasInMaintenance = maintenance.active
        }
        if maintenance.active { return }
        for id in groups.keys.sorted() {
            var group = groups[id]!
            let dueAt = group.lastFlush.map { $0 + settings.groupInterval.seconds } ?? group.createdAt + settings.groupWait.seconds
            guard now >= dueAt else { continue }
            let firing = group.alerts.values.filter { $0.status == .firing }
            let resolved = group.alerts.values.filter { $0.status == .resolved }
            let sendResolved = receiver(group.receiver)?.sendResolved ?? true
            let newFiring = firing.filter { !group.notifiedFiring.contains($0.fingerprint) }
            let resolvedNotices = sendResolved ? resolved.filter { group.notifiedFiring.contains($0.fingerprint) } : []
            let repeatDue = !firing.isEmpty && (group.lastNotification.map { now - $0 >= settings.repeatInterval.seconds } ?? true)
            let announcedGone = !group.notifiedFiring.isSubset(of: Set(firing.map(\.fingerprint)))
            if !newFiring.isEmpty || !resolvedNotices.isEmpty || repeatDue || (announcedGone && !firing.isEmpty) {
                let alerts = firing.sorted { $0.labels.promQLText < $1.labels.promQLText } + resolvedNotices.sorted { $0.labels.promQLText < $1.labels.promQLText }
                if !alerts.isEmpty {
                    sequence += 1
                    queue.append(Notification(id: "n\(sequence)", receiver: group.receiver, groupKey: group.key, groupLabels: group.labels,
                                              alerts: alerts, createdAt: now, nextAttemptAt: now))
                    group.lastNotification = now
                }
            }
            group.notifiedFiring = Set(firing.map(\.fingerprint))
            group.lastFlush = now
            for alert in resolved { group.alerts.removeValue(forKey: alert.fingerprint) }
            groups[id] = group.alerts.isEmpty ? nil : group
        }
    }

    /// A one-off notice (a restart carried out), routed like an alert but not grouped: each
    /// receiver gets it once, through the queue (so it is retried and survives restarts).
    public mutating func announce(_ alert: NotifiedAlert, now: Double) {
        let alertmanagers = Set(self.receivers.filter(\.isAlertmanager).map(\.name))
        for name in RouteMatching.receivers(for: alert.labels, routes: settings.routes, defaultReceivers: defaultReceivers,
                                            alertmanagers: alertmanagers) where !alertmanagers.contains(name) {
            sequence += 1
            queue.append(Notification(id: "n\(sequence)", receiver: name, groupKey: "{notice}", groupLabels: [Label("alertname", alert.name)],
                                      alerts: [alert], createdAt: now, nextAttemptAt: now))
            revision += 1
        }
    }

    // MARK: - Delivery

    /// The longest a receiver's Retry-After is honoured: past it, a hint is taken as this (a
    /// receiver asking for a day of silence is more likely broken than busy).
    public static let maxRetryAfter = 3600.0

    /// Notifications to deliver now, in order, one in flight per receiver; a receiver over its
    /// hourly limit waits. A notification waiting for its next attempt does not hold back the
    /// ones behind it: each is scheduled on its own. What has waited `give_up_after` since it
    /// was queued is given up here, on time, whether or not an attempt is under way elsewhere.
    public mutating func due(now: Double) -> [Notification] {
        expire(now: now)
        var result: [Notification] = []
        var busy = Set(queue.filter { inFlight.contains($0.id) }.map(\.receiver))
        for notification in queue where !inFlight.contains(notification.id) && !busy.contains(notification.receiver) {
            guard notification.nextAttemptAt <= now else { continue }
            busy.insert(notification.receiver)
            if let limit = receiver(notification.receiver)?.maxPerHour, limit > 0 {
                let recent = (sentTimes[notification.receiver] ?? []).filter { $0 > now - 3600 }
                sentTimes[notification.receiver] = recent
                if recent.count >= limit { continue }
            }
            inFlight.insert(notification.id)
            result.append(notification)
        }
        return result
    }

    /// Gives up queued notifications older than their receiver's `give_up_after`.
    mutating func expire(now: Double) {
        let expired = queue.filter { notification in
            !inFlight.contains(notification.id) && now - notification.createdAt >= (receiver(notification.receiver)?.giveUpAfter ?? 86400)
        }
        guard !expired.isEmpty else { return }
        let ids = Set(expired.map(\.id))
        queue.removeAll { ids.contains($0.id) }
        for notification in expired {
            counters[notification.receiver, default: [:]]["failed", default: 0] += 1
            events.append(.gaveUp(notification, reason: notification.lastError ?? "not delivered within give_up_after"))
        }
        revision += 1
    }

    /// The outcome of delivering `id`. `jitter` in [0, 1) spreads retries.
    public mutating func record(_ id: String, _ result: DeliveryResult, now: Double, jitter: Double) {
        inFlight.remove(id)
        revision += 1
        guard let index = queue.firstIndex(where: { $0.id == id }) else { return }
        var notification = queue[index]
        let name = notification.receiver
        switch result {
        case .delivered:
            queue.remove(at: index)
            counters[name, default: [:]]["sent", default: 0] += 1
            lastSuccess[name] = now
            sentTimes[name, default: []].append(now)
            for alert in notification.alerts { deliveries[alert.fingerprint, default: [:]][name] = now }
        case .retry(let reason, let retryAfter):
            notification.attempts += 1
            notification.lastError = reason
            let giveUpAt = notification.createdAt + (receiver(name)?.giveUpAfter ?? 86400)
            if now >= giveUpAt {
                queue.remove(at: index)
                counters[name, default: [:]]["failed", default: 0] += 1
                events.append(.gaveUp(notification, reason: reason))
                return
            }
            counters[name, default: [:]]["retried", default: 0] += 1
            let backoff = min(600, 5 * pow2(notification.attempts - 1)) * (0.8 + 0.4 * Swift.min(Swift.max(jitter, 0), 1))
            // A hint that is no number of seconds (NaN, negative) is ignored; a huge one is
            // capped; and no retry is planned past the time the notification is given up.
            let hinted = retryAfter.map { $0.isNaN || $0 < 0 ? 0 : Swift.min($0, Self.maxRetryAfter) } ?? 0
            notification.nextAttemptAt = Swift.min(now + Swift.max(backoff, hinted), giveUpAt)
            queue[index] = notification
            events.append(.retrying(notification, reason: reason, next: notification.nextAttemptAt))
        case .failed(let reason):
            queue.remove(at: index)
            counters[name, default: [:]]["failed", default: 0] += 1
            events.append(.failed(notification, reason: reason))
        }
    }

    private func pow2(_ exponent: Int) -> Double {
        var result = 1.0
        for _ in 0..<max(0, min(exponent, 20)) { result *= 2 }
        return result
    }

    /// Alerts an Alertmanager receiver should hold now: firing ones (until `now + 3 min`, so
    /// that they resolve by themselves if mastiff dies) and ones resolved in the last 5 minutes
    /// (Alertmanager keeps no state of its own across its restarts).
    public func alertmanagerAlerts(for receiver: String, now: Double) -> [NotifiedAlert] {
        current.filter { alert in
            let receivers = RouteMatching.receivers(for: alert.labels, routes: settings.routes, defaultReceivers: defaultReceivers,
                                                    alertmanagers: Set(self.receivers.filter(\.isAlertmanager).map(\.name)))
            guard receivers.contains(receiver) else { return false }
            return alert.status == .firing || (alert.endsAt.map { now - $0 <= 300 } ?? false)
        }
    }

    /// When each Alertmanager was last pushed to, what it was told, and how a failing one backs off.
    struct AlertmanagerCadence: Sendable {
        var lastPush: Double?
        var signature = ""
        var pushing = false
        var failures = 0
        var retryAt: Double?
    }

    /// Pushes due now, one in flight per Alertmanager: every minute, at once when the alerts it
    /// should hold change, and while it fails, after a back-off (1 s doubling to 60 s) instead of
    /// every round. Nothing during maintenance.
    public mutating func alertmanagerPushes(now: Double) -> [(receiver: String, alerts: [NotifiedAlert])] {
        if maintenance(at: now).active { return [] }
        var pushes: [(receiver: String, alerts: [NotifiedAlert])] = []
        for receiver in receivers where receiver.isAlertmanager {
            var cadence = alertmanagerCadence[receiver.name] ?? AlertmanagerCadence()
            guard !cadence.pushing else { continue }
            let alerts = alertmanagerAlerts(for: receiver.name, now: now)
            let signature = alerts.map { "\($0.fingerprint)\($0.status.rawValue)" }.sorted().joined()
            guard !alerts.isEmpty || !cadence.signature.isEmpty else { continue }
            if let retryAt = cadence.retryAt {
                guard now >= retryAt else { continue }
            } else {
                guard cadence.lastPush.map({ now - $0 >= 60 }) ?? true || signature != cadence.signature else { continue }
            }
            cadence.lastPush = now
            cadence.signature = signature
            cadence.pushing = true
            alertmanagerCadence[receiver.name] = cadence
            pushes.append((receiver.name, alerts))
        }
        return pushes
    }

    /// Failed pushes in a row to an Alertmanager.
    public func alertmanagerFailures(_ receiver: String) -> Int { alertmanagerCadence[receiver]?.failures ?? 0 }

    /// The outcome of a push. Returns whether the caller should log it: the first failure of a
    /// spell and the recovery, not every retry.
    @discardableResult
    public mutating func recordAlertmanager(_ receiver: String, _ result: DeliveryResult, alerts: [NotifiedAlert], now: Double) -> Bool {
        var cadence = alertmanagerCadence[receiver] ?? AlertmanagerCadence()
        cadence.pushing = false
        defer { alertmanagerCadence[receiver] = cadence }
        if case .delivered = result {
            counters[receiver, default: [:]]["sent", default: 0] += 1
            lastSuccess[receiver] = now
            for alert in alerts { deliveries[alert.fingerprint, default: [:]][receiver] = now }
            let recovered = cadence.failures > 0
            cadence.failures = 0
            cadence.retryAt = nil
            return recovered
        }
        counters[receiver, default: [:]]["retried", default: 0] += 1
        cadence.failures += 1
        cadence.retryAt = now + min(60, pow2(cadence.failures - 1))
        return cadence.failures == 1
    }

    /// When something is next due: a group's flush or a queued notification's next attempt.
    public func nextDue() -> Double? {
        let flushes = groups.values.map { group in group.lastFlush.map { $0 + settings.groupInterval.seconds } ?? group.createdAt + settings.groupWait.seconds }
        let attempts = queue.filter { !inFlight.contains($0.id) }.map(\.nextAttemptAt)
        let pushes = alertmanagerCadence.values.compactMap { $0.pushing ? nil : $0.retryAt }
        return (flushes + attempts + pushes).min()
    }

    public func queueLength(_ receiver: String) -> Int { queue.filter { $0.receiver == receiver }.count }
}
