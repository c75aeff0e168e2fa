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

    /// A receiver as `alerts.receivers` would give it.
    static func receiver(_ name: String, maxPerHour: Int = 0, giveUpAfter: Double = 86400, alertmanager: Bool = false) -> ReceiverSpec {
        var spec = ReceiverSpec(name: name, kind: alertmanager ? .alertmanager(.init(urls: ["http://127.0.0.1:9093"])) : .webhook(.init(url: Secret("http://127.0.0.1:9/hook"))))
        spec.maxPerHour = maxPerHour
        spec.giveUpAfter = .milliseconds(Int64(giveUpAfter * 1000))
        return spec
    }

    static func policy(receivers: [ReceiverSpec] = [receiver("hook")], routes: [RouteSpec] = [],
                       groupBy: [String] = ["alertname"], windows: [MaintenanceWindowSpec] = []) -> NotificationPolicy {
        var settings = AlertSettings()
        settings.receivers = receivers
        settings.routes = routes
        settings.groupBy = groupBy
        settings.groupWait = .seconds(30)
        settings.groupInterval = .seconds(300)
        settings.repeatInterval = .seconds(3600)
        settings.maintenanceWindows = windows
        return NotificationPolicy(settings: settings)
    }

    /// With no receiver configured, notifications go to the log, which metrics and status list.
    @Test func withoutReceiversTheLogIsTheReceiver() {
        #expect(NotificationPolicy(settings: AlertSettings()).receiverNames == [NotificationPolicy.logReceiverName])
        #expect(Self.policy(receivers: [Self.receiver("hook"), Self.receiver("chat")]).receiverNames == ["hook", "chat"])
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
        var policy = Self.policy(receivers: [Self.receiver("hook", giveUpAfter: 120)])
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
        var policy = Self.policy(windows: [MaintenanceWindowSpec(cron: "\(parts.tm_min) \(parts.tm_hour) * * *", duration: .seconds(3600), reason: "nightly")])
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
        var policy = Self.policy(receivers: [Self.receiver("hook", maxPerHour: 1)], groupBy: ["alertname", "i"])
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

/// What a hostile or broken receiver answers, and what a damaged state file holds, must never
/// stop notifications (issue "The watchdog must not die", items 1, 2 and 5).
@Suite struct NotificationPolicyHostileInputTests {
    typealias Fixture = NotificationPolicyTests

    @Test(arguments: [Double.infinity, 1e300, 999_999_999, -5, .nan])
    func anyRetryAfterIsCappedAndNeverPastGiveUp(_ hint: Double) {
        var policy = Fixture.policy(receivers: [Fixture.receiver("hook", giveUpAfter: 600)])
        var attempts: [Double] = []
        _ = Fixture.run(&policy, [Fixture.alert("A")], from: 1000, to: 1700) { _ in
            attempts.append(0)
            return .retry(reason: "HTTP 429", retryAfter: hint)
        }
        // Created at 1030 (group_wait), given up at 1630 at the latest, whatever the hint said.
        #expect(policy.queue.isEmpty)
        #expect(policy.counters["hook"]?["failed"] == 1)
        for notification in policy.queue { #expect(notification.nextAttemptAt <= notification.createdAt + 600) }
        if hint.isNaN || hint < 0 {
            #expect(attempts.count >= 2, "a hint that is no number of seconds is ignored: the back-off applies")
        } else {
            #expect(attempts.count == 1, "a huge hint waits until give_up_after, where the notification is given up")
        }
    }

    @Test func aNotificationWaitingOnRetryAfterHoldsBackNoOther() {
        var policy = Fixture.policy()
        var sent: [String: Double] = [:]
        var time = 1000.0
        while time <= 1200 {
            // B starts firing a minute after A.
            policy.observe(time < 1060 ? [Fixture.alert("A")] : [Fixture.alert("A"), Fixture.alert("B")], now: time)
            policy.flush(now: time)
            for notification in policy.due(now: time) {
                let name = notification.alerts[0].name
                if name == "A" {
                    policy.record(notification.id, .retry(reason: "HTTP 429", retryAfter: 999_999_999), now: time, jitter: 0.5)
                } else {
                    sent[name] = time
                    policy.record(notification.id, .delivered(answer: "ok"), now: time, jitter: 0.5)
                }
            }
            time += 1
        }
        #expect(sent["B"] == 1090, "B goes out group_wait after it fired, not after A's Retry-After")
        #expect(policy.queue.count == 1 && policy.queue[0].nextAttemptAt == 1030 + NotificationPolicy.maxRetryAfter)
    }

    @Test func aNotificationIsGivenUpOnTimeEvenWhileWaitingForItsNextAttempt() {
        var policy = Fixture.policy(receivers: [Fixture.receiver("hook", giveUpAfter: 120)])
        _ = Fixture.run(&policy, [Fixture.alert("A")], from: 1000, to: 1031) { _ in .retry(reason: "refused", retryAfter: 3600) }
        #expect(policy.queue.count == 1)
        _ = Fixture.run(&policy, [Fixture.alert("A")], from: 1032, to: 1150) { _ in .delivered(answer: "ok") }
        #expect(policy.queue.isEmpty, "given up at 1030 + 120, not at the next attempt an hour later")
        #expect(policy.counters["hook"]?["failed"] == 1)
        #expect(policy.takeEvents().contains { if case .gaveUp = $0 { return true } else { return false } })
    }

    @Test func alertmanagerPushesBackOffWhileItFails() {
        var policy = Fixture.policy(receivers: [Fixture.receiver("am", alertmanager: true)])
        policy.observe([Fixture.alert("A")], now: 1000)
        var pushes: [Double] = []
        var time = 1000.0
        while time < 1120 {
            for push in policy.alertmanagerPushes(now: time) {
                pushes.append(time)
                policy.recordAlertmanager(push.receiver, .retry(reason: "refused", retryAfter: nil), alerts: push.alerts, now: time)
            }
            time += 0.5
        }
        // 1, 2, 4, 8, 16, 32 s, then every 60 s: 8 pushes in two minutes, not 240.
        #expect(pushes == [1000, 1001, 1003, 1007, 1015, 1031, 1063], "\(pushes)")
        #expect(policy.alertmanagerFailures("am") == 7)
        let recovered = policy.alertmanagerPushes(now: 1123)
        #expect(recovered.count == 1)
        let worthSaying = policy.recordAlertmanager("am", .delivered(answer: "ok"), alerts: recovered[0].alerts, now: 1123)
        #expect(worthSaying, "the recovery is worth a log line")
        let next = policy.alertmanagerPushes(now: 1124)
        #expect(next.isEmpty, "then every minute again")
    }

    /// Numbers a state file may hold after corruption or tampering: restoring never traps, and
    /// what cannot be a time is skipped.
    @Test func absurdNumbersInTheStateFileAreSkippedNotFatal() throws {
        let text = #"""
        {"v": 1, "seq": 1e300,
         "alerts": {"f1": {"l": {"alertname": "A"}, "a": {}, "s": 1e300}, "f2": {"l": {"alertname": "B"}, "a": {}, "s": 1000}},
         "queue": [{"id": "n1", "r": "hook", "c": 1e300, "x": [["f2", 1]]},
                   {"id": "n2", "r": "hook", "c": 1000, "n": -1e308, "x": [["f2", 1]]},
                   {"id": "n3", "r": "hook", "c": 1000, "t": 1e19, "x": [["f1", 1]]},
                   {"id": "n4", "r": "hook", "c": 1000, "t": 1e19, "x": [["f2", "NaN"]]}],
         "groups": [{"r": "hook", "g": "{}", "c": -1e300, "x": []}],
         "silences": [{"id": "s99999999999999999999", "s": 0, "e": 1e300, "m": []}],
         "maintenance": {"until": 1e300, "reason": "x"},
         "last_success": {"hook": 1e300}}
        """#
        let state = try #require(JSONValue.parse(text))
        var policy = Fixture.policy()
        let restored = policy.restore(state)
        #expect(restored.queued == 1, "only n4 is whole: n1's creation, n2's next attempt and n3's alert time are no times")
        #expect(policy.queue.first?.attempts == 0, "1e19 attempts is no count")
        #expect(policy.manualMaintenance == nil && policy.silences.isEmpty && policy.lastSuccess.isEmpty)
        // And it keeps working: a new notification gets a number, goes out and is recorded.
        let sent = Fixture.run(&policy, [Fixture.alert("C")], from: 2000, to: 2100)
        #expect(sent.contains { $0.alerts[0].name == "C" })
    }

    /// Item 12: 1,000 alerts with 5 KB annotations pushed the state past 4 MiB, after which
    /// nothing was saved. What the file keeps of an annotation is bounded.
    @Test func aThousandAlertsWithLongAnnotationsFitTheStateFile() {
        var policy = Fixture.policy(receivers: [Fixture.receiver("hook"), Fixture.receiver("chat")])
        let description = String(repeating: "a very long description ", count: 220)
        let alerts = (0..<1000).map { index in
            NotifiedAlert(labels: [Label("alertname", "QueueLatency"), Label("queue", "queue-\(index)")].sortedByName(),
                          annotations: [Label("summary", "queue \(index) is slow"), Label("description", description)],
                          status: .firing, startsAt: 1000, endsAt: nil, value: 1)
        }
        // One observation and the flush group_wait later (a run of every second would observe
        // the thousand alerts 32 times for nothing).
        policy.observe(alerts, now: 1000)
        policy.flush(now: 1030)
        for notification in policy.due(now: 1030) { policy.record(notification.id, .retry(reason: "down", retryAfter: nil), now: 1030, jitter: 0.5) }
        let text = policy.savedState().serialized(indent: false)
        #expect(text.utf8.count < 3 << 20, "\(text.utf8.count) bytes")
        var restored = Fixture.policy(receivers: [Fixture.receiver("hook"), Fixture.receiver("chat")])
        #expect(restored.restore(JSONValue.parse(text)!).queued == policy.queue.count)
        let kept = restored.queue.first?.alerts.first?.annotations.value(of: "description") ?? ""
        #expect(kept.utf8.count <= 1024 && kept.hasSuffix("…"))
    }

    /// Random valid JSON where the state file's numbers and shapes go: restore never traps.
    @Test func randomStateFilesNeverCrashTheRestore() {
        var generator = BackupRetentionTests.SeededGenerator(state: 20)
        let numbers: [JSONValue] = [.number(1e300), .number(-1e300), .number(.greatestFiniteMagnitude), .number(-0.0), .number(9.3e18), .number(-9.3e18),
                                    .number(0.5), .number(1000), .string("NaN"), .string("+Inf"), .null, .bool(true), .array([]), .object([:])]
        func value(_ depth: Int) -> JSONValue {
            switch generator.next() % (depth > 2 ? 3 : 6) {
            case 0: return numbers[Int(generator.next() % UInt64(numbers.count))]
            case 1: return .string(["f1", "hook", "n1", "s1", "", "{}"][Int(generator.next() % 6)])
            case 2: return .number(Double(bitPattern: generator.next()))
            case 3: return .array((0..<Int(generator.next() % 4)).map { _ in value(depth + 1) })
            default:
                let keys = ["v", "seq", "alerts", "queue", "groups", "silences", "maintenance", "last_success", "id", "r", "c", "n", "t", "x", "s", "e",
                            "l", "a", "g", "gl", "nf", "lf", "ln", "m", "until", "f1", "hook"]
                return .object(Dictionary((0..<Int(generator.next() % 6)).map { _ in (keys[Int(generator.next() % UInt64(keys.count))], value(depth + 1)) },
                                          uniquingKeysWith: { a, _ in a }))
            }
        }
        for _ in 0..<3000 {
            var policy = Fixture.policy()
            policy.restore(value(0))
            // One round at a time that makes restored entries due, flushes restored groups and
            // gives up the old ones: what a start does with the file.
            policy.observe([Fixture.alert("A")], now: 2000)
            policy.flush(now: 2000)
            for notification in policy.due(now: 2000) { policy.record(notification.id, .delivered(answer: "ok"), now: 2000, jitter: 0.5) }
            _ = policy.savedState()
        }
    }
}
