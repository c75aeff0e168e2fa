import Foundation
import MastiffTestSupport
import Testing

/// A real Sidekiq (Debian's ruby-sidekiq 6.4) works Mastodon-named queues in the test Redis; what
/// mastiff exposes is compared with what Sidekiq's own Ruby API (Queue, Stats, ProcessSet) says
/// at the same moment.
@Suite(.serialized) struct SidekiqIntegrationTests {
    static let fixtures = Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/sidekiq"

    /// Debian's Sidekiq with the fixture jobs on `redisURL`, its output in a log file.
    static func startSidekiq(redisURL: String, _ arguments: [String]) throws -> (process: Process, log: String) {
        let log = try Harness.temporaryDirectory().appendingPathComponent("sidekiq.log").path
        FileManager.default.createFile(atPath: log, contents: nil)
        let sidekiq = Process()
        sidekiq.executableURL = URL(fileURLWithPath: try Harness.which("sidekiq"))
        sidekiq.arguments = ["-r", fixtures + "/jobs.rb"] + arguments
        sidekiq.environment = ProcessInfo.processInfo.environment.merging(["REDIS_URL": redisURL]) { $1 }
        sidekiq.standardOutput = FileHandle(forWritingAtPath: log)
        sidekiq.standardError = FileHandle(forWritingAtPath: log)
        try sidekiq.run()
        return (sidekiq, log)
    }

    private func ruby(_ script: String, redisURL: String) throws -> [String: Double] {
        let result = try Harness.run(try Harness.which("ruby"), [Self.fixtures + "/" + script],
                                     environment: ProcessInfo.processInfo.environment.merging(["REDIS_URL": redisURL]) { $1 })
        guard result.status == 0 else { throw HarnessError("\(script) failed: \(result.stderr)") }
        var values: [String: Double] = [:]
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 3, let value = Double(parts[2]) { values["\(parts[0]) \(parts[1])"] = value }
            if parts.count == 2, let value = Double(parts[1]) { values[String(parts[0])] = value }
            if parts.count == 2, parts[0] == "hostname" { values["hostname " + parts[1]] = 1 }
        }
        return values
    }

    @Test func mastiffAgreesWithSidekiqsOwnAPI() async throws {
        let port = try Harness.environment("MASTIFF_TEST_REDIS_PORT")
        let redisURL = "redis://127.0.0.1:\(port)/7"
        let redisCLI = try Harness.which("redis-cli")
        _ = try Harness.run(redisCLI, ["-p", port, "-n", "7", "flushdb"])

        let (sidekiq, log) = try Self.startSidekiq(redisURL: redisURL, ["-c", "3", "-q", "default", "-q", "push", "-t", "1"])
        defer {
            sidekiq.terminate()
            sidekiq.waitUntilExit()
        }

        _ = try ruby("enqueue.rb", redisURL: redisURL)
        // Wait for Sidekiq's heartbeat to show the two long jobs running.
        let deadline = Date().addingTimeInterval(30)
        var before: [String: Double] = [:]
        while Date() < deadline {
            before = try ruby("stats.rb", redisURL: redisURL)
            if before["busy"] == 2, before["processes"] == 1, before["failed"] == 1 { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(before["busy"] == 2, "Sidekiq never got busy; its log:\n\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")

        let config = try Harness.writeConfig("""
        collectors:
          processes: {enabled: false}
          postgres: {enabled: false}
          redis: {url: "\(redisURL)"}
        """)
        let collected = try Harness.run(Harness.binary, ["collect", "--once", "--config", config])
        let after = try ruby("stats.rb", redisURL: redisURL)
        let text = collected.stdout
        #expect(try Harness.promtoolProblems(text) == "")

        for queue in ["default", "fasp", "ingress", "mailers", "push", "scheduler"] {
            #expect(sampleValue(text, "sidekiq_queue_size{queue=\"\(queue)\"}") == after["queue_size \(queue)"], "queue \(queue)")
            let latency = try #require(sampleValue(text, "sidekiq_queue_latency_seconds{queue=\"\(queue)\"}"))
            let lower = before["queue_latency \(queue)"] ?? 0, upper = after["queue_latency \(queue)"] ?? 0
            #expect(latency >= lower - 0.01 && latency <= upper + 0.01, "latency of \(queue): \(lower) ≤ \(latency) ≤ \(upper)")
        }
        #expect(sampleValue(text, "sidekiq_processed_jobs_total") == after["processed"])
        #expect(sampleValue(text, "sidekiq_failed_jobs_total") == after["failed"])
        #expect(sampleValue(text, "sidekiq_scheduled_jobs") == after["scheduled"])
        #expect(sampleValue(text, "sidekiq_retry_jobs") == after["retry"])
        #expect(sampleValue(text, "sidekiq_dead_jobs") == after["dead"])
        let hostname = try #require(after.keys.first { $0.hasPrefix("hostname ") }?.dropFirst("hostname ".count))
        #expect(sampleValue(text, "sidekiq_processes{hostname=\"\(hostname)\"}") == after["processes"])
        #expect(sampleValue(text, "sidekiq_busy_threads{hostname=\"\(hostname)\"}") == after["busy"])
        #expect(sampleValue(text, "sidekiq_concurrency{hostname=\"\(hostname)\"}") == 3)
        #expect((sampleValue(text, "sidekiq_heartbeat_age_seconds{hostname=\"\(hostname)\"}") ?? 99) < 11, "Sidekiq beats every 10 s")
        #expect((sampleValue(text, "sidekiq_resident_memory_bytes{hostname=\"\(hostname)\"}") ?? 0) > 10_000_000)
        #expect((sampleValue(text, "sidekiq_queue_longest_running_job_seconds{queue=\"default\"}") ?? -1) >= 0)
        #expect(sampleValue(text, "mastodon_monthly_active_users") == 0)
    }

    @Test func monthlyActiveUsersFromMastodonsHyperLogLogs() async throws {
        let port = try Harness.environment("MASTIFF_TEST_REDIS_PORT")
        let redisCLI = try Harness.which("redis-cli")
        _ = try Harness.run(redisCLI, ["-p", port, "-n", "8", "flushdb"])
        // As Mastodon's ActivityTracker writes them: one HyperLogLog per UTC day, keyed by the
        // day's start. Users 1–3 today, 3–5 ten days ago (3 counted once), 9 forty days ago (out).
        let today = Int(Date().timeIntervalSince1970 / 86400) * 86400
        _ = try Harness.run(redisCLI, ["-p", port, "-n", "8", "PFADD", "ns:activity:logins:\(today)", "1", "2", "3"])
        _ = try Harness.run(redisCLI, ["-p", port, "-n", "8", "PFADD", "ns:activity:logins:\(today - 10 * 86400)", "3", "4", "5"])
        _ = try Harness.run(redisCLI, ["-p", port, "-n", "8", "PFADD", "ns:activity:logins:\(today - 40 * 86400)", "9"])
        let config = try Harness.writeConfig("""
        collectors:
          processes: {enabled: false}
          postgres: {enabled: false}
          redis: {enabled: false}
          sidekiq: {redis_url: "redis://127.0.0.1:\(port)/8", namespace: ns}
        """)
        let text = try Harness.run(Harness.binary, ["collect", "--once", "--config", config]).stdout
        #expect(sampleValue(text, "mastodon_monthly_active_users") == 5)
        #expect(sampleValue(text, "sidekiq_up") == 1)
    }
}
