import Glibc
import MastiffClients
import MastiffCore
import MastiffPolicies

/// Where a process lives, from /proc/PID/cgroup: its systemd unit and its Docker container.
public enum ProcessCgroup {
    /// The cgroup paths of `pid` (cgroup v2's `0::/…` and v1's hierarchies).
    static func paths(pid: Int, procRoot: String) -> [String] {
        guard let text = try? FileSystemAccess.readFile("\(procRoot)/\(pid)/cgroup", maxBytes: 64 << 10) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            return fields.count == 3 ? String(fields[2]) : nil
        }
    }

    /// The system service a process belongs to: `mastodon-sidekiq@2.service` from
    /// `0::/system.slice/system-mastodon\x2dsidekiq.slice/mastodon-sidekiq@2.service`.
    ///
    /// Only the system manager's own tree counts: the path must start at `/system.slice/` and
    /// hold slices then one service, nothing delegated. A user's processes live under
    /// `user.slice/user-UID.slice/user@UID.service/…`, where they may create cgroups of any
    /// name (`…/app.slice/postgresql.service`); such a path names no unit mastiff restarts.
    public static func unit(pid: Int, procRoot: String) -> String? {
        for path in paths(pid: pid, procRoot: procRoot) {
            let components = path.split(separator: "/", omittingEmptySubsequences: true)
            guard components.first == "system.slice", components.count >= 2, let last = components.last, last.hasSuffix(".service"),
                  components.dropFirst().dropLast().allSatisfy({ $0.hasSuffix(".slice") }) else { continue }
            return String(last)
        }
        return nil
    }

    /// The Docker container a process runs in, from the engine's own cgroup layout only:
    /// `/docker/<64 hex>` (cgroupfs driver) or `/system.slice/docker-<64 hex>.scope` (systemd
    /// driver). A 64-hex component anywhere else (a user's own cgroup) names no container.
    public static func container(pid: Int, procRoot: String) -> String? {
        func id(_ text: Substring) -> String? { text.count == 64 && text.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) ? String(text) : nil }
        for path in paths(pid: pid, procRoot: procRoot) {
            let components = path.split(separator: "/", omittingEmptySubsequences: true)
            if components.count == 2, components[0] == "docker", let found = id(components[1]) { return found }
            if components.count == 2, components[0] == "system.slice", components[1].hasPrefix("docker-"), components[1].hasSuffix(".scope"),
               let found = id(components[1].dropFirst(7).dropLast(6)) {
                return found
            }
        }
        return nil
    }
}

/// `systemctl restart UNIT`, the unit given or found from the process's cgroup (template units
/// such as mastodon-sidekiq@2.service included). `run` executes the argv (a recording one in
/// tests: systemd cannot run as PID 1 here).
public struct SystemdRestarter: Restarter {
    let unit: String?
    let procRoot: String
    let run: @Sendable ([String]) async -> Result<String, RestartFailure>

    public init(unit: String?, procRoot: String = "/proc", systemctl: String = "/usr/bin/systemctl", timeout: Duration = .seconds(90),
                run: (@Sendable ([String]) async -> Result<String, RestartFailure>)? = nil) {
        self.unit = unit
        self.procRoot = procRoot
        self.run = run ?? { argv in
            await CommandRestarter(argv: argv, timeout: timeout).restart(RestartAction(target: "", pid: 0, startTime: 0, reason: .age, detail: "",
                                                                                       memoryBefore: nil, dryRun: false))
        }
        _ = systemctl
    }

    public static func argv(unit: String, systemctl: String = "/usr/bin/systemctl") -> [String] { [systemctl, "restart", unit] }

    public func restart(_ action: RestartAction) async -> Result<String, RestartFailure> {
        let found = ProcessCgroup.unit(pid: action.pid, procRoot: procRoot)
        if let unit {
            // The process chose the restart; it must be the unit's own, not one that only looks
            // like it (the same title, another service or a user's session).
            guard found == unit else {
                return .failure(RestartFailure("process \(action.pid) is not in \(unit) (\(found.map { "it runs in \($0)" } ?? "it is in no system service")): not restarted"))
            }
            return await run(Self.argv(unit: unit))
        }
        guard let found else {
            return .failure(RestartFailure("process \(action.pid) is in no systemd service unit (\(procRoot)/\(action.pid)/cgroup); set systemd.unit"))
        }
        return await run(Self.argv(unit: found))
    }
}

/// Restarts the Docker container a process runs in: POST /containers/{id}/restart over the
/// Engine's unix socket (docs.docker.com/engine/api/v1.41/#tag/Container/operation/ContainerRestart);
/// the container from the process's cgroup.
public struct DockerRestarter: Restarter {
    let socket: String
    let procRoot: String
    let stopTimeout: Int

    public init(socket: String = "/var/run/docker.sock", procRoot: String = "/proc", stopTimeout: Int = 30) {
        self.socket = socket
        self.procRoot = procRoot
        self.stopTimeout = stopTimeout
    }

    public func restart(_ action: RestartAction) async -> Result<String, RestartFailure> {
        guard let container = ProcessCgroup.container(pid: action.pid, procRoot: procRoot) else {
            return .failure(RestartFailure("process \(action.pid) is in no Docker container (\(procRoot)/\(action.pid)/cgroup)"))
        }
        var request = HTTPRequest(method: "POST", url: "http://localhost/v1.41/containers/\(container)/restart?t=\(stopTimeout)", body: [])
        request.unixSocket = socket
        do {
            let response = try await CurlHTTPClient(timeoutMilliseconds: (stopTimeout + 30) * 1000, maxBodyBytes: 64 << 10).send(request)
            guard response.status == 204 else {
                return .failure(RestartFailure("Docker Engine answered HTTP \(response.status) for container \(container.prefix(12)): \(response.text.prefix(200))"))
            }
            return .success("Docker restarted container \(container.prefix(12))")
        } catch {
            return .failure(RestartFailure("Docker Engine at \(socket): \(error)"))
        }
    }
}
