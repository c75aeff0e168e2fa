import MastiffClients
import MastiffCore
import MastiffExecutors
import MastiffPolicies
import Testing

/// Each HTTP channel's request, built from one notification, against the shape its service
/// documents (the URLs each file names). Nothing is sent: the request is a value, and every URL is a
/// loopback one.
@Suite struct ChannelRequestTests {
    static let alert = NotifiedAlert(labels: [Label("alertname", "SidekiqQueueLatencyHigh"), Label("queue", "push"), Label("severity", "critical")],
                                     annotations: [Label("summary", "push queue 120 s behind")], status: .firing,
                                     startsAt: 1_800_000_000, endsAt: nil, value: 120)
    static let notification = Notification(id: "n1", receiver: "chat", groupKey: "{alertname=\"SidekiqQueueLatencyHigh\"}",
                                           groupLabels: [Label("alertname", "SidekiqQueueLatencyHigh")], alerts: [alert],
                                           createdAt: 1_800_000_030, nextAttemptAt: 1_800_000_030)
    static let format = MessageFormat(host: "mastodon-1")
    static let timeout = Duration.seconds(10)

    struct Expected: Sendable, CustomTestStringConvertible {
        var channel: any HTTPChannel
        var method: String
        var url: String
        /// Headers that must be there, exactly.
        var headers: [String]
        /// Top-level JSON members and their values (strings compared as given, others by JSON).
        var json: [String: JSONValue]?
        /// For a plain-text body: text it must contain.
        var textContains: String?
        var testDescription: String { "\(type(of: channel))" }
    }

    static let cases: [Expected] = [
        Expected(channel: SlackReceiver(name: "chat", webhookURL: Secret("https://127.0.0.1:9001/services/T/B/x"), caFile: nil, timeout: timeout, format: format),
                 method: "POST", url: "https://127.0.0.1:9001/services/T/B/x", headers: ["Content-Type: application/json"],
                 json: ["text": .string("*[FIRING:1] SidekiqQueueLatencyHigh (critical)*\n" + format.body(notification))]),
        Expected(channel: DiscordReceiver(name: "chat", webhookURL: Secret("https://127.0.0.1:9002/api/webhooks/1/t"), caFile: nil, timeout: timeout, format: format),
                 method: "POST", url: "https://127.0.0.1:9002/api/webhooks/1/t", headers: ["Content-Type: application/json"],
                 json: ["content": .string("**[FIRING:1] SidekiqQueueLatencyHigh (critical)**\n" + format.body(notification)), "username": .string("mastiff")]),
        Expected(channel: MatrixReceiver(name: "chat", homeserver: "https://127.0.0.1:9003", roomID: "!room:mastodon.local", accessToken: Secret("syt_token"),
                                         caFile: nil, timeout: timeout, format: format),
                 method: "PUT", url: "https://127.0.0.1:9003/_matrix/client/v3/rooms/%21room%3Amastodon.local/send/m.room.message/mastiff-n1-1800000030",
                 headers: ["Authorization: Bearer syt_token", "Content-Type: application/json"],
                 json: ["msgtype": .string("m.text"), "body": .string("[FIRING:1] SidekiqQueueLatencyHigh (critical)\n" + format.body(notification))]),
        Expected(channel: NtfyReceiver(name: "chat", topicURL: "https://127.0.0.1:9004/mastodon", token: Secret("tk_1"), priority: nil, tags: ["mastodon"],
                                       caFile: nil, timeout: timeout, format: format),
                 method: "POST", url: "https://127.0.0.1:9004/mastodon",
                 headers: ["Title: [FIRING:1] SidekiqQueueLatencyHigh (critical)", "Priority: high", "Tags: mastodon,rotating_light",
                           "Authorization: Bearer tk_1", "Content-Type: text/plain; charset=utf-8"],
                 textContains: "FIRING SidekiqQueueLatencyHigh {queue=push}: value 120"),
        Expected(channel: TelegramReceiver(name: "chat", botToken: Secret("123:abc"), chatID: "-1001", apiURL: "https://127.0.0.1:9005",
                                           caFile: nil, timeout: timeout, format: format),
                 method: "POST", url: "https://127.0.0.1:9005/bot123:abc/sendMessage", headers: ["Content-Type: application/json"],
                 json: ["chat_id": .number(-1001), "disable_web_page_preview": .bool(true),
                        "text": .string("[FIRING:1] SidekiqQueueLatencyHigh (critical)\n" + format.body(notification))]),
        Expected(channel: GotifyReceiver(name: "chat", url: "https://127.0.0.1:9006", token: Secret("AppToken"), priority: 8, caFile: nil, timeout: timeout, format: format),
                 method: "POST", url: "https://127.0.0.1:9006/message", headers: ["X-Gotify-Key: AppToken", "Content-Type: application/json"],
                 json: ["title": .string("[FIRING:1] SidekiqQueueLatencyHigh (critical)"), "message": .string(format.body(notification)), "priority": .number(8)]),
        Expected(channel: MastodonReceiver(name: "chat", instanceURL: "https://127.0.0.1:9007", accessToken: Secret("tok"), to: "@admin",
                                           caFile: nil, timeout: timeout, format: format),
                 method: "POST", url: "https://127.0.0.1:9007/api/v1/statuses",
                 headers: ["Authorization: Bearer tok", "Idempotency-Key: mastiff-n1-1800000030", "Content-Type: application/json"],
                 json: ["visibility": .string("direct"), "status": .string("@admin [FIRING:1] SidekiqQueueLatencyHigh (critical)\n" + format.body(notification))]),
        Expected(channel: WebhookReceiver(name: "chat", url: Secret("https://127.0.0.1:9008/alerts"), bearerToken: Secret("wh"), caFile: nil, timeout: timeout),
                 method: "POST", url: "https://127.0.0.1:9008/alerts", headers: ["Authorization: Bearer wh", "Content-Type: application/json"],
                 json: ["version": .string("4"), "status": .string("firing"), "receiver": .string("chat"),
                        "groupKey": .string("{}:{alertname=\"SidekiqQueueLatencyHigh\"}")]),
    ]

    @Test(arguments: cases)
    func theRequestHasTheDocumentedShape(_ expected: Expected) throws {
        let request = expected.channel.request(for: Self.notification)
        #expect(request.method == expected.method)
        #expect(request.url == expected.url)
        for header in expected.headers { #expect(request.headers.contains(header), "missing \(header) in \(request.headers)") }
        let body = String(decoding: try #require(request.body), as: UTF8.self)
        if let json = expected.json {
            let parsed = try #require(JSONValue.parse(body))
            for (member, value) in json { #expect(parsed[member] == value, "\(member)") }
        }
        if let text = expected.textContains { #expect(body.contains(text)) }
        #expect(expected.channel.timeout == Self.timeout)
    }

    /// Discord takes 2000 characters, Telegram 4096, a Mastodon post 500: longer texts are cut,
    /// with an ellipsis, not refused by the service.
    @Test func longMessagesAreCutToEachServicesLimit() throws {
        let many = (0..<200).map { index in
            NotifiedAlert(labels: [Label("alertname", "PostgresDown"), Label("instance", "db-\(index)")], annotations: [], status: .firing,
                          startsAt: 1_800_000_000, endsAt: nil, value: 0)
        }
        var notification = Self.notification
        notification.alerts = many
        let limits: [(any HTTPChannel, String, Int)] = [
            (DiscordReceiver(name: "d", webhookURL: Secret("https://127.0.0.1:9009"), caFile: nil, timeout: Self.timeout, format: Self.format), "content", 2000),
            (TelegramReceiver(name: "t", botToken: Secret("1:a"), chatID: "1", apiURL: "https://127.0.0.1:9010", caFile: nil, timeout: Self.timeout, format: Self.format), "text", 4096),
            (MastodonReceiver(name: "m", instanceURL: "https://127.0.0.1:9011", accessToken: Secret("t"), to: "@a", caFile: nil, timeout: Self.timeout, format: Self.format), "status", 500),
        ]
        for (channel, member, limit) in limits {
            let bytes = try #require(channel.request(for: notification).body)
            let body = try #require(JSONValue.parse(String(decoding: bytes, as: UTF8.self)))
            let text = try #require(body[member]?.string)
            #expect(text.count == limit && text.hasSuffix("…"), "\(type(of: channel)): \(text.count) characters")
        }
    }
}
