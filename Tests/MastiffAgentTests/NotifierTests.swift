import Logging
import MastiffAgent
import MastiffClients
import MastiffCore
import MastiffExecutors
import MastiffPolicies
import MastiffTestSupport
import Synchronization
import Testing

/// Records every request and answers from a script (then 200); nothing leaves the process.
final class RecordingTransport: HTTPTransport {
    private let state = Mutex<(requests: [HTTPRequest], answers: [HTTPResponse])>(([], []))

    init(answers: [HTTPResponse] = []) { state.withLock { $0.answers = answers } }

    var requests: [HTTPRequest] { state.withLock { $0.requests } }

    func send(_ request: HTTPRequest, timeout: Duration) async throws -> HTTPResponse {
        state.withLock { state in
            state.requests.append(request)
            return state.answers.isEmpty ? HTTPResponse(status: 200) : state.answers.removeFirst()
        }
    }
}

/// The notifier service on a manual wall clock and a recording transport: when deliveries go
/// out, and what a service's answer does to the next one.
@Suite struct NotifierTests {
    static let alert = NotifiedAlert(labels: [Label("alertname", "PostgresDown"), Label("severity", "critical")], annotations: [],
                                     status: .firing, startsAt: 1_800_000_000, endsAt: nil, value: 0)

    static func settings() -> AlertSettings {
        var settings = AlertSettings()
        settings.receivers = [ReceiverSpec(name: "chat", kind: .slack(.init(webhookURL: Secret("https://127.0.0.1:9001/hook"))))]
        settings.groupWait = .seconds(30)
        return settings
    }

    /// Runs the notifier while `body` runs, then stops it.
    static func running(_ notifier: Notifier, _ body: () async throws -> Void) async rethrows {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await notifier.run() }
            defer { group.cancelAll() }
            try await body()
        }
    }

    /// Polls (real time, bounded) until `condition` holds.
    static func eventually(within seconds: Double = 5, _ condition: () -> Bool) async -> Bool {
        for _ in 0..<Int(seconds * 20) {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    @Test func aFiringAlertGoesOutOnceGroupWaitHasPassed() async throws {
        let clock = ManualWallClock()
        let transport = RecordingTransport()
        let (logger, _) = RecordingLogHandler.logger()
        let notifier = Notifier(settings: Self.settings(), stateStore: nil, logger: logger, clock: clock, random: { 0 }, transport: transport)
        try await Self.running(notifier) {
            notifier.observe([Self.alert])
            clock.advance(by: 29)
            try? await Task.sleep(for: .milliseconds(1500))
            #expect(transport.requests.isEmpty, "group_wait is 30 s")
            clock.advance(by: 2)
            #expect(await Self.eventually { transport.requests.count == 1 })
            let request = try #require(transport.requests.first)
            #expect(request.method == "POST" && request.url == "https://127.0.0.1:9001/hook")
            #expect(String(decoding: request.body ?? [], as: UTF8.self).contains("[FIRING:1] PostgresDown (critical)"))
            #expect(await Self.eventually { notifier.statusJSON()["receivers"]?["chat"]?["last_success"] == .number(clock.now()) })
        }
    }

    /// Slack's 429 with Retry-After: 120 holds the notification for two minutes, then it goes out.
    @Test func aRetryAfterHoldsTheRetryThatLong() async throws {
        let clock = ManualWallClock()
        let transport = RecordingTransport(answers: [HTTPResponse(status: 429, headers: [("retry-after", "120")], body: Array("slow down".utf8))])
        let (logger, records) = RecordingLogHandler.logger()
        let notifier = Notifier(settings: Self.settings(), stateStore: nil, logger: logger, clock: clock, random: { 0 }, transport: transport)
        try await Self.running(notifier) {
            notifier.observe([Self.alert])
            clock.advance(by: 31)
            #expect(await Self.eventually { transport.requests.count == 1 })
            #expect(await Self.eventually { records.all.contains { $0.message.contains("retrying") } })
            clock.advance(by: 100)
            try? await Task.sleep(for: .milliseconds(1500))
            #expect(transport.requests.count == 1, "retried before Retry-After passed")
            clock.advance(by: 21)
            #expect(await Self.eventually { transport.requests.count == 2 })
            #expect(await Self.eventually { notifier.statusJSON()["receivers"]?["chat"]?["queued"] == .number(0) })
        }
    }

    /// Maintenance is one value the notifier publishes: `mastiff maintenance on/off` at once, a
    /// window as the rounds see it start and end (the restart service and the scheduled work read
    /// the value, not the notifier).
    @Test func maintenanceIsPublishedForTheOtherServices() async throws {
        // 08:05 UTC; windows every quarter of an hour, which is the same moment in every time zone
        // (their offsets are multiples of 15 minutes), lasting 2 minutes.
        let clock = ManualWallClock(1_800_000_300)
        var settings = Self.settings()
        settings.maintenanceWindows = [MaintenanceWindowSpec(cron: "*/15 * * * *", duration: .seconds(120), reason: "upgrade")]
        let maintenance = MaintenanceState()
        let (logger, _) = RecordingLogHandler.logger()
        let notifier = Notifier(settings: settings, stateStore: nil, logger: logger, clock: clock, transport: RecordingTransport(),
                                maintenanceState: maintenance)
        #expect(!maintenance.isActive)
        _ = notifier.maintenance(action: "on", seconds: 60, reason: "by hand")
        #expect(maintenance.isActive)
        _ = notifier.maintenance(action: "off", seconds: nil, reason: nil)
        #expect(!maintenance.isActive)
        try await Self.running(notifier) {
            clock.advance(by: 601)   // 08:15:01, inside the window
            #expect(await Self.eventually { maintenance.isActive })
            clock.advance(by: 150)   // 08:17:31, after it
            #expect(await Self.eventually { !maintenance.isActive })
        }
    }
}
