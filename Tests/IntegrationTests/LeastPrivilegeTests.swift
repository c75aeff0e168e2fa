import Foundation
import Testing

/// Which capabilities the shipped unit's rights are for (issue 25 item 4), measured: mastiff as
/// `nobody` (as the unit runs it as `mastiff`) reading the test PostgreSQL's processes, which
/// run as another account, with each capability alone, both, and none — through util-linux's
/// setpriv, as root grants them (systemd's AmbientCapabilities= cannot run here: no systemd as
/// PID 1).
@Suite(.serialized) struct LeastPrivilegeTests {
    struct Reading {
        var deniedReads: Double
        var postgresPSS: Double
        var postgresFDs: Double
    }

    static func collect(capabilities: [String]) throws -> Reading {
        let config = try Harness.writeConfig("""
            log: {level: error}
            statsd: {enabled: false}
            control_socket: ""
            collectors: {postgres: {enabled: false}, redis: {enabled: false}, sidekiq: {enabled: false}}

            """)
        chmod(config, 0o644)
        chmod((config as NSString).deletingLastPathComponent, 0o755)
        var arguments = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        if !capabilities.isEmpty {
            let list = capabilities.map { "+" + $0 }.joined(separator: ",")
            arguments += ["--inh-caps=\(list)", "--ambient-caps=\(list)"]
        }
        let result = try Harness.run(try Harness.which("setpriv"), arguments + [Harness.binary, "collect", "--once", "--config", config])
        func value(_ prefix: String) -> Double {
            result.stdout.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        }
        return Reading(deniedReads: value(#"mastiff_collector_errors_total{collector="processes",reason="permission_denied"}"#),
                       postgresPSS: value(#"process_group_proportional_memory_bytes{group="postgres"}"#),
                       postgresFDs: value(#"process_group_open_fds{group="postgres"}"#))
    }

    @Test func ptraceGivesPSSAndDacReadSearchGivesOpenFiles() throws {
        guard getuid() == 0 else { Issue.record("needs root to drop to nobody with capabilities"); return }
        let postgres = try Harness.run(try Harness.which("pgrep"), ["-u", "postgres", "-c", "postgres"])
        guard (Int(postgres.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0 else {
            Issue.record("no PostgreSQL process runs as postgres (scripts/services.sh starts one)"); return
        }
        let none = try Self.collect(capabilities: [])
        #expect(none.deniedReads > 0 && none.postgresPSS == 0 && none.postgresFDs == 0, "\(none)")
        let ptrace = try Self.collect(capabilities: ["sys_ptrace"])
        #expect(ptrace.postgresPSS > 0 && ptrace.postgresFDs == 0, "CAP_SYS_PTRACE reads smaps_rollup, not fd/: \(ptrace)")
        let dac = try Self.collect(capabilities: ["dac_read_search"])
        #expect(dac.postgresPSS == 0 && dac.postgresFDs > 0, "CAP_DAC_READ_SEARCH lists fd/, not smaps_rollup: \(dac)")
        let both = try Self.collect(capabilities: ["sys_ptrace", "dac_read_search"])
        #expect(both.deniedReads == 0 && both.postgresPSS > 0 && both.postgresFDs > 0, "the unit's two: \(both)")
    }
}
