import Foundation
import Testing

/// `mastiff doctor` on this host, with a real PostgreSQL and an .env.production holding a secret:
/// the findings come out as JSON with measured values, and no value of the env file but the
/// ones it judges appears.
@Suite struct DoctorIntegrationTests {
    @Test func doctorReportsFindingsWithoutSecrets() throws {
        let directory = try Harness.temporaryDirectory()
        let envFile = directory.appendingPathComponent(".env.production").path
        try """
            # Mastodon's environment
            SECRET_KEY_BASE=doctor-must-not-print-this-0123456789
            DB_PASS="another-secret-value"
            RAILS_LOG_LEVEL=debug
            DB_POOL=25
            """.write(toFile: envFile, atomically: true, encoding: .utf8)
        let config = try Harness.writeConfig(collectors: ["postgres": "{dsn: \"\(try Harness.environment("MASTIFF_TEST_PG_DSN"))\"}"],
                                             "statsd: {enabled: false}\ninstance: {env_file: \(envFile)}\n")
        let result = try Harness.run(Harness.binary, ["doctor", "--json", "--config", config])
        #expect(result.status == 0 || result.status == 1, "\(result.stderr)")
        let findings = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: String]] ?? []
        let byCheck = Dictionary(findings.map { ($0["check"] ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byCheck["rails-log-level"]?["level"] == "warn" && byCheck["rails-log-level"]?["measured"] == "RAILS_LOG_LEVEL=debug")
        #expect(byCheck["memory-headroom"]?["measured"]?.hasPrefix("MemAvailable ") == true)
        #expect(byCheck["backup"]?["level"] == "warn")
        #expect(!result.stdout.contains("doctor-must-not-print-this") && !result.stdout.contains("another-secret-value"))
        let text = try Harness.run(Harness.binary, ["doctor", "--config", config])
        #expect(text.stdout.contains("WARN  rails-log-level: RAILS_LOG_LEVEL=debug"), "\(text.stdout)")
    }
}
