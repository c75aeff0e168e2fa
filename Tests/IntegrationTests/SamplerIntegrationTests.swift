import Foundation
import MastiffClients
import MastiffTestSupport
import Testing

/// The sampler and reload in a running `mastiff run`: collection without any scrape, one
/// collection shared by scrapes and the sampler, and a SIGHUP that keeps counters and
/// connections.
@Suite(.serialized) struct SamplerIntegrationTests {
    static func scrape(_ mastiff: RunningMastiff) async throws -> String {
        let response = try await CurlHTTPClient().get(mastiff.baseURL + "/metrics")
        #expect(response.status == 200)
        return response.text
    }

    /// Nobody scrapes for 6 s: the sampler has run all the same.
    @Test func samplesWithoutAnyScrape() async throws {
        let config = try Harness.writeConfig(collectors: ["processes": "{enabled: true}"], "sampling: {interval: 1s}\nstatsd: {enabled: false}\n")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        try await Task.sleep(for: .seconds(6))
        let text = try await Self.scrape(mastiff)
        let runs = try #require(sampleValue(text, "mastiff_sample_runs_total"))
        #expect(runs >= 5 && runs <= 8, "\(runs) samples in 6 s at 1 s")
        let stamp = try #require(sampleValue(text, "mastiff_sample_timestamp_seconds"))
        #expect(Date().timeIntervalSince1970 - stamp <= 1.5, "the served sample is at most one interval old")
        #expect(try Harness.promtoolProblems(text) == "")
    }

    /// Twenty scrapes within one interval are served from the sampler's samples: they add no
    /// collection of their own.
    @Test func scrapesWithinTheIntervalDoNotCollectAgain() async throws {
        let config = try Harness.writeConfig(collectors: [:], "sampling: {interval: 5s}\nstatsd: {enabled: false}\n")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        let first = try #require(sampleValue(try await Self.scrape(mastiff), "mastiff_sample_runs_total"))
        for _ in 0..<20 { _ = try await Self.scrape(mastiff) }
        let last = try #require(sampleValue(try await Self.scrape(mastiff), "mastiff_sample_runs_total"))
        #expect(last - first <= 1, "at most the sampler's own tick: \(first) → \(last)")
    }

    private func mastiffBackendPIDs() throws -> [String] {
        try Harness.psql(["-c", "SELECT pid FROM pg_stat_activity WHERE application_name = 'mastiff' ORDER BY pid"])
            .split(separator: "\n").map(String.init)
    }

    /// SIGHUP used to rebuild every collector: error counters fell to zero and every session
    /// reconnected. Now a collector whose settings did not change keeps its connection, and the
    /// counters carry on.
    @Test func reloadKeepsCountersAndUnchangedCollectors() async throws {
        let dsn = try Harness.environment("MASTIFF_TEST_PG_DSN")
        func config(filesystems: String, topTables: Int) -> String {
            """
            listen: 127.0.0.1:0
            sampling: {interval: 1s}
            statsd: {enabled: false}
            collectors:
              system: {filesystems: [\(filesystems)]}
              processes: {enabled: false}
              postgres: {dsn: "\(dsn)", top_tables: \(topTables)}
              redis: {url: "redis://127.0.0.1:1/0"}
              sidekiq: {enabled: false}
            """
        }
        let path = try Harness.writeConfig(config(filesystems: "/", topTables: 5))
        let mastiff = try RunningMastiff(arguments: ["--config", path])
        try await Task.sleep(for: .seconds(3))
        let before = try await Self.scrape(mastiff)
        let errorsBefore = try #require(sampleValue(before, #"mastiff_collector_errors_total{collector="redis",reason="down"}"#))
        #expect(sampleValue(before, "postgres_up") == 1)
        let backends = try mastiffBackendPIDs()
        #expect(backends.count == 1)

        // Only the system collector's settings change: postgres keeps its backend.
        try config(filesystems: "/, /tmp", topTables: 5).write(toFile: path, atomically: true, encoding: .utf8)
        mastiff.signal(SIGHUP)
        try await waitUntil { mastiff.log.contains("configuration reloaded") }
        try await Task.sleep(for: .seconds(2))
        let after = try await Self.scrape(mastiff)
        #expect(sampleValue(after, "mastiff_config_last_reload_successful") == 1)
        #expect(after.contains(#"system_filesystem_size_bytes{mountpoint="/tmp"}"#))
        let errorsAfter = try #require(sampleValue(after, #"mastiff_collector_errors_total{collector="redis",reason="down"}"#))
        #expect(errorsAfter >= errorsBefore, "\(errorsBefore) → \(errorsAfter)")
        #expect(try mastiffBackendPIDs() == backends, "the postgres collector kept its connection")

        // Its own settings change: it is rebuilt, with a new connection.
        try config(filesystems: "/, /tmp", topTables: 3).write(toFile: path, atomically: true, encoding: .utf8)
        mastiff.signal(SIGHUP)
        try await waitUntil { mastiff.log.components(separatedBy: "configuration reloaded").count == 3 }
        try await waitUntil { (try? mastiffBackendPIDs()).map { !$0.isEmpty && $0 != backends } ?? false }
    }
}
