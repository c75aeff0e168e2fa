import Glibc
import MastiffCore
import MastiffPolicies
import MastiffPromQL
import Testing

/// Routing, grouping, the delivery queue, maintenance and silences, driven with explicit times.
@Suite struct NotificationPolicyTests {
    static func alert(_ name: String, _ extra: [Label] = [], status: NotifiedAlert.Status = .firing, value: Double = 1,
                      startsAt: Double = 1000, endsAt: Double? = nil) -> NotifiedAlert {
        NotifiedAlert(labels: ([Label("alertname", name), Label("severity", "warning")] + extra).sortedByName(),
                      annotations: [Label("summary", "\(name) happened")], status: status, startsAt: startsAt, endsAt: endsAt, value: value)
    }

    static func policy(receivers: [NotificationPolicy.ReceiverSettings] = [.init(name: "hook")], routes: [RouteSpec] = [],
                       groupBy: [String] = ["alertname"], windows: [(schedule: CronSchedule, duration: Double, reason: String)] = []) -> NotificationPolicy {
        NotificationPolicy(settings: .init(receivers: receivers, routes: routes, groupBy: groupBy, groupWait: 30, groupInterval: 300,
                                           repeatInterval: 3600, windows: windows))
    }

    /// Runs the policy from `from` to `to` a second at a time with `alerts`, delivering with
    /// `outcome`; returns what was delivered.
    static func run(_ policy: inout NotificationPolicy, _ alerts: [NotifiedAlert], from: Double, to: Double,
                    outcome: (Notification) -> DeliveryResult = { _ in .delivered(answer: "ok") }) -> [Notification] {
        var delivered: [Notification] = []
        var time = from
        while time <= to {
            policy.observe(alerts, now: time)
            policy.flush(now: time)
            for notification in policy.due(now: time) {
                let result = outcome(notification)
                if case .delivered = result { delivered.append(notification) }
                policy.record(notification.id, result, now: time, jitter: 0.5)
            }
            time += 1
        }
        return delivered
    }

    @Test func groupWaitGroupsAlertsIntoOneMessage() {
        var policy = Self.policy(groupBy: ["severity"])
        let alerts = [Self.alert("A"), Self.alert("B"), Self.alert("C")]
        let first = Self.run(&policy, [alerts[0]], from: 1000, to: 1010)
        #expect(first.isEmpty, "group_wait (30 s) has not passed")
        let sent = Self.run(&policy, alerts, from: 1011, to: 1040)
        #expect(sent.count == 1)
        #expect(sent.first?.alerts.map(\.name) == ["A", "B", "C"])
        #expect(sent.first?.groupLabels == [Label("severity", "warning")])
    }

    @Test func changesWaitForGroupIntervalAndUnchangedGroupsRepeat() {
        var policy = Self.policy()
        var sent = Self.run(&policy, [Self.alert("A", [Label("i", "1")])], from: 1000, to: 1100)
        #expect(sent.count == 1)
        // A second alert of the group: sent with the next group_interval (300 s after the flush).
        sent = Self.run(&policy, [Self.alert("A", [Label("i", "1")]), Self.alert("A", [Label("i", "2")])], from: 1101, to: 1400)
        #expect(sent.count == 1 && sent.first?.alerts.count == 2)
        #expect(sent.first!.createdAt >= 1330)
        // Unchanged: repeated after repeat_interval (1 h).
        sent = Self.run(&policy, [Self.alert("A", [Label("i", "1")]), Self.alert("A", [Label("i", "2")])], from: 1401, to: 5300)
        #expect(sent.count == 1)
    }

    @Test func resolvedNoticesCarryTheValueAtResolution() {
        var policy = Self.policy()
        _ = Self.run(&policy, [Self.alert("A", value: 0.95)], from: 1000, to: 1040)
        let resolved = Self.alert("A", status: .resolved, value: 0.97, endsAt: 1041)
        let sent = Self.run(&policy, [resolved], from: 1041, to: 1400)
        #expect(sent.count == 1)
        #expect(sent.first?.status == .resolved)
        #expect(sent.first?.alerts.first?.value == 0.97)
        // The engine keeps reporting a resolved alert for 15 minutes: no second notice.
        #expect(Self.run(&policy, [resolved], from: 1401, to: 2400).isEmpty)
    }

    @Test func retriesUntilDeliveredExactlyOnce() {
        var policy = Self.policy()
        var answers: [DeliveryResult] = [.retry(reason: "HTTP 500", retryAfter: nil), .retry(reason: "HTTP 500", retryAfter: nil), .delivered(answer: "HTTP 200")]
        var attempts: [Double] = []
        var time = 1000.0
        var delivered = 0
        while time < 1200 {
            policy.observe([Self.alert("A")], now: time)
            policy.flush(now: time)
            for notification in policy.due(now: time) {
                attempts.append(time)
                let result = answers.removeFirst()
                if case .delivered = result { delivered += 1 }
                policy.record(notification.id, result, now: time, jitter: 0.5)
            }
            time += 1
        }
        #expect(delivered == 1)
        #expect(attempts == [1030, 1035, 1045], "backoff 5 s, then 10 s")
        #expect(policy.counters["hook"] == ["retried": 2, "sent": 1])
        #expect(policy.queue.isEmpty)
    }

    @Test func retryAfterIsHonouredAndOther4xxFailForGood() {
        var policy = Self.policy()
        var attempts: [Double] = []
        _ = Self.run(&policy, [Self.alert("A")], from: 1000, to: 1200) { notification in
            attempts.append(1000 + Double(attempts.count))
            return attempts.count == 1 ? .retry(reason: "HTTP 429", retryAfter: 60) : .delivered(answer: "ok")
        }
        #expect(policy.counters["hook"]?["sent"] == 1)
        var failing = Self.policy()
        _ = Self.run(&failing, [Self.alert("A")], from: 1000, to: 1100) { _ in .failed(reason: "HTTP 404") }
        #expect(failing.counters["hook"] == ["failed": 1])
        #expect(failing.queue.isEmpty)
        let events = failing.takeEvents()
        #expect(events.contains { if case .failed = $0 { return true } else { return false } })
    }

    @Test func givesUpAfterGiveUpAfter() {
        var policy = Self.policy(receivers: [.init(name: "hook", giveUpAfter: 120)])
        _ = Self.run(&policy, [Self.alert("A")], from: 1000, to: 1400) { _ in .retry(reason: "refused", retryAfter: nil) }
        #expect(policy.queue.isEmpty)
        #expect(policy.counters["hook"]?["failed"] == 1)
    }

    @Test func maintenanceHoldsThenSendsWhatStillFiresAndNotWhatResolvedMeanwhile() {
        var policy = Self.policy()
        policy.startMaintenance(until: 2000, reason: "upgrade")
        #expect(Self.run(&policy, [Self.alert("Still"), Self.alert("Gone")], from: 1000, to: 1500).isEmpty)
        #expect(Self.run(&policy, [Self.alert("Still"), Self.alert("Gone", status: .resolved, endsAt: 1501)], from: 1501, to: 1999).isEmpty)
        let after = Self.run(&policy, [Self.alert("Still"), Self.alert("Gone", status: .resolved, endsAt: 1501)], from: 2000, to: 2100)
        #expect(after.map { $0.alerts.map(\.name) } == [["Still"]])
        let events = policy.takeEvents()
        #expect(events.contains(.maintenanceEnded))
    }

    @Test func aMaintenanceWindowFromCronHoldsNotifications() throws {
        // Every day at the hour of t=0 (UTC-independent: built from the local hour of 1000).
        var seconds = time_t(1000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        let schedule = try CronSchedule("\(parts.tm_min) \(parts.tm_hour) * * *")
        var policy = Self.policy(windows: [(schedule, 3600, "nightly")])
        #expect(policy.maintenance(at: 1000 + 120).active)
        #expect(!policy.maintenance(at: 1000 + 3700).active)
        #expect(Self.run(&policy, [Self.alert("A")], from: 1100, to: 1200).isEmpty)
    }

    @Test func aSilenceHoldsOnlyTheAlertsItMatches() {
        var policy = Self.policy()
        _ = policy.addSilence(matchers: [RouteMatcher(name: "alertname", value: "Noisy", regex: false)], startsAt: 900, endsAt: 5000, comment: "known")
        let sent = Self.run(&policy, [Self.alert("Noisy"), Self.alert("Real")], from: 1000, to: 1100)
        #expect(sent.map { $0.alerts.map(\.name) } == [["Real"]])
        #expect(policy.activeSilences(at: 1100).count == 1)
        let expired = policy.expireSilence("s1", now: 1101)
        #expect(expired)
        let later = Self.run(&policy, [Self.alert("Noisy"), Self.alert("Real")], from: 1102, to: 1200)
        #expect(later.map { $0.alerts.map(\.name) } == [["Noisy"]], "after expiry the still-firing alert is announced")
    }

    @Test func routesMatchInOrderWithContinueAndDefaults() {
        let routes = [
            { var r = RouteSpec(matchers: [RouteMatcher(name: "severity", value: "critical", regex: false)], receivers: ["pager"]); r.continue = true; return r }(),
            RouteSpec(matchers: [RouteMatcher(name: "alertname", value: "Sidekiq.*", regex: true)], receivers: ["chat"]),
        ]
        func receivers(_ labels: Labels) -> [String] {
            RouteMatching.receivers(for: labels, routes: routes, defaultReceivers: ["mail"], alertmanagers: ["am"])
        }
        #expect(receivers([Label("alertname", "SidekiqDown"), Label("severity", "critical")]) == ["pager", "chat"])
        #expect(receivers([Label("alertname", "SidekiqRetriesGrowing"), Label("severity", "info")]) == ["chat"])
        #expect(receivers([Label("alertname", "DiskNearlyFull")]) == ["mail"])
        #expect(RouteMatching.receivers(for: [Label("alertname", "Watchdog")], routes: [], defaultReceivers: ["mail", "am"], alertmanagers: ["am"]) == ["am"],
                "the dead man's switch goes to Alertmanagers only, unless a route names it")
    }

    @Test func theHourlyLimitDelaysWithoutDropping() {
        var policy = Self.policy(receivers: [.init(name: "hook", maxPerHour: 1)], groupBy: ["alertname", "i"])
        let sent = Self.run(&policy, [Self.alert("A", [Label("i", "1")]), Self.alert("A", [Label("i", "2")])], from: 1000, to: 1200)
        #expect(sent.count == 1)
        #expect(policy.queue.count == 1, "the second waits for the hour")
        #expect(Self.run(&policy, [Self.alert("A", [Label("i", "1")]), Self.alert("A", [Label("i", "2")])], from: 4631, to: 4640).count == 1)
    }

    /// The queue and the groups survive a restart: pending notifications go out after it, and
    /// alerts already announced are not announced again.
    @Test func stateSurvivesARestart() throws {
        var policy = Self.policy()
        _ = Self.run(&policy, [Self.alert("Announced")], from: 1000, to: 1040)
        _ = Self.run(&policy, [Self.alert("Announced"), Self.alert("Pending")], from: 1041, to: 1080) { notification in
            notification.alerts.contains { $0.name == "Pending" } ? .retry(reason: "down", retryAfter: nil) : .delivered(answer: "ok")
        }
        #expect(policy.queue.count == 1)
        let saved = try #require(JSONValue.parse(policy.savedState().serialized(indent: false)))
        var restarted = Self.policy()
        #expect(restarted.restore(saved).queued == 1)
        let after = Self.run(&restarted, [Self.alert("Announced"), Self.alert("Pending")], from: 2000, to: 2100)
        #expect(after.map { $0.alerts.map(\.name) } == [["Pending"]], "the queued one is delivered; Announced is not repeated")
    }
}
