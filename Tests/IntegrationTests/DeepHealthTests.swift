import Foundation
import MastiffClients
import MastiffCore
import MastiffTestSupport
import Testing

/// /health/deep and /api/v1/health on a running agent with real PostgreSQL, Redis and an HTTP
/// stand-in for Mastodon's web and streaming health URLs: what an uptime checker sees when all
/// is well and when a part fails, open or behind the web configuration as configured.
@Suite(.serialized) struct DeepHealthTests {
    static func start(open: Bool, probePort: Int) throws -> RunningMastiff {
        let directory = try Harness.temporaryDirectory()
        let web = directory.appendingPathComponent("web.yml").path
        try "basic_auth_users:\n  prometheus: \(try WebConfigIntegrationTests.hash)\n".write(toFile: web, atomically: true, encoding: .utf8)
        let base = "http://127.0.0.1:\(probePort)"
        let config = try Harness.writeConfig(collectors: [
            "postgres": "{dsn: \"\(try Harness.environment("MASTIFF_TEST_PG_DSN"))\"}",
            "redis": "{url: \"redis://127.0.0.1:\(try Harness.environment("MASTIFF_TEST_REDIS_PORT"))/0\"}",
            "timeout": "2s",
            "probes": "[{name: web, url: \"\(base)/health\", body_contains: OK, timeout: 1s}, {name: streaming, url: \"\(base)/health\", body_contains: OK, timeout: 1s}]",
        ], "web_config: \(web)\nsampling: {interval: 1s}\ninstance: {health_open: \(open)}\nstatsd: {enabled: false}\n")
        return try RunningMastiff(arguments: ["--config", config])
    }

    static func health(_ mastiff: RunningMastiff, _ path: String, credentials: Bool = false) async throws -> HTTPResponse {
        let headers = credentials ? [WebConfigIntegrationTests.authorization("prometheus", WebConfigIntegrationTests.password)] : []
        return try await WebConfigIntegrationTests.get(mastiff.baseURL + path, headers: headers)
    }

    @Test func anUptimeCheckerSeesEveryPartAndTheOneThatFails() async throws {
        let directory = try Harness.temporaryDirectory().path
        let port = try AlertingIntegrationTests.HealthServer.freePort()
        let script = Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/probes/probe_server.py"
        let server = try Harness.spawn(try Harness.which("python3"), [script, String(port)], log: directory + "/http.log")
        var serverRunning = true
        defer { if serverRunning { kill(server, SIGTERM) } }
        try await Task.sleep(for: .seconds(1))
        let mastiff = try Self.start(open: true, probePort: port)

        var deep = try await Self.health(mastiff, "/health/deep")
        for _ in 0..<40 where deep.status != 200 {
            try await Task.sleep(for: .milliseconds(250))
            deep = try await Self.health(mastiff, "/health/deep")
        }
        #expect(deep.status == 200, "\(deep.text)\n\(mastiff.log)")
        #expect(deep.text.hasPrefix("ok\n"))
        for part in ["web", "streaming", "postgres", "redis", "disk"] {
            #expect(deep.text.contains("ok \(part): "), "\(part) in \(deep.text)")
        }
        let json = try #require(JSONValue.parse(try await Self.health(mastiff, "/api/v1/health").text))
        #expect(json["healthy"] == .bool(true) && json["failing"] == .array([]))
        #expect(try await Self.health(mastiff, "/metrics").status == 401, "the rest still needs the credentials")

        // Mastodon's web front end goes away: the next sample says so.
        kill(server, SIGTERM)
        serverRunning = false
        var failing = deep
        for _ in 0..<40 where failing.status != 503 {
            try await Task.sleep(for: .milliseconds(250))
            failing = try await Self.health(mastiff, "/health/deep")
        }
        #expect(failing.status == 503, "\(failing.text)")
        #expect(failing.text.hasPrefix("unhealthy\nFAIL streaming: the streaming probe fails\nFAIL web: the web probe fails\n"), "\(failing.text)")
        let failingJSON = try #require(JSONValue.parse(try await Self.health(mastiff, "/api/v1/health").text))
        #expect(failingJSON["failing"] == .array([.string("web"), .string("streaming")]))
    }

    @Test func behindTheWebConfigurationUnlessOpened() async throws {
        let mastiff = try Self.start(open: false, probePort: 1)
        for path in ["/health/deep", "/api/v1/health"] {
            #expect(try await Self.health(mastiff, path).status == 401, "\(path)")
            let answered = try await Self.health(mastiff, path, credentials: true)
            #expect(answered.status == 503 || answered.status == 200, "\(path): \(answered.status)")
        }
        #expect(try await Self.health(mastiff, "/healthz").status == 200, "mastiff's own liveness stays open")
    }
}
