import Logging
import MastiffCore
import MastiffExecutors
import MastiffPolicies
import MastiffPromQL
import ServiceLifecycle
import Synchronization

/// Delivers notifications: takes the alerts after each evaluation, lets the policy group and
/// queue them, and delivers what is due every second (and at once when something new is due),
/// one notification in flight per receiver. Each delivery is a child task of `run`'s group and
/// nothing waits for it but its own receiver: a receiver that hangs for its whole timeout
/// delays no other. The queue, groups, silences and maintenance live
/// in the state file, written after every change (so a crash between a receiver's 2xx and the
/// write can repeat a notification, never lose one: docs/notifications.md).
///
/// With no receiver configured, notifications go to the log.
public final class Notifier: Service, Sendable {
    private struct State {
        var policy: NotificationPolicy
        var receivers: [String: any NotificationReceiver]
        var alertmanagers: [String: AlertmanagerReceiver]
        var savedRevision = -1
        /// The newest queued notification when the section was last handed over: a newer one is
        /// written at once (nothing queued is lost to a crash), outcomes of deliveries are staged.
        var savedNewest: String?
    }

    /// Wakes `run`'s loop for a round: a new evaluation, a delivery that ended, a control request.
    private let wakeups: AsyncStream<Void>
    private let waker: AsyncStream<Void>.Continuation

    private let state: Mutex<State>
    private let stateStore: StateStore?
    private let logger: Logger
    private let clock: any WallClock
    private let random: @Sendable () -> Double
    /// How the HTTP receivers' requests go out: libcurl, or a recording transport in tests.
    private let transport: any HTTPTransport
    /// Where the maintenance state is published for the restart service and the scheduled work.
    public let maintenanceState: MaintenanceState

    public init(settings: AlertSettings, stateStore: StateStore?, logger: Logger, clock: any WallClock = SystemWallClock(),
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }, transport: any HTTPTransport = CurlTransport(),
                maintenanceState: MaintenanceState = MaintenanceState()) {
        self.transport = transport
        self.maintenanceState = maintenanceState
        self.stateStore = stateStore
        self.logger = logger
        self.clock = clock
        self.random = random
        let (receivers, alertmanagers) = Self.receivers(settings, logger: logger, transport: transport)
        var policy = NotificationPolicy(settings: settings)
        if let saved = stateStore?.section("notifications") {
            let restored = policy.restore(saved)
            if restored.queued > 0 || restored.skipped > 0 {
                logger.info("restored queued notifications from the state file", metadata: ["queued": "\(restored.queued)", "skipped": "\(restored.skipped)"])
            }
        }
        maintenanceState.publish(policy.maintenance(at: clock.now()).active)
        state = Mutex(State(policy: policy, receivers: receivers, alertmanagers: alertmanagers))
        (wakeups, waker) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks for a round soon; several asks before it runs make one round.
    private func wake() { waker.yield() }

    /// The receivers of a configuration; with none, the log.
    private static func receivers(_ settings: AlertSettings, logger: Logger, transport: any HTTPTransport)
        -> ([String: any NotificationReceiver], [String: AlertmanagerReceiver]) {
        let host = HostName.current
        var receivers: [String: any NotificationReceiver] = [:]
        var alertmanagers: [String: AlertmanagerReceiver] = [:]
        for spec in settings.receivers {
            let timeout = spec.timeout
            let ca = spec.caFile
            let format = MessageFormat(title: spec.title, text: spec.text, host: host)
            switch spec.kind {
            case .webhook(let hook): receivers[spec.name] = HTTPDelivery(WebhookReceiver(name: spec.name, url: hook.url, bearerToken: hook.bearerToken, caFile: ca, timeout: timeout), transport: transport)
            case .alertmanager(let cluster): alertmanagers[spec.name] = AlertmanagerReceiver(name: spec.name, urls: cluster.urls, caFile: ca, timeout: timeout, transport: transport)
            case .email(let email): receivers[spec.name] = EmailReceiver(name: spec.name, settings: email, caFile: ca, timeout: timeout, format: format)
            case .slack(let hook): receivers[spec.name] = HTTPDelivery(SlackReceiver(name: spec.name, webhookURL: hook.webhookURL, caFile: ca, timeout: timeout, format: format), transport: transport)
            case .discord(let hook): receivers[spec.name] = HTTPDelivery(DiscordReceiver(name: spec.name, webhookURL: hook.webhookURL, caFile: ca, timeout: timeout, format: format), transport: transport)
            case .matrix(let matrix):
                receivers[spec.name] = HTTPDelivery(MatrixReceiver(name: spec.name, homeserver: matrix.homeserver, roomID: matrix.roomID, accessToken: matrix.accessToken, caFile: ca, timeout: timeout, format: format), transport: transport)
            case .ntfy(let ntfy):
                receivers[spec.name] = HTTPDelivery(NtfyReceiver(name: spec.name, topicURL: ntfy.topicURL, token: ntfy.token, priority: ntfy.priority, tags: ntfy.tags, caFile: ca, timeout: timeout, format: format), transport: transport)
            case .telegram(let telegram):
                receivers[spec.name] = HTTPDelivery(TelegramReceiver(name: spec.name, botToken: telegram.botToken, chatID: telegram.chatID, apiURL: telegram.apiURL, caFile: ca, timeout: timeout, format: format), transport: transport)
            case .gotify(let gotify):
                receivers[spec.name] = HTTPDelivery(GotifyReceiver(name: spec.name, url: gotify.url, token: gotify.token, priority: gotify.priority, caFile: ca, timeout: timeout, format: format), transport: transport)
            case .mastodon(let message):
                receivers[spec.name] = HTTPDelivery(MastodonReceiver(name: spec.name, instanceURL: message.instanceURL, accessToken: message.accessToken, to: message.to, caFile: ca, timeout: timeout, format: format), transport: transport)
            }
        }
        if settings.receivers.isEmpty {
            receivers[NotificationPolicy.logReceiverName] = LogReceiver(logger: logger, format: MessageFormat(host: host))
        }
        return (receivers, alertmanagers)
    }

    /// A reload: new receivers and routes; queued notifications of receivers that remain stay.
    public func replaceSettings(_ settings: AlertSettings) {
        let (receivers, alertmanagers) = Self.receivers(settings, logger: logger, transport: transport)
        state.withLock { state in
            state.policy.replaceSettings(settings)
            state.receivers = receivers
            state.alertmanagers = alertmanagers
        }
    }

    /// The alerts after an evaluation: firing ones and those resolved in the last 15 minutes.
    public func observe(_ alerts: [NotifiedAlert]) {
        let now = clock.now()
        state.withLock { $0.policy.observe(alerts, now: now) }
        wake()
    }

    public func run() async {
        await withDiscardingTaskGroup { group in
            // The timer: a round at the next flush or retry, at the latest every second, so
            // that a group goes out group_wait after it formed, not up to 1 s later.
            group.addTask {
                while !Task.isCancelled {
                    let now = self.clock.now()
                    let next = self.state.withLock { $0.policy.nextDue() } ?? now + 1
                    try? await Task.sleep(for: .milliseconds(Int64(saturating: max(5, min(1000, (next - now) * 1000 + 5)))))
                    self.wake()
                }
            }
            for await _ in wakeups.cancelOnGracefulShutdown() {
                round(in: &group)
            }
            // Shutdown: deliveries in flight are abandoned (their notifications stay queued in
            // the state file and go out after the restart), and the timer stops.
            group.cancelAll()
        }
    }

    /// One round: flush due groups, start what is due (each delivery a task of its own, which
    /// wakes the loop again when it ends), push to Alertmanagers, save.
    private func round(in group: inout DiscardingTaskGroup) {
        let now = clock.now()
        let (due, receivers, pushes, pushers, inMaintenance) = state.withLock { state in
            state.policy.flush(now: now)
            return (state.policy.due(now: now), state.receivers, state.policy.alertmanagerPushes(now: now), state.alertmanagers,
                    state.policy.maintenance(at: now).active)
        }
        maintenanceState.publish(inMaintenance)
        logEvents()
        save()
        for notification in due {
            group.addTask {
                let result: DeliveryResult
                if let receiver = receivers[notification.receiver] {
                    result = await receiver.deliver(notification)
                } else {
                    result = .failed(reason: "receiver \(notification.receiver) is no longer configured")
                }
                guard !Task.isCancelled else { return }
                let finished = self.clock.now()
                self.state.withLock { $0.policy.record(notification.id, result, now: finished, jitter: self.random()) }
                if case .delivered(let answer) = result {
                    self.logger.info("notification delivered", metadata: ["receiver": "\(notification.receiver)", "notification": "\(notification.id)",
                                                                          "title": "\(NotificationText.title(notification))", "answer": "\(answer)"])
                }
                self.logEvents()
                self.save()
                self.wake()
            }
        }
        for (name, alerts) in pushes {
            guard let pusher = pushers[name] else { continue }
            group.addTask {
                let result = await pusher.push(alerts, now: now)
                guard !Task.isCancelled else { return }
                let (worthSaying, failures) = self.state.withLock { state in
                    (state.policy.recordAlertmanager(name, result, alerts: alerts, now: self.clock.now()), state.policy.alertmanagerFailures(name))
                }
                if worthSaying {
                    if case .delivered = result {
                        self.logger.info("alertmanager push works again", metadata: ["receiver": "\(name)"])
                    } else {
                        self.logger.warning("alertmanager push failed; retrying with back-off up to a minute (logged again when it works)",
                                            metadata: ["receiver": "\(name)", "error": "\(result)", "failures": "\(failures)"])
                    }
                }
                self.wake()
            }
        }
    }

    private func logEvents() {
        let events = state.withLock { $0.policy.takeEvents() }
        for event in events {
            switch event {
            case .gaveUp(let notification, let reason):
                logger.error("notification given up after retrying for give_up_after", metadata: [
                    "receiver": "\(notification.receiver)", "notification": "\(notification.id)", "attempts": "\(notification.attempts)",
                    "title": "\(NotificationText.title(notification))", "error": "\(reason)"])
            case .failed(let notification, let reason):
                logger.error("notification failed and will not be retried", metadata: [
                    "receiver": "\(notification.receiver)", "notification": "\(notification.id)", "title": "\(NotificationText.title(notification))",
                    "error": "\(reason)"])
            case .retrying(let notification, let reason, let next):
                logger.warning("notification delivery failed; retrying", metadata: [
                    "receiver": "\(notification.receiver)", "notification": "\(notification.id)", "attempt": "\(notification.attempts)",
                    "retry_in_seconds": "\(Int(saturating: (next - clock.now()).rounded()))", "error": "\(reason)"])
            case .maintenanceStarted(let reason):
                logger.notice("maintenance: notifications are held", metadata: ["reason": "\(reason)"])
            case .maintenanceEnded:
                logger.notice("maintenance ended: held notifications go out")
            }
        }
    }

    /// Hands the state file section over when what it holds changed: a delivery's outcome is
    /// staged (written within a second by StateFlushService: a crash in that second may repeat a
    /// delivery, never lose one); a newly queued notification and an admin's change
    /// (`immediately`, whose answer says whether it will survive a restart) are written at once.
    /// False when that write failed (the change holds in memory, and is written with the next
    /// write that succeeds).
    @discardableResult
    private func save(immediately: Bool = false) -> Bool {
        guard let stateStore else { return true }
        let (saved, enqueued) = state.withLock { state -> (JSONValue?, Bool) in
            guard state.policy.revision != state.savedRevision else { return (nil, false) }
            state.savedRevision = state.policy.revision
            let newest = state.policy.queue.last?.id
            defer { state.savedNewest = newest }
            return (state.policy.savedState(), newest != nil && newest != state.savedNewest)
        }
        guard let saved else { return true }
        guard immediately || enqueued else {
            stateStore.stage("notifications", saved)
            return true
        }
        if stateStore.update("notifications", saved) { return true }
        // Written again at the next change, not lost: the revision is not taken as saved.
        state.withLock { $0.savedRevision = -1 }
        return false
    }

    /// A control answer for a change the admin asked for, saying when it could not be saved: it
    /// then lasts only until mastiff restarts, and the CLI says so and exits 1.
    private func answer(_ members: [String: JSONValue], persisted: Bool) -> JSONValue {
        var members = members
        if !persisted {
            members["persisted"] = .bool(false)
            members["warning"] = .string("the change is in effect but could not be written to the state file (\(stateStore?.health.description ?? "no state file")): "
                + "it will not survive a restart of mastiff")
        }
        return .object(members)
    }

    // MARK: - Control

    public func maintenance(action: String, seconds: Double?, reason: String?) -> JSONValue {
        let now = clock.now()
        let status = state.withLock { state -> (Bool, String, Double?) in
            switch action {
            case "on": state.policy.startMaintenance(until: now + (seconds ?? 3600), reason: reason ?? "maintenance")
            case "off": state.policy.endMaintenance()
            default: break
            }
            return state.policy.maintenance(at: now)
        }
        maintenanceState.publish(status.0)
        let persisted = save(immediately: true)
        wake()
        var members: [String: JSONValue] = ["ok": .bool(true), "active": .bool(status.0), "now": .number(now)]
        if status.0 {
            members["reason"] = .string(status.1)
            if let until = status.2 { members["until"] = .number(until) }
        }
        return answer(members, persisted: action == "status" || persisted)
    }

    public func addSilence(matchers: [RouteMatcher], seconds: Double, comment: String) -> JSONValue {
        let now = clock.now()
        let silence = state.withLock { $0.policy.addSilence(matchers: matchers, startsAt: now, endsAt: now + seconds, comment: comment) }
        return answer(["ok": .bool(true), "silence": Self.json(silence)], persisted: save(immediately: true))
    }

    public func expireSilence(_ id: String) -> JSONValue {
        let now = clock.now()
        let expired = state.withLock { $0.policy.expireSilence(id, now: now) }
        let persisted = save(immediately: true)
        return expired ? answer(["ok": .bool(true)], persisted: persisted) : .object(["ok": .bool(false), "error": .string("no active silence has ID \(id)")])
    }

    public func silences() -> JSONValue {
        let now = clock.now()
        let active = state.withLock { $0.policy.activeSilences(at: now) }
        return .object(["ok": .bool(true), "now": .number(now), "silences": .array(active.map(Self.json))])
    }

    static func json(_ silence: Silence) -> JSONValue {
        .object(["id": .string(silence.id), "starts_at": .number(silence.startsAt), "ends_at": .number(silence.endsAt), "comment": .string(silence.comment),
                 "matchers": .array(silence.matchers.map { .string("\($0.name)\($0.regex ? "=~" : "=")\($0.value)") })])
    }

    /// `mastiff alerts test --receiver NAME`: a test notification through the receiver, at
    /// once, with its answer.
    public func sendTest(receiver name: String) async -> JSONValue {
        let now = clock.now()
        let (receiver, pusher) = state.withLock { ($0.receivers[name], $0.alertmanagers[name]) }
        let alert = NotifiedAlert(labels: [Label("alertname", "MastiffTestNotification"), Label("severity", "info")],
                                  annotations: [Label("summary", "A test notification from mastiff"),
                                                Label("description", "Sent by `mastiff alerts test`; nothing is wrong.")],
                                  status: .firing, startsAt: now, endsAt: nil, value: 1)
        let result: DeliveryResult
        if let receiver {
            result = await receiver.deliver(Notification(id: "test", receiver: name, groupKey: "{alertname=\"MastiffTestNotification\"}",
                                                          groupLabels: [Label("alertname", "MastiffTestNotification")], alerts: [alert],
                                                          createdAt: now, nextAttemptAt: now))
        } else if let pusher {
            var resolved = alert
            resolved.status = .resolved
            resolved.endsAt = now + 60
            result = await pusher.push([resolved], now: now)
        } else {
            let names = state.withLock { Array($0.receivers.keys) + Array($0.alertmanagers.keys) }.sorted()
            return .object(["ok": .bool(false), "error": .string("no receiver is named '\(name)' (receivers: \(names.joined(separator: ", ")))")])
        }
        switch result {
        case .delivered(let answer): return .object(["ok": .bool(true), "result": .string("delivered"), "answer": .string(answer)])
        case .retry(let reason, _): return .object(["ok": .bool(false), "result": .string("temporary failure"), "error": .string(reason)])
        case .failed(let reason): return .object(["ok": .bool(false), "result": .string("failed"), "error": .string(reason)])
        }
    }

    /// A notice (a restart carried out) to the receivers its labels route to.
    public func announce(labels: Labels, summary: String, description: String) {
        let now = clock.now()
        let alert = NotifiedAlert(labels: (labels + [Label("notice", "true"), Label("severity", "info")]).sortedByName(),
                                  annotations: [Label("summary", summary), Label("description", description)],
                                  status: .firing, startsAt: now, endsAt: nil, value: 1)
        state.withLock { $0.policy.announce(alert, now: now) }
        wake()
    }

    /// For `mastiff status`: queue per receiver, maintenance, silences (no secrets).
    public func statusJSON() -> JSONValue {
        let now = clock.now()
        return state.withLock { state in
            let maintenance = state.policy.maintenance(at: now)
            var receivers: [String: JSONValue] = [:]
            for name in state.policy.receiverNames {
                var entry: [String: JSONValue] = ["queued": .number(Double(state.policy.queueLength(name)))]
                if let time = state.policy.lastSuccess[name] { entry["last_success"] = .number(time) }
                receivers[name] = .object(entry)
            }
            return .object(["receivers": .object(receivers), "maintenance": .bool(maintenance.active),
                            "silences": .number(Double(state.policy.activeSilences(at: now).count))])
        }
    }

    /// Per alert fingerprint: receiver → when it was last delivered.
    public func deliveries() -> [String: [String: Double]] { state.withLock { $0.policy.deliveries } }

    public func metrics() -> [MetricFamily] {
        let now = clock.now()
        return state.withLock { state in
            let names = state.policy.receiverNames
            var totals: [Sample] = []
            var lengths: [Sample] = []
            var successes: [Sample] = []
            for name in names {
                for result in ["sent", "retried", "failed"] {
                    totals.append(Sample(labels: [Label("receiver", name), Label("result", result)], value: Double(state.policy.counters[name]?[result] ?? 0)))
                }
                lengths.append(Sample(labels: [Label("receiver", name)], value: Double(state.policy.queueLength(name))))
                if let time = state.policy.lastSuccess[name] { successes.append(Sample(labels: [Label("receiver", name)], value: time)) }
            }
            return [
                MetricFamily(name: "mastiff_notifications_total", help: "Notification deliveries by receiver and result (sent, retried, failed).",
                             type: .counter, samples: totals),
                MetricFamily(name: "mastiff_notification_queue_length", help: "Notifications waiting for delivery, by receiver.", type: .gauge, samples: lengths),
                MetricFamily(name: "mastiff_notification_last_success_timestamp_seconds", help: "When each receiver last accepted a notification.",
                             type: .gauge, samples: successes),
                MetricFamily(name: "mastiff_maintenance_active", help: "1 while a maintenance window or `mastiff maintenance on` holds notifications.",
                             type: .gauge, samples: [Sample(labels: [], value: state.policy.maintenance(at: now).active ? 1 : 0)]),
                MetricFamily(name: "mastiff_silences_active", help: "Silences in effect.", type: .gauge,
                             samples: [Sample(labels: [], value: Double(state.policy.activeSilences(at: now).count))]),
            ]
        }
    }
}

/// The receiver when none is configured: one log line per notification.
struct LogReceiver: NotificationReceiver {
    let name = NotificationPolicy.logReceiverName
    let logger: Logger
    let format: MessageFormat

    func deliver(_ notification: Notification) async -> DeliveryResult {
        logger.warning("notification", metadata: ["title": "\(format.title(notification))", "text": "\(format.body(notification))"])
        return .delivered(answer: "logged")
    }
}
