import MastiffCore
@testable import MastiffPolicies
import Testing

/// doctor's queue topology: Mastodon's config/sidekiq.yml against the queues live processes
/// serve, and the -q list that dropped one.
@Suite struct SidekiqTopologyTests {
    /// Mastodon 4.5's config/sidekiq.yml (its queue part).
    static let mastodon45 = """
        ---
        :concurrency: 5
        :queues:
          - [default, 8]
          - [push, 6]
          - [ingress, 4]
          - [mailers, 2]
          - [pull]
          - [scheduler]
          - [fasp]
        :scheduler:
          :listened_queues_only: true
        """

    static func finding(_ facts: DoctorFacts) -> DoctorFinding? { DoctorChecks.run(facts).first { $0.check == "sidekiq-queues" } }

    @Test func theQueuesOfMastodonsFile() {
        #expect(DoctorChecks.configuredQueues(sidekiqYAML: Self.mastodon45) == ["default", "push", "ingress", "mailers", "pull", "scheduler", "fasp"])
        #expect(DoctorChecks.configuredQueues(sidekiqYAML: "queues:\n  - default\n  - push\n") == ["default", "push"])
        #expect(DoctorChecks.configuredQueues(sidekiqYAML: ":concurrency: 5\n") == nil)
        #expect(DoctorChecks.configuredQueues(sidekiqYAML: "[unclosed") == nil)
    }

    @Test func aQueueNoProcessServesIsAFailureNamingTheNarrowList() throws {
        var facts = DoctorFacts()
        facts.configuredSidekiqQueues = DoctorChecks.configuredQueues(sidekiqYAML: Self.mastodon45)
        facts.processes = [DoctorFacts.Process(pid: 11, comm: "ruby", cmdline: ["bundle", "exec", "sidekiq", "-q", "default", "-q", "push", "-q", "mailers",
                                                                                "-q", "pull", "-q", "scheduler", "-q", "fasp"])]
        let finding = try #require(Self.finding(facts))
        #expect(finding.level == .fail)
        #expect(finding.measured == "this host's Sidekiq processes (Redis not read) serve none of ingress")
        #expect(finding.why.contains("ingress carries inbound federation"))
        #expect(finding.why.contains("pid 11 (default, push, mailers, pull, scheduler, fasp) lists only those"))
    }

    @Test func processesOnOtherHostsCountFromRedis() throws {
        var facts = DoctorFacts()
        facts.configuredSidekiqQueues = ["default", "push", "ingress", "mailers", "pull", "scheduler", "fasp"]
        facts.sidekiqQueues = [["default", "push", "mailers", "scheduler"], ["ingress", "pull", "fasp"]]
        #expect(Self.finding(facts)?.level == .ok)
        facts.sidekiqQueues = [["default", "push", "mailers", "scheduler"], ["pull"]]
        #expect(Self.finding(facts)?.measured == "the Sidekiq processes in Redis (all hosts) serve none of ingress, fasp")
        facts.sidekiqQueues = nil
        #expect(Self.finding(facts) == nil, "no Sidekiq anywhere: another check's business")
    }
}
