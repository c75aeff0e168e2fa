import Foundation
import MastiffClients
import MastiffTestSupport
import Testing

/// Sources that are stopped, paused (SIGSTOP) or locked: every scrape still answers 200 within
/// the collector timeout plus 1 s, the first sample taken after the event says `<source>_up 0`
/// and `mastiff_collector_success 0`, and the values come back without restarting mastiff.
@Suite(.serialized) struct DownAndSlowTests {
    let collectorTimeout = 2.0

    private func start(_ services: PrivateServices, postgresExtra: String = "") throws -> RunningMastiff {
        let config = try Harness.writeConfig("""
        listen: 127.0.0.1:0
        sampling: {interval: 1s}
        collectors:
          timeout: \(Int(collectorTimeout))s
          processes: {enabled: false}
          postgres: {dsn: "\(services["MASTIFF_TEST_PG_DSN"])"\(postgresExtra)}
          redis: {url: "redis://127.0.0.1:\(services["MASTIFF_TEST_REDIS_PORT"])/0"}
        """)
        return try RunningMastiff(arguments: ["--config", config])
    }

    /// One scrape, timed.
    private func scrape(_ mastiff: RunningMastiff) async throws -> (text: String, seconds: Double) {
        let started = Date()
        let response = try await CurlHTTPClient(timeoutMilliseconds: 20_000).get(mastiff.baseURL + "/metrics")
        #expect(response.status == 200)
        return (response.text, Date().timeIntervalSince(started))
    }

    /// Scrapes (each within the collector timeout + 1 s) until one serves a sample taken after
    /// `event`.
    private func scrape(_ mastiff: RunningMastiff, sampledAfter event: Date) async throws -> (text: String, seconds: Double) {
        let result = try await mastiff.metrics(sampledAfter: event, within: collectorTimeout + 5)
        #expect(result.slowest < collectorTimeout + 1, "a scrape took \(result.slowest) s")
        return (result.text, result.slowest)
    }

    private func waitForValue(_ mastiff: RunningMastiff, _ series: String, _ expected: Double, within seconds: Double = 40) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if sampleValue(try await scrape(mastiff).text, series) == expected { return }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw HarnessError("\(series) did not become \(expected) within \(seconds) s")
    }

    @Test func postgresStoppedThenStarted() async throws {
        let services = try PrivateServices()
        let mastiff = try start(services)
        #expect(sampleValue(try await scrape(mastiff).text, "postgres_up") == 1)

        #expect(try services.pgCtl(["-m", "fast", "stop"]) == 0)
        let eventTime = Date()
        let down = try await scrape(mastiff, sampledAfter: eventTime)
        #expect(down.seconds < collectorTimeout + 1)
        #expect(sampleValue(down.text, "postgres_up") == 0)
        #expect(sampleValue(down.text, "mastiff_collector_success{collector=\"postgres\"}") == 0)
        #expect(sampleValue(down.text, "redis_up") == 1)

        #expect(try services.pgCtl(["start"]) == 0)
        try await waitForValue(mastiff, "postgres_up", 1)
        #expect(mastiff.log.contains("collector recovered"))
    }

    @Test func postgresBackendStoppedMidQuery() async throws {
        let services = try PrivateServices()
        let mastiff = try start(services)
        #expect(sampleValue(try await scrape(mastiff).text, "postgres_up") == 1)
        let pid = try services.psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'mastiff'")
        let backend = try #require(Int32(pid), "mastiff's backend not found: '\(pid)'")
        kill(backend, SIGSTOP)
        let eventTime = Date()
        defer { kill(backend, SIGCONT) }
        let hung = try await scrape(mastiff, sampledAfter: eventTime)
        #expect(hung.seconds < collectorTimeout + 1, "took \(hung.seconds) s")
        #expect(sampleValue(hung.text, "postgres_up") == 0)
        #expect(sampleValue(hung.text, "mastiff_collector_success{collector=\"postgres\"}") == 0)
        kill(backend, SIGCONT)
        try await waitForValue(mastiff, "postgres_up", 1)
    }

    @Test func lockedTableFailsOneStatementNotTheScrape() async throws {
        let services = try PrivateServices()
        _ = try services.psql("CREATE TABLE locked_table (id bigint); INSERT INTO locked_table SELECT generate_series(1, 1000)")
        // Sizes on every scrape, so that the locked table is measured while it is locked.
        let mastiff = try start(services, postgresExtra: ", size_interval: 0s")
        #expect(sampleValue(try await scrape(mastiff).text, "postgres_table_size_bytes{table=\"public.locked_table\"}") != nil)
        // Hold an ACCESS EXCLUSIVE lock (as a migration or VACUUM FULL would) for 10 s.
        let psql = services["MASTIFF_TEST_PG_BIN"] + "/psql"
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: psql)
        holder.arguments = ["-h", services["MASTIFF_TEST_PG_SOCKET_DIR"], "-p", services["MASTIFF_TEST_PG_PORT"], "-U", "postgres", "-qAt",
                            "-c", "BEGIN; LOCK TABLE locked_table IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(10); COMMIT;"]
        try holder.run()
        defer { holder.terminate() }
        try await Task.sleep(for: .milliseconds(500))
        let eventTime = Date()
        let locked = try await scrape(mastiff, sampledAfter: eventTime)
        #expect(locked.seconds < collectorTimeout + 1, "took \(locked.seconds) s")
        #expect(sampleValue(locked.text, "postgres_up") == 1)
        #expect((sampleValue(locked.text, "mastiff_collector_errors_total{collector=\"postgres\",reason=\"query_failed\"}") ?? 0) >= 1)
        #expect((sampleValue(locked.text, "postgres_locks_waiting{mode=\"AccessShareLock\"}") ?? 0) == 0, "mastiff must not be left waiting")
    }

    @Test func redisPausedThenResumed() async throws {
        let services = try PrivateServices()
        let mastiff = try start(services)
        let before = try await scrape(mastiff).text
        #expect(sampleValue(before, "redis_up") == 1)
        #expect(sampleValue(before, "sidekiq_up") == 1)
        let pid = services.redisPID
        #expect(pid > 0)
        kill(pid, SIGSTOP)
        let eventTime = Date()
        defer { kill(pid, SIGCONT) }
        let paused = try await scrape(mastiff, sampledAfter: eventTime)
        #expect(paused.seconds < collectorTimeout + 1, "took \(paused.seconds) s")
        #expect(sampleValue(paused.text, "redis_up") == 0)
        #expect(sampleValue(paused.text, "sidekiq_up") == 0)
        #expect(sampleValue(paused.text, "mastiff_collector_success{collector=\"redis\"}") == 0)
        #expect(sampleValue(paused.text, "postgres_up") == 1)
        kill(pid, SIGCONT)
        try await waitForValue(mastiff, "redis_up", 1)
        try await waitForValue(mastiff, "sidekiq_up", 1)
    }

    @Test func redisStoppedIsDownQuickly() async throws {
        let services = try PrivateServices()
        let mastiff = try start(services)
        let redisCLI = try Harness.which("redis-cli")
        let port = services["MASTIFF_TEST_REDIS_PORT"]
        _ = try Harness.run(redisCLI, ["-p", port, "shutdown", "nosave"])
        try await waitUntil { ((try? Harness.run(redisCLI, ["-p", port, "ping"]))?.stdout ?? "").contains("PONG") == false }
        let eventTime = Date()
        let down = try await scrape(mastiff, sampledAfter: eventTime)
        #expect(down.seconds < collectorTimeout + 1)
        #expect(sampleValue(down.text, "redis_up") == 0)
    }

    @Test func wrongPasswordIsLoggedWithoutThePassword() async throws {
        let services = try PrivateServices()
        let config = try Harness.writeConfig(collectors: [
            "postgres": #"{dsn: "\#(services["MASTIFF_TEST_PG_TCP_DSN"]) password=${WRONG_PG_PASSWORD}"}"#,
        ])
        let mastiff = try RunningMastiff(arguments: ["--config", config], environment: ["WRONG_PG_PASSWORD": "not-the-password-42"])
        let text = try await scrape(mastiff).text
        #expect(sampleValue(text, "postgres_up") == 0)
        try await waitUntil { mastiff.log.contains("collector failed") }
        #expect(mastiff.log.contains("password authentication failed for user"))
        #expect(!mastiff.log.contains("not-the-password-42"))
        #expect(!text.contains("not-the-password-42"))
    }
}
