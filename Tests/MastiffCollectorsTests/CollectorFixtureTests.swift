#if canImport(Glibc)
import Glibc
#endif
import Logging
import MastiffCollectors
import MastiffCore
import MastiffTestSupport
import Testing

private func families(_ collector: any Collector) async throws -> ([MetricFamily], [String: Int]) {
    let sink = MetricSink()
    try await collector.collect(into: sink)
    return (sink.families, sink.errorReasons)
}

/// Collectors run on the checked-in /proc tree (scripts/capture-proc-fixture.py): the values a
/// user would read on /metrics, checked against the fixture files themselves.
@Suite struct CollectorFixtureTests {
    let processCollector = ProcessCollector(procRoot: FixturePaths.procRoot, groups: ProcessGroupSpec.mastodonDefaults,
                                            readPSS: true, clockTicksPerSecond: 100, pageSize: 4096)

    @Test func systemCollectorReadsTheFixtureTree() async throws {
        let collector = SystemCollector(procRoot: FixturePaths.procRoot, filesystems: ["/", "/missing"], statter: FixtureStatter())
        let (families, errors) = try await families(collector)
        let meminfo = SystemParsers.meminfo(FixturePaths.read(FixturePaths.procRoot + "/meminfo"))
        #expect(sampleValue(families, "system_memory_total_bytes") == meminfo["MemTotal"])
        #expect(sampleValue(families, "system_memory_available_bytes") == meminfo["MemAvailable"])
        #expect(sampleValue(families, "system_swap_total_bytes") == meminfo["SwapTotal"])
        #expect(sampleValue(families, "system_pressure_stall_ratio", [Label("resource", "memory"), Label("kind", "full"), Label("window", "10s")]) != nil)
        #expect(sampleValue(families, "system_pressure_stall_seconds_total", [Label("resource", "io"), Label("kind", "some")]) != nil)
        #expect(sampleValue(families, "system_file_handles_max")! > 0)
        #expect(sampleValue(families, "system_oom_kills_total") != nil)
        #expect(sampleValue(families, "system_load_average", [Label("window", "15m")]) != nil)
        #expect(sampleValue(families, "system_boot_time_seconds")! > 1_600_000_000)
        #expect(sampleValue(families, "system_filesystem_available_bytes", [Label("mountpoint", "/")]) == 48_318_382_080)
        #expect(sampleValue(families, "system_filesystem_size_bytes", [Label("mountpoint", "/missing")]) == nil)
        #expect(errors == ["filesystem_unavailable": 1])
    }

    @Test func systemCollectorWithoutPressureFilesSkipsThem() async throws {
        // A kernel without PSI: the collector must not count missing optional files as errors.
        let collector = SystemCollector(procRoot: FixturePaths.procRoot + "/2", filesystems: [], statter: FixtureStatter())
        let (families, errors) = try await families(collector)
        #expect(!families.contains { $0.name == "system_pressure_stall_ratio" })
        // meminfo, file-nr, vmstat and loadavg are missing; this "stat" is a process's, without btime.
        #expect(errors == ["read_failed": 4, "malformed": 1])
    }

    @Test func processGroupsFromTheFixtureTree() async throws {
        let (families, errors) = try await families(processCollector)
        #expect(sampleValue(families, "process_group_processes", [Label("group", "puma")]) == 2)
        #expect(sampleValue(families, "process_group_processes", [Label("group", "sidekiq")]) == 1)
        #expect(sampleValue(families, "process_group_processes", [Label("group", "streaming")]) == 1)
        #expect(sampleValue(families, "process_group_processes", [Label("group", "postgres")]) == 1)
        #expect(sampleValue(families, "process_group_processes", [Label("group", "redis")]) == 1)
        // 1601 exited mid-scan and 1701's stat is cut short: neither is counted.
        #expect(sampleValue(families, "process_group_processes", [Label("group", "nginx")]) == 0)
        #expect(errors == ["process_gone": 1, "malformed": 1])

        let root = FixturePaths.procRoot
        let pumaPSS = [1001, 1002].map { ProcessParsers.smapsRollup(Array(FixturePaths.read("\(root)/\($0)/smaps_rollup").utf8))!.pss }.reduce(0, +)
        #expect(sampleValue(families, "process_group_proportional_memory_bytes", [Label("group", "puma")]) == Double(pumaPSS))
        let redisStat = ProcessParsers.stat(Array(FixturePaths.read("\(root)/1401/stat").utf8))!
        // RSS from smaps_rollup (= VmRSS), not stat's field, which misses per-CPU counter deltas.
        let redisRollup = ProcessParsers.smapsRollup(Array(FixturePaths.read("\(root)/1401/smaps_rollup").utf8))!
        #expect(sampleValue(families, "process_group_resident_memory_bytes", [Label("group", "redis")]) == Double(redisRollup.rss))
        #expect(redisRollup.rss != redisStat.residentPages * 4096, "the fixture tells the two apart")
        #expect(sampleValue(families, "process_group_cpu_seconds_total", [Label("group", "redis")]) == Double(redisStat.userTicks + redisStat.systemTicks) / 100)
        let redisFDs = try FileSystemAccess.countDirectoryEntries("\(root)/1401/fd")
        #expect(sampleValue(families, "process_group_open_fds", [Label("group", "redis")]) == Double(redisFDs))
        let redisLimit = ProcessParsers.openFilesSoftLimit(Array(FixturePaths.read("\(root)/1401/limits").utf8))!
        #expect(sampleValue(families, "process_group_max_fd_usage_ratio", [Label("group", "redis")]) == Double(redisFDs) / Double(redisLimit))
        let boot = SystemParsers.bootTime(FixturePaths.read("\(root)/stat"))!
        #expect(sampleValue(families, "process_group_oldest_start_time_seconds", [Label("group", "redis")]) == boot + Double(redisStat.startTicks) / 100)
        // Groups with no process still say so, for absent()-free alerting.
        #expect(sampleValue(families, "process_group_processes", [Label("group", "elasticsearch")]) == 0)
        #expect(sampleValue(families, "process_group_oldest_start_time_seconds", [Label("group", "elasticsearch")]) == nil)
    }

    @Test func perProcessSamplesAreKeptForPolicies() async throws {
        _ = try await families(processCollector)
        let sidekiq = processCollector.latestProcesses.filter { $0.group == "sidekiq" }
        #expect(sidekiq.map(\.pid) == [1101])
        #expect(sidekiq.first?.proportionalBytes != nil)
    }

    @Test func pssOffReadsSwapFromStatusAndOmitsPSS() async throws {
        let collector = ProcessCollector(procRoot: FixturePaths.procRoot, groups: ProcessGroupSpec.mastodonDefaults,
                                         readPSS: false, clockTicksPerSecond: 100, pageSize: 4096)
        let (families, _) = try await families(collector)
        #expect(!families.contains { $0.name == "process_group_proportional_memory_bytes" && !$0.samples.isEmpty })
        #expect(sampleValue(families, "process_group_processes", [Label("group", "puma")]) == 2)
        let status = ProcessParsers.status(Array(FixturePaths.read("\(FixturePaths.procRoot)/1401/status").utf8))
        #expect(sampleValue(families, "process_group_resident_memory_bytes", [Label("group", "redis")]) == Double(try #require(status.rss)))
    }

    /// `--proc-root` at a missing or empty directory reported success with zero processes.
    @Test func aProcRootWithoutProcessesIsAFailedCollector() async throws {
        var template = Array(ScratchDirectory.template("mastiff-empty-proc").utf8CString)
        let empty = String(cString: mkdtemp(&template)!)
        for root in [empty, empty + "/missing"] {
            let collector = ProcessCollector(procRoot: root, groups: ProcessGroupSpec.mastodonDefaults, readPSS: true)
            let sink = MetricSink()
            try await collector.collect(into: sink)
            #expect(sink.failure?.reason == "proc_unreadable")
            #expect(sink.failure?.detail.contains(root) == true)
        }
    }

    /// The whole output for the fixture tree, diffed against a checked-in golden file.
    /// Regenerate with MASTIFF_UPDATE_GOLDEN=1 after an intended change, and review the diff.
    @Test func goldenExposition() async throws {
        let system = SystemCollector(procRoot: FixturePaths.procRoot, filesystems: ["/"], statter: FixtureStatter())
        let (systemFamilies, _) = try await families(system)
        let (processFamilies, _) = try await families(processCollector)
        let rendered = ExpositionRenderer.render(systemFamilies + processFamilies)
        if FileSystemAccess.environment("MASTIFF_UPDATE_GOLDEN") == "1" {
            FixturePaths.write(FixturePaths.goldenExposition, rendered)
        }
        let golden = FixturePaths.read(FixturePaths.goldenExposition)
        #expect(!golden.isEmpty, "golden file missing: run with MASTIFF_UPDATE_GOLDEN=1")
        let renderedLines = rendered.split(separator: "\n", omittingEmptySubsequences: false)
        let goldenLines = golden.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, pair) in zip(renderedLines, goldenLines).enumerated() where pair.0 != pair.1 {
            Issue.record("line \(index + 1) differs:\n  got:    \(pair.0)\n  golden: \(pair.1)")
            break
        }
        #expect(renderedLines.count == goldenLines.count)
    }

    @Test func cpuCountersStayMonotonicWhenProcessesExit() async throws {
        // Same state, two scans: the second over a tree where the puma worker is gone.
        let state = ProcessCollectorState()
        let full = ProcessCollector(procRoot: FixturePaths.procRoot, groups: ProcessGroupSpec.mastodonDefaults,
                                    readPSS: false, clockTicksPerSecond: 100, pageSize: 4096, state: state)
        let (first, _) = try await families(full)
        let before = sampleValue(first, "process_group_cpu_seconds_total", [Label("group", "puma")])!
        let reduced = ProcessCollector(procRoot: FixturePaths.directory + "/proc-after-exit", groups: ProcessGroupSpec.mastodonDefaults,
                                       readPSS: false, clockTicksPerSecond: 100, pageSize: 4096, state: state)
        let (second, _) = try await families(reduced)
        #expect(sampleValue(second, "process_group_processes", [Label("group", "puma")]) == 1)
        #expect(sampleValue(second, "process_group_cpu_seconds_total", [Label("group", "puma")])! >= before)
    }
}
