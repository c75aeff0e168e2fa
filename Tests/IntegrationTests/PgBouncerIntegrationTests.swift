import Foundation
import MastiffTestSupport
import Testing

/// Debian's PgBouncer in front of the test PostgreSQL; mastiff reads its admin console and is
/// compared with what SHOW POOLS / SHOW STATS print through psql.
@Suite(.serialized) struct PgBouncerIntegrationTests {
    final class RunningPgBouncer {
        let directory: String
        let port: Int
        init(postgresPort: String, password: String) throws {
            directory = try Harness.temporaryDirectory().path
            port = Int(try Harness.run("/usr/bin/python3", ["-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines))!
            try """
            [databases]
            postgres = host=127.0.0.1 port=\(postgresPort) dbname=postgres user=postgres password=\(password)
            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = \(port)
            unix_socket_dir =
            auth_type = trust
            auth_file = \(directory)/userlist.txt
            admin_users = postgres
            stats_users = stats
            pool_mode = transaction
            stats_period = 1
            logfile = \(directory)/pgbouncer.log
            pidfile = \(directory)/pgbouncer.pid
            """.write(toFile: directory + "/pgbouncer.ini", atomically: true, encoding: .utf8)
            try "\"postgres\" \"\"\n\"stats\" \"\"\n".write(toFile: directory + "/userlist.txt", atomically: true, encoding: .utf8)
            // PgBouncer refuses to run as root.
            _ = try Harness.run("/bin/chmod", ["-R", "a+rwX", directory])
            let status = getuid() == 0
                ? try Harness.runLeavingServers("/usr/sbin/runuser", ["-u", "postgres", "--", "/usr/sbin/pgbouncer", "-d", directory + "/pgbouncer.ini"], log: directory + "/start.log")
                : try Harness.runLeavingServers("/usr/sbin/pgbouncer", ["-d", directory + "/pgbouncer.ini"], log: directory + "/start.log")
            guard status == 0 else { throw HarnessError("pgbouncer did not start: \((try? String(contentsOfFile: directory + "/start.log", encoding: .utf8)) ?? "")") }
        }

        var pid: Int32 {
            Int32((try? String(contentsOfFile: directory + "/pgbouncer.pid", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        }

        deinit { if pid > 0 { kill(pid, SIGTERM) } }

        func psql(_ user: String, _ database: String, _ sql: String) throws -> String {
            try Harness.psql(host: "127.0.0.1", port: String(port), user: user, database: database, ["-F", "|", "-c", sql])
        }
    }

    @Test func poolsAndTotalsMatchTheAdminConsole() async throws {
        let bouncer = try RunningPgBouncer(postgresPort: try Harness.environment("MASTIFF_TEST_PG_PORT"),
                                           password: try Harness.environment("MASTIFF_TEST_PG_PASSWORD"))
        for _ in 0..<5 { #expect(try bouncer.psql("postgres", "postgres", "SELECT 1") == "1") }
        try await Task.sleep(for: .milliseconds(2200))   // stats_period = 1 s

        let config = try Harness.writeConfig(collectors: ["pgbouncer": "{dsn: \"host=127.0.0.1 port=\(bouncer.port) dbname=pgbouncer user=stats\"}"])
        let result = try Harness.run(Harness.binary, ["collect", "--once", "--config", config])
        let text = result.stdout
        #expect(sampleValue(text, "pgbouncer_up") == 1, "stderr: \(result.stderr)")
        #expect(try Harness.promtoolProblems(text) == "")

        // SHOW STATS: database|total_xact_count|total_query_count|…
        let stats = try bouncer.psql("stats", "pgbouncer", "SHOW STATS").split(separator: "\n")
            .map { $0.split(separator: "|", omittingEmptySubsequences: false) }
        let postgresStats = try #require(stats.first { $0.first == "postgres" })
        #expect(sampleValue(text, "pgbouncer_transactions_total{database=\"postgres\"}") == Double(postgresStats[1]))
        #expect(sampleValue(text, "pgbouncer_queries_total{database=\"postgres\"}") == Double(postgresStats[2]))
        #expect((sampleValue(text, "pgbouncer_queries_total{database=\"postgres\"}") ?? 0) >= 5)

        let pools = try bouncer.psql("stats", "pgbouncer", "SHOW POOLS").split(separator: "\n")
            .map { $0.split(separator: "|", omittingEmptySubsequences: false) }
        let postgresPool = try #require(pools.first { $0.first == "postgres" })
        // database|user|cl_active|cl_waiting|cl_active_cancel_req|cl_waiting_cancel_req|sv_active|sv_active_cancel|sv_being_canceled|sv_idle|…
        #expect(sampleValue(text, "pgbouncer_pool_server_idle_connections{database=\"postgres\",user=\"postgres\"}") == Double(postgresPool[9]))
        #expect(sampleValue(text, "pgbouncer_pool_client_waiting_connections{database=\"postgres\",user=\"postgres\"}") == 0)

        // Stopped: pgbouncer_up 0, promptly.
        let pid = bouncer.pid
        kill(pid, SIGTERM)
        kill(pid, SIGINT)
        try await waitUntil(timeout: 15) { ((try? bouncer.psql("stats", "pgbouncer", "SHOW VERSION")) ?? "").isEmpty }
        let started = Date()
        let down = try Harness.run(Harness.binary, ["collect", "--once", "--config", config]).stdout
        #expect(Date().timeIntervalSince(started) < 6)
        #expect(sampleValue(down, "pgbouncer_up") == 0)
        #expect(sampleValue(down, "mastiff_collector_success{collector=\"pgbouncer\"}") == 0)
    }
}
