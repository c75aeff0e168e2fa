import Foundation
import Testing

/// systemd cannot run as PID 1 here, so the unit is checked in the two ways that can run:
/// systemd-analyze verifies its syntax and directives, and its ExecStart command line is started
/// for real (binary and config path swapped for the built ones).
@Suite struct SystemdUnitTests {
    static let unitPath = Harness.packageRoot + "/etc/systemd/mastiff.service"

    private func execStart() throws -> [String] {
        let unit = try String(contentsOfFile: Self.unitPath, encoding: .utf8)
        let line = try #require(unit.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
        return line.dropFirst("ExecStart=".count).split(separator: " ").map(String.init)
    }

    @Test func systemdAnalyzeVerifyAcceptsTheUnit() throws {
        let analyze: String
        do { analyze = try Harness.which("systemd-analyze") } catch { Issue.record("\(error)"); return }
        let directory = try Harness.temporaryDirectory()
        let unit = try String(contentsOfFile: Self.unitPath, encoding: .utf8)
            .replacingOccurrences(of: "/usr/bin/mastiff", with: Harness.binary)
        let copy = directory.appendingPathComponent("mastiff.service").path
        try unit.write(toFile: copy, atomically: true, encoding: .utf8)
        let result = try Harness.run(analyze, ["verify", "--man=no", copy])
        let problems = (result.stdout + result.stderr).split(separator: "\n")
            .filter { $0.contains("mastiff.service") }
        #expect(result.status == 0, "systemd-analyze: \(result.stdout)\(result.stderr)")
        #expect(problems.isEmpty, "systemd-analyze: \(problems.joined(separator: "\n"))")
    }

    /// systemd's own exposure score of the shipped unit (issue 25 item 4: at most 3.0, "OK"),
    /// from `systemd-analyze security --offline`, which reads the file without a running systemd.
    @Test func theUnitsExposureScoreIsAtMost3() throws {
        let analyze: String
        do { analyze = try Harness.which("systemd-analyze") } catch { Issue.record("\(error)"); return }
        let directory = try Harness.temporaryDirectory()
        let copy = directory.appendingPathComponent("mastiff.service").path
        try String(contentsOfFile: Self.unitPath, encoding: .utf8).write(toFile: copy, atomically: true, encoding: .utf8)
        let result = try Harness.run(analyze, ["security", "--offline=true", "--no-pager", copy])
        let line = try #require((result.stdout + result.stderr).split(separator: "\n").first { $0.contains("Overall exposure level") },
                                "\(result.stdout)\(result.stderr)")
        let score = line.split(separator: " ").compactMap { Double($0) }.first
        #expect(score != nil && score! <= 3.0, "\(line)")
    }

    /// The drop-in for jobs with `user:`, merged into the unit as systemd merges it (its lines
    /// after the unit's), still verifies, and stays "OK", at most 3.0 (it adds two capabilities).
    @Test func theJobsDropInVerifies() throws {
        let analyze: String
        do { analyze = try Harness.which("systemd-analyze") } catch { Issue.record("\(error)"); return }
        let dropIn = try String(contentsOfFile: Harness.packageRoot + "/etc/systemd/mastiff.service.d/jobs-as-other-users.conf", encoding: .utf8)
        let unit = try String(contentsOfFile: Self.unitPath, encoding: .utf8).replacingOccurrences(of: "/usr/bin/mastiff", with: Harness.binary)
        let service = dropIn.split(separator: "\n").drop { $0 != "[Service]" }.dropFirst().joined(separator: "\n")
        let merged = unit.replacingOccurrences(of: "\n[Install]", with: "\n" + service + "\n\n[Install]")
        let copy = try Harness.temporaryDirectory().appendingPathComponent("mastiff.service").path
        try merged.write(toFile: copy, atomically: true, encoding: .utf8)
        let verify = try Harness.run(analyze, ["verify", "--man=no", copy])
        #expect(verify.status == 0 && !(verify.stdout + verify.stderr).contains("mastiff.service"), "\(verify.stdout)\(verify.stderr)")
        let security = try Harness.run(analyze, ["security", "--offline=true", "--no-pager", copy])
        let line = (security.stdout + security.stderr).split(separator: "\n").first { $0.contains("Overall exposure level") } ?? ""
        let score = line.split(separator: " ").compactMap { Double($0) }.first
        #expect(score != nil && score! <= 3.0, "\(line)")
    }

    @Test func execStartCommandLineRuns() throws {
        let command = try execStart()
        #expect(command.first == "/usr/bin/mastiff")
        let configIndex = try #require(command.firstIndex(of: "--config"))
        #expect(command[configIndex + 1] == "/etc/mastiff/mastiff.yml")
        let config = try Harness.writeConfig("listen: 127.0.0.1:0\n")
        var arguments = Array(command.dropFirst())
        arguments[configIndex] = config
        #expect(arguments.first == "run")
        let mastiff = try RunningMastiff(arguments: Array(arguments.dropFirst()), environment: ["JOURNAL_STREAM": "8:1234"])
        #expect(mastiff.port > 0)
        // Under systemd the log lines carry a syslog priority and no timestamp.
        #expect(mastiff.log.split(separator: "\n").contains { $0.hasPrefix("<6>info listening") })
    }
}
