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

    /// The checks of the services, against real ones: PostgreSQL's memory settings and open
    /// files (it runs here), Redis's persistence, a real Sidekiq serving the scheduler queue read
    /// from Redis, Mastodon's sample systemd unit (TimeoutSec=15 < Sidekiq's 25 s), a crontab
    /// and Mastodon's retention setting for the media cleanup, and a media bucket on a moto
    /// without authentication, where anyone can list it.
    @Test func servicesBesideMastodonAreChecked() async throws {
        let redisPort = try Harness.environment("MASTIFF_TEST_REDIS_PORT")
        let redisURL = "redis://127.0.0.1:\(redisPort)/12"
        _ = try Harness.run(try Harness.which("redis-cli"), ["-p", redisPort, "-n", "12", "FLUSHDB"])
        let directory = try Harness.temporaryDirectory()
        let (sidekiq, _) = try SidekiqIntegrationTests.startSidekiq(redisURL: redisURL, ["-c", "2", "-q", "default", "-q", "scheduler", "-t", "1"])
        defer {
            sidekiq.terminate()
            sidekiq.waitUntilExit()
        }
        for _ in 0..<100 {
            let members = try Harness.run(try Harness.which("redis-cli"), ["-p", redisPort, "-n", "12", "SCARD", "processes"])
            if members.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1" { break }
            try await Task.sleep(for: .milliseconds(200))
        }

        // A moto without signature checks answers anonymous requests, as a bucket open to anyone does.
        let motoPort = try AlertingIntegrationTests.HealthServer.freePort()
        // The python3 on PATH is the one scripts/setup.sh installed moto for (scripts/moto-s3.py too).
        let moto = try Harness.spawn("/usr/bin/env", ["python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", "\(motoPort)"], log: directory.appendingPathComponent("moto.log").path)
        defer { kill(moto, SIGKILL) }
        var created = false
        for _ in 0..<100 where !created {
            created = (try? Harness.run(try Harness.which("curl"), ["-sf", "-X", "PUT", "http://127.0.0.1:\(motoPort)/media-files"]).status) == 0
            if !created { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(created, "moto did not start")

        let units = directory.appendingPathComponent("units")
        try FileManager.default.createDirectory(at: units, withIntermediateDirectories: true)
        // Mastodon's dist/mastodon-sidekiq.service, as admins copy it.
        try """
            [Unit]
            Description=mastodon-sidekiq
            After=network.target

            [Service]
            Type=simple
            User=mastodon
            WorkingDirectory=/home/mastodon/live
            Environment="RAILS_ENV=production"
            Environment="DB_POOL=25"
            Environment="MALLOC_ARENA_MAX=2"
            ExecStart=/home/mastodon/.rbenv/shims/bundle exec sidekiq -c 25
            TimeoutSec=15
            Restart=always
            """.write(to: units.appendingPathComponent("mastodon-sidekiq.service"), atomically: true, encoding: .utf8)
        let envFile = directory.appendingPathComponent(".env.production").path
        try """
            S3_ENABLED=true
            S3_BUCKET=media-files
            S3_ENDPOINT=http://127.0.0.1:\(motoPort)/
            AWS_SECRET_ACCESS_KEY=doctor-must-not-print-this-either
            """.write(toFile: envFile, atomically: true, encoding: .utf8)
        // Mastodon's admin settings table with a media cache retention period of 14 days, and a
        // crontab that runs tootctl media remove.
        let dsn = try BackupIntegrationTests.database("doctor_mastodon", """
            CREATE TABLE settings (id bigserial PRIMARY KEY, var character varying NOT NULL, value text, thing_type character varying, thing_id bigint);
            INSERT INTO settings (var, value) VALUES ('media_cache_retention_period', E'--- 14\\n'), ('site_title', E'--- Example\\n');
            """)
        let cron = directory.appendingPathComponent("cron.d")
        try FileManager.default.createDirectory(at: cron, withIntermediateDirectories: true)
        try """
            # m h dom mon dow user command
            0 3 * * * mastodon cd /home/mastodon/live && RAILS_ENV=production bin/tootctl media remove --days 7
            """.write(to: cron.appendingPathComponent("mastodon"), atomically: true, encoding: .utf8)
        let config = try Harness.writeConfig(collectors: [
            "postgres": "{dsn: \"\(dsn)\"}",
            "redis": "{url: \"\(redisURL)\"}",
            "sidekiq": "{redis_url: \"\(redisURL)\"}",
        ], "statsd: {enabled: false}\ninstance: {env_file: \(envFile)}\n")
        let result = try Harness.run(Harness.binary, ["doctor", "--json", "--config", config, "--systemd-dir", units.path, "--cron-dir", cron.path])
        #expect(result.status == 1, "a fail exits 1: \(result.stderr)")
        let findings = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: String]] ?? []
        let byCheck = Dictionary(findings.map { ($0["check"] ?? "", $0) }, uniquingKeysWith: { a, _ in a })

        let sharedBuffers = try Harness.psql(["-c", "SELECT pg_size_bytes(current_setting('shared_buffers'))"])
        let postgres = try #require(byCheck["postgres-memory"], "PostgreSQL runs on this host: \(result.stdout)")
        #expect(postgres["measured"]?.hasPrefix("shared_buffers ") == true && postgres["recommended"]?.hasPrefix("PgTune (web): shared_buffers ") == true)
        #expect(Int(sharedBuffers) == 32 << 20 ? postgres["measured"]?.hasPrefix("shared_buffers 32.0 MiB") == true : true, "\(postgres)")
        #expect(byCheck["open-files"]?["measured"]?.contains("postgres ") == true, "\(byCheck["open-files"] ?? [:])")

        let save = try Harness.run(try Harness.which("redis-cli"), ["-p", redisPort, "CONFIG", "GET", "save"]).stdout.split(separator: "\n")
        let persistence = try #require(byCheck["redis-persistence"])
        #expect(persistence["measured"]?.hasPrefix("save \"\(save.count > 1 ? String(save[1]) : "")\"") == true, "\(persistence)")

        let scheduler = try #require(byCheck["sidekiq-scheduler"])
        #expect(scheduler["level"] == "ok" && scheduler["measured"] == "1 of 1 Sidekiq processes in Redis (all hosts) serve the scheduler queue", "\(scheduler)")

        let unit = try #require(byCheck["sidekiq-stop-timeout"])
        #expect(unit["level"] == "fail" && unit["measured"] == "mastodon-sidekiq.service: stop timeout 15 s, Sidekiq -t 25 s")

        let cleanup = try #require(byCheck["media-cleanup"])
        #expect(cleanup["level"] == "ok" && cleanup["measured"] == "a cron entry runs tootctl media remove (\(cron.path)/mastodon); Mastodon's media cache retention period, 14 days", "\(cleanup)")

        let bucket = try #require(byCheck["media-bucket"])
        #expect(bucket["level"] == "fail" && bucket["measured"] == "http://127.0.0.1:\(motoPort)/media-files lists its objects to anyone (HTTP 200)", "\(bucket)")
        #expect(!result.stdout.contains("doctor-must-not-print-this-either"))
    }
}

/// `mastiff doctor --upgrade-to` on an installation with real PostgreSQL and Redis: what blocks
/// Mastodon 4.5 is named, what passes says what it measured, and no secret is printed.
@Suite struct UpgradePreflightIntegrationTests {
    @Test func aBlockedUpgradeIsNamedAndExitsOne() throws {
        let live = try Harness.temporaryDirectory().appendingPathComponent("live")
        try FileManager.default.createDirectory(at: live.appendingPathComponent("lib/mastodon"), withIntermediateDirectories: true)
        // Mastodon 4.4.3's version file (the fixture installation's), upgrading to 4.5.
        try FileManager.default.copyItem(atPath: Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/installations/4.4/live/lib/mastodon/version.rb",
                                         toPath: live.appendingPathComponent("lib/mastodon/version.rb").path)
        let envFile = live.appendingPathComponent(".env.production").path
        try """
            REDIS_NAMESPACE=social
            ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY=never-printed-deterministic
            ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT=never-printed-salt
            """.write(toFile: envFile, atomically: true, encoding: .utf8)
        let config = try Harness.writeConfig(collectors: [
            "postgres": "{dsn: \"\(try Harness.environment("MASTIFF_TEST_PG_DSN"))\"}",
            "redis": "{url: \"redis://127.0.0.1:\(try Harness.environment("MASTIFF_TEST_REDIS_PORT"))/0\"}",
        ], "statsd: {enabled: false}\ninstance: {env_file: \(envFile)}\n")
        let result = try Harness.run(Harness.binary, ["doctor", "--upgrade-to", "4.5", "--json", "--config", config])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        let findings = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: String]] ?? []
        let byCheck = Dictionary(findings.map { ($0["check"] ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byCheck["upgrade-version"]?["measured"] == "Mastodon 4.4.3 → 4.5")
        #expect(byCheck["upgrade-postgres"]?["level"] == "ok" && byCheck["upgrade-postgres"]?["measured"]?.hasPrefix("PostgreSQL 1") == true)
        #expect(byCheck["upgrade-redis"]?["level"] == "ok" && byCheck["upgrade-redis"]?["measured"]?.hasPrefix("Redis 7.") == true)
        #expect(byCheck["upgrade-redis-namespace"]?["level"] == "fail")
        #expect(byCheck["upgrade-encryption-keys"]?["measured"] == "missing: ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY")
        #expect(byCheck["upgrade-disk"]?["level"] == "ok", "\(byCheck["upgrade-disk"] ?? [:])")
        #expect(byCheck["upgrade-backup"]?["level"] == "fail")
        #expect(!result.stdout.contains("never-printed") && !result.stdout.contains("=social"))

        let text = try Harness.run(Harness.binary, ["doctor", "--upgrade-to", "4.5", "--config", config])
        #expect(text.stdout.contains("FAIL  upgrade-redis-namespace: REDIS_NAMESPACE is set"), "\(text.stdout)")
        let unknown = try Harness.run(Harness.binary, ["doctor", "--upgrade-to", "5.0", "--config", config])
        #expect(unknown.status == 2 && unknown.stderr.contains("--upgrade-to takes a Mastodon release mastiff knows: 4.3, 4.4 or 4.5 (got '5.0')"),
                "\(unknown.status) \(unknown.stderr)")
    }
}
