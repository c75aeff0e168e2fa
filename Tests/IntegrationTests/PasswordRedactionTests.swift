import Foundation
import MastiffTestSupport
import Testing

/// Passwords as admins write them — with spaces, quotes, `@`, `=` and %-escapes — against the
/// real test PostgreSQL. libpq quotes fragments of a malformed connection string back in its
/// errors; none of them may reach the log or /metrics.
@Suite(.serialized) struct PasswordRedactionTests {
    static let role = "mastiff_redaction"
    /// A password with every character that broke pattern-based redaction.
    static let password = #"correct horse 'battery' st@ple=%41"#

    init() throws {
        let escaped = Self.password.replacingOccurrences(of: "'", with: "''")
        _ = try Harness.psql(["-c", "DROP ROLE IF EXISTS \(Self.role)"])
        _ = try Harness.psql(["-c", "CREATE ROLE \(Self.role) LOGIN PASSWORD '\(escaped)'"])
    }

    /// Every word of the password: none may appear in what mastiff prints.
    static let fragments = ["correct", "horse", "battery", "st@ple", "ple=%41", "%41"]

    private func collect(_ dsn: String) throws -> (output: String, log: String) {
        let config = try Harness.writeConfig(collectors: ["postgres": "{dsn: \(Self.yamlQuoted(dsn))}"])
        let result = try Harness.run(Harness.binary, ["collect", "--once", "--config", config, "--log-level", "debug"])
        #expect(result.status == 0)
        return (result.stdout, result.stderr)
    }

    static func yamlQuoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    private func expectNoFragment(_ text: String, _ context: String) {
        for fragment in Self.fragments {
            #expect(!text.contains(fragment), "\(context): '\(fragment)' leaked in:\n\(text)")
        }
    }

    @Test func theQuotedPasswordLogsIn() throws {
        let port = try Harness.environment("MASTIFF_TEST_PG_PORT")
        let quoted = Self.password.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
        let (output, log) = try collect("host=127.0.0.1 port=\(port) dbname=postgres user=\(Self.role) password='\(quoted)'")
        #expect(sampleValue(output, "postgres_up") == 1, "log:\n\(log)")
        expectNoFragment(output + log, "quoted")
    }

    /// `password=correct horse=battery`: libpq answered `invalid connection option "horse"`.
    @Test func anUnquotedPasswordThatLooksLikeOptionsLeaksNoFragment() throws {
        let port = try Harness.environment("MASTIFF_TEST_PG_PORT")
        let (output, log) = try collect("host=127.0.0.1 port=\(port) dbname=postgres user=\(Self.role) password=correct horse=battery st@ple=%41")
        #expect(sampleValue(output, "postgres_up") == 0)
        #expect(log.contains(#"invalid connection option \"<redacted>\""#), "\(log)")
        expectNoFragment(output + log, "options")
    }

    /// The unquoted form libpq cannot parse: it answered `missing "=" after "horse"`.
    @Test func anUnquotedPasswordWithSpacesLeaksNoFragment() throws {
        let port = try Harness.environment("MASTIFF_TEST_PG_PORT")
        let (output, log) = try collect("host=127.0.0.1 port=\(port) dbname=postgres user=\(Self.role) password=\(Self.password)")
        #expect(sampleValue(output, "postgres_up") == 0)
        #expect(log.contains(#"missing \"=\" after \"<redacted>\""#), "libpq's reason is kept, the fragment is not:\n\(log)")
        expectNoFragment(output + log, "unquoted")
    }

    @Test func aWrongQuotedPasswordIsReportedWithoutIt() throws {
        let port = try Harness.environment("MASTIFF_TEST_PG_PORT")
        let (output, log) = try collect("host=127.0.0.1 port=\(port) dbname=postgres user=\(Self.role) password='correct horse battery'")
        #expect(sampleValue(output, "postgres_up") == 0)
        #expect(log.contains("password authentication failed for user"))
        expectNoFragment(output + log, "wrong")
    }

    /// URIs: a literal space (which the old pattern let through whole) and %-escapes. (A literal
    /// "@" is left to the unit tests: libpq would take the rest for a host name and look it up
    /// in DNS, and tests send no query off this machine.)
    @Test(arguments: ["correct horse 'battery' staple", "correct%20horse%20battery%20st%40ple%3D%2541"])
    func uriPasswordsLeakNoFragment(userinfoPassword: String) throws {
        let port = try Harness.environment("MASTIFF_TEST_PG_PORT")
        let (output, log) = try collect("postgresql://\(Self.role):\(userinfoPassword)@127.0.0.1:\(port)/nonexistent_db")
        #expect(sampleValue(output, "postgres_up") == 0)
        expectNoFragment(output + log, "uri")
    }
}
