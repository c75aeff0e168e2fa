import Foundation
import MastiffClients
import MastiffTestSupport
import Testing

/// The built-in rules on real peers: an HTTP server mastiff probes and a PostgreSQL of the
/// test's own, stopped and started again; rule files refused with their positions; the shipped
/// rule tests passing on both promtool and mastiff.
@Suite(.serialized) struct AlertingIntegrationTests {
    /// A Python HTTP server answering /health with "OK" on a fixed port, so that it can be
    /// stopped and started again at the same address.
    final class HealthServer {
        let port: Int
        let directory: String
        private var pid: pid_t = 0

        init() throws {
            directory = try Harness.temporaryDirectory().path
            try "OK".write(toFile: directory + "/health", atomically: true, encoding: .utf8)
            port = try Self.freePort()
            try start()
        }

        deinit { stop() }

        static func freePort() throws -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            guard bound else { throw HarnessError("no free port") }
            return Int(UInt16(bigEndian: address.sin_port))
        }

        func start() throws {
            pid = try Harness.spawn(try Harness.which("python3"), ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", directory],
                                    log: directory + "/server.log")
            for _ in 0..<100 {
                if (try? Harness.run("/usr/bin/curl", ["-sf", "http://127.0.0.1:\(port)/health"]).status) == 0 { return }
                Thread.sleep(forTimeInterval: 0.05)
            }
            throw HarnessError("the health server did not start")
        }

        func stop() {
            guard pid > 0 else { return }
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            pid = 0
        }
    }

    static func alerts(_ config: String) throws -> [[String: Any]] {
        let result = try Harness.run(Harness.binary, ["alerts", "list", "--json", "--config", config])
        guard result.status == 0, let data = result.stdout.data(using: .utf8),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw HarnessError("alerts list failed (\(result.status)): \(result.stderr)")
        }
        return object["alerts"] as? [[String: Any]] ?? []
    }

    static func state(_ config: String, _ name: String) throws -> String? {
        try alerts(config).first { ($0["labels"] as? [String: String])?["alertname"] == name }?["state"] as? String
    }

    /// Polls until `name` is in `state` (nil: gone); returns the seconds it took.
    @discardableResult
    static func waitFor(_ config: String, _ name: String, _ state: String?, within seconds: Double) async throws -> Double {
        let started = Date()
        while Date().timeIntervalSince(started) < seconds {
            if try Self.state(config, name) == state { return Date().timeIntervalSince(started) }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw HarnessError("\(name) did not become \(state ?? "resolved") within \(seconds) s; alerts: \(try alerts(config))")
    }

    @Test func probedServerAndPostgresStoppedThenStarted() async throws {
        let services = try PrivateServices()
        let web = try HealthServer()
        let config = try Harness.writeConfig(collectors: [
            "timeout": "2s",
            "postgres": "{dsn: \"\(services["MASTIFF_TEST_PG_DSN"])\"}",
            "probes": "[{name: web, url: \"http://127.0.0.1:\(web.port)/health\", body_contains: OK, timeout: 1s}]",
        ], "sampling: {interval: 1s}\nstatsd: {enabled: false}\n")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        let first = try await mastiff.metrics(sampledAfter: Date())
        #expect(sampleValue(first.text, #"probe_success{probe="web"}"#) == 1)
        #expect(sampleValue(first.text, "postgres_up") == 1)
        #expect(try Self.state(config, "InstanceDown") == nil)

        web.stop()
        #expect(try services.pgCtl(["-m", "fast", "stop"]) == 0)
        let stopped = Date()
        try await Self.waitFor(config, "InstanceDown", "pending", within: 5)
        try await Self.waitFor(config, "PostgresDown", "pending", within: 8)
        // `for: 45s`: still pending 40 s after the stop, firing by 45 s + a few samples.
        try await Task.sleep(for: .seconds(max(0, 40 - Date().timeIntervalSince(stopped))))
        #expect(try Self.state(config, "InstanceDown") == "pending")
        try await Self.waitFor(config, "InstanceDown", "firing", within: 12)
        let firedAfter = Date().timeIntervalSince(stopped)
        #expect(firedAfter >= 45 && firedAfter < 52, "fired \(firedAfter) s after the stop")
        try await Self.waitFor(config, "PostgresDown", "firing", within: 25)
        #expect(mastiff.log.contains("alert firing") && mastiff.log.contains("alertname=InstanceDown"))
        let metrics = try await mastiff.metrics(sampledAfter: Date())
        #expect(sampleValue(metrics.text, #"mastiff_alerts{alertname="InstanceDown",severity="critical",state="firing"}"#) == 1)
        #expect(try Harness.promtoolProblems(metrics.text) == "")

        try web.start()
        try await Self.waitFor(config, "InstanceDown", nil, within: 5)
        #expect(mastiff.log.split(separator: "\n").contains { $0.contains("alert resolved") && $0.contains("alertname=InstanceDown") })
        #expect(try services.pgCtl(["start"]) == 0)
        // A minute of outage has grown the collector's reconnect back-off to its 30 s maximum
        // (ReconnectingSession): the next attempt may come up to 30 s after PostgreSQL is back.
        try await Self.waitFor(config, "PostgresDown", nil, within: 35)
    }

    @Test func badRuleFilesAreRefusedWithTheirPositions() throws {
        let directory = try Harness.temporaryDirectory().path
        try """
        groups:
          - name: broken
            rules:
              - alert: Smooth
                expr: holt_winters(system_load_average[10m], 0.5, 0.5) > 1
        """.write(toFile: directory + "/outside.yml", atomically: true, encoding: .utf8)
        try """
        groups:
          - name: broken
            rules:
              - alert: Unclosed
                expr: sum(system_load_average
        """.write(toFile: directory + "/unclosed.yml", atomically: true, encoding: .utf8)
        try """
        groups:
          - name: broken
            rules:
              - alert: Indented
                expr: up == 0
               labels: {severity: warning}
        """.write(toFile: directory + "/syntax.yml", atomically: true, encoding: .utf8)
        let outside = try Harness.run(Harness.binary, ["rules", "check", directory + "/outside.yml"])
        #expect(outside.status == 1)
        #expect(outside.stderr.contains("\(directory)/outside.yml:5:15:"), "\(outside.stderr)")
        #expect(outside.stderr.contains("function 'holt_winters' is outside mastiff's PromQL subset"))
        let unclosed = try Harness.run(Harness.binary, ["rules", "check", directory + "/unclosed.yml"])
        #expect(unclosed.status == 1)
        #expect(unclosed.stderr.contains("\(directory)/unclosed.yml:5:38: groups[0].rules[0].expr: expected ',' or ')' in the arguments of 'sum'"),
                "\(unclosed.stderr)")
        let syntax = try Harness.run(Harness.binary, ["rules", "check", directory + "/syntax.yml"])
        #expect(syntax.status == 1)
        #expect(syntax.stderr.contains("\(directory)/syntax.yml:6:") && syntax.stderr.contains("YAML syntax error"), "\(syntax.stderr)")

        // check-config loads the rule files the configuration names.
        let config = try Harness.writeConfig("alerts:\n  rule_files: [\(directory)/outside.yml]\n")
        let check = try Harness.run(Harness.binary, ["check-config", "--config", config])
        #expect(check.status == 1)
        #expect(check.stderr.contains("outside.yml:5:15:"), "\(check.stderr)")
        let unknown = try Harness.writeConfig("alerts:\n  disable: [NoSuchAlert]\n")
        let disable = try Harness.run(Harness.binary, ["check-config", "--config", unknown])
        #expect(disable.status == 1)
        #expect(disable.stderr.contains("no loaded alerting rule is named 'NoSuchAlert'"), "\(disable.stderr)")
    }

    /// SIGHUP with a broken rule file keeps the rules that run.
    @Test func aBadRuleFileOnReloadKeepsTheRunningRules() async throws {
        let directory = try Harness.temporaryDirectory().path
        let rules = directory + "/local.yml"
        try """
        groups:
          - name: local
            rules:
              - alert: AlwaysOn
                expr: vector(1)
                labels: {severity: info}
        """.write(toFile: rules, atomically: true, encoding: .utf8)
        let config = try Harness.writeConfig(collectors: [:], "sampling: {interval: 1s}\nstatsd: {enabled: false}\nalerts:\n  builtin: false\n  rule_files: [\(rules)]\n")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        try await Self.waitFor(config, "AlwaysOn", "firing", within: 5)
        try "groups:\n  - name: local\n    rules:\n      - alert: AlwaysOn\n        expr: holt_winters(x[5m], 0.5, 0.5)\n".write(toFile: rules, atomically: true, encoding: .utf8)
        mastiff.signal(SIGHUP)
        let deadline = Date().addingTimeInterval(5)
        while !mastiff.log.contains("configuration reload failed"), Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(mastiff.log.contains("local.yml:5:15: groups[0].rules[0].expr: function 'holt_winters' is outside mastiff's PromQL subset"), "\(mastiff.log)")
        #expect(try Self.state(config, "AlwaysOn") == "firing")
        let metrics = try await mastiff.metrics(sampledAfter: Date())
        #expect(sampleValue(metrics.text, "mastiff_config_last_reload_successful") == 0)
    }

    /// Every family /metrics shows is one the rules can read (issue 23): the state file's,
    /// the history's and the sampler's own families reached /metrics but not the rules, so a rule
    /// on them passed promtool and could never fire inside mastiff.
    @Test func rulesSeeEveryFamilyMetricsShows() async throws {
        let directory = try Harness.temporaryDirectory().path
        let rules = directory + "/own.yml"
        try """
        groups:
          - name: own
            rules:
              - alert: StateFamilySeen
                expr: mastiff_state_write_failures_total >= 0
              - alert: HistoryFamilySeen
                expr: mastiff_history_series > 0
              - alert: SamplerFamilySeen
                expr: mastiff_sample_runs_total > 0
        """.write(toFile: rules, atomically: true, encoding: .utf8)
        let config = try Harness.writeConfig(collectors: [:], "sampling: {interval: 1s}\nstatsd: {enabled: false}\nalerts:\n  builtin: false\n  rule_files: [\(rules)]\n")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        let metrics = try await mastiff.metrics(sampledAfter: Date())
        for name in ["mastiff_state_write_failures_total", "mastiff_history_series", "mastiff_sample_runs_total"] {
            #expect(sampleValue(metrics.text, name) != nil, "\(name) is on /metrics")
        }
        for alert in ["StateFamilySeen", "HistoryFamilySeen", "SamplerFamilySeen"] {
            try await Self.waitFor(config, alert, "firing", within: 5)
        }
    }

    /// The shipped rule tests pass on both engines; a wrong expectation fails on both.
    @Test func shippedRuleTestsPassOnPromtoolAndMastiff() throws {
        let tests = try FileManager.default.contentsOfDirectory(atPath: Harness.packageRoot + "/alerts/tests")
            .filter { $0.hasSuffix(".yml") }.sorted().map { Harness.packageRoot + "/alerts/tests/" + $0 }
        #expect(tests.count >= 4)
        let promtool = try Harness.which("promtool")
        let check = try Harness.run(promtool, ["check", "rules", Harness.packageRoot + "/alerts/mastiff.rules.yml"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        for file in tests {
            let reference = try Harness.run(promtool, ["test", "rules", file])
            #expect(reference.status == 0, "promtool: \(reference.stdout)\(reference.stderr)")
            let ours = try Harness.run(Harness.binary, ["rules", "test", file])
            #expect(ours.status == 0, "mastiff: \(ours.stdout)\(ours.stderr)")
        }
        // The same wrong expectation fails on both.
        let wrong = try String(contentsOfFile: Harness.packageRoot + "/alerts/tests/self.yml", encoding: .utf8)
            .replacingOccurrences(of: "holds its maximum of 10000 series", with: "holds its maximum of 9999 series")
            .replacingOccurrences(of: "rule_files: [../mastiff.rules.yml]", with: "rule_files: [\(Harness.packageRoot)/alerts/mastiff.rules.yml]")
        let wrongPath = try Harness.temporaryDirectory().path + "/wrong.yml"
        try wrong.write(toFile: wrongPath, atomically: true, encoding: .utf8)
        #expect(try Harness.run(promtool, ["test", "rules", wrongPath]).status == 1)
        let ours = try Harness.run(Harness.binary, ["rules", "test", wrongPath])
        #expect(ours.status == 1)
        #expect(ours.stdout.contains("StatsdSeriesLimitReached"))
    }
}
