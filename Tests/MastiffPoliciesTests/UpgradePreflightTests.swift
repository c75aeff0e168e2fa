import MastiffCore
@testable import MastiffPolicies
import Testing

/// What `doctor --upgrade-to` says for each thing a release enforces.
@Suite struct UpgradePreflightTests {
    static func ready() -> DoctorFacts {
        var facts = DoctorFacts()
        facts.mastodonVersion = "4.3.9"
        facts.postgresVersionNumber = 150_008
        facts.redisVersion = "7.0.15"
        facts.env = Dictionary(uniqueKeysWithValues: UpgradePreflight.encryptionKeys.map { ($0, "x") })
        facts.largestTable = DoctorFacts.Table(name: "public.statuses", bytes: 40 << 30)
        facts.postgresDataFreeBytes = 100 << 30
        facts.backupsConfigured = true
        facts.lastBackupAge = 3600
        return facts
    }

    static func levels(_ facts: DoctorFacts, _ target: String) -> [String: DoctorFinding.Level] {
        Dictionary(uniqueKeysWithValues: (UpgradePreflight.run(facts, target: target) ?? []).map { ($0.check, $0.level) })
    }

    @Test func aReadyHostPassesEveryCheck() {
        let levels = Self.levels(Self.ready(), "4.4")
        #expect(levels.values.allSatisfy { $0 == .ok }, "\(levels)")
        #expect(Set(levels.keys) == ["upgrade-version", "upgrade-postgres", "upgrade-redis", "upgrade-redis-namespace", "upgrade-encryption-keys",
                                     "upgrade-disk", "upgrade-backup", "upgrade-maintenance"])
        #expect(UpgradePreflight.run(Self.ready(), target: "5.0") == nil)
    }

    @Test func eachBlockerFails() {
        var facts = Self.ready()
        facts.postgresVersionNumber = 130_012
        #expect(Self.levels(facts, "4.5")["upgrade-postgres"] == .fail, "4.5 needs PostgreSQL 14")
        #expect(Self.levels(facts, "4.4")["upgrade-postgres"] == .ok)
        facts = Self.ready()
        facts.postgresVersionNumber = 90_624
        #expect(UpgradePreflight.run(facts, target: "4.3")?.first { $0.check == "upgrade-postgres" }?.measured == "PostgreSQL 9.6")
        facts = Self.ready()
        facts.redisVersion = "6.0.16"
        #expect(Self.levels(facts, "4.4")["upgrade-redis"] == .fail && Self.levels(facts, "4.3")["upgrade-redis"] == .ok)
        facts.redisVersion = "6.2.0"
        #expect(Self.levels(facts, "4.4")["upgrade-redis"] == .ok && Self.levels(facts, "4.5")["upgrade-redis"] == .fail)
        facts = Self.ready()
        facts.env?["REDIS_NAMESPACE"] = "mastodon"
        #expect(Self.levels(facts, "4.4")["upgrade-redis-namespace"] == .fail && Self.levels(facts, "4.3")["upgrade-redis-namespace"] == nil)
        facts = Self.ready()
        facts.env?["ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY"] = nil
        let keys = UpgradePreflight.run(facts, target: "4.4")?.first { $0.check == "upgrade-encryption-keys" }
        #expect(keys?.level == .fail && keys?.measured == "missing: ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY")
        #expect(keys?.why.contains("db:encryption:init") == true)
        facts = Self.ready()
        facts.postgresDataFreeBytes = 10 << 30
        #expect(Self.levels(facts, "4.4")["upgrade-disk"] == .fail)
        facts = Self.ready()
        facts.lastBackupAge = 2 * 86_400
        #expect(Self.levels(facts, "4.4")["upgrade-backup"] == .fail)
        facts.backupsConfigured = false
        #expect(Self.levels(facts, "4.4")["upgrade-backup"] == .fail)
    }

    @Test func oneReleaseAtATimeAndUnknownsAreWarnings() {
        var facts = Self.ready()
        facts.mastodonVersion = "4.2.10"
        let skip = UpgradePreflight.run(facts, target: "4.4")?.first { $0.check == "upgrade-version" }
        #expect(skip?.level == .warn && skip?.recommended == "upgrade one release at a time: 4.2.10 → 4.3 first")
        facts.mastodonVersion = "4.5.1"
        #expect(UpgradePreflight.run(facts, target: "4.4")?.first { $0.check == "upgrade-version" }?.measured == "Mastodon 4.5.1 is already 4.4 or later")
        facts = DoctorFacts()
        let unknown = Self.levels(facts, "4.4")
        #expect(unknown["upgrade-postgres"] == .warn && unknown["upgrade-redis"] == .warn && unknown["upgrade-disk"] == .warn)
        #expect(unknown["upgrade-backup"] == .fail, "no backup is a blocker, whatever else is unknown")
    }
}

/// doctor's `mastodon-exporter`: Mastodon 4.4's own metrics, and whether its web series fill.
@Suite struct MastodonExporterCheckTests {
    static func finding(_ env: [String: String], version: String = "4.4.2", nginx: [String]? = nil) -> DoctorFinding? {
        var facts = DoctorFacts()
        facts.env = env
        facts.mastodonVersion = version
        facts.nginxConfigs = nginx.map { $0.enumerated().map { DoctorFacts.UnitFile(path: "/etc/nginx/sites-enabled/\($0.offset)", text: $0.element) } }
        return DoctorChecks.run(facts).first { $0.check == "mastodon-exporter" }
    }

    @Test func offOnA44InstallationIsAWarningAndNothingBefore44() {
        #expect(Self.finding([:])?.level == .warn)
        #expect(Self.finding([:], version: "4.3.9") == nil)
    }

    @Test func webSeriesStayEmptyWithoutDetailedMetricsOrXRequestStart() {
        let on = ["MASTODON_PROMETHEUS_EXPORTER_ENABLED": "true"]
        let empty = Self.finding(on, nginx: ["location @proxy {\n  proxy_pass http://backend;\n}"])
        #expect(empty?.level == .warn && empty?.why.contains("the web series stay empty") == true)
        #expect(empty?.measured == "exporter on, web detailed metrics off, Sidekiq detailed metrics off, nginx does not send X-Request-Start")
        #expect(Self.finding(on, nginx: ["proxy_set_header X-Request-Start \"t=${msec}\";"])?.level == .ok)
        #expect(Self.finding(on.merging(["MASTODON_PROMETHEUS_EXPORTER_WEB_DETAILED_METRICS": "true"]) { $1 }, nginx: ["server {}"])?.level == .ok)
        #expect(Self.finding(on)?.measured.hasSuffix("nginx's configuration not read") == true)
    }
}
