import Foundation
import MastiffExecutors
import MastiffPolicies
import Testing

/// The systemd and Docker methods. systemd cannot run as PID 1 here and no Docker engine runs,
/// so these are checked at their edges: the exact systemctl argv (recorded instead of run), and
/// the Engine API request (answered by a stand-in HTTP server on a unix socket). The unit and the
/// container come from a /proc/PID/cgroup written as systemd and Docker write them.
@Suite struct ContainerRestarterTests {
    static func action(_ pid: Int) -> RestartAction {
        RestartAction(target: "sidekiq", pid: pid, startTime: 1, reason: .memory, detail: "", memoryBefore: nil, dryRun: false)
    }

    @Test func systemdRestartsTheUnitFoundInTheCgroup() async throws {
        let procRoot = try Harness.temporaryDirectory().path
        try FileManager.default.createDirectory(atPath: procRoot + "/4242", withIntermediateDirectories: true)
        try "0::/system.slice/system-mastodon\\x2dsidekiq.slice/mastodon-sidekiq@2.service\n"
            .write(toFile: procRoot + "/4242/cgroup", atomically: true, encoding: .utf8)
        final class Recorder: @unchecked Sendable { var argv: [[String]] = [] }
        let recorder = Recorder()
        let restarter = SystemdRestarter(unit: nil, procRoot: procRoot) { argv in
            recorder.argv.append(argv)
            return .success("recorded")
        }
        _ = await restarter.restart(Self.action(4242))
        #expect(recorder.argv == [["/usr/bin/systemctl", "restart", "mastodon-sidekiq@2.service"]])
        let given = SystemdRestarter(unit: "mastodon-sidekiq@2.service", procRoot: procRoot) { argv in
            recorder.argv.append(argv)
            return .success("recorded")
        }
        _ = await given.restart(Self.action(4242))
        #expect(recorder.argv.last == ["/usr/bin/systemctl", "restart", "mastodon-sidekiq@2.service"])
        // "Actions that trust nothing", item 10: the chosen process must be the configured
        // unit's own; another unit's (or a user's) process restarts nothing.
        let other = SystemdRestarter(unit: "mastodon-web.service", procRoot: procRoot) { argv in
            recorder.argv.append(argv)
            return .success("recorded")
        }
        let refused = await other.restart(Self.action(4242))
        guard case .failure(let notOurs) = refused else { Issue.record("restarted a unit the process is not in"); return }
        #expect(notOurs.description == "process 4242 is not in mastodon-web.service (it runs in mastodon-sidekiq@2.service): not restarted")
        #expect(recorder.argv.count == 2)
        let outside = await restarter.restart(Self.action(9999))
        guard case .failure(let failure) = outside else { Issue.record("expected a failure"); return }
        #expect(failure.description.contains("is in no systemd service unit"))
    }

    @Test func dockerRestartsTheContainerThroughTheEngineAPI() async throws {
        let directory = try Harness.temporaryDirectory().path
        let id = String(repeating: "ab12", count: 16)
        try FileManager.default.createDirectory(atPath: directory + "/proc/4343", withIntermediateDirectories: true)
        try "0::/system.slice/docker-\(id).scope\n".write(toFile: directory + "/proc/4343/cgroup", atomically: true, encoding: .utf8)
        let socket = directory + "/docker.sock"
        let server = try Harness.spawn("/usr/bin/python3", [Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/restarts/unix_http_server.py",
                                                            socket, directory + "/requests", "204"], log: directory + "/server.log")
        defer { kill(server, SIGTERM) }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) { try await Task.sleep(for: .milliseconds(50)) }
        let result = await DockerRestarter(socket: socket, procRoot: directory + "/proc").restart(Self.action(4343))
        guard case .success(let what) = result else { Issue.record("\(result)"); return }
        #expect(what == "Docker restarted container ab12ab12ab12")
        let requests = try String(contentsOfFile: directory + "/requests", encoding: .utf8)
        #expect(requests == "POST /v1.41/containers/\(id)/restart?t=30\n")
    }

    /// "Actions that trust nothing", item 9: a user's own cgroup made root mastiff restart
    /// `postgresql.service`, and a 64-hex component picked a container. Only the system
    /// manager's tree and the engine's own layout name a unit or a container.
    @Test(arguments: [
        "0::/user.slice/user-1001.slice/user@1001.service/app.slice/postgresql.service",
        "0::/system.slice/user@1001.service/app.slice/postgresql.service",
        "0::/user.slice/postgresql.service",
        "0::/system.slice/evil.scope/postgresql.service",
        "0::/user.slice/user-1001.slice/user@1001.service/app.slice/\(String(repeating: "ab12", count: 16))",
        "0::/user.slice/user-1001.slice/session-3.scope/docker-\(String(repeating: "ab12", count: 16)).scope",
    ])
    func cgroupsOtherUsersCanWriteNameNoUnitAndNoContainer(_ cgroup: String) throws {
        let procRoot = try Harness.temporaryDirectory().path
        try FileManager.default.createDirectory(atPath: procRoot + "/4444", withIntermediateDirectories: true)
        try (cgroup + "\n").write(toFile: procRoot + "/4444/cgroup", atomically: true, encoding: .utf8)
        #expect(ProcessCgroup.unit(pid: 4444, procRoot: procRoot) == nil)
        #expect(ProcessCgroup.container(pid: 4444, procRoot: procRoot) == nil)
    }
}
