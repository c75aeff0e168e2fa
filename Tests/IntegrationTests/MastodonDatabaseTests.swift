import Foundation
import MastiffClients
import MastiffTestSupport
import Testing

/// The Mastodon figures on a database with Mastodon's tables (Fixtures/mastodon/schema.sql),
/// compared with exact counts made through psql.
@Suite(.serialized) struct MastodonDatabaseTests {
    private func psql(_ database: String, _ arguments: [String]) throws -> String {
        try Harness.psql(database: database, arguments)
    }

    @Test func figuresMatchExactCounts() throws {
        _ = try psql("postgres", ["-c", "DROP DATABASE IF EXISTS mastodon_fixture"])
        _ = try psql("postgres", ["-c", "CREATE DATABASE mastodon_fixture"])
        _ = try psql("mastodon_fixture", ["-v", "statuses=4000", "-f", Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/mastodon/schema.sql"])

        let dsn = try Harness.environment("MASTIFF_TEST_PG_DSN").replacingOccurrences(of: "dbname=postgres", with: "dbname=mastodon_fixture")
        let config = try Harness.writeConfig(collectors: ["postgres": "{dsn: \"\(dsn)\", top_tables: 3}"])
        func exact(_ sql: String) throws -> Double? { Double(try psql("mastodon_fixture", ["-c", sql])) }
        // Sizes move while autovacuum creates a table's free-space and visibility maps: vacuum
        // first, and accept the size read just before or just after the scrape.
        _ = try psql("mastodon_fixture", ["-c", "VACUUM ANALYZE"])
        let sizeQueries = ["SELECT pg_total_relation_size('statuses')", "SELECT pg_database_size('mastodon_fixture')"]
        let sizesBefore = try sizeQueries.map(exact)
        let text = try Harness.run(Harness.binary, ["collect", "--once", "--config", config]).stdout
        let sizesAfter = try sizeQueries.map(exact)
        #expect(try Harness.promtoolProblems(text) == "")
        #expect(sampleValue(text, "postgres_up") == 1)

        #expect(sampleValue(text, "mastodon_users") == 20)
        #expect(sampleValue(text, "mastodon_users_signed_in_30d") == 12)
        #expect(sampleValue(text, "mastodon_federation_unavailable_domains") == (try exact("SELECT count(*) FROM unavailable_domains")))
        #expect(sampleValue(text, "mastodon_local_accounts") == 20)
        #expect(sampleValue(text, "mastodon_local_statuses") == (try exact("SELECT count(*) FROM statuses WHERE local")))
        #expect(sampleValue(text, "mastodon_statuses_estimate") == 4000, "ANALYZE makes reltuples exact on a small table")
        #expect(sampleValue(text, "mastodon_remote_accounts_estimate") == 200)
        #expect(sampleValue(text, "mastodon_media_attachments{origin=\"local\"}") == (try exact("SELECT count(*) FROM media_attachments WHERE remote_url = ''")))
        #expect(sampleValue(text, "mastodon_media_attachments_bytes{origin=\"remote\"}")
                == (try exact("SELECT sum(file_file_size) FROM media_attachments WHERE remote_url <> ''")))
        // The three largest tables, by total size.
        let tableSize = sampleValue(text, "postgres_table_size_bytes{table=\"public.statuses\"}")
        #expect(tableSize == sizesBefore[0] || tableSize == sizesAfter[0], "\(String(describing: tableSize)) vs \(sizesBefore[0] ?? 0)…\(sizesAfter[0] ?? 0)")
        #expect(text.split(separator: "\n").filter { $0.hasPrefix("postgres_table_size_bytes{") }.count == 3)
        let databaseSize = sampleValue(text, "postgres_database_size_bytes{database=\"mastodon_fixture\"}")
        #expect(databaseSize == sizesBefore[1] || databaseSize == sizesAfter[1],
                "\(String(describing: databaseSize)) vs \(sizesBefore[1] ?? 0)…\(sizesAfter[1] ?? 0)")
    }

    @Test func aDatabaseWithoutMastodonsTablesHasNoMastodonFigures() throws {
        let config = try Harness.writeConfig(collectors: ["postgres": "{dsn: \"\(try Harness.environment("MASTIFF_TEST_PG_DSN"))\"}"])
        let text = try Harness.run(Harness.binary, ["collect", "--once", "--config", config]).stdout
        #expect(sampleValue(text, "postgres_up") == 1)
        #expect(!text.contains("mastodon_users"))
        #expect(!text.contains("mastodon_federation_unavailable_domains"))
        #expect(sampleValue(text, "mastiff_collector_success{collector=\"postgres\"}") == 1)
    }
}

/// Database and table sizes stat every file, so they are read every `size_interval` and served
/// from a cache in between; everything else is read on every scrape.
@Suite(.serialized) struct PostgresSizeCacheTests {
    private func psql(_ sql: String) throws {
        _ = try Harness.psql(["-c", sql])
    }

    private func sizes(interval: String) async throws -> (before: Double?, after: Double?, commitsBefore: Double?, commitsAfter: Double?) {
        try psql("DROP TABLE IF EXISTS size_cache_probe; CREATE TABLE size_cache_probe (v text); INSERT INTO size_cache_probe SELECT 'x' FROM generate_series(1, 100)")
        let dsn = try Harness.environment("MASTIFF_TEST_PG_DSN")
        let config = try Harness.writeConfig(collectors: ["postgres": "{dsn: \"\(dsn)\", top_tables: 1000, size_interval: \(interval)}"],
                                             "sampling: {interval: 1s}\n")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        let client = CurlHTTPClient()
        let series = "postgres_table_size_bytes{table=\"public.size_cache_probe\"}"
        let commits = "postgres_database_transactions_committed_total{database=\"postgres\"}"
        let first = try await client.get(mastiff.baseURL + "/metrics").text
        try psql("INSERT INTO size_cache_probe SELECT repeat('y', 500) FROM generate_series(1, 20000)")
        let second = try await mastiff.metrics(sampledAfter: Date()).text
        return (sampleValue(first, series), sampleValue(second, series), sampleValue(first, commits), sampleValue(second, commits))
    }

    @Test func sizesAreCachedForTheInterval() async throws {
        let cached = try await sizes(interval: "1h")
        #expect(cached.before != nil)
        #expect(cached.after == cached.before, "a table that grew must still show its cached size")
        #expect((cached.commitsAfter ?? 0) > (cached.commitsBefore ?? 0), "other statistics are read on every scrape")

        let fresh = try await sizes(interval: "0s")
        #expect((fresh.after ?? 0) > (fresh.before ?? 0), "with size_interval 0s the growth shows at once")
    }
}
