#if canImport(Glibc)
import Glibc
#endif
import Logging
import MastiffCore
import MastiffTestSupport
import Testing

/// The state file as a crash, a careless admin or a full disk leaves it.
@Suite(.serialized) struct StateStoreTests {
    struct FixedWallClock: WallClock {
        func now() -> Double { 1_700_000_000 }
    }

    private func scratchDirectory() -> String {
        var template = Array(ScratchDirectory.template("mastiff-state").utf8CString)
        return String(cString: mkdtemp(&template)!)
    }

    private func write(_ text: String, to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    private func read(_ path: String) -> String? { try? FileSystemAccess.readFile(path) }

    @Test func sectionsSurviveARestart() {
        let directory = scratchDirectory()
        let (logger, _) = RecordingLogHandler.logger()
        let first = StateStore(directory: directory, logger: logger, wallClock: FixedWallClock())
        #expect(first.health == .empty)
        #expect(first.update("restarts", .object(["sidekiq": .array([.number(1_699_999_000)])])))
        #expect(first.update("agent", .object(["starts": .number(3)])))
        let second = StateStore(directory: directory, logger: logger, wallClock: FixedWallClock())
        #expect(second.health == .ok)
        #expect(second.section("restarts")?["sidekiq"]?.array == [.number(1_699_999_000)])
        #expect(second.section("agent")?["starts"]?.double == 3)
        let text = read(directory + "/state.json") ?? ""
        #expect(text.contains("\"format_version\":1"))
        #expect(!text.isEmpty && entries(directory) == ["state.json"], "no temporary file is left after a write")
    }

    /// Staged sections (the notifier's deliveries, alert states) are written by the next flush
    /// or update, not each on its own (issue 23: every delivery rewrote the file, two fsyncs).
    @Test func stagedSectionsWaitForTheNextFlushOrUpdate() {
        let directory = scratchDirectory()
        let (logger, _) = RecordingLogHandler.logger()
        let store = StateStore(directory: directory, logger: logger, wallClock: FixedWallClock())
        store.stage("notifications", .object(["queue": .array([.string("n1")])]))
        #expect(read(directory + "/state.json") == nil, "staging writes nothing")
        #expect(store.hasUnwrittenChanges)
        #expect(store.section("notifications")?["queue"]?.array == [.string("n1")], "readers see it at once")
        #expect(store.flush())
        #expect(!store.hasUnwrittenChanges)
        #expect(StateStore(directory: directory, logger: logger).section("notifications")?["queue"]?.array == [.string("n1")])
        // An update writes what is staged with it.
        store.stage("alerts", .object(["firing": .number(2)]))
        #expect(store.update("restarts", .object(["sidekiq": .array([])])))
        let reread = StateStore(directory: directory, logger: logger)
        #expect(reread.section("alerts")?["firing"]?.double == 2 && reread.section("restarts") != nil)
        #expect(!store.hasUnwrittenChanges)
        #expect(store.flush(), "nothing staged: nothing to do")
    }

    /// A staged section whose write failed (a full 16 KiB tmpfs) stays staged, and goes out
    /// with the next write that succeeds.
    @Test func aFailedFlushKeepsTheSectionStaged() throws {
        let mountpoint = scratchDirectory()
        try #require(mount("tmpfs", mountpoint, "tmpfs", 0, "size=16k") == 0, "mounting a tmpfs needs root: \(String(cString: strerror(errno)))")
        defer { umount(mountpoint) }
        let (logger, _) = RecordingLogHandler.logger()
        let store = StateStore(directory: mountpoint, logger: logger, wallClock: FixedWallClock())
        let filler = open(mountpoint + "/filler", O_WRONLY | O_CREAT, 0o600)
        let block = [UInt8](repeating: 0, count: 4096)
        while block.withUnsafeBytes({ Glibc.write(filler, $0.baseAddress, $0.count) }) > 0 {}
        close(filler)
        store.stage("notifications", .object(["queue": .array((0..<500).map { .string("n\($0)") })]))
        #expect(!store.flush())
        #expect(store.hasUnwrittenChanges, "still staged")
        unlink(mountpoint + "/filler")
        #expect(store.flush())
        #expect(!store.hasUnwrittenChanges)
        #expect(StateStore(directory: mountpoint, logger: logger).section("notifications")?["queue"]?.array?.count == 500)
    }

    private func entries(_ directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// A local user who can guess mastiff's file names plants symlinks under them: writes and
    /// the start-up probe never go through them (issue "The watchdog must not die", item 13).
    @Test func symlinksPlantedUnderTheTemporaryNamesAreNeverFollowed() throws {
        let directory = scratchDirectory()
        let victim = scratchDirectory() + "/precious"
        write("keep me", to: victim)
        for name in ["state.json.tmp", ".mastiff-write-test", "state.json.tmp.XXXXXX"] { symlink(victim, directory + "/" + name) }
        let (logger, _) = RecordingLogHandler.logger()
        let store = StateStore(directory: directory, logger: logger, wallClock: FixedWallClock())
        #expect(store.update("agent", .object(["starts": .number(1)])))
        #expect(read(victim) == "keep me", "the symlinks' target is neither written nor truncated")
        #expect(StateStore(directory: directory, logger: logger).section("agent")?["starts"]?.double == 1)
    }

    /// Two agents on one state_dir would both deliver every notification: the second refuses,
    /// naming the first one's PID (item 14); a directory others can write to is refused too.
    @Test func aSecondAgentOnTheSameStateDirIsRefusedByName() throws {
        let directory = scratchDirectory()
        do {
            let first = try StateDirectoryLock.acquire(directory, pid: 4242)
            let refusal = #expect(throws: StateDirectoryLock.Refusal.self) { try StateDirectoryLock.acquire(directory, pid: 4343) }
            #expect(refusal?.description.contains("PID 4242") == true, "\(String(describing: refusal))")
            withExtendedLifetime(first) {}
        }
        // Released when the holder goes (its process exits): the next agent gets it.
        let next = try StateDirectoryLock.acquire(directory, pid: 4343)
        withExtendedLifetime(next) {}
    }

    @Test func aStateDirOthersCanWriteToIsRefused() throws {
        let directory = scratchDirectory()
        chmod(directory, 0o777)
        let refusal = #expect(throws: StateDirectoryLock.Refusal.self) { try StateDirectoryLock.acquire(directory) }
        #expect(refusal?.description.contains("chmod go-w") == true)
        chmod(directory, 0o700)
        // Another user's directory: they could swap the files in it.
        chown(directory, 12345, 12345)
        #expect(throws: StateDirectoryLock.Refusal.self) { try StateDirectoryLock.acquire(directory, owner: 54321) }
        _ = try StateDirectoryLock.acquire(directory, owner: 12345)
    }

    /// kill -9 after the temporary file was written and before the rename: the old file is
    /// what the next start reads, and the leftover temporary file changes nothing.
    @Test func aCrashBeforeTheRenameLeavesTheOldFileValid() {
        let directory = scratchDirectory()
        let (logger, _) = RecordingLogHandler.logger()
        StateStore(directory: directory, logger: logger).update("agent", .object(["starts": .number(1)]))
        write(#"{"format_version": 1, "sections": {"agent": {"starts": 99"#, to: directory + "/state.json.tmp")
        let restarted = StateStore(directory: directory, logger: logger)
        #expect(restarted.health == .ok)
        #expect(restarted.section("agent")?["starts"]?.double == 1)
        #expect(restarted.update("agent", .object(["starts": .number(2)])))
        #expect(StateStore(directory: directory, logger: logger).section("agent")?["starts"]?.double == 2)
    }

    @Test(arguments: [
        ("{\"format_version\": 1, \"sections\": {\"agent\": ", "truncated"),
        ("\u{0}\u{0}\u{0}garbage", "garbage"),
        ("{\"format_version\": 2, \"sections\": {}}", "newer format"),
        ("[1, 2, 3]", "not an object"),
    ])
    func anUnreadableFileIsMovedAsideAndMastiffStartsClean(contents: String, what: String) throws {
        let directory = scratchDirectory()
        write(contents, to: directory + "/state.json")
        let (logger, log) = RecordingLogHandler.logger()
        let store = StateStore(directory: directory, logger: logger, wallClock: FixedWallClock())
        let aside = directory + "/state.json.unreadable-1700000000"
        #expect(store.health == .movedAside(aside), "\(what)")
        #expect(read(aside) == contents, "nothing is lost: the old file is kept beside")
        #expect(store.section("agent") == nil)
        #expect(log.all.contains { $0.level == .warning && $0.message.contains("moved aside") })
        #expect(store.update("agent", .object(["starts": .number(1)])))
        #expect(StateStore(directory: directory, logger: logger).health == .ok)
    }

    @Test func anUnwritableDirectoryIsReportedAtStartAndMastiffRunsOn() {
        // A directory under a regular file can be neither created nor written, even by root.
        let parent = scratchDirectory()
        write("x", to: parent + "/not-a-directory")
        let (logger, log) = RecordingLogHandler.logger()
        let store = StateStore(directory: parent + "/not-a-directory/state", logger: logger)
        #expect(store.writeFailures == 1, "reported at start")
        #expect(log.all.contains { $0.level == .error && $0.message.contains("not writable") })
        #expect(!store.update("agent", .object(["starts": .number(1)])))
        #expect(store.section("agent")?["starts"]?.double == 1, "kept in memory")
        #expect(store.writeFailures == 2)
        #expect(sampleValue(store.selfMetrics(), "mastiff_state_write_failures_total") == 2)
    }

    /// A real full filesystem (a 16 KiB tmpfs): the write fails, the old file stays whole, and
    /// writes succeed again once there is room.
    @Test func aFullFilesystemKeepsTheOldFile() throws {
        let mountpoint = scratchDirectory()
        let mounted = mount("tmpfs", mountpoint, "tmpfs", 0, "size=16k")
        try #require(mounted == 0, "mounting a tmpfs needs root (the tests run as root): \(String(cString: strerror(errno)))")
        defer { umount(mountpoint) }
        let (logger, log) = RecordingLogHandler.logger()
        let store = StateStore(directory: mountpoint, logger: logger, wallClock: FixedWallClock())
        #expect(store.update("agent", .object(["starts": .number(1)])))
        let before = read(mountpoint + "/state.json")
        // Fill the rest of the filesystem.
        let filler = open(mountpoint + "/filler", O_WRONLY | O_CREAT, 0o600)
        let block = [UInt8](repeating: 0, count: 4096)
        while block.withUnsafeBytes({ Glibc.write(filler, $0.baseAddress, $0.count) }) > 0 {}
        close(filler)
        let big = JSONValue.array((0..<500).map { .number(Double($0)) })
        #expect(!store.update("history", big))
        #expect(store.writeFailures == 1)
        #expect(read(mountpoint + "/state.json") == before, "the old file is whole")
        #expect(!entries(mountpoint).contains { $0.hasPrefix("state.json.tmp") }, "the failed temporary file is removed")
        #expect(log.all.contains { $0.level == .error && $0.message.contains("cannot write the state file") })
        unlink(mountpoint + "/filler")
        #expect(store.update("agent", .object(["starts": .number(2)])))
        let reread = StateStore(directory: mountpoint, logger: logger)
        #expect(reread.section("history")?.array?.count == 500, "what failed to be written is written with the next update")
    }

    /// A document too large to be read back is not written: the previous file stays readable.
    @Test func aStateTooLargeToReadBackIsNotWritten() throws {
        let directory = scratchDirectory()
        let (logger, records) = RecordingLogHandler.logger()
        let store = StateStore(directory: directory, logger: logger, wallClock: FixedWallClock())
        #expect(store.update("agent", .object(["starts": .number(1)])))
        #expect(!store.update("huge", .string(String(repeating: "x", count: StateStore.maxFileSize))))
        #expect(records.contains("over the 4194304 a state file may have"))
        let reopened = StateStore(directory: directory, logger: logger, wallClock: FixedWallClock())
        #expect(reopened.health == .ok)
        #expect(reopened.section("agent")?["starts"]?.double == 1)
    }
}
