@testable import MastiffClients
@testable import MastiffCollectors
import MastiffCore
import MastiffTestSupport
import Testing

@Suite struct RedisParsingTests {
    @Test func capturedInfoOfRedis7() throws {
        let text = FixturePaths.read(FixturePaths.directory + "/redis-7.0-info.txt")
        let fields = RedisInfoParser.parse(text)
        #expect(fields["redis_version"] == "7.0.15")
        let sink = MetricSink()
        RedisMetrics.emit(fields, into: sink)
        #expect(sampleValue(sink.families, "redis_memory_used_bytes") == Double(fields["used_memory"]!))
        #expect(sampleValue(sink.families, "redis_info", [Label("version", "7.0.15"), Label("mode", "standalone"), Label("role", "master")]) == 1)
        #expect(sampleValue(sink.families, "redis_rdb_last_bgsave_success") == 1)
        #expect(sampleValue(sink.families, "redis_commands_processed_total") == Double(fields["total_commands_processed"]!))
        #expect(sink.errorReasons.isEmpty)
    }

    @Test func keyspaceLines() {
        let fields = RedisInfoParser.parse("# Keyspace\r\ndb0:keys=12,expires=3,avg_ttl=0\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n")
        #expect(RedisInfoParser.keyspace(fields) == [
            .init(database: "db0", keys: 12, expires: 3), .init(database: "db3", keys: 1, expires: 0),
        ])
    }

    @Test(arguments: [
        ("redis://127.0.0.1:6379/0", RedisURL(location: .tcp(host: "127.0.0.1", port: 6379))),
        ("redis://localhost", RedisURL(location: .tcp(host: "localhost", port: 6379))),
        ("redis://:pw@10.0.0.1:6380/2", RedisURL(location: .tcp(host: "10.0.0.1", port: 6380), password: Secret("pw"), database: 2)),
        ("redis://mastodon:pw@[::1]:6379", RedisURL(location: .tcp(host: "::1", port: 6379), username: "mastodon", password: Secret("pw"))),
        ("unix:///run/redis/redis.sock?db=1", RedisURL(location: .unixSocket(path: "/run/redis/redis.sock"), database: 1)),
        ("unix://mastodon:pw@/run/redis.sock", RedisURL(location: .unixSocket(path: "/run/redis.sock"), username: "mastodon", password: Secret("pw"))),
    ])
    func redisURLs(text: String, expected: RedisURL) throws {
        #expect(try RedisURL.parse(text).get() == expected)
    }

    @Test(arguments: ["rediss://h:1", "http://h", "redis://h:0", "redis://h:x", "redis://h/x", "unix://relative.sock", "redis://"])
    func badRedisURLs(text: String) {
        #expect((try? RedisURL.parse(text).get()) == nil)
    }

    @Test func redisURLDescriptionHidesThePassword() throws {
        let url = try RedisURL.parse("redis://user:hunter2@h:1/0").get()
        #expect(url.description == "redis://user:<redacted>@h:1/0")
    }
}

@Suite struct SidekiqParsingTests {
    let now = 1_764_000_100.0

    @Test(arguments: [
        // Sidekiq ≤ 7: float seconds. Sidekiq 8: integer milliseconds.
        (#"{"class":"PushJob","queue":"push","enqueued_at":1764000090.25}"#, 9.75),
        (#"{"class":"PushJob","queue":"push","enqueued_at":1764000090250}"#, 9.75),
        (#"{"class":"PushJob","queue":"push","created_at":1764000000.0}"#, 100),
        (#"not json"#, 0),
    ])
    func latencyAcrossSidekiqVersions(job: String, expected: Double) {
        #expect(abs(SidekiqParsing.latency(oldestJob: job, now: now) - expected) < 1e-6)
    }

    @Test func processFromSidekiq6And7Info() throws {
        let info = #"{"hostname":"mastodon-1","started_at":1764000000.1,"pid":4242,"tag":"mastodon","concurrency":25,"queues":["default","push"],"labels":[],"identity":"mastodon-1:4242:abc"}"#
        let process = try #require(SidekiqParsing.process(identity: "mastodon-1:4242:abc", fields: [info, "3", "1764000095.5", "false", "512000", nil]))
        #expect(process.hostname == "mastodon-1")
        #expect(process.concurrency == 25)
        #expect(process.busy == 3)
        #expect(process.rssBytes == 512_000 * 1024)
        #expect(process.beat == 1_764_000_095.5)
        #expect(!process.quiet)
    }

    @Test func processFromSidekiq81WithItsOwnConcurrencyField() throws {
        let info = #"{"hostname":"mastodon-2","started_at":1764000000100,"pid":7,"tag":"","queues":["default"],"identity":"mastodon-2:7:def"}"#
        let process = try #require(SidekiqParsing.process(identity: "mastodon-2:7:def", fields: [info, "0", "1764000095500", "true", "100", "10"]))
        #expect(process.concurrency == 10)
        #expect(process.beat == 1_764_000_095.5)
        #expect(process.quiet)
    }

    @Test func workEntries() throws {
        // Sidekiq 6: payload is a JSON string; 7+: an object; 8: run_at in milliseconds.
        let six = try #require(SidekiqParsing.work(#"{"queue":"pull","payload":"{\"queue\":\"pull\",\"class\":\"X\"}","run_at":1764000000}"#))
        #expect(six.queue == "pull" && six.runAt == 1_764_000_000)
        let eight = try #require(SidekiqParsing.work(#"{"payload":{"queue":"ingress"},"run_at":1764000000500}"#))
        #expect(eight.queue == "ingress" && eight.runAt == 1_764_000_000.5)
        #expect(SidekiqParsing.work("{}") == nil)
    }

    @Test func metricsFromData() {
        var data = SidekiqData()
        data.queues = [.init(name: "default", size: 4, latency: 2.5), .init(name: "push", size: 0, latency: 0)]
        data.processes = [
            .init(identity: "a", hostname: "h1", busy: 2, concurrency: 5, quiet: false, rssBytes: 1000, beat: now - 3),
            .init(identity: "b", hostname: "h1", busy: 1, concurrency: 5, quiet: true, rssBytes: 2000, beat: now - 8),
        ]
        data.runningJobs = [.init(queue: "default", runAt: now - 30), .init(queue: "default", runAt: now - 5)]
        data.processed = 100
        data.failed = 7
        data.retries = 2
        let sink = MetricSink()
        SidekiqMetrics.emit(data, now: now, into: sink)
        #expect(sampleValue(sink.families, "sidekiq_queue_size", [Label("queue", "default")]) == 4)
        #expect(sampleValue(sink.families, "sidekiq_queue_latency_seconds", [Label("queue", "default")]) == 2.5)
        #expect(sampleValue(sink.families, "sidekiq_processes", [Label("hostname", "h1")]) == 2)
        #expect(sampleValue(sink.families, "sidekiq_busy_threads", [Label("hostname", "h1")]) == 3)
        #expect(sampleValue(sink.families, "sidekiq_concurrency", [Label("hostname", "h1")]) == 10)
        #expect(sampleValue(sink.families, "sidekiq_quiet_processes", [Label("hostname", "h1")]) == 1)
        #expect(sampleValue(sink.families, "sidekiq_heartbeat_age_seconds", [Label("hostname", "h1")]) == 8)
        #expect(sampleValue(sink.families, "sidekiq_queue_longest_running_job_seconds", [Label("queue", "default")]) == 30)
        #expect(sampleValue(sink.families, "sidekiq_failed_jobs_total") == 7)
        #expect(sampleValue(sink.families, "sidekiq_retry_jobs") == 2)
    }
}

@Suite struct PostgresMetricsTests {
    private func result(_ columns: [String], _ rows: [[String?]], error: String? = nil) -> PostgresResult {
        PostgresResult(columns: columns, rows: rows, error: error)
    }

    @Test func resultsBecomeSamples() {
        let results = [
            result(["version_num", "max_connections", "reserved_connections", "in_recovery", "replay_lag"], [["150004", "100", "3", "0", nil]]),
            result(["database", "state", "connections", "oldest_transaction", "oldest_query"], [
                ["mastodon_production", "active", "2", "1.5", "0.5"],
                ["mastodon_production", "idle in transaction", "1", "600", "590"],
                ["mastodon_production", "idle", "20", "0", "30"],
            ]),
            result(["database", "size", "xact_commit", "xact_rollback"], [["mastodon_production", "1048576", "10", "1"]]),
            result(["mode", "waiting"], [["AccessExclusiveLock", "1"]]),
            result(["application_name", "client_addr", "lag_bytes"], [["replica1", "10.0.0.2", "4096"]]),
            result(["timed", "requested", "write_time", "sync_time"], [["5", "1", "2500", "10"]]),
            result(["table_name", "size", "n_live_tup", "n_dead_tup", "seq_scan", "idx_scan", "vacuum_age"],
                   [["public.statuses", "52428800", "1000", "50", "3", "900", nil]]),
        ]
        let sink = MetricSink()
        PostgresMetrics.emit(results, into: sink)
        #expect(sampleValue(sink.families, "postgres_connection_headroom") == 74.0)   // 100 max - 3 reserved - 23 in use
        #expect(sampleValue(sink.families, "postgres_connections", [Label("database", "mastodon_production"), Label("state", "idle")]) == 20)
        #expect(sampleValue(sink.families, "postgres_oldest_transaction_age_seconds", [Label("state", "idle in transaction")]) == 600)
        #expect(sampleValue(sink.families, "postgres_database_size_bytes", [Label("database", "mastodon_production")]) == 1_048_576)
        #expect(sampleValue(sink.families, "postgres_locks_waiting", [Label("mode", "AccessExclusiveLock")]) == 1)
        #expect(sampleValue(sink.families, "postgres_replication_lag_bytes", [Label("application_name", "replica1"), Label("client_addr", "10.0.0.2")]) == 4096)
        #expect(sampleValue(sink.families, "postgres_checkpoint_write_seconds_total") == 2.5)
        #expect(sampleValue(sink.families, "postgres_table_size_bytes", [Label("table", "public.statuses")]) == 52_428_800)
        #expect(sampleValue(sink.families, "postgres_table_last_vacuum_age_seconds", [Label("table", "public.statuses")]) == nil)
        #expect(sampleValue(sink.families, "postgres_replication_replay_lag_seconds") == nil)
        #expect(sink.errorReasons.isEmpty)
    }

    @Test func aFailedStatementIsCountedAndTheRestStillExposed() {
        var results = (0..<7).map { _ in PostgresResult(columns: [], rows: [], error: nil) }
        results[6] = PostgresResult(columns: [], rows: [], error: "55P03 canceling statement due to lock timeout")
        let sink = MetricSink()
        PostgresMetrics.emit(results, into: sink)
        #expect(sink.errorReasons == ["query_failed": 1])
    }

    @Test func queriesAreVersionGated() {
        #expect(PostgresQueries.sql(for: .checkpoints, serverVersion: 170_002, topTables: 10).contains("pg_stat_checkpointer"))
        #expect(!PostgresQueries.sql(for: .checkpoints, serverVersion: 160_004, topTables: 10).contains("pg_stat_checkpointer"))
        #expect(PostgresQueries.sql(for: .settings, serverVersion: 160_004, topTables: 10).contains("reserved_connections')"))
        #expect(!PostgresQueries.sql(for: .settings, serverVersion: 150_004, topTables: 10).contains("current_setting('reserved_connections')"))
        #expect(PostgresQueries.sql(for: .tables, serverVersion: 150_004, topTables: 7).hasSuffix("LIMIT 7"))
    }
}
