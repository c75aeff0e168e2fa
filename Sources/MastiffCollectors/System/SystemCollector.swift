import MastiffCore

/// Memory, pressure (PSI), file handles, OOM kills, load and filesystem space of the host.
///
/// Reads files under `procRoot` (default /proc); files the kernel does not have (PSI before 4.20
/// or with psi=0) are skipped silently, unreadable or malformed ones are counted as errors.
public struct SystemCollector: Collector {
    public let name = "system"
    private let procRoot: String
    private let filesystems: [String]
    private let statter: any FilesystemStatter

    public init(procRoot: String = "/proc", filesystems: [String], statter: any FilesystemStatter = StatvfsFilesystemStatter()) {
        self.procRoot = procRoot
        self.filesystems = filesystems
        self.statter = statter
    }

    public func collect(into sink: MetricSink) async throws {
        let memory = collectMemory(into: sink)
        let pressure = collectPressure(into: sink)
        if let memory, let total = memory["MemTotal"], let available = memory["MemAvailable"] {
            sink.views.memory = SystemMemorySample(
                totalBytes: total, availableBytes: available, swapTotalBytes: memory["SwapTotal"] ?? 0, swapFreeBytes: memory["SwapFree"] ?? 0,
                pressureSomeAvg10: pressure.first { $0.kind == "some" }?.avg10, pressureFullAvg10: pressure.first { $0.kind == "full" }?.avg10)
        }
        collectFileHandles(into: sink)
        collectVmstat(into: sink)
        collectLoad(into: sink)
        collectFilesystems(into: sink)
    }

    private func read(_ relative: String, into sink: MetricSink, optional: Bool = false) -> String? {
        do {
            return try FileSystemAccess.readFile(procRoot + "/" + relative)
        } catch {
            if !(optional && error.isGone) {
                sink.recordError(reason: error.isPermissionDenied ? "permission_denied" : "read_failed")
            }
            return nil
        }
    }

    /// Returns meminfo's fields for the memory view.
    private func collectMemory(into sink: MetricSink) -> [String: Double]? {
        guard let text = read("meminfo", into: sink) else { return nil }
        let memory = SystemParsers.meminfo(text)
        let fields: [(String, String, String)] = [
            ("MemTotal", "system_memory_total_bytes", "Physical memory (MemTotal)."),
            ("MemAvailable", "system_memory_available_bytes", "Memory available for new work without swapping (MemAvailable)."),
            ("MemFree", "system_memory_free_bytes", "Completely unused memory (MemFree)."),
            ("Buffers", "system_memory_buffers_bytes", "Memory in block device buffers (Buffers)."),
            ("Cached", "system_memory_cached_bytes", "Page cache, excluding swap cache (Cached)."),
            ("SwapTotal", "system_swap_total_bytes", "Swap space configured (SwapTotal)."),
            ("SwapFree", "system_swap_free_bytes", "Swap space unused (SwapFree)."),
        ]
        for (key, metric, help) in fields {
            if let value = memory[key] {
                sink.gauge(metric, help: help, value)
            } else {
                sink.recordError(reason: "malformed")
            }
        }
        return memory
    }

    /// Returns the memory pressure lines for the memory view.
    private func collectPressure(into sink: MetricSink) -> [SystemParsers.Pressure] {
        var memoryPressure: [SystemParsers.Pressure] = []
        let ratioHelp = "Share of wall time in which some (or all) tasks stalled on the resource, averaged over the window (PSI)."
        let totalHelp = "Total time in which some (or all) tasks stalled on the resource (PSI)."
        for resource in ["cpu", "io", "memory"] {
            guard let text = read("pressure/\(resource)", into: sink, optional: true) else { continue }
            let lines = SystemParsers.pressure(text)
            if resource == "memory" { memoryPressure = lines }
            for line in lines {
                let base = [Label("resource", resource), Label("kind", line.kind)]
                for (window, value) in [("10s", line.avg10), ("1m", line.avg60), ("5m", line.avg300)] {
                    sink.gauge("system_pressure_stall_ratio", help: ratioHelp, value / 100, labels: base + [Label("window", window)])
                }
                sink.counter("system_pressure_stall_seconds_total", help: totalHelp, line.totalMicroseconds / 1e6, labels: base)
            }
        }
        return memoryPressure
    }

    private func collectFileHandles(into sink: MetricSink) {
        guard let text = read("sys/fs/file-nr", into: sink) else { return }
        guard let fileNr = SystemParsers.fileNr(text) else {
            sink.recordError(reason: "malformed")
            return
        }
        sink.gauge("system_file_handles_allocated", help: "File handles allocated by the kernel (file-nr).", fileNr.allocated)
        sink.gauge("system_file_handles_max", help: "Maximum number of file handles (fs.file-max).", fileNr.maximum)
    }

    private func collectVmstat(into sink: MetricSink) {
        guard let text = read("vmstat", into: sink) else { return }
        let vmstat = SystemParsers.vmstat(text)
        // oom_kill appeared in 4.13; older kernels simply do not have the series.
        if let kills = vmstat["oom_kill"] {
            sink.counter("system_oom_kills_total", help: "Processes killed by the kernel's OOM killer since boot.", kills)
        }
        if let pagesIn = vmstat["pswpin"], let pagesOut = vmstat["pswpout"] {
            sink.counter("system_swap_pages_in_total", help: "Pages swapped in since boot.", pagesIn)
            sink.counter("system_swap_pages_out_total", help: "Pages swapped out since boot.", pagesOut)
        }
    }

    private func collectLoad(into sink: MetricSink) {
        if let text = read("loadavg", into: sink) {
            if let (one, five, fifteen) = SystemParsers.loadavg(text) {
                let help = "Load average: runnable and uninterruptible tasks, averaged over the window."
                sink.gauge("system_load_average", help: help, one, labels: [Label("window", "1m")])
                sink.gauge("system_load_average", help: help, five, labels: [Label("window", "5m")])
                sink.gauge("system_load_average", help: help, fifteen, labels: [Label("window", "15m")])
            } else {
                sink.recordError(reason: "malformed")
            }
        }
        if let text = read("stat", into: sink) {
            if let boot = SystemParsers.bootTime(text) {
                sink.gauge("system_boot_time_seconds", help: "Time the system booted, in seconds since the Unix epoch.", boot)
            } else {
                sink.recordError(reason: "malformed")
            }
        }
    }

    private func collectFilesystems(into sink: MetricSink) {
        for mountpoint in filesystems {
            let usage: FilesystemUsage
            do {
                usage = try statter.usage(of: mountpoint)
            } catch {
                sink.recordError(reason: "filesystem_unavailable")
                continue
            }
            let labels = [Label("mountpoint", mountpoint)]
            sink.gauge("system_filesystem_size_bytes", help: "Size of the filesystem holding the configured path.", usage.size, labels: labels)
            sink.gauge("system_filesystem_free_bytes", help: "Free space, including blocks reserved for root.", usage.free, labels: labels)
            sink.gauge("system_filesystem_available_bytes", help: "Space available to unprivileged users, as df shows it.", usage.available, labels: labels)
        }
    }
}
