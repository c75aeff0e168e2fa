import Foundation
import Logging
import MastiffAgent
import MastiffCore
import MastiffPolicies
import MastiffStatsd
import MastiffTestSupport
import Testing

/// The rule engine inside the agent, on a copy of the checked-in /proc fixture tree whose
/// MemAvailable the test rewrites, with wall time advanced by the test (no sleeping): each
/// sample is forced, as the sampler would take it every 15 s.
@Suite(.serialized) struct AlertingTests {
    static let fixture = RepositoryPaths.root + "/Tests/MastiffCollectorsTests/Fixtures/proc"

    final class Host {
        let procRoot: String
        let stateDirectory: String
        let clock = ManualWallClock()
        let memTotalKiB: Int

        init() throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mastiff-alerting-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            procRoot = directory.appendingPathComponent("proc").path
            stateDirectory = directory.appendingPathComponent("state").path
            try FileManager.default.copyItem(atPath: AlertingTests.fixture, toPath: procRoot)
            let meminfo = try String(contentsOfFile: procRoot + "/meminfo", encoding: .utf8)
            let total = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }!
            memTotalKiB = Int(total.split(separator: " ")[1])!
        }

        /// Rewrites MemAvailable in the fixture's meminfo.
        func setAvailable(fraction: Double) throws {
            let path = procRoot + "/meminfo"
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map { line in
                line.hasPrefix("MemAvailable:") ? "MemAvailable:   \(Int(Double(memTotalKiB) * fraction)) kB" : String(line)
            }
            try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }

        func agent(logger: Logger) throws -> Agent {
            var config = MastiffConfig()
            config.collectors.postgres.enabled = false
            config.collectors.redis.enabled = false
            config.collectors.sidekiq.enabled = false
            config.statsd.enabled = false
            config.stateDirectory = stateDirectory
            let rules = try Agent.loadRules(config)
            return Agent(config: config, statsdMapping: try StatsdMapping.load(config.statsd), rules: rules, source: .embeddedDefaults, logger: logger,
                         procRoot: procRoot, clock: clock, stateStore: StateStore(directory: stateDirectory, logger: logger))
        }
    }

    /// One sample 15 s after the last, as the sampler takes it.
    static func sample(_ agent: Agent, _ host: Host) async {
        host.clock.advance(by: 15)
        _ = await agent.sampler.snapshot(maxAge: .zero)
    }

    static func alert(_ agent: Agent, _ name: String) -> JSONValue? {
        agent.alerting.alertsJSON(now: 0)["alerts"]?.array?.first { $0["labels"]?["alertname"]?.string == name }
    }

    @Test func fallingMemAvailableFiresOOMRiskNamingTheTopThreeGroups() async throws {
        let host = try Host()
        let (logger, records) = RecordingLogHandler.logger()
        let agent = try host.agent(logger: logger)
        try host.setAvailable(fraction: 0.5)
        for _ in 0..<4 { await Self.sample(agent, host) }
        #expect(Self.alert(agent, "OOMRisk") == nil)

        // 5 % available: pending at once, firing once `for: 2m` has passed.
        try host.setAvailable(fraction: 0.05)
        await Self.sample(agent, host)
        #expect(Self.alert(agent, "OOMRisk")?["state"]?.string == "pending")
        for _ in 0..<7 { await Self.sample(agent, host) }
        #expect(Self.alert(agent, "OOMRisk")?["state"]?.string == "pending", "1m45s: not yet")
        await Self.sample(agent, host)
        let firing = try #require(Self.alert(agent, "OOMRisk"))
        #expect(firing["state"]?.string == "firing")
        #expect(firing["labels"]?["severity"]?.string == "critical")

        // The description names the three largest process groups by PSS, largest first.
        let snapshot = try #require(agent.sampler.latest)
        let pss = try #require(snapshot.families.first { $0.name == "process_group_proportional_memory_bytes" })
        let top = pss.samples.sorted { $0.value > $1.value }.prefix(3).compactMap { $0.labels.first { $0.name == "group" }?.value }
        #expect(top.count == 3)
        let description = try #require(firing["annotations"]?["description"]?.string)
        let mentioned = top.compactMap { name in description.range(of: " \(name) ")?.lowerBound }
        #expect(mentioned.count == 3 && mentioned == mentioned.sorted(), "\(description)")
        #expect(description.hasPrefix("MemAvailable is "))
        #expect(records.all.contains { $0.message == "alert firing" && $0.metadata["alertname"] == "OOMRisk" })
        #expect(sampleValue(await agent.metrics.scrape(), #"mastiff_alerts{alertname="OOMRisk",severity="critical",state="firing"}"#) == 1)

        // Memory comes back. The projection over the last 15 minutes still points below zero
        // for a while (the rule's third condition); once the fall has left the window, resolved.
        try host.setAvailable(fraction: 0.6)
        var samples = 0
        while Self.alert(agent, "OOMRisk") != nil && samples < 80 {
            await Self.sample(agent, host)
            samples += 1
        }
        #expect(Self.alert(agent, "OOMRisk") == nil)
        #expect(samples <= 61, "within the 15-minute window, took \(samples) samples")
        #expect(records.all.filter { $0.message == "alert resolved" && $0.metadata["alertname"] == "OOMRisk" }.count == 1)
    }

    /// A restart of mastiff while an alert is pending keeps its progress: the new agent reads
    /// the state file, and the alert fires when `for` has passed since it first became active,
    /// not since the restart.
    @Test func aRestartKeepsAPendingAlertsProgress() async throws {
        let host = try Host()
        let (logger, _) = RecordingLogHandler.logger()
        try host.setAvailable(fraction: 0.05)
        do {
            let first = try host.agent(logger: logger)
            for _ in 0..<5 { await Self.sample(first, host) }
            #expect(Self.alert(first, "OOMRisk")?["state"]?.string == "pending")
            // Alert states are staged; StateFlushService writes them when mastiff stops.
            #expect(first.stateStore?.flush() == true)
        }
        // Pending since the first sample (t=15 s); the restart comes after t=75 s. Without the
        // state file the new agent would count `for: 2m` from its own first sample (t=90 s) and
        // fire at t=210 s; with it, the alert fires at t=135 s, its 4th sample.
        let (secondLogger, records) = RecordingLogHandler.logger()
        let second = try host.agent(logger: secondLogger)
        #expect(records.contains("restored alert states"))
        for _ in 0..<3 { await Self.sample(second, host) }
        #expect(Self.alert(second, "OOMRisk")?["state"]?.string == "pending")
        await Self.sample(second, host)
        #expect(Self.alert(second, "OOMRisk")?["state"]?.string == "firing", "2m after it first became active")
        #expect(second.stateStore?.flush() == true)
        // And a firing alert is not announced again by a restart.
        let (thirdLogger, thirdRecords) = RecordingLogHandler.logger()
        let third = try host.agent(logger: thirdLogger)
        await Self.sample(third, host)
        #expect(Self.alert(third, "OOMRisk")?["state"]?.string == "firing")
        #expect(!thirdRecords.all.contains { $0.message == "alert firing" && $0.metadata["alertname"] == "OOMRisk" })
    }
}
