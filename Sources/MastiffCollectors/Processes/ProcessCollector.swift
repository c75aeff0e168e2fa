#if canImport(Glibc)
import Glibc
#endif
import MastiffCore
import Synchronization

/// Per-group memory (RSS, PSS, swap), open files, CPU, threads and age of the processes that run
/// a Mastodon host.
///
/// Every /proc/PID/stat is read; the rest (smaps_rollup, fd/, limits) only for processes in a
/// group. A process's group is decided once per (pid, start time): cmdline and exe are read
/// when a process is first seen. Processes that exit mid-scan are skipped and counted
/// (`reason="process_gone"`). CPU and fault counters stay monotonic when processes exit: the
/// last values of exited processes are carried in the group's total, as process-exporter does.
public struct ProcessCollector: Collector {
    public let name = "processes"
    private let procRoot: String
    private let readPSS: Bool
    private let matcher: ProcessGroupMatcher
    private let clockTicksPerSecond: Double
    private let pageSize: UInt64
    private let state: ProcessCollectorState

    public init(procRoot: String = "/proc", groups: [ProcessGroupSpec], readPSS: Bool,
                clockTicksPerSecond: Int = sysconf(Int32(_SC_CLK_TCK)), pageSize: Int = sysconf(Int32(_SC_PAGESIZE)),
                state: ProcessCollectorState = ProcessCollectorState()) {
        self.procRoot = procRoot
        self.readPSS = readPSS
        self.matcher = ProcessGroupMatcher(groups: groups)
        self.clockTicksPerSecond = Double(clockTicksPerSecond)
        self.pageSize = UInt64(pageSize)
        self.state = state
    }

    /// The processes of the last completed scan, for policies.
    public var latestProcesses: [ProcessSample] { state.latest }

    public func collect(into sink: MetricSink) async throws {
        let collector = self
        let result = try await BlockingWork.run { () -> ScanResult in
            collector.scan()
        }
        // A wrong --proc-root (missing, empty, not a procfs) must not look like a healthy host
        // with no processes.
        if let problem = result.procRootProblem {
            sink.fail(reason: "proc_unreadable", detail: problem)
            return
        }
        sink.recordErrors(result.errors)
        sink.views.processes = result.samples
        emit(result, into: sink)
    }

    struct ScanResult: Sendable {
        var samples: [ProcessSample] = []
        var errors: [String: Int] = [:]
        var cpuTotals: [String: Double] = [:]
        var faultTotals: [String: Double] = [:]
        /// Set when the proc root could not be listed or holds no process at all.
        var procRootProblem: String?
    }

    func scan() -> ScanResult {
        var result = ScanResult()
        func note(_ error: FileAccessError) {
            result.errors[error.isGone ? "process_gone" : error.isPermissionDenied ? "permission_denied" : "read_failed", default: 0] += 1
        }
        let bootTime: Double
        do {
            bootTime = SystemParsers.bootTime(try FileSystemAccess.readFile(procRoot + "/stat")) ?? 0
        } catch {
            note(error)
            bootTime = 0
        }
        let entries: [String]
        do {
            entries = try FileSystemAccess.listDirectory(procRoot)
        } catch {
            result.procRootProblem = "cannot list the proc root \(error)"
            return result
        }
        // Every procfs lists at least the reading process itself.
        guard entries.contains(where: { Int($0) != nil }) else {
            result.procRootProblem = "no process directories under \(procRoot): is it a procfs (/proc)?"
            return result
        }
        let known = state.classifications
        var classifications: [ProcessIdentity: String?] = [:]
        var counters: [ProcessIdentity: ProcessCounters] = [:]

        for entry in entries {
            guard let pid = Int(entry), pid > 0 else { continue }
            let base = procRoot + "/" + entry
            let stat: ProcessParsers.Stat
            do {
                guard let parsed = ProcessParsers.stat(try FileSystemAccess.readBytes(base + "/stat")) else {
                    result.errors["malformed", default: 0] += 1
                    continue
                }
                stat = parsed
            } catch {
                note(error)
                continue
            }
            let identity = ProcessIdentity(pid: pid, startTicks: stat.startTicks)
            // The owner (and the fallback memory figures) for a process that is or may be in a group.
            var status: ProcessParsers.Status?
            func readStatus() -> ProcessParsers.Status {
                if let status { return status }
                let read = (try? FileSystemAccess.readBytes(base + "/status")).map(ProcessParsers.status) ?? ProcessParsers.Status()
                status = read
                return read
            }
            let group: String?
            if let cached = known[identity] {
                group = cached
            } else {
                do {
                    let cmdline = ProcessParsers.cmdline(try FileSystemAccess.readBytes(base + "/cmdline"))
                    let executable = matcher.needsExecutable ? (try? FileSystemAccess.readLink(base + "/exe")).map(basename) : nil
                    // Kernel threads have no command line; they belong to no group.
                    group = cmdline.isEmpty ? nil : matcher.group(comm: stat.comm, executableBasename: executable, cmdline: cmdline,
                                                                  ownerUID: matcher.needsOwner ? readStatus().ownerUID : nil)
                } catch {
                    note(error)
                    continue
                }
            }
            classifications[identity] = group
            guard let group else { continue }

            var proportional: UInt64?
            var swap: UInt64 = 0
            // The stat field is the fallback only: it misses the per-CPU counters' unflushed part.
            var resident = stat.residentPages * pageSize
            let processStatus = readStatus()
            if readPSS {
                do {
                    if let rollup = ProcessParsers.smapsRollup(try FileSystemAccess.readBytes(base + "/smaps_rollup")) {
                        resident = rollup.rss
                        proportional = rollup.pss
                        swap = rollup.swap
                    } else if stat.state != UInt8(ascii: "Z") {
                        result.errors["malformed", default: 0] += 1
                    }
                } catch {
                    note(error)
                    if error.isGone { continue }
                }
            } else {
                swap = processStatus.swap
                if let rss = processStatus.rss { resident = rss }
            }
            var openFDs: Int?
            do {
                openFDs = try FileSystemAccess.countDirectoryEntries(base + "/fd")
            } catch {
                note(error)
                if error.isGone { continue }
            }
            let limit = (try? FileSystemAccess.readBytes(base + "/limits")).flatMap(ProcessParsers.openFilesSoftLimit)
            let cpuTicks = stat.userTicks + stat.systemTicks
            counters[identity] = ProcessCounters(group: group, cpuTicks: cpuTicks, majorFaults: stat.majorFaults)
            result.samples.append(ProcessSample(
                pid: pid, group: group, comm: stat.comm,
                residentBytes: resident, proportionalBytes: proportional, swapBytes: swap,
                openFDs: openFDs, openFDLimit: limit,
                cpuSeconds: Double(cpuTicks) / clockTicksPerSecond,
                startTime: bootTime + Double(stat.startTicks) / clockTicksPerSecond,
                threads: stat.threads, majorFaults: stat.majorFaults, ownerUID: processStatus.ownerUID))
        }
        let (cpu, faults) = state.commit(classifications: classifications, counters: counters, samples: result.samples)
        result.cpuTotals = cpu.mapValues { $0 / clockTicksPerSecond }
        result.faultTotals = faults
        return result
    }

    private func emit(_ result: ScanResult, into sink: MetricSink) {
        let families: [(String, String, MetricType)] = [
            ("process_group_processes", "Processes in the group.", .gauge),
            ("process_group_resident_memory_bytes", "Summed resident set size (double-counts pages shared between forked workers; see the proportional figure).", .gauge),
            ("process_group_proportional_memory_bytes", "Summed proportional set size (PSS from smaps_rollup): shared pages divided among their users.", .gauge),
            ("process_group_swap_bytes", "Summed swap used by the group's processes.", .gauge),
            ("process_group_open_fds", "Open file descriptors summed over the group.", .gauge),
            ("process_group_max_fd_usage_ratio", "Highest ratio of open file descriptors to the soft limit among the group's processes.", .gauge),
            ("process_group_cpu_seconds_total", "User and system CPU time of the group, including processes that have exited.", .counter),
            ("process_group_threads", "Threads summed over the group.", .gauge),
            ("process_group_oldest_start_time_seconds", "Start time of the group's oldest process, in seconds since the Unix epoch.", .gauge),
            ("process_group_major_page_faults_total", "Major page faults of the group, including processes that have exited.", .counter),
        ]
        for (name, help, type) in families { sink.declare(name, help: help, type: type) }
        let byGroup = Dictionary(grouping: result.samples, by: \.group)
        for group in matcher.groupNames {
            let members = byGroup[group] ?? []
            let labels = [Label("group", group)]
            func gauge(_ name: String, _ value: Double) { sink.add(name, help: "", type: .gauge, sample: Sample(labels: labels, value: value)) }
            func counter(_ name: String, _ value: Double) { sink.add(name, help: "", type: .counter, sample: Sample(labels: labels, value: value)) }
            gauge("process_group_processes", Double(members.count))
            gauge("process_group_resident_memory_bytes", Double(members.reduce(0) { $0 + $1.residentBytes }))
            if readPSS {
                gauge("process_group_proportional_memory_bytes", Double(members.reduce(0) { $0 + ($1.proportionalBytes ?? 0) }))
            }
            gauge("process_group_swap_bytes", Double(members.reduce(0) { $0 + $1.swapBytes }))
            gauge("process_group_open_fds", Double(members.reduce(0) { $0 + ($1.openFDs ?? 0) }))
            let ratios = members.compactMap { member -> Double? in
                guard let open = member.openFDs, let limit = member.openFDLimit, limit > 0 else { return nil }
                return Double(open) / Double(limit)
            }
            if let worst = ratios.max() { gauge("process_group_max_fd_usage_ratio", worst) }
            counter("process_group_cpu_seconds_total", result.cpuTotals[group] ?? 0)
            gauge("process_group_threads", Double(members.reduce(0) { $0 + $1.threads }))
            if let oldest = members.map(\.startTime).min() { gauge("process_group_oldest_start_time_seconds", oldest) }
            counter("process_group_major_page_faults_total", result.faultTotals[group] ?? 0)
        }
    }

    private func basename(_ path: String) -> String {
        // A replaced binary reads as "/usr/bin/ruby (deleted)".
        let trimmed = path.hasSuffix(" (deleted)") ? String(path.dropLast(10)) : path
        return trimmed.split(separator: "/").last.map(String.init) ?? trimmed
    }
}

struct ProcessIdentity: Hashable, Sendable {
    var pid: Int
    var startTicks: UInt64
}

struct ProcessCounters: Sendable {
    var group: String
    var cpuTicks: UInt64
    var majorFaults: UInt64
}

/// What the process collector remembers between scans. Shared by reference so a reload that
/// keeps the same groups keeps the counters monotonic.
public final class ProcessCollectorState: Sendable {
    private struct Contents {
        var classifications: [ProcessIdentity: String?] = [:]
        var live: [ProcessIdentity: ProcessCounters] = [:]
        var retiredCPU: [String: Double] = [:]
        var retiredFaults: [String: Double] = [:]
        var latest: [ProcessSample] = []
    }

    private let contents = Mutex(Contents())

    public init() {}

    var classifications: [ProcessIdentity: String?] { contents.withLock { $0.classifications } }
    var latest: [ProcessSample] { contents.withLock { $0.latest } }

    /// Records a finished scan and returns each group's CPU ticks and major faults, exited
    /// processes included.
    func commit(classifications: [ProcessIdentity: String?], counters: [ProcessIdentity: ProcessCounters],
                samples: [ProcessSample]) -> (cpu: [String: Double], faults: [String: Double]) {
        contents.withLock { state in
            for (identity, previous) in state.live where counters[identity] == nil {
                state.retiredCPU[previous.group, default: 0] += Double(previous.cpuTicks)
                state.retiredFaults[previous.group, default: 0] += Double(previous.majorFaults)
            }
            state.live = counters
            state.classifications = classifications
            state.latest = samples
            var cpu = state.retiredCPU
            var faults = state.retiredFaults
            for current in counters.values {
                cpu[current.group, default: 0] += Double(current.cpuTicks)
                faults[current.group, default: 0] += Double(current.majorFaults)
            }
            return (cpu, faults)
        }
    }
}
