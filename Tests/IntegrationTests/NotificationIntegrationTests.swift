import Foundation
import MastiffTestSupport
import Testing

/// Notifications on real peers: Debian's Alertmanager receiving mastiff's pushes, an aiosmtpd
/// SMTP server with STARTTLS and AUTH, and an HTTP server that records every request the chat
/// receivers make (each checked against the service's documented API), answering with
/// scripted statuses for retries and restarts.
@Suite(.serialized) struct NotificationIntegrationTests {
    static let fixtures = Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/notifications"

    /// recording_server.py: one JSON line per request, answering with scripted statuses.
    final class RecordingServer {
        let port: Int
        let log: String
        private var pid: pid_t = 0

        init(statuses: String = "200", port: Int? = nil, log: String? = nil) throws {
            self.port = try port ?? AlertingIntegrationTests.HealthServer.freePort()
            self.log = try log ?? (Harness.temporaryDirectory().path + "/requests.jsonl")
            try start(statuses: statuses)
        }

        deinit { stop() }

        func start(statuses: String) throws {
            pid = try Harness.spawn(try Harness.which("python3"), [NotificationIntegrationTests.fixtures + "/recording_server.py", String(port), log, statuses],
                                    log: log + ".server.log")
            guard Harness.waitForListener(port: port) else { throw HarnessError("the recording server did not start") }
        }

        func stop() {
            guard pid > 0 else { return }
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            pid = 0
        }

        var url: String { "http://127.0.0.1:\(port)" }

        func requests() -> [[String: Any]] {
            guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [] }
            return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }

        static func body(_ request: [String: Any]) -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(((request["body"] as? String) ?? "").utf8))) as? [String: Any] ?? [:]
        }

        func waitFor(within seconds: Double, _ condition: ([[String: Any]]) -> Bool) async throws {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if condition(requests()) { return }
                try await Task.sleep(for: .milliseconds(200))
            }
            throw HarnessError("the condition on the recorded requests did not hold within \(seconds) s: \(requests())")
        }
    }

    static func rules(_ text: String) throws -> String {
        let path = try Harness.temporaryDirectory().path + "/rules.yml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let alwaysOn = """
    groups:
      - name: test
        rules:
          - alert: AlwaysOn
            expr: vector(1)
            labels: {severity: warning}
            annotations: {summary: "always on", description: "value {{ $value }}"}
    """

    static func config(rules: String, alerts: String, probes: String = "[]", sampling: String = "1s") throws -> String {
        try Harness.writeConfig(collectors: ["probes": probes], """
        sampling: {interval: \(sampling)}
        statsd: {enabled: false}
        alerts:
          builtin: false
          rule_files: [\(rules)]
        \(alerts.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        """)
    }

    static func cli(_ config: String, _ arguments: [String]) throws -> Harness.Result {
        try Harness.run(Harness.binary, arguments + ["--config", config])
    }

    // MARK: - Alertmanager

    /// A private Alertmanager (no cluster) that sends everything to `hook`; returns its pid and port.
    static func alertmanager(notifying hook: RecordingServer) throws -> (pid: pid_t, port: Int) {
        let alertmanager = try Harness.which("prometheus-alertmanager")
        let directory = try Harness.temporaryDirectory().path
        let port = try AlertingIntegrationTests.HealthServer.freePort()
        try """
        route: {receiver: hook, group_by: [alertname], group_wait: 1s, group_interval: 1s, repeat_interval: 1h}
        receivers:
          - name: hook
            webhook_configs: [{url: "\(hook.url)/am", send_resolved: true}]
        """.write(toFile: directory + "/alertmanager.yml", atomically: true, encoding: .utf8)
        let pid = try Harness.spawn(alertmanager, ["--config.file=\(directory)/alertmanager.yml", "--storage.path=\(directory)/data",
                                                   "--web.listen-address=127.0.0.1:\(port)", "--cluster.listen-address="], log: directory + "/am.log")
        return (pid, port)
    }

    /// Of two Alertmanager URLs, the first hangs (a member of the cluster that is down without
    /// refusing connections): the second still gets the alert at once, since every URL is posted
    /// to at the same time.
    @Test func anAlertmanagerThatHangsDelaysNoOtherMemberOfItsCluster() async throws {
        let hook = try RecordingServer()
        let (am, amPort) = try Self.alertmanager(notifying: hook)
        defer { kill(am, SIGTERM) }
        let hung = try RecordingServer(statuses: "hang")
        let config = try Self.config(rules: try Self.rules(Self.alwaysOn), alerts: """
            receivers:
              - {name: am, timeout: 30s, alertmanager: {urls: ["\(hung.url)", "http://127.0.0.1:\(amPort)"]}}
            """)
        let started = Date()
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        try await hook.waitFor(within: 20) { requests in requests.contains { RecordingServer.body($0)["status"] as? String == "firing" } }
        #expect(Date().timeIntervalSince(started) < 15, "the working member did not wait for the hung one's 30 s")
        #expect(!hung.requests().isEmpty, "the hung member was posted to as well")
        _ = mastiff
    }

    @Test func alertmanagerReceivesFiringThenResolved() async throws {
        let hook = try RecordingServer()
        let (am, amPort) = try Self.alertmanager(notifying: hook)
        defer { kill(am, SIGTERM) }
        let target = try AlertingIntegrationTests.HealthServer()
        let rules = try Self.rules("""
        groups:
          - name: test
            rules:
              - alert: TargetDown
                expr: probe_success{probe="target"} == 0
                labels: {severity: critical}
                annotations: {summary: "target is down", description: "probe {{ $labels.probe }} failed"}
        """)
        let config = try Self.config(rules: rules, alerts: "receivers:\n  - {name: am, alertmanager: {urls: [\"http://127.0.0.1:\(amPort)\"]}}",
                                     probes: "[{name: target, url: \"http://127.0.0.1:\(target.port)/health\", timeout: 1s}]")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        try await Task.sleep(for: .seconds(2))
        target.stop()
        try await hook.waitFor(within: 20) { requests in requests.contains { RecordingServer.body($0)["status"] as? String == "firing" } }
        let firing = try #require(hook.requests().map(RecordingServer.body).first { $0["status"] as? String == "firing" })
        let alert = try #require((firing["alerts"] as? [[String: Any]])?.first)
        #expect(alert["labels"] as? [String: String] == ["alertname": "TargetDown", "probe": "target", "severity": "critical"])
        #expect((alert["annotations"] as? [String: String])?["description"] == "probe target failed")
        #expect((hook.requests().first?["headers"] as? [String: String])?["user-agent"]?.hasPrefix("Alertmanager/") == true)
        try target.start()
        try await hook.waitFor(within: 20) { requests in requests.contains { RecordingServer.body($0)["status"] as? String == "resolved" } }
        let metrics = try await mastiff.metrics(sampledAfter: Date())
        #expect(sampleValue(metrics.text, #"mastiff_notifications_total{receiver="am",result="sent"}"#) ?? 0 >= 2)
        #expect(try Harness.promtoolProblems(metrics.text) == "")
    }

    // MARK: - E-mail

    @Test func emailOverStartTLSWithAuthAndAWrongPasswordFailsClearly() async throws {
        let directory = try Harness.temporaryDirectory().path
        let openssl = try Harness.which("openssl")
        _ = try Harness.run(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem",
                                      "-days", "30", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
        try FileManager.default.createDirectory(atPath: directory + "/mail", withIntermediateDirectories: true)
        let smtpPort = try AlertingIntegrationTests.HealthServer.freePort()
        let smtp = try Harness.spawn(try Harness.which("python3"), [Self.fixtures + "/smtp_server.py", String(smtpPort), directory + "/cert.pem",
                                                                    directory + "/key.pem", "mastiff", "s3cret-Passw0rd", directory + "/mail"],
                                     log: directory + "/smtp.log")
        defer { kill(smtp, SIGTERM) }
        try await Task.sleep(for: .seconds(2))
        let rules = try Self.rules(Self.alwaysOn)
        let config = try Self.config(rules: rules, alerts: """
        receivers:
          - {name: mail, ca_file: "\(directory)/cert.pem", email: {to: [admin@example.test], from: mastiff@example.test, smarthost: "127.0.0.1:\(smtpPort)", username: mastiff, password: "${MASTIFF_TEST_SMTP_PASSWORD}"}}
          - {name: wrong, ca_file: "\(directory)/cert.pem", email: {to: [admin@example.test], from: mastiff@example.test, smarthost: "127.0.0.1:\(smtpPort)", username: mastiff, password: "not-the-Passw0rd"}}
        routes: [{match: {alertname: AlwaysOn}, receivers: [mail]}]
        group_wait: 1s
        """)
        let mastiff = try RunningMastiff(arguments: ["--config", config], environment: ["MASTIFF_TEST_SMTP_PASSWORD": "s3cret-Passw0rd"])
        let deadline = Date().addingTimeInterval(20)
        var files: [String] = []
        while files.isEmpty && Date() < deadline {
            try await Task.sleep(for: .milliseconds(300))
            files = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/mail")) ?? []
        }
        let message = try String(contentsOfFile: directory + "/mail/" + (try #require(files.first)), encoding: .utf8)
        #expect(message.contains("X-Envelope-From: mastiff@example.test"))
        #expect(message.contains("X-Envelope-To: admin@example.test"))
        #expect(message.contains("Subject: [FIRING:1] AlwaysOn (warning)"))
        #expect(message.contains("FIRING AlwaysOn: value 1, since "))
        #expect(message.contains("always on"))

        var environment = ProcessInfo.processInfo.environment
        environment["MASTIFF_TEST_SMTP_PASSWORD"] = "s3cret-Passw0rd"
        let wrong = try Harness.run(Harness.binary, ["alerts", "test", "--receiver", "wrong", "--config", config], environment: environment)
        #expect(wrong.status == 1)
        #expect(wrong.stdout.contains("failed") && wrong.stdout.contains("Login denied"), "\(wrong.stdout)")
        #expect(!wrong.stdout.contains("not-the-Passw0rd") && !mastiff.log.contains("not-the-Passw0rd") && !mastiff.log.contains("s3cret-Passw0rd"))
        let right = try Harness.run(Harness.binary, ["alerts", "test", "--receiver", "mail", "--config", config], environment: environment)
        #expect(right.status == 0, "\(right.stdout)\(right.stderr)")
    }

    // MARK: - Chat services: the exact requests their APIs document

    @Test func chatReceiversSendWhatEachServiceDocuments() async throws {
        let server = try RecordingServer()
        let base = server.url
        let rules = try Self.rules(Self.alwaysOn)
        let config = try Self.config(rules: rules, alerts: """
        receivers:
          - {name: hook, webhook: {url: "\(base)/hook", bearer_token: hook-token}}
          - {name: slack, slack: {webhook_url: "\(base)/services/T000/B000/XXXX"}}
          - {name: discord, discord: {webhook_url: "\(base)/api/webhooks/123/abc"}}
          - {name: matrix, matrix: {homeserver: "\(base)", room_id: "!room:example.test", access_token: matrix-token}}
          - {name: ntfy, ntfy: {url: "\(base)/mastiff-alerts", token: ntfy-token, tags: [mastodon]}}
          - {name: telegram, telegram: {bot_token: "123:bot-token", chat_id: "-100123", api_url: "\(base)"}}
          - {name: gotify, gotify: {url: "\(base)", token: gotify-token, priority: 7}}
          - {name: mastodon, mastodon: {instance_url: "\(base)", access_token: mastodon-token, to: "@admin"}}
          - name: custom
            ntfy: {url: "\(base)/custom"}
            title: "{{ .Status | toUpper }}: {{ len .Alerts }} alert(s), {{ .GroupLabels.alertname }}"
            text: "{{ range .Alerts }}{{ .Labels.alertname }}={{ .Value }} ({{ .Annotations.summary }});{{ end }} to {{ .Receiver }}"
        default_receivers: []
        """)
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        defer { withExtendedLifetime(mastiff) {} }
        for name in ["hook", "slack", "discord", "matrix", "ntfy", "telegram", "gotify", "mastodon", "custom"] {
            let result = try Self.cli(config, ["alerts", "test", "--receiver", name])
            #expect(result.status == 0, "\(name): \(result.stdout)\(result.stderr)")
        }
        let requests = server.requests()
        func request(_ prefix: String) throws -> [String: Any] { try #require(requests.first { ($0["path"] as? String)?.hasPrefix(prefix) == true }, "\(prefix)") }
        func headers(_ request: [String: Any]) -> [String: String] { request["headers"] as? [String: String] ?? [:] }

        // Alertmanager's webhook_config payload, version 4 (prometheus/alertmanager docs/configuration.md).
        let hook = try request("/hook")
        #expect(hook["method"] as? String == "POST" && headers(hook)["authorization"] == "Bearer hook-token")
        let payload = RecordingServer.body(hook)
        #expect(payload["version"] as? String == "4" && payload["status"] as? String == "firing" && payload["receiver"] as? String == "hook")
        let alert = try #require((payload["alerts"] as? [[String: Any]])?.first)
        #expect(alert["endsAt"] as? String == "0001-01-01T00:00:00Z")
        #expect((alert["labels"] as? [String: String])?["alertname"] == "MastiffTestNotification")
        #expect((alert["fingerprint"] as? String)?.count == 16)
        // Slack incoming webhooks: POST JSON with "text" (api.slack.com/messaging/webhooks).
        let slack = try request("/services/T000/B000/XXXX")
        #expect(slack["method"] as? String == "POST" && headers(slack)["content-type"] == "application/json")
        #expect((RecordingServer.body(slack)["text"] as? String)?.contains("MastiffTestNotification") == true)
        // Discord: POST {"content"} (discord.com/developers/docs/resources/webhook#execute-webhook).
        let discord = RecordingServer.body(try request("/api/webhooks/123/abc"))
        #expect((discord["content"] as? String)?.contains("[FIRING:1] MastiffTestNotification") == true)
        // Matrix: PUT /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}, m.text, Bearer token
        // (spec.matrix.org, client-server API).
        let matrix = try request("/_matrix/client/v3/rooms/%21room%3Aexample.test/send/m.room.message/")
        #expect(matrix["method"] as? String == "PUT" && headers(matrix)["authorization"] == "Bearer matrix-token")
        #expect(RecordingServer.body(matrix)["msgtype"] as? String == "m.text")
        // ntfy: POST the text to the topic with Title, Priority, Tags and a Bearer token (docs.ntfy.sh/publish).
        let ntfy = try request("/mastiff-alerts")
        #expect(ntfy["method"] as? String == "POST" && headers(ntfy)["authorization"] == "Bearer ntfy-token")
        #expect(headers(ntfy)["title"] == "[FIRING:1] MastiffTestNotification (info)" && headers(ntfy)["priority"] == "default")
        #expect(headers(ntfy)["tags"] == "mastodon,rotating_light")
        #expect((ntfy["body"] as? String)?.contains("A test notification from mastiff") == true)
        // Telegram: POST /bot<token>/sendMessage {"chat_id", "text"} (core.telegram.org/bots/api#sendmessage).
        let telegram = try request("/bot123:bot-token/sendMessage")
        #expect(RecordingServer.body(telegram)["chat_id"] as? Int == -100123)
        #expect((RecordingServer.body(telegram)["text"] as? String)?.hasPrefix("[FIRING:1]") == true)
        // Gotify: POST /message with X-Gotify-Key {"title", "message", "priority"} (gotify.net/api-docs).
        let gotify = try request("/message")
        #expect(headers(gotify)["x-gotify-key"] == "gotify-token" && RecordingServer.body(gotify)["priority"] as? Int == 7)
        // Mastodon: POST /api/v1/statuses {"status", "visibility": "direct"}, Bearer token, Idempotency-Key
        // (docs.joinmastodon.org/methods/statuses/#create).
        let mastodon = try request("/api/v1/statuses")
        #expect(headers(mastodon)["authorization"] == "Bearer mastodon-token" && headers(mastodon)["idempotency-key"] != nil)
        #expect(RecordingServer.body(mastodon)["visibility"] as? String == "direct")
        #expect((RecordingServer.body(mastodon)["status"] as? String)?.hasPrefix("@admin ") == true)
        #expect((RecordingServer.body(mastodon)["status"] as? String ?? "").count <= 500)
        // A receiver's own title and text templates (the rule engine's Go templates).
        let custom = try request("/custom")
        #expect(headers(custom)["title"] == "FIRING: 1 alert(s), MastiffTestNotification")
        #expect(custom["body"] as? String == "MastiffTestNotification=1 (A test notification from mastiff); to custom")
    }

    @Test func aBadMessageTemplateIsRefusedWithItsPosition() throws {
        let config = try Harness.writeConfig("""
        alerts:
          receivers:
            - name: chat
              ntfy: {url: "http://127.0.0.1:9/topic"}
              text: "{{ range .Alerts }}{{ nosuch . }}{{ end }}"
        """)
        let result = try Harness.run(Harness.binary, ["check-config", "--config", config])
        #expect(result.status == 1)
        #expect(result.stderr.contains("mastiff.yml:5:13: alerts.receivers[0].text: template: function \"nosuch\" not defined"), "\(result.stderr)")
    }

    // MARK: - Delivery that loses nothing

    @Test func aReceiverAnswering500Then200GetsTheNotificationExactlyOnce() async throws {
        let hook = try RecordingServer(statuses: "500,500,200")
        let config = try Self.config(rules: try Self.rules(Self.alwaysOn), alerts: "receivers: [{name: hook, webhook: {url: \"\(hook.url)/hook\"}}]\ngroup_wait: 1s")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        try await hook.waitFor(within: 30) { $0.contains { $0["status"] as? Int == 200 } }
        try await Task.sleep(for: .seconds(3))
        let requests = hook.requests()
        #expect(requests.map { $0["status"] as? Int } == [500, 500, 200])
        let metrics = try await mastiff.metrics(sampledAfter: Date())
        #expect(sampleValue(metrics.text, #"mastiff_notifications_total{receiver="hook",result="sent"}"#) == 1)
        #expect(sampleValue(metrics.text, #"mastiff_notifications_total{receiver="hook",result="retried"}"#) == 2)
        #expect(sampleValue(metrics.text, #"mastiff_notification_queue_length{receiver="hook"}"#) == 0)
    }

    /// The receiver is down while mastiff is killed (SIGKILL: no chance to save anything more)
    /// and started again: the queued notification goes out after the restart, once.
    @Test func aNotificationQueuedAcrossAKillIsDeliveredOnceAfterTheRestart() async throws {
        let hook = try RecordingServer(statuses: "503")
        let config = try Self.config(rules: try Self.rules(Self.alwaysOn), alerts: "receivers: [{name: hook, webhook: {url: \"\(hook.url)/hook\"}}]\ngroup_wait: 1s")
        do {
            let first = try RunningMastiff(arguments: ["--config", config])
            try await hook.waitFor(within: 15) { $0.count >= 1 }
            first.signal(SIGKILL)
            _ = first.waitForExit(timeout: 5)
        }
        hook.stop()
        try hook.start(statuses: "200")
        let second = try RunningMastiff(arguments: ["--config", config])
        try await hook.waitFor(within: 30) { $0.contains { $0["status"] as? Int == 200 } }
        try await Task.sleep(for: .seconds(4))
        let delivered = hook.requests().filter { $0["status"] as? Int == 200 }
        #expect(delivered.count == 1, "\(hook.requests().count) requests")
        #expect(second.log.contains("restored queued notifications"))
    }

    // MARK: - Maintenance, silences, grouping

    @Test func maintenanceHoldsNotificationsAndReleasesOnlyWhatStillFires() async throws {
        let hook = try RecordingServer()
        let target = try AlertingIntegrationTests.HealthServer()
        target.stop()
        let rules = try Self.rules(Self.alwaysOn + """

              - alert: TargetDown
                expr: probe_success{probe="target"} == 0
        """)
        let config = try Self.config(rules: rules, alerts: "receivers: [{name: hook, webhook: {url: \"\(hook.url)/hook\"}}]\ngroup_wait: 4s\ngroup_interval: 2s",
                                     probes: "[{name: target, url: \"http://127.0.0.1:\(target.port)/health\", timeout: 1s}]")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        let on = try Self.cli(config, ["maintenance", "on", "--for", "1h", "--reason", "upgrade"])
        #expect(on.status == 0 && on.stdout.contains("maintenance: on"), "\(on.stdout)\(on.stderr)")
        try await Task.sleep(for: .seconds(6))
        try target.start()
        try await Task.sleep(for: .seconds(4))
        #expect(hook.requests().isEmpty, "held during maintenance")
        let metrics = try await mastiff.metrics(sampledAfter: Date())
        #expect(sampleValue(metrics.text, "mastiff_maintenance_active") == 1)
        #expect(try Self.cli(config, ["maintenance", "off"]).status == 0)
        try await hook.waitFor(within: 10) { !$0.isEmpty }
        try await Task.sleep(for: .seconds(5))
        let names = hook.requests().flatMap { (RecordingServer.body($0)["alerts"] as? [[String: Any]] ?? []).compactMap { ($0["labels"] as? [String: String])?["alertname"] } }
        #expect(names == ["AlwaysOn"], "the still-firing alert, not the one that resolved during maintenance")
    }

    @Test func aSilenceHoldsTheMatchingAlertOnly() async throws {
        let hook = try RecordingServer()
        let rules = try Self.rules(Self.alwaysOn + """

              - alert: AlsoOn
                expr: vector(2)
        """)
        let config = try Self.config(rules: rules, alerts: "receivers: [{name: hook, webhook: {url: \"\(hook.url)/hook\"}}]\ngroup_wait: 3s")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        let add = try Self.cli(config, ["silence", "add", "alertname=AlsoOn", "--for", "1h", "--comment", "known"])
        #expect(add.status == 0 && add.stdout.contains("silence s1 added"), "\(add.stdout)\(add.stderr)")
        #expect(try Self.cli(config, ["silence", "list"]).stdout.contains("alertname=AlsoOn"))
        try await hook.waitFor(within: 10) { !$0.isEmpty }
        try await Task.sleep(for: .seconds(3))
        let names = hook.requests().flatMap { (RecordingServer.body($0)["alerts"] as? [[String: Any]] ?? []).compactMap { ($0["labels"] as? [String: String])?["alertname"] } }
        #expect(names == ["AlwaysOn"])
        let metrics = try await mastiff.metrics(sampledAfter: Date())
        #expect(sampleValue(metrics.text, "mastiff_silences_active") == 1)
    }

    @Test func groupWaitGroupsThreeAlertsIntoOneMessage() async throws {
        let hook = try RecordingServer()
        let rules = try Self.rules("""
        groups:
          - name: test
            rules:
              - {alert: One, expr: vector(1), labels: {team: ops}}
              - {alert: Two, expr: vector(2), labels: {team: ops}}
              - {alert: Three, expr: vector(3), labels: {team: ops}}
        """)
        let config = try Self.config(rules: rules, alerts: "receivers: [{name: hook, webhook: {url: \"\(hook.url)/hook\"}}]\ngroup_by: [team]\ngroup_wait: 2s")
        let started = Date()
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        defer { withExtendedLifetime(mastiff) {} }
        try await hook.waitFor(within: 10) { !$0.isEmpty }
        let latency = Date().timeIntervalSince(started)
        try await Task.sleep(for: .seconds(2))
        let requests = hook.requests()
        #expect(requests.count == 1)
        let alerts = RecordingServer.body(try #require(requests.first))["alerts"] as? [[String: Any]] ?? []
        #expect(Set(alerts.compactMap { ($0["labels"] as? [String: String])?["alertname"] }) == ["One", "Two", "Three"])
        #expect(latency < 5, "first sample, group_wait 2 s, delivery: \(latency) s")
    }

    /// alerts.heartbeat: pinged while mastiff samples; a failing ping is logged without its URL
    /// (it holds the check's token).
    @Test func theHeartbeatIsPingedWhileSampling() async throws {
        let server = try RecordingServer()
        let config = try Self.config(rules: try Self.rules(Self.alwaysOn),
                                     alerts: "heartbeat: {url: \"\(server.url)/ping/secret-check-uuid\", interval: 5s}\ndefault_receivers: []")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        try await server.waitFor(within: 12) { requests in requests.filter { $0["path"] as? String == "/ping/secret-check-uuid" }.count >= 2 }
        #expect(server.requests().allSatisfy { $0["method"] as? String == "GET" })
        server.stop()
        try await Task.sleep(for: .seconds(6))
        #expect(mastiff.log.contains("heartbeat ping failed"))
        #expect(!mastiff.log.contains("secret-check-uuid"))
    }
}
