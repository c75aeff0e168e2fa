import Logging
import MastiffAgent
import MastiffCore
import MastiffStatsd
import MastiffTestSupport
import Testing

/// The agent on the checked-in /proc fixture tree, with the sampler as `mastiff run` builds it.
@Suite struct AgentTests {
    static let procRoot = RepositoryPaths.root + "/Tests/MastiffCollectorsTests/Fixtures/proc"

    static func agent() throws -> Agent {
        var config = MastiffConfig()
        config.collectors.postgres.enabled = false
        config.collectors.redis.enabled = false
        config.collectors.sidekiq.enabled = false
        config.statsd.enabled = false
        let (logger, _) = RecordingLogHandler.logger()
        return Agent(config: config, statsdMapping: try StatsdMapping.load(config.statsd), source: .embeddedDefaults, logger: logger,
                     procRoot: procRoot)
    }

    /// The first scrape takes the first sample; its views carry the fixture's processes.
    @Test func aScrapeServesTheSamplersSnapshotWithItsViews() async throws {
        let agent = try Self.agent()
        let text = await agent.metrics.scrape()
        #expect(sampleValue(text, "mastiff_sample_runs_total") == 1)
        #expect(sampleValue(text, #"process_group_processes{group="puma"}"#) == 2)
        let snapshot = try #require(agent.sampler.latest)
        #expect(snapshot.views.processes?.filter { $0.group == "sidekiq" }.map(\.pid) == [1101])
        #expect(snapshot.views.memory?.totalBytes ?? 0 > 0)
        #expect(snapshot.views.sidekiqProcesses == nil, "the Sidekiq collector is off: no view, not an empty one")
        _ = await agent.metrics.scrape()
        #expect(sampleValue(await agent.metrics.scrape(), "mastiff_sample_runs_total") == 1, "later scrapes within the interval reuse it")
    }

    @Test func statusSaysWhatTheLastSampleSaw() async throws {
        let agent = try Self.agent()
        #expect(agent.status.status()["sample"] == nil, "no sample yet")
        _ = await agent.metrics.scrape()
        let status = agent.status.status()
        #expect(status["ok"] == .bool(true))
        #expect(status["sample"]?["sequence"] == .number(1))
        #expect(status["interval_seconds"] == .number(15))
        let names = status["collectors"]?.array?.compactMap { $0["name"]?.string }
        #expect(names == ["processes", "system"])
        #expect(status["collectors"]?.array?.allSatisfy { $0["ok"] == .bool(true) } == true)
    }

    /// /healthz says 503 once the sampler has completed no sample for three intervals plus the
    /// collectors' timeout (15 s × 3 + 5 s): an agent that watches nothing is not healthy.
    @Test func healthzFailsWhenTheSamplerStalls() async throws {
        var config = MastiffConfig()
        config.collectors.postgres.enabled = false
        config.collectors.redis.enabled = false
        config.collectors.sidekiq.enabled = false
        config.statsd.enabled = false
        let clock = ManualWallClock()
        let (logger, _) = RecordingLogHandler.logger()
        let agent = Agent(config: config, statsdMapping: try StatsdMapping.load(config.statsd), source: .embeddedDefaults, logger: logger,
                          procRoot: Self.procRoot, clock: clock)
        #expect(agent.status.health().healthy, "a fresh agent has time for its first sample")
        clock.advance(by: 51)
        #expect(agent.status.health() == (false, "sampler stalled: no sample since the start 51 s ago (allowed 50 s)\n"))
        _ = await agent.metrics.scrape()
        #expect(agent.status.health().healthy)
        clock.advance(by: 49)
        #expect(agent.status.health().healthy)
        clock.advance(by: 2)
        #expect(!agent.status.health().healthy && agent.status.health().body.contains("last sample 51 s ago"))
    }

    @Test func anUnknownControlCommandIsAnError() async throws {
        let agent = try Self.agent()
        let answer = await agent.control.answer("reboot", .object(["command": .string("reboot")]))
        #expect(answer["ok"] == .bool(false))
        #expect(answer["error"]?.string == "unknown command 'reboot' (known: status, alerts, maintenance, silence, notify_test, restarts, backup_run, work)")
    }
}
