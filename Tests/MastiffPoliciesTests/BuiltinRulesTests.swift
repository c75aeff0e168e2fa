import MastiffCore
import MastiffPolicies
import MastiffTestSupport
import Testing

@Suite struct BuiltinRulesTests {
    /// The compiled-in rules are alerts/mastiff.rules.yml byte for byte, so that Prometheus users
    /// and mastiff evaluate the same file.
    @Test func builtInRulesAreTheShippedFile() throws {
        let shipped = try FileSystemAccess.readFile(RepositoryPaths.root + "/alerts/mastiff.rules.yml")
        #expect(shipped == BuiltinRules.shipped, "run scripts/embed-builtin-rules.py after editing alerts/mastiff.rules.yml")
    }

    /// Every shipped alert has a severity, a summary, a description and a runbook link into
    /// docs/alerting.md, whose section exists.
    @Test func everyAlertIsDocumented() throws {
        let groups = try RuleFileLoader.load(text: BuiltinRules.shipped, file: "mastiff.rules.yml")
        let docs = try FileSystemAccess.readFile(RepositoryPaths.root + "/docs/alerting.md")
        let alerts = groups.flatMap(\.rules).filter(\.isAlert)
        #expect(Set(alerts.map(\.name)) == [
            "OOMRisk", "SwapNearlyFull", "OOMKillObserved", "ProcessGroupMemoryHigh", "FileDescriptorsNearLimit", "InstanceDown",
            "StreamingDown", "InstanceUnhealthy", "PostgresDown", "PostgresConnectionsNearLimit", "PostgresLongIdleInTransaction",
            "RedisDown", "RedisPersistenceFailing", "SidekiqDown", "SidekiqQueueLatencyHigh", "SidekiqDeadJobsGrowing",
            "SidekiqRetriesGrowing", "DiskNearlyFull", "DiskFillingUp", "TLSCertificateExpiring", "CollectorFailing",
            "ConfigReloadFailed", "StatsdSeriesLimitReached", "Watchdog", "RestartBudgetExhausted", "RestartTargetStopped",
            "BackupFailed", "BackupStale", "BackupDrillFailed", "JobFailed", "SidekiqStalled", "SidekiqQueueUnserved",
            "FederationUnavailableDomainsJump", "FederationDeliveriesFailing", "PumaRequestBacklog", "DatabasePoolExhausted",
        ])
        for rule in alerts {
            let severity = rule.labels.first { $0.0 == "severity" }?.1.text
            // Watchdog's "none" is the dead man's switch convention: it never pages by itself.
            #expect(["critical", "warning", "info"].contains(severity ?? "") || (rule.name == "Watchdog" && severity == "none"), "\(rule.name)")
            let annotations = Dictionary(uniqueKeysWithValues: rule.annotations.map { ($0.0, $0.1.text) })
            #expect(annotations["summary"]?.isEmpty == false, "\(rule.name)")
            #expect(annotations["description"]?.isEmpty == false, "\(rule.name)")
            #expect(annotations["runbook_url"] == "docs/alerting.md#\(rule.name.lowercased())", "\(rule.name)")
            #expect(docs.contains("### \(rule.name)"), "docs/alerting.md has no section for \(rule.name)")
        }
    }
}
