import CSocketShim
import Glibc
import MastiffCore
import MastiffPolicies

/// A signal to the process a policy chose, and to no other: pids are reused, and between the
/// sample that chose a process and the signal (a drain can take minutes) another process may
/// have taken its pid. The process is pinned with a pidfd, its start time read again from /proc
/// and compared with the one recorded when deciding, and the signal goes through the pidfd: the
/// check and the signal concern the same process.
public enum ProcessSignal {
    /// Sends `signal` to `pid` if it is still the process that started at `startTime` (seconds
    /// since the epoch, as the process collector computes it) and, when `ownerUID` is given,
    /// still runs as that account.
    public static func send(_ signal: Int32, to pid: Int, startedAt startTime: Double, ownerUID: UInt32? = nil,
                            procRoot: String = "/proc") -> Result<Void, RestartFailure> {
        let fd = mastiff_pidfd_open(Int32(pid))
        let pidfdMissing = fd < 0 && errno == ENOSYS
        if fd < 0 && !pidfdMissing {
            return .failure(RestartFailure("process \(pid) is gone (\(String(cString: strerror(errno))))"))
        }
        defer { if fd >= 0 { close(fd) } }
        guard let current = Self.startTime(of: pid, procRoot: procRoot) else {
            return .failure(RestartFailure("process \(pid) is gone"))
        }
        guard Swift.abs(current - startTime) < 0.5 else {
            return .failure(RestartFailure("pid \(pid) now belongs to another process (started \(CalendarTime.utc(current).rfc3339), "
                + "not \(CalendarTime.utc(startTime).rfc3339)): not signalled"))
        }
        if let ownerUID {
            guard let status = try? FileSystemAccess.readBytes("\(procRoot)/\(pid)/status") else { return .failure(RestartFailure("process \(pid) is gone")) }
            let current = ProcessOwner.uid(fromStatus: status)
            guard current == ownerUID else {
                return .failure(RestartFailure("process \(pid) no longer runs as uid \(ownerUID) (now \(current.map { "uid \($0)" } ?? "real and effective uid differ")): not signalled"))
            }
        }
        let sent = pidfdMissing ? kill(pid_t(pid), signal) : mastiff_pidfd_send_signal(fd, signal)
        guard sent == 0 else { return .failure(RestartFailure("signal \(signal) to \(pid): \(String(cString: strerror(errno)))")) }
        return .success(())
    }

    /// The start time of `pid` in seconds since the epoch: the boot time (/proc/stat's btime)
    /// plus /proc/PID/stat's starttime in clock ticks.
    static func startTime(of pid: Int, procRoot: String) -> Double? {
        guard let stat = try? FileSystemAccess.readFile("\(procRoot)/\(pid)/stat", maxBytes: 4096),
              let close = stat.lastIndex(of: ")"),
              let system = try? FileSystemAccess.readFile("\(procRoot)/stat", maxBytes: 1 << 20),
              let btimeLine = system.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let bootTime = Double(btimeLine.dropFirst("btime ".count)) else { return nil }
        // After "pid (comm)": state is field 3, starttime field 22.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let ticks = Double(fields[19]) else { return nil }
        return bootTime + ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// Parents and children, from /proc/PID/stat.
public enum ProcessTree {
    /// Whether `pid` is `ancestor` or runs under it (a Puma worker under its master, a program
    /// under the wrapper supervisord started). At most 64 generations are walked.
    public static func isDescendant(_ pid: Int, of ancestor: Int, procRoot: String = "/proc") -> Bool {
        var current = pid
        for _ in 0..<64 {
            if current == ancestor { return true }
            guard current > 1, let parent = parentPID(of: current, procRoot: procRoot) else { return false }
            current = parent
        }
        return false
    }

    static func parentPID(of pid: Int, procRoot: String) -> Int? {
        guard let stat = try? FileSystemAccess.readFile("\(procRoot)/\(pid)/stat", maxBytes: 4096), let close = stat.lastIndex(of: ")") else { return nil }
        // After "pid (comm)": state, then ppid.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int(fields[1]) : nil
    }
}
