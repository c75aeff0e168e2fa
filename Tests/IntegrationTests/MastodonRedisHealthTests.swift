import Foundation
import MastiffCollectors
import MastiffCore
import MastiffTestSupport
import Testing

/// Mastodon-shaped health read from a real Redis: the federation scan over Mastodon's
/// exhausted_deliveries sets among many unrelated keys (bounded per collection, never KEYS),
/// and a real Sidekiq (Debian's ruby-sidekiq) whose job blocks every thread, seen as stalled.
@Suite(.serialized) struct MastodonRedisHealthTests {
    static func redisCLI(_ database: Int, _ arguments: [String]) throws -> String {
        let port = try Harness.environment("MASTIFF_TEST_REDIS_PORT")
        let result = try Harness.run(try Harness.which("redis-cli"), ["-p", port, "-n", String(database)] + arguments)
        guard result.status == 0 else { throw HarnessError("redis-cli \(arguments.joined(separator: " ")): \(result.stderr)") }
        return result.stdout
    }

    static func url(_ database: Int) throws -> RedisURL {
        let port = try Harness.environment("MASTIFF_TEST_REDIS_PORT")
        guard case .success(let url) = RedisURL.parse("redis://127.0.0.1:\(port)/\(database)") else { throw HarnessError("bad URL") }
        return url
    }

    static func value(_ sink: MetricSink, _ name: String, _ labels: [Label] = []) -> Double? {
        sampleValue(sink.families, name, labels)
    }

    /// One of INFO commandstats' calls counts (0 when the command never ran).
    static func calls(_ command: String) throws -> Int {
        let stats = try redisCLI(0, ["INFO", "commandstats"])
        guard let line = stats.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_\(command):") }),
              let field = line.split(separator: ",").first?.split(separator: "=").last else { return 0 }
        return Int(field) ?? 0
    }

    @Test func theFederationScanIsBoundedPerCollectionAndCountsMastodonsSets() async throws {
        let database = 8
        _ = try Self.redisCLI(database, ["FLUSHDB"])
        // 60,000 unrelated keys: more than one collection's 4 ms of SCAN steps looks at.
        _ = try Self.redisCLI(database, ["EVAL", "for i = 1, 60000 do redis.call('SET', 'cache:' .. i, 'x') end", "0"])
        _ = try Self.redisCLI(database, ["SADD", "exhausted_deliveries:one-day.example", "20261201"])
        _ = try Self.redisCLI(database, ["SADD", "exhausted_deliveries:three-days.example", "20261201", "20261202", "20261204"])
        _ = try Self.redisCLI(database, ["SADD", "exhausted_deliveries:gone.example", "20261101", "20261102", "20261103", "20261104",
                                         "20261105", "20261106", "20261107", "20261108"])
        // Not a set: counted as nothing, never an error.
        _ = try Self.redisCLI(database, ["SET", "exhausted_deliveries:odd.example", "1"])

        let collector = RedisCollector(url: try Self.url(database), collectorTimeout: .seconds(5))
        _ = try Self.redisCLI(database, ["CONFIG", "RESETSTAT"])
        var collections = 0
        var sink = MetricSink()
        var slowest = Duration.zero
        let clock = ContinuousClock()
        while collections < 20 {
            sink = MetricSink()
            let started = clock.now
            try await collector.collect(into: sink)
            slowest = max(slowest, started.duration(to: clock.now))
            collections += 1
            if Self.value(sink, "mastodon_federation_scan_completed_timestamp_seconds") != nil { break }
        }
        #expect(Self.value(sink, "redis_up") == 1)
        #expect(collections >= 2, "60,000 keys are not walked in one collection's 4 ms")
        #expect(collections <= 60, "the pass took \(collections) collections")
        let scans = try Self.calls("scan")
        #expect(scans >= 60 && scans <= 100 * collections, "\(scans) SCAN steps of 1,000 keys in \(collections) collections")
        #expect(try Self.calls("keys") == 0)
        for (days, hosts) in [("1", 1.0), ("2", 0), ("3", 1), ("6", 0), ("7", 1)] {
            #expect(Self.value(sink, "mastodon_federation_failing_hosts", [Label("days", days)]) == hosts, "days=\(days)")
        }
        #expect(Self.value(sink, "mastodon_federation_scan_capped") == 0)
        #expect(sink.views.federationFailingHosts == [FailingHost(host: "gone.example", days: 8), FailingHost(host: "three-days.example", days: 3),
                                                     FailingHost(host: "one-day.example", days: 1)])
        #expect(try Harness.promtoolProblems(ExpositionRenderer.render(sink.families)) == "")
        print("federation scan: \(collections) collections for 60,004 keys, slowest collection \(slowest)")
        _ = try Self.redisCLI(database, ["FLUSHDB"])
    }

    @Test func aSidekiqWhoseJobBlocksEveryThreadIsStalled() async throws {
        let database = 9
        _ = try Self.redisCLI(database, ["FLUSHDB"])
        let port = try Harness.environment("MASTIFF_TEST_REDIS_PORT")
        let redisURL = "redis://127.0.0.1:\(port)/\(database)"
        let (sidekiq, log) = try SidekiqIntegrationTests.startSidekiq(redisURL: redisURL, ["-c", "2", "-q", "default", "-t", "1"])
        defer {
            sidekiq.terminate()
            sidekiq.waitUntilExit()
        }
        // Two jobs that never finish in time take both threads; a third waits behind them.
        let jobs = SidekiqIntegrationTests.fixtures + "/jobs.rb"
        let enqueue = try Harness.run(try Harness.which("ruby"), ["-r", jobs, "-e", "2.times { SlowJob.perform_async(300) }; SlowJob.perform_async(0)"],
                                      environment: ProcessInfo.processInfo.environment.merging(["REDIS_URL": redisURL]) { $1 })
        #expect(enqueue.status == 0, "\(enqueue.stderr)")
        let collector = SidekiqCollector(url: try Self.url(database), namespace: "", collectorTimeout: .seconds(5), stallAfter: .seconds(12))
        var sink = MetricSink()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            sink = MetricSink()
            try await collector.collect(into: sink)
            if sink.families.first(where: { $0.name == "sidekiq_busy_threads" })?.samples.contains(where: { $0.value == 2 }) == true { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let log_ = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let stalled = try #require(sink.families.first { $0.name == "sidekiq_process_stalled" }, "no process seen; Sidekiq's log:\n\(log_)")
        // Sidekiq 6 writes its running jobs with each 5-second heartbeat: they started at most
        // that long ago, well inside stall_after.
        #expect(stalled.samples.map(\.value) == [0], "both jobs just started: not stalled yet")
        let labels = try #require(stalled.samples.first?.labels)
        #expect(labels.map(\.name) == ["hostname", "pid", "tag"])
        #expect(labels.first { $0.name == "pid" }?.value == String(sidekiq.processIdentifier))
        #expect(Self.value(sink, "sidekiq_queue_processes", [Label("queue", "default")]) == 1)

        // Past stall_after, the waiting job is older than it and no job started since.
        let stallDeadline = Date().addingTimeInterval(25)
        var values: [Double] = []
        while Date() < stallDeadline {
            try await Task.sleep(for: .seconds(1))
            sink = MetricSink()
            try await collector.collect(into: sink)
            values = sink.families.first { $0.name == "sidekiq_process_stalled" }?.samples.map(\.value) ?? []
            if values == [1] { break }
        }
        #expect(values == [1], "Sidekiq's log:\n\(log_)")
        #expect(try Harness.promtoolProblems(ExpositionRenderer.render(sink.families)) == "")
        _ = try Self.redisCLI(database, ["FLUSHDB"])
    }
}
