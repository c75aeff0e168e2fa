import Foundation
import Testing

/// A PostgreSQL and a Redis of a test's own (scripts/services.sh in a temporary directory), for
/// tests that stop, pause or lock them and must not disturb the shared ones.
final class PrivateServices {
    let directory: String
    let environment: [String: String]

    init() throws {
        directory = try Harness.temporaryDirectory().path
        let script = Harness.packageRoot + "/scripts/services.sh"
        let status = try Harness.runLeavingServers("/bin/bash", [script, "start", directory], log: directory + ".log")
        guard status == 0 else {
            throw HarnessError("services.sh start failed: \((try? String(contentsOfFile: directory + ".log", encoding: .utf8)) ?? "")")
        }
        var environment: [String: String] = [:]
        let text = try String(contentsOfFile: directory + "/env", encoding: .utf8)
        for line in text.split(separator: "\n") where line.hasPrefix("export ") {
            let assignment = line.dropFirst("export ".count)
            guard let equals = assignment.firstIndex(of: "=") else { continue }
            environment[String(assignment[..<equals])] = String(assignment[assignment.index(after: equals)...]).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        self.environment = environment
    }

    deinit {
        _ = try? Harness.runLeavingServers("/bin/bash", [Harness.packageRoot + "/scripts/services.sh", "stop", directory], log: directory + ".stop.log")
    }

    subscript(_ name: String) -> String { environment[name] ?? "" }

    var redisPID: Int32 {
        Int32((try? String(contentsOfFile: directory + "/redis.pid", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
    }

    /// Runs pg_ctl as the cluster's owner.
    func pgCtl(_ arguments: [String]) throws -> Int32 {
        let pgCtl = self["MASTIFF_TEST_PG_BIN"] + "/pg_ctl"
        let base = [pgCtl, "-D", directory + "/pg/data", "-l", directory + "/pg/server.log", "-w"] + arguments
        let log = directory + "/pg_ctl.log"
        return getuid() == 0
            ? try Harness.runLeavingServers("/usr/sbin/runuser", ["-u", "postgres", "--"] + base, log: log)
            : try Harness.runLeavingServers(pgCtl, Array(base.dropFirst()), log: log)
    }

    /// Runs SQL through psql on the Unix socket.
    func psql(_ sql: String) throws -> String {
        try Harness.psql(host: self["MASTIFF_TEST_PG_SOCKET_DIR"], port: self["MASTIFF_TEST_PG_PORT"], ["-c", sql])
    }
}
