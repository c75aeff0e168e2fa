import Foundation
import MastiffTestSupport
import Testing

/// `mastiff init` on Mastodon installations as they are on disk (Fixtures/installations: 4.2 with
/// statsd and a namespace, 4.4 with the exporter and two streaming units, 4.5 with DATABASE_URL
/// and a socket DB_HOST), and once end to end against the test services: init, then run, and
/// every collector init configured succeeds.
@Suite(.serialized) struct InitIntegrationTests {
    /// A copy of a fixture installation with its placeholders filled in.
    static func installation(_ version: String, _ values: [String: String]) throws -> String {
        let directory = try Harness.temporaryDirectory().path + "/installation"
        try FileManager.default.copyItem(atPath: Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/installations/" + version, toPath: directory)
        for file in [directory + "/live/.env.production"] + (try FileManager.default.contentsOfDirectory(atPath: directory + "/systemd")).map({ directory + "/systemd/" + $0 }) {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory), !isDirectory.boolValue,
                  (try? FileManager.default.destinationOfSymbolicLink(atPath: file)) == nil else { continue }
            var text = try String(contentsOfFile: file, encoding: .utf8)
            // Longest first: @PG_PASSWORD@ before @PG_HOST@ in "…:@PG_PASSWORD@@@PG_HOST@:…".
            for (key, value) in values.sorted(by: { $0.key.count > $1.key.count }) { text = text.replacingOccurrences(of: "@\(key)@", with: value) }
            try text.write(toFile: file, atomically: true, encoding: .utf8)
        }
        return directory
    }

    /// A TCP port on 127.0.0.1 that refuses connections (bound, never listening), held open
    /// for the test: the fixtures' database and Redis point there, so init reaches no server.
    final class RefusingPort {
        let fd: Int32
        let port: Int
        init() throws {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
            fd = descriptor
            port = Int(UInt16(bigEndian: address.sin_port))
        }
        deinit { close(fd) }
    }

    static func initArguments(_ installation: String, config: String) -> [String] {
        ["init", "--env-file", installation + "/live/.env.production", "--systemd-dir", installation + "/systemd",
         "--mastodon-dir", installation + "/live", "--config", config]
    }

    static let secrets = ["pa:ss\\w0rd-fixture-42", "media-secret-fixture-42", "smtp-secret-fixture-42", "vapid-private-key-fixture-42",
                          "db-secret-fixture-44", "redis-secret-fixture-44", "ar-primary-fixture-44", "db@secret-fixture-45", "smtp-secret-fixture-45"]

    @Test(arguments: ["4.2", "4.4", "4.5"])
    func aFixtureInstallationGivesAValidConfigurationThatSaysWhereEachValueCameFrom(_ version: String) throws {
        let refusing = try RefusingPort()
        let installation = try Self.installation(version, ["PG_HOST": "127.0.0.1", "PG_PORT": "\(refusing.port)", "REDIS_PORT": "\(refusing.port)",
                                                          "USER": "mastodon", "PG_PASSWORD": "db%40secret-fixture-45", "PG_DATABASE": "mastodon_production"])
        let etc = try Harness.temporaryDirectory().path
        let config = etc + "/mastiff.yml"
        let dryRun = try Harness.run(Harness.binary, Self.initArguments(installation, config: config) + ["--dry-run"])
        #expect(dryRun.status == 0, "\(dryRun.stderr)")
        #expect(!FileManager.default.fileExists(atPath: config) && !FileManager.default.fileExists(atPath: etc + "/secrets"), "a dry run writes nothing")
        let text = dryRun.stdout
        #expect(text.contains("written by `mastiff init`") && text.contains("Mastodon \(version)."), "\(text.prefix(400))")
        var expected: [String]
        switch version {
        case "4.2":
            expected = ["# From DB_HOST, DB_PORT, DB_NAME, DB_USER in .env.production.",
                        "dsn: \"host='127.0.0.1' port='\(refusing.port)' dbname='mastodon_production' user='mastodon' passfile='\(etc)/secrets/pgpass'\"",
                        "url: \"redis://127.0.0.1:\(refusing.port)/0\"", "namespace: \"social\"",
                        "udp: \"127.0.0.1:8125\"", "mastodon_namespace: \"Mastodon.production\"",
                        "- {name: \"streaming\", url: \"http://127.0.0.1:4000/metrics\"}",
                        "systemd: {unit: \"mastodon-sidekiq.service\"}, dry_run: true}",
                        "smarthost: \"smtp.mailgun.org:587\", security: starttls, username: \"postmaster@social.example\"",
                        "from: \"notifications@social.example\"", "url: \"https://social.example\""]
        case "4.4":
            expected = ["url: \"file:\(etc)/secrets/redis-url\"", "# redis://:<redacted>@127.0.0.1:\(refusing.port)/0, with its password, is in",
                        "redis_url: \"redis://127.0.0.1:\(refusing.port)/1\"",
                        "- {name: \"web\", url: \"http://127.0.0.1:9394/metrics\"}",
                        "- {name: \"streaming-4000\", url: \"http://127.0.0.1:4000/metrics\"}", "- {name: \"streaming-4001\", url: \"http://127.0.0.1:4001/metrics\"}",
                        "statsd: {enabled: false}", "url: \"https://mastodon.example.social\"", "security: tls"]
        default:
            expected = ["# From DATABASE_URL in .env.production.", "dsn: \"postgresql://postgres@127.0.0.1:\(refusing.port)/mastodon_production?passfile=",
                        "Sidekiq runs in several units (mastodon-sidekiq-pull.service, mastodon-sidekiq.service)", "systemd: {}, dry_run: true}",
                        "- {name: \"streaming\", url: \"http://127.0.0.1:4000/metrics\"}"]
        }
        expected += ["env_file: \"\(installation)/live/.env.production\"", "{name: puma-workers, cmdline: '^puma: cluster worker', user: \"mastodon\"}",
                     "# backups:"]
        for line in expected { #expect(text.contains(line), "\(version): missing \(line)\n\(text)") }
        // The host has no `mastodon` account (unless it is a Mastodon host): then the targets
        // are written commented out, and the file still loads.
        let hasMastodon = getpwnam("mastodon") != nil
        #expect(text.contains("\nrestarts:\n  - {name: sidekiq") == hasMastodon && text.contains("\n# restarts:\n#  - {name: sidekiq") == !hasMastodon, "\(text)")
        #expect(dryRun.stderr.contains("init: PostgreSQL: ") && dryRun.stderr.contains("init: Redis: "), "\(dryRun.stderr)")

        let written = try Harness.run(Harness.binary, Self.initArguments(installation, config: config))
        #expect(written.status == 0 && written.stderr.contains("check-config: \(config) is valid"), "\(written.stderr)")
        let check = try Harness.run(Harness.binary, ["check-config", "--config", config])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        // Secrets: in 0600 files in a 0700 directory, nowhere else.
        let secretFiles = (try? FileManager.default.contentsOfDirectory(atPath: etc + "/secrets")) ?? []
        #expect(secretFiles.sorted() == ["4.2": ["pgpass", "smtp-password"], "4.4": ["pgpass", "redis-url"], "4.5": ["pgpass", "smtp-password"]][version]!, "\(secretFiles)")
        for name in secretFiles {
            #expect((try FileManager.default.attributesOfItem(atPath: etc + "/secrets/" + name)[.posixPermissions] as? Int) == 0o600, "\(name)")
        }
        #expect((try FileManager.default.attributesOfItem(atPath: etc + "/secrets")[.posixPermissions] as? Int) == 0o700)
        let pgpass = try String(contentsOfFile: etc + "/secrets/pgpass", encoding: .utf8)
        #expect(pgpass == ["4.2": "*:*:*:*:pa\\:ss\\\\w0rd-fixture-42\n", "4.4": "*:*:*:*:db-secret-fixture-44\n", "4.5": "*:*:*:*:db@secret-fixture-45\n"][version]!)
        var scan = SecretScan([:])
        for (index, secret) in Self.secrets.enumerated() { scan.add(secret: secret, as: "fixture secret \(index)") }
        scan.add("init --dry-run", dryRun)
        scan.add("init", written)
        scan.add(file: config)
        #expect(scan.leaks().isEmpty, "\(scan.leaks())")

        // An existing configuration is kept unless --force says otherwise.
        try "# edited by the admin\n".write(toFile: config, atomically: true, encoding: .utf8)
        let again = try Harness.run(Harness.binary, Self.initArguments(installation, config: config))
        #expect(again.status == 1 && again.stderr.contains("exists: not replaced"), "\(again.stderr)")
        #expect(try String(contentsOfFile: config, encoding: .utf8) == "# edited by the admin\n")
        let forced = try Harness.run(Harness.binary, Self.initArguments(installation, config: config) + ["--force"])
        let replaced = try String(contentsOfFile: config, encoding: .utf8)
        #expect(forced.status == 0 && replaced.hasPrefix("# mastiff.yml, written by"), "\(forced.stderr)")
    }

    /// Missing files: a clear line each, and a configuration that still runs.
    @Test func nothingToReadStillGivesAConfigurationThatRuns() throws {
        let empty = try Harness.temporaryDirectory().path
        let config = empty + "/etc/mastiff.yml"
        try FileManager.default.createDirectory(atPath: empty + "/etc", withIntermediateDirectories: true)
        let result = try Harness.run(Harness.binary, ["init", "--mastodon-dir", empty + "/live", "--systemd-dir", empty + "/systemd", "--config", config])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("init: \(empty)/live/.env.production: ") && result.stderr.contains("PostgreSQL, Redis and Sidekiq are left off"), "\(result.stderr)")
        #expect(result.stderr.contains("init: \(empty)/systemd: ") && result.stderr.contains("no restart target is written"), "\(result.stderr)")
        let collect = try Harness.run(Harness.binary, ["collect", "--once", "--config", config])
        #expect(collect.status == 0 && sampleValue(collect.stdout, #"mastiff_collector_success{collector="system"}"#) == 1
                && sampleValue(collect.stdout, #"mastiff_collector_success{collector="processes"}"#) == 1, "\(collect.stderr)")
        #expect(sampleValue(collect.stdout, #"mastiff_collector_success{collector="postgres"}"#) == nil)
    }

    /// End to end: a 4.5 installation whose database and Redis are the test services. init reads
    /// the contact address from the settings table; `run` on what it wrote has PostgreSQL, Redis
    /// and Sidekiq succeed.
    @Test func initThenRunOnTheTestServices() async throws {
        _ = try Harness.psql(["-c", "DROP DATABASE IF EXISTS init_e2e WITH (FORCE)"])
        _ = try Harness.psql(["-c", "CREATE DATABASE init_e2e"])
        defer { _ = try? Harness.psql(["-c", "DROP DATABASE IF EXISTS init_e2e WITH (FORCE)"]) }
        _ = try Harness.psql(database: "init_e2e", ["-c", """
            CREATE TABLE settings (id bigserial PRIMARY KEY, var varchar NOT NULL, value text, thing_type varchar, thing_id bigint);
            INSERT INTO settings (var, value) VALUES ('site_contact_email', '--- admin@tiny.example
            ');
            """])
        let password = try Harness.environment("MASTIFF_TEST_PG_PASSWORD")
        let installation = try Self.installation("4.5", ["PG_HOST": "127.0.0.1", "PG_PORT": try Harness.environment("MASTIFF_TEST_PG_PORT"),
                                                         "PG_PASSWORD": password.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!,
                                                         "PG_DATABASE": "init_e2e", "REDIS_PORT": try Harness.environment("MASTIFF_TEST_REDIS_PORT"),
                                                         "USER": "nobody"])
        // No name a test may not resolve: the instance is localhost.
        let env = installation + "/live/.env.production"
        try (try String(contentsOfFile: env, encoding: .utf8)).replacingOccurrences(of: "LOCAL_DOMAIN=tiny.example", with: "LOCAL_DOMAIN=localhost")
            .write(toFile: env, atomically: true, encoding: .utf8)
        let etc = try Harness.temporaryDirectory().path
        let config = etc + "/mastiff.yml"
        let started = Date()
        let result = try Harness.run(Harness.binary, Self.initArguments(installation, config: config))
        #expect(result.status == 0, "\(result.stderr)")
        let text = try String(contentsOfFile: config, encoding: .utf8)
        #expect(text.contains("to: [\"admin@tiny.example\"]"), "the contact address from the settings table:\n\(text)")
        #expect(text.contains("\nrestarts:\n  - {name: sidekiq, group: sidekiq, user: \"nobody\","), "\(text)")
        // What an admin changes before a first run on a host where 9815 is taken.
        try (text + "listen: 127.0.0.1:0\nstate_dir: \(etc)/state\ncontrol_socket: \"\"\n").write(toFile: config, atomically: true, encoding: .utf8)
        let launched = Date()
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        // The first sample, taken at start (the next comes sampling.interval, 15 s, later).
        let metrics = try await mastiff.metrics(sampledAfter: launched, within: 30)
        for collector in ["postgres", "redis", "sidekiq", "system", "processes"] {
            #expect(sampleValue(metrics.text, "mastiff_collector_success{collector=\"\(collector)\"}") == 1, "\(collector)\n\(mastiff.log)")
        }
        #expect(sampleValue(metrics.text, "postgres_up") == 1 && sampleValue(metrics.text, "redis_up") == 1)
        #expect(try Harness.promtoolProblems(metrics.text) == "")
        let seconds = Date().timeIntervalSince(started)
        #expect(seconds < 60, "init to the first full sample: \(seconds) s")
        var scan = SecretScan(["the test database password": password, "the SMTP password": "smtp-secret-fixture-45"])
        scan.add("init", result)
        scan.add(file: config)
        await scan.add(mastiff)
        #expect(scan.leaks().isEmpty, "\(scan.leaks())")
    }
}
