import Foundation
import MastiffTestSupport
import Testing

/// Values that a side-by-side run with the peer exporters found off: group RSS against the
/// kernel's VmRSS, PostgreSQL connection counts against pg_stat_database, and a proc root that
/// holds no processes.
@Suite(.serialized) struct PeerValueTests {
    /// A python process holding 64 MiB, matched by a group of its own: mastiff's group RSS must
    /// be the kernel's VmRSS (stat's field read 0.7–3.4 % low), with PSS on and off.
    @Test(arguments: [true, false])
    func groupRSSIsTheKernelsVmRSS(pss: Bool) throws {
        let marker = "mastiff-rss-probe-\(UUID().uuidString.prefix(8))"
        let log = try Harness.temporaryDirectory().appendingPathComponent("probe.log").path
        let pid = try Harness.spawn("/usr/bin/python3", ["-c", "import sys, time; block = bytearray(64 << 20); sys.stdout.write('ready\\n'); sys.stdout.flush(); time.sleep(60)", marker], log: log)
        defer {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        for _ in 0..<200 where !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("ready") { Thread.sleep(forTimeInterval: 0.02) }
        let config = try Harness.writeConfig(collectors: [
            "processes": "{pss: \(pss), default_groups: false, groups: [{name: probe, cmdline: '\(marker)'}]}",
        ])
        func vmRSS() throws -> Double {
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
            return try #require(Double(line.split(separator: " ").dropFirst().first ?? "")) * 1024
        }
        // The process is idle: its VmRSS is the same before and after the scrape.
        let before = try vmRSS()
        let result = try Harness.run(Harness.binary, ["collect", "--once", "--config", config])
        let after = try vmRSS()
        #expect(before == after, "the probe's memory moved during the scrape")
        #expect(before > 64 * 1_048_576)
        #expect(sampleValue(result.stdout, #"process_group_resident_memory_bytes{group="probe"}"#) == before)
        #expect(sampleValue(result.stdout, #"process_group_processes{group="probe"}"#) == 1)
    }

    /// `--proc-root` at an empty or missing directory used to report success with no processes.
    @Test func aProcRootWithoutProcessesFailsTheCollector() throws {
        let empty = try Harness.temporaryDirectory().path
        let config = try Harness.writeConfig(collectors: ["processes": "{enabled: true}"], "")
        for root in [empty, empty + "/missing"] {
            let result = try Harness.run(Harness.binary, ["collect", "--once", "--config", config, "--proc-root", root])
            #expect(result.status == 0)
            #expect(sampleValue(result.stdout, #"mastiff_collector_success{collector="processes"}"#) == 0)
            #expect(result.stderr.contains(root), "the log names the proc root:\n\(result.stderr)")
        }
    }

    /// Three sessions sleeping in pg_sleep: postgres_connections counts them and mastiff's own
    /// backend (the sum per database is numbackends), a database nobody is connected to reads 0,
    /// and the headroom is max_connections − reserved − every client backend.
    @Test func postgresConnectionsCountEveryBackend() throws {
        let database = "mastiff_connections_probe"
        _ = try Harness.psql(["-c", "DROP DATABASE IF EXISTS \(database)"])
        _ = try Harness.psql(["-c", "CREATE DATABASE \(database)"])
        let socket = try Harness.environment("MASTIFF_TEST_PG_SOCKET_DIR")
        let port = try Harness.environment("MASTIFF_TEST_PG_PORT")
        let logDirectory = try Harness.temporaryDirectory()
        var sleepers: [pid_t] = []
        defer {
            for pid in sleepers {
                kill(pid, SIGTERM)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }
            _ = try? Harness.psql(["-c", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'"])
        }
        for index in 0..<3 {
            sleepers.append(try Harness.spawn(try Harness.which("psql"), ["-h", socket, "-p", port, "-U", "postgres", "-d", "postgres",
                                                                           "-c", "SELECT pg_sleep(30) -- probe"],
                                              log: logDirectory.appendingPathComponent("sleeper-\(index).log").path))
        }
        let sleeping = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%' AND state = 'active'"
        for _ in 0..<200 where (try? Harness.psql(["-c", sleeping])) != "3" { Thread.sleep(forTimeInterval: 0.02) }
        #expect(try Harness.psql(["-c", sleeping]) == "3")

        let config = try Harness.writeConfig(collectors: ["postgres": "{dsn: \"\(try Harness.environment("MASTIFF_TEST_PG_DSN"))\"}"])
        let result = try Harness.run(Harness.binary, ["collect", "--once", "--config", config])
        let output = result.stdout
        #expect(sampleValue(output, "postgres_up") == 1, "\(result.stderr)")
        #expect(sampleValue(output, #"postgres_connections{database="postgres",state="active"}"#) == 4, "three sleepers and mastiff")
        #expect(sampleValue(output, #"postgres_connections{database="\#(database)",state="idle"}"#) == 0)
        #expect(sampleValue(output, #"postgres_connections{database="\#(database)",state="active"}"#) == 0)
        let total = output.split(separator: "\n").filter { $0.hasPrefix("postgres_connections{") }
            .compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
        let maximum = try #require(sampleValue(output, "postgres_max_connections"))
        let reserved = try #require(sampleValue(output, "postgres_reserved_connections"))
        #expect(sampleValue(output, "postgres_connection_headroom") == maximum - reserved - total)
        #expect(total >= 4)
    }
}
