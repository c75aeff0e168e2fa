import Foundation
import MastiffClients
import MastiffCore
import MastiffTestSupport
import Testing

/// `mastiff run` and `mastiff collect --once` as a user runs them, checked with libcurl and promtool.
@Suite(.serialized) struct ServerIntegrationTests {
    @Test func collectOnceIsLintClean() throws {
        let config = try Harness.writeConfig("collectors: {system: {filesystems: [/, /tmp]}}\n")
        let result = try Harness.run(Harness.binary, ["collect", "--once", "--config", config])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("system_memory_available_bytes "))
        #expect(result.stdout.contains("system_filesystem_size_bytes{mountpoint=\"/tmp\"}"))
        #expect((sampleValue(result.stdout, "process_group_processes{group=\"mastiff\"}") ?? 0) >= 1, "mastiff counts itself")
        #expect(result.stdout.contains("mastiff_collector_success{collector=\"processes\"} 1\n"))
        #expect(result.stdout.contains("mastiff_collector_success{collector=\"system\"} 1\n"))
        #expect(try Harness.promtoolProblems(result.stdout) == "")
    }

    @Test func collectOnceSeesTheTestPostgresAndRedisProcesses() throws {
        _ = try Harness.environment("MASTIFF_TEST_PG_PORT")
        let result = try Harness.run(Harness.binary, ["collect", "--once"], environment: ["MASTIFF_CONFIG": "", "PATH": "/usr/bin:/bin"])
        #expect(result.status == 0)
        let postgres = result.stdout.split(separator: "\n").first { $0.hasPrefix("process_group_processes{group=\"postgres\"}") }
        let redis = result.stdout.split(separator: "\n").first { $0.hasPrefix("process_group_processes{group=\"redis\"}") }
        #expect((Double(postgres?.split(separator: " ").last ?? "") ?? 0) >= 5, "postmaster and its auxiliary processes")
        #expect((Double(redis?.split(separator: " ").last ?? "") ?? 0) >= 1)
        let pss = result.stdout.split(separator: "\n").first { $0.hasPrefix("process_group_proportional_memory_bytes{group=\"postgres\"}") }
        #expect((Double(pss?.split(separator: " ").last ?? "") ?? 0) > 1_000_000)
    }

    @Test func liveMetricsAreLintCleanCompressedAndConcurrent() async throws {
        let config = try Harness.writeConfig("listen: 127.0.0.1:0\n")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        let client = CurlHTTPClient(timeoutMilliseconds: 10_000)

        let plain = try await client.get(mastiff.baseURL + "/metrics")
        #expect(plain.status == 200)
        #expect(plain.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        #expect(plain.header("Content-Encoding") == nil)
        #expect(try Harness.promtoolProblems(plain.text) == "")

        let compressed = try await client.get(mastiff.baseURL + "/metrics", acceptCompressed: true)
        #expect(compressed.status == 200)
        #expect(compressed.header("Content-Encoding") == "gzip")
        #expect(compressed.text.contains("# TYPE process_group_processes gauge"))

        // Twenty scrapes at once all answer, and all carry the collectors' output.
        let metricsURL = mastiff.baseURL + "/metrics"
        let statuses = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for _ in 0..<20 {
                group.addTask {
                    let response = try await client.get(metricsURL)
                    return (response.status, response.text.contains("mastiff_collector_success{collector=\"system\"} 1"))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.count == 20)
        #expect(statuses.allSatisfy { $0 == (200, true) })

        let health = try await client.get(mastiff.baseURL + "/healthz")
        #expect(health.status == 200)
        #expect(health.text == "ok\n")
        #expect(try await client.get(mastiff.baseURL + "/nope").status == 404)
    }

    /// A thousand clients asking for /metrics at once (a misconfigured scraper fleet, a load
    /// test): every one is answered or closed, none is left hanging, and afterwards the agent is
    /// alive, answers the next scrape lint-clean, and holds no more descriptors or threads than
    /// before (at most 64 connections are ever open).
    @Test func aThousandConcurrentMetricsClientsLeaveTheAgentAsItWas() async throws {
        let config = try Harness.writeConfig("listen: 127.0.0.1:0\nstatsd: {enabled: false}\nsampling: {interval: 1s}\n")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        _ = try await mastiff.metrics(sampledAfter: Date())
        let pid = mastiff.process.processIdentifier
        func counts() -> (fds: Int, threads: Int) {
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1,
             (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").count) ?? -1)
        }
        let before = counts()
        let result = try Harness.run("/usr/bin/python3", [Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/http/many_clients.py",
                                                          String(mastiff.port), "1000", "/metrics", "60"])
        let summary = try #require(JSONValue.parse(result.stdout), "\(result.stdout)\(result.stderr)")
        let answered = summary["answered"]?.integer ?? 0, refused = summary["refused"]?.integer ?? 0
        #expect(summary["unfinished"]?.integer == 0, "no client left hanging: \(result.stdout)")
        #expect(answered + refused == 1000 && answered >= 64, "\(result.stdout)")
        #expect(mastiff.process.isRunning)
        let after = try await mastiff.metrics(sampledAfter: Date())
        #expect(try Harness.promtoolProblems(after.text) == "")
        // The connections close on the agent's side within a moment of the clients'.
        var now = counts()
        for _ in 0..<50 where now.fds > before.fds + 2 || now.threads > before.threads {
            try await Task.sleep(for: .milliseconds(100))
            now = counts()
        }
        #expect(now.fds <= before.fds + 2, "descriptors \(before.fds) before, \(now.fds) after")
        #expect(now.threads <= before.threads, "threads \(before.threads) before, \(now.threads) after")
    }

    @Test func methodAndBodyLimits() throws {
        let config = try Harness.writeConfig("listen: 127.0.0.1:0\n")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        let curl = try Harness.which("curl")
        let post = try Harness.run(curl, ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", mastiff.baseURL + "/metrics"])
        #expect(post.stdout == "405")
        let big = String(repeating: "x", count: 64 * 1024)
        let bodyTooLarge = try Harness.run(curl, ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "GET", "--data-binary", "@-", mastiff.baseURL + "/metrics"], input: big)
        #expect(bodyTooLarge.stdout == "413")
        let head = try Harness.run(curl, ["-s", "-I", mastiff.baseURL + "/metrics"])
        #expect(head.stdout.hasPrefix("HTTP/1.1 200 OK"))
    }

    @Test func sighupWithABrokenFileKeepsServing() async throws {
        let config = try Harness.writeConfig("listen: 127.0.0.1:0\n")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        let client = CurlHTTPClient()
        #expect(try await client.get(mastiff.baseURL + "/metrics").text.contains("mastiff_config_last_reload_successful 1\n"))

        try "listen: 127.0.0.1:0\ncollectors:\n  timeout: forever\n".write(toFile: config, atomically: true, encoding: .utf8)
        mastiff.signal(SIGHUP)
        try await waitUntil { mastiff.log.contains("configuration reload failed") }
        let afterBadReload = try await client.get(mastiff.baseURL + "/metrics")
        #expect(afterBadReload.status == 200)
        #expect(afterBadReload.text.contains("mastiff_config_last_reload_successful 0\n"))
        #expect(afterBadReload.text.contains("mastiff_collector_success{collector=\"system\"} 1\n"))
        #expect(mastiff.log.contains("\(config):3:12: collectors.timeout: 'forever' is not a duration"))

        // A fixed file is picked up on the next SIGHUP: here, turning the process collector off.
        try "listen: 127.0.0.1:0\ncollectors:\n  processes: {enabled: false}\n".write(toFile: config, atomically: true, encoding: .utf8)
        mastiff.signal(SIGHUP)
        try await waitUntil { mastiff.log.contains("configuration reloaded") }
        let afterGoodReload = try await client.get(mastiff.baseURL + "/metrics")
        #expect(afterGoodReload.text.contains("mastiff_config_last_reload_successful 1\n"))
        #expect(!afterGoodReload.text.contains("collector=\"processes\""))
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func stopsWithinFiveSeconds(signal: Int32) throws {
        let config = try Harness.writeConfig("listen: 127.0.0.1:0\n")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        let start = Date()
        mastiff.signal(signal)
        let status = mastiff.waitForExit(timeout: 5)
        #expect(status == 0, "log:\n\(mastiff.log)")
        #expect(Date().timeIntervalSince(start) < 5)
    }

    @Test func checkConfigExitCodes() throws {
        let good = try Harness.writeConfig("listen: 127.0.0.1:9999\n")
        let ok = try Harness.run(Harness.binary, ["check-config", "--config", good])
        #expect(ok.status == 0)
        #expect(ok.stdout.contains("configuration is valid"))

        let bad = try Harness.writeConfig("listen: 127.0.0.1:9999\ncollectors:\n  sytem: {}\n")
        let failed = try Harness.run(Harness.binary, ["check-config", "--config", bad])
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("\(bad):3:3: collectors.sytem: unknown key 'sytem' (allowed here: timeout, system, processes, postgres, pgbouncer, redis, sidekiq, mastodon_endpoints, probes)"))

        let missing = try Harness.run(Harness.binary, ["check-config", "--config", "/nonexistent/mastiff.yml"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("/nonexistent/mastiff.yml"))
    }

    @Test func secretsInTheEnvironmentAreNotPrinted() throws {
        // A secret reference that fails names the variable, never a value from the environment.
        let config = try Harness.writeConfig("listen: 127.0.0.1:0\nlog: {level: ${LOG_LEVEL_SECRET}}\n")
        let result = try Harness.run(Harness.binary, ["check-config", "--config", config],
                                     environment: ["LOG_LEVEL_SECRET": "hunter2"])
        #expect(result.status == 1)
        #expect(!result.stderr.contains("hunter2"))
    }

    @Test func versionAndHelp() throws {
        let version = try Harness.run(Harness.binary, ["version"])
        #expect(version.stdout.hasPrefix("mastiff 0."))
        for command in ["run", "check-config", "collect", "version"] {
            let help = try Harness.run(Harness.binary, [command, "--help"])
            #expect(help.status == 0)
            #expect(help.stdout.contains("USAGE: mastiff \(command)"))
        }
    }
}

func waitUntil(timeout: Double = 10, _ condition: () -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while !condition() {
        guard Date() < deadline else { throw HarnessError("condition not met within \(timeout) s") }
        try await Task.sleep(for: .milliseconds(50))
    }
}
