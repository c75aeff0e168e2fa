import Foundation
import Testing

/// The Mastodon figures on a database with Mastodon's tables (Fixtures/mastodon/schema.sql),
/// compared with exact counts made through psql.
@Suite(.serialized) struct MastodonDatabaseTests {
    private func psql(_ database: String, _ arguments: [String]) throws -> String {
        let result = try Harness.run(try Harness.which("psql"), ["-h", try Harness.environment("MASTIFF_TEST_PG_SOCKET_DIR"),
                                                                  "-p", try Harness.environment("MASTIFF_TEST_PG_PORT"), "-U", "postgres",
                                                                  "-d", database, "-qAt"] + arguments)
        guard result.status == 0 else { throw HarnessError("psql: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func figuresMatchExactCounts() throws {
        _ = try psql("postgres", ["-c", "DROP DATABASE IF EXISTS mastodon_fixture"])
        _ = try psql("postgres", ["-c", "CREATE DATABASE mastodon_fixture"])
        _ = try psql("mastodon_fixture", ["-v", "statuses=4000", "-f", Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/mastodon/schema.sql"])

        let dsn = try Harness.environment("MASTIFF_TEST_PG_DSN").replacingOccurrences(of: "dbname=postgres", with: "dbname=mastodon_fixture")
        let config = try Harness.writeConfig("""
        collectors:
          processes: {enabled: false}
          redis: {enabled: false}
          sidekiq: {enabled: false}
          postgres: {dsn: "\(dsn)", top_tables: 3}
        """)
        let text = try Harness.run(Harness.binary, ["collect", "--once", "--config", config]).stdout
        #expect(try Harness.promtoolProblems(text) == "")
        #expect(sampleValue(text, "postgres_up") == 1)

        func exact(_ sql: String) throws -> Double? { Double(try psql("mastodon_fixture", ["-c", sql])) }
        #expect(sampleValue(text, "mastodon_users") == 20)
        #expect(sampleValue(text, "mastodon_users_signed_in_30d") == 12)
        #expect(sampleValue(text, "mastodon_local_accounts") == 20)
        #expect(sampleValue(text, "mastodon_local_statuses") == (try exact("SELECT count(*) FROM statuses WHERE local")))
        #expect(sampleValue(text, "mastodon_statuses_estimate") == 4000, "ANALYZE makes reltuples exact on a small table")
        #expect(sampleValue(text, "mastodon_remote_accounts_estimate") == 200)
        #expect(sampleValue(text, "mastodon_media_attachments{origin=\"local\"}") == (try exact("SELECT count(*) FROM media_attachments WHERE remote_url = ''")))
        #expect(sampleValue(text, "mastodon_media_attachments_bytes{origin=\"remote\"}")
                == (try exact("SELECT sum(file_file_size) FROM media_attachments WHERE remote_url <> ''")))
        // The three largest tables, by total size.
        #expect(sampleValue(text, "postgres_table_size_bytes{table=\"public.statuses\"}") == (try exact("SELECT pg_total_relation_size('statuses')")))
        #expect(text.split(separator: "\n").filter { $0.hasPrefix("postgres_table_size_bytes{") }.count == 3)
        #expect(sampleValue(text, "postgres_database_size_bytes{database=\"mastodon_fixture\"}")
                == (try exact("SELECT pg_database_size('mastodon_fixture')")))
    }

    @Test func aDatabaseWithoutMastodonsTablesHasNoMastodonFigures() throws {
        let config = try Harness.writeConfig("""
        collectors:
          processes: {enabled: false}
          redis: {enabled: false}
          sidekiq: {enabled: false}
          postgres: {dsn: "\(try Harness.environment("MASTIFF_TEST_PG_DSN"))"}
        """)
        let text = try Harness.run(Harness.binary, ["collect", "--once", "--config", config]).stdout
        #expect(sampleValue(text, "postgres_up") == 1)
        #expect(!text.contains("mastodon_users"))
        #expect(sampleValue(text, "mastiff_collector_success{collector=\"postgres\"}") == 1)
    }
}
