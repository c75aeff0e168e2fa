import Foundation
import MastiffTestSupport
import Testing

/// dashboards/ against live data: Debian's Prometheus scrapes a mastiff connected to the real
/// PostgreSQL, Redis (with Sidekiq's queues), moto (a backup made) and a probed web server; every
/// expression of every panel, with the dashboard variables substituted, must parse and return at
/// least one series through Prometheus's HTTP API.
@Suite(.serialized) struct DashboardTests {
    static func dashboards() throws -> [(file: String, json: [String: Any])] {
        let directory = Harness.packageRoot + "/dashboards"
        return try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.sorted().map { file in
            let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))
            guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw HarnessError("\(file) is not a JSON object") }
            return (file, json)
        }
    }

    static func expressions(_ dashboard: [String: Any]) -> [(panel: String, expr: String)] {
        ((dashboard["panels"] as? [[String: Any]]) ?? []).flatMap { panel in
            ((panel["targets"] as? [[String: Any]]) ?? []).compactMap { target in
                (target["expr"] as? String).map { (panel["title"] as? String ?? "?", $0) }
            }
        }
    }

    /// The mastiff queries of docs/migration.md's rewrite table: the last backticked cell of each
    /// row under "Rewrites of popular dashboard queries".
    static func migrationRewrites() throws -> [(panel: String, expr: String)] {
        let text = try String(contentsOfFile: Harness.packageRoot + "/docs/migration.md", encoding: .utf8)
        guard let section = text.range(of: "## Rewrites of popular dashboard queries") else { throw HarnessError("docs/migration.md has no rewrite table") }
        return text[section.upperBound...].split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| panel") }.compactMap { row in
            let cells = row.split(separator: "`")
            guard cells.count >= 4 else { return nil }
            return (String(row.dropFirst(2).prefix { $0 != "|" }).trimmingCharacters(in: .whitespaces), String(cells[cells.count - 2]))
        }
    }

    /// What Mastodon ≤ 4.2 sends (STATSD_ADDR), for the built-in mapping: a request with its
    /// database and view time, a query, a Sidekiq job that worked and one that failed.
    static let mastodonStatsdLines = """
        Mastodon.production.web.StatusesController.show.html.total_duration:42|ms
        Mastodon.production.web.StatusesController.show.html.db_time:12|ms
        Mastodon.production.web.StatusesController.show.html.view_time:20|ms
        Mastodon.production.web.StatusesController.show.html.status.200:1|c
        Mastodon.production.db.tables.statuses.queries.select.duration:3|ms
        Mastodon.production.sidekiq.LinkCrawlWorker.processing_time:120|ms
        Mastodon.production.sidekiq.LinkCrawlWorker.success:1|c
        Mastodon.production.sidekiq.LinkCrawlWorker.failure:1|c
        """

    /// Structure Grafana needs to import them on any host: unique uids, a datasource variable
    /// that every panel and target uses, an instance variable over mastiff_build_info, and the
    /// committed files equal to what scripts/dashboards.py writes.
    @Test func dashboardsAreImportableAndGenerated() throws {
        let dashboards = try Self.dashboards()
        #expect(dashboards.count == 6)
        #expect(Set(dashboards.compactMap { $0.json["uid"] as? String }).count == dashboards.count)
        for (file, json) in dashboards {
            let variables = ((json["templating"] as? [String: Any])?["list"] as? [[String: Any]]) ?? []
            #expect(variables.contains { $0["name"] as? String == "datasource" && $0["type"] as? String == "datasource" }, "\(file)")
            #expect(variables.contains { $0["name"] as? String == "instance" && ($0["definition"] as? String ?? "").contains("mastiff_build_info") }, "\(file)")
            for panel in (json["panels"] as? [[String: Any]]) ?? [] {
                #expect((panel["datasource"] as? [String: Any])?["uid"] as? String == "${datasource}", "\(file): \(panel["title"] ?? "")")
            }
            #expect(Self.expressions(json).allSatisfy { $0.expr.contains("$instance") }, "\(file): an expression ignores the instance variable")
        }
        let check = try Harness.run("/usr/bin/python3", [Harness.packageRoot + "/scripts/dashboards.py", "--check"])
        #expect(check.status == 0, "\(check.stderr)")
    }

    @Test func everyPanelQueryReturnsSeriesFromALiveMastiff() async throws {
        // Mastodon's tables (Fixtures/mastodon/schema.sql, 20,000 statuses), Sidekiq's queues in
        // their own Redis database, a probed web server, PgBouncer in front of PostgreSQL,
        // Mastodon's Prometheus endpoints (captured outputs, served over HTTP) and Mastodon's
        // statsd lines sent all along.
        let dsn = try BackupIntegrationTests.database("dashboards", "SELECT 1")
        _ = try Harness.psql(database: "dashboards", ["-v", "statuses=20000", "-f", Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/mastodon/schema.sql"])
        let bouncer = try PgBouncerIntegrationTests.RunningPgBouncer(postgresPort: try Harness.environment("MASTIFF_TEST_PG_PORT"),
                                                                     password: try Harness.environment("MASTIFF_TEST_PG_PASSWORD"))
        for _ in 0..<3 { _ = try bouncer.psql("postgres", "postgres", "SELECT 1") }
        let endpoints = try HTTPFixtureServer(directory: StatsdIntegrationTests.endpointFixtures)
        let redisPort = try Harness.environment("MASTIFF_TEST_REDIS_PORT")
        let now = Date().timeIntervalSince1970
        // A job waiting in default (no worker listens there), and a real Sidekiq working push:
        // one job that works and one that fails, so processed, failed and retries move.
        for command in [["-n", "6", "FLUSHDB"], ["-n", "6", "SADD", "queues", "default", "push"],
                        ["-n", "6", "LPUSH", "queue:default", "{\"class\":\"ActivityPub::DeliveryWorker\",\"args\":[],\"queue\":\"default\",\"jid\":\"d1\",\"created_at\":\(now - 30),\"enqueued_at\":\(now - 30)}"],
                        ["-n", "6", "LPUSH", "queue:push", "{\"class\":\"SlowJob\",\"args\":[0],\"queue\":\"push\",\"jid\":\"p1\",\"retry\":true,\"created_at\":\(now),\"enqueued_at\":\(now)}",
                         "{\"class\":\"FailingJob\",\"args\":[],\"queue\":\"push\",\"jid\":\"p2\",\"retry\":1,\"created_at\":\(now),\"enqueued_at\":\(now)}"]] {
            _ = try Harness.run("/usr/bin/redis-cli", ["-p", redisPort] + command)
        }
        let (sidekiq, _) = try SidekiqIntegrationTests.startSidekiq(redisURL: "redis://127.0.0.1:\(redisPort)/6", ["-c", "2", "-q", "push", "-t", "1"])
        defer {
            sidekiq.terminate()
            sidekiq.waitUntilExit()
        }
        let www = try Harness.temporaryDirectory()
        try "OK".write(to: www.appendingPathComponent("health"), atomically: true, encoding: .utf8)
        let web = try HTTPFixtureServer(directory: www.path)
        let prefix = "dashboards-\(UUID().uuidString.prefix(8))/"
        let config = try Harness.writeConfig(collectors: [
            "processes": "{enabled: true}",
            "postgres": "{dsn: \"\(dsn)\"}",
            "redis": "{url: \"redis://127.0.0.1:\(redisPort)/6\"}",
            "sidekiq": "{redis_url: \"redis://127.0.0.1:\(redisPort)/6\"}",
            "probes": "[{name: web, url: \"http://127.0.0.1:\(web.port)/health\", body_contains: OK, timeout: 1s}]",
            "pgbouncer": "{dsn: \"host=127.0.0.1 port=\(bouncer.port) dbname=pgbouncer user=stats\"}",
            "mastodon_endpoints": "[{name: streaming, url: \"http://127.0.0.1:\(endpoints.port)/streaming-4.3.prom\"}, {name: web, url: \"http://127.0.0.1:\(endpoints.port)/prometheus-exporter-web.prom\"}, {name: exporter, url: \"http://127.0.0.1:\(endpoints.port)/prometheus-exporter-4.4.prom\"}]",
        ], "sampling: {interval: 1s}\nstatsd: {udp: 127.0.0.1:0, tcp: 127.0.0.1:0}\n"
            + (try BackupAgentTests.backupsSection(prefix: prefix, schedule: "@yearly", database: "dashboards"))
            + "jobs:\n  - {name: cleanup, schedule: \"@yearly\", command: [/bin/true]}\n"
            + "restarts:\n  - {name: sidekiq, group: sidekiq, user: root, max_memory: 700MiB, signal: TERM, dry_run: true}\n")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        let backup = try Harness.run(Harness.binary, ["backup", "run", "--config", config])
        #expect(backup.status == 0, "\(backup.stdout)\(backup.stderr)")
        let statsd = try StatsdSender(port: try StatsdIntegrationTests.statsdPort(mastiff, "udp"))
        let prometheus = try PrometheusServer(scraping: "127.0.0.1:\(mastiff.port)")
        // Enough scrapes (1 s apart) for rate() over a minute to have samples to work on;
        // Prometheus's first scrape comes after its discovery's 5 s throttle.
        for _ in 0..<60 {
            statsd.send(Self.mastodonStatsdLines)
            if let count = try? prometheus.query("count_over_time(mastiff_build_info[1m])").first?.value, count >= 4 { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        let instance = "127.0.0.1:\(mastiff.port)"
        var empty: [String] = []
        var checked = 0
        for (file, json) in try Self.dashboards() {
            for (panel, expr) in Self.expressions(json) {
                let substituted = expr.replacingOccurrences(of: "$instance", with: instance)
                    .replacingOccurrences(of: "$__rate_interval", with: "1m")
                checked += 1
                do {
                    if try prometheus.query(substituted).isEmpty { empty.append("\(file) \"\(panel)\": \(substituted)") }
                } catch {
                    empty.append("\(file) \"\(panel)\": \(substituted) failed: \(error)")
                }
            }
        }
        let rewrites = try Self.migrationRewrites()
        #expect(rewrites.count >= 20)
        for (panel, expr) in rewrites {
            let substituted = expr.replacingOccurrences(of: "$instance", with: instance).replacingOccurrences(of: "$__rate_interval", with: "1m")
            checked += 1
            do {
                if try prometheus.query(substituted).isEmpty { empty.append("docs/migration.md \"\(panel)\": \(substituted)") }
            } catch {
                empty.append("docs/migration.md \"\(panel)\": \(substituted) failed: \(error)")
            }
        }
        #expect(checked >= 90)
        #expect(empty.isEmpty, "expressions without a series:\n\(empty.joined(separator: "\n"))")
        withExtendedLifetime((mastiff, bouncer, endpoints, web, statsd)) {}
    }
}
