import Foundation
import MastiffClients
import MastiffTestSupport
import Testing

/// `mastiff status` against a running agent over its control socket, as an admin runs it.
@Suite(.serialized) struct ControlSocketTests {
    static func controlSocket(of config: String) throws -> String {
        let text = try String(contentsOfFile: config, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("control_socket: ") })
        return String(line.dropFirst("control_socket: ".count))
    }

    /// The sampler runs with nobody scraping: `status --json` shows samples advancing.
    @Test func statusShowsSamplesAdvancingWithoutAnyScrape() async throws {
        let config = try Harness.writeConfig(collectors: ["redis": "{url: \"redis://127.0.0.1:1/0\"}"],
                                             "sampling: {interval: 1s}\nstatsd: {enabled: false}\n")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        try await Task.sleep(for: .seconds(1))
        let first = try Harness.run(Harness.binary, ["status", "--json", "--config", config])
        #expect(first.status == 3, "a failing collector (redis) makes status exit 3: \(first.stderr)")
        let firstStatus = try #require(try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any])
        let firstSequence = try #require((firstStatus["sample"] as? [String: Any])?["sequence"] as? Int)
        try await Task.sleep(for: .seconds(3))
        let second = try Harness.run(Harness.binary, ["status", "--json", "--config", config])
        let secondStatus = try #require(try JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as? [String: Any])
        let secondSequence = try #require((secondStatus["sample"] as? [String: Any])?["sequence"] as? Int)
        #expect(secondSequence >= firstSequence + 2, "\(firstSequence) → \(secondSequence)")
        let collectors = try #require(secondStatus["collectors"] as? [[String: Any]])
        #expect(collectors.contains { $0["name"] as? String == "system" && $0["ok"] as? Bool == true })
        #expect(collectors.contains { $0["name"] as? String == "redis" && $0["ok"] as? Bool == false
            && ($0["detail"] as? String ?? "").contains("Connection refused") })
        #expect((secondStatus["sources"] as? [String: Bool])?["redis"] == false)
        #expect((secondStatus["state"] as? [String: Any])?["ok"] as? Bool == true)

        // The table, and the same answer over HTTP (read-only).
        let table = try Harness.run(Harness.binary, ["status", "--config", config])
        #expect(table.stdout.contains("COLLECTOR  STATUS  DURATION  DETAIL"))
        #expect(table.stdout.contains("redis      failed"))
        #expect(!table.stdout.contains("\u{1B}["), "no colour when stdout is not a terminal")
        let http = try await CurlHTTPClient().get(mastiff.baseURL + "/api/v1/status")
        #expect(http.status == 200)
        #expect(http.header("Content-Type") == "application/json")
        #expect(http.text.contains("\"collectors\":"))
        _ = mastiff
    }

    @Test func statusWithoutAnAgentSaysSo() throws {
        let config = try Harness.writeConfig(collectors: [:])
        let result = try Harness.run(Harness.binary, ["status", "--config", config])
        #expect(result.status == 1)
        #expect(result.stderr.contains("no mastiff agent answers on \(try Self.controlSocket(of: config)) (No such file or directory)"), "\(result.stderr)")
    }

    /// Past the file mode (opened to everyone here on purpose), the agent itself checks the
    /// peer: a user who is neither root, mastiff's user nor in the socket's group is refused;
    /// put in the socket's group, the same user is answered.
    @Test func aPeerOutsideTheSocketsGroupIsRefused() async throws {
        let config = try Harness.writeConfig(collectors: [:], "statsd: {enabled: false}\n")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        let socket = try Self.controlSocket(of: config)
        try await waitUntil { FileManager.default.fileExists(atPath: socket) }
        let attributes = try FileManager.default.attributesOfItem(atPath: socket)
        #expect((attributes[.posixPermissions] as? Int) == 0o660)
        // nobody must reach the socket through the directories above it.
        var directory = URL(fileURLWithPath: socket).deletingLastPathComponent()
        while directory.path != ScratchDirectory.path && directory.path != "/tmp" && directory.path != "/" {
            chmod(directory.path, 0o755)
            directory = directory.deletingLastPathComponent()
        }
        chmod(socket, 0o666)
        let runuser = try Harness.which("runuser")
        let refused = try Harness.run(runuser, ["-u", "nobody", "--", Harness.binary, "status", "--config", config])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("the agent refused: permission denied"), "\(refused.stderr)")
        #expect(mastiff.log.contains("control socket: peer refused"))

        chown(socket, 0, 65534)  // group nogroup, nobody's own group
        chmod(socket, 0o660)
        let allowed = try Harness.run(runuser, ["-u", "nobody", "--", Harness.binary, "status", "--json", "--config", config])
        #expect(allowed.stdout.contains("\"collectors\""), "\(allowed.stderr)")
    }
}
