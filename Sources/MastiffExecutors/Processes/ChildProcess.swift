import CSocketShim
import Glibc
import MastiffClients
import MastiffCore
import Synchronization

/// A child process for backups and jobs: argv without a shell, its own process group (so a
/// timeout stops everything it started), a clean signal mask, no descriptor of mastiff's but
/// the three it is given, stdout as a pipe to read or /dev/null, stdin as a pipe to write or
/// /dev/null, and stderr kept in memory up to a bound (the last `stderrLimit` bytes, which hold
/// the error).
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    /// The read end of the child's stdout, when captured. Closed by `close()` or deinit.
    public private(set) var stdout: Int32 = -1
    /// The write end of the child's stdin, when piped. `closeStdin()` sends EOF.
    public private(set) var stdin: Int32 = -1
    private let stderrCapture: OutputCapture
    private let exitStatus = Mutex<Int32?>(nil)
    /// Descendants that left the process group, as found by the last `signal`: they outlive a
    /// leader that exits (their parent is then init), and must still get the final SIGKILL.
    private let strays = Mutex<Set<pid_t>>([])

    /// What a child inherits of mastiff's own environment: nothing that may hold a secret (S3
    /// keys, tokens passed as `${ENV}`), only what locates and localises programs. Everything
    /// else it needs comes through `Options.environment`, never its command line.
    public static let inheritedVariables: Set<String> = ["PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR", "HOME", "USER", "LOGNAME"]

    public struct Options: Sendable {
        /// Added to the inherited variables (and overriding them).
        public var environment: [String: String] = [:]
        public var workingDirectory: String?
        public var captureStdout = false
        public var pipeStdin = false
        /// Send stdout to this file descriptor's target instead (restores write straight to a pipe).
        public var stderrLimit = 16 << 10
        /// Merge stdout into the captured stderr (jobs: one bounded log of all output).
        public var stdoutToCapture = false
        public init() {}
    }

    public struct SpawnError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(_ command: [String], options: Options = Options()) throws(SpawnError) {
        // Glibc's module lacks posix_spawn_file_actions_addchdir_np (_GNU_SOURCE): coreutils'
        // env changes directory instead, then execs the command.
        let argv = options.workingDirectory.map { ["/usr/bin/env", "-C", $0, "--"] + command } ?? command
        guard let program = argv.first else { throw SpawnError(description: "empty command") }
        var stdoutPipe: [Int32] = [-1, -1], stderrPipe: [Int32] = [-1, -1], stdinPipe: [Int32] = [-1, -1]
        guard Self.cloexecPipe(&stderrPipe) == 0 else { throw SpawnError(description: "pipe: \(String(cString: strerror(errno)))") }
        if options.captureStdout { _ = Self.cloexecPipe(&stdoutPipe) }
        if options.pipeStdin { _ = Self.cloexecPipe(&stdinPipe) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if options.pipeStdin { posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0) } else { posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) }
        if options.captureStdout {
            posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        } else if options.stdoutToCapture {
            posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
        // Last: the dups above read the pipes' ends, which this closes in the child.
        mastiff_spawn_close_from(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        var environment: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                let name = String(text[..<equals])
                if Self.inheritedVariables.contains(name) || name.hasPrefix("LC_") { environment[name] = String(text[text.index(after: equals)...]) }
            }
            entry += 1
        }
        for (name, value) in options.environment { environment[name] = value }
        let cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnvironment: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArguments.forEach { free($0) }
            cEnvironment.forEach { free($0) }
        }
        var spawned: pid_t = 0
        let status = program.hasPrefix("/") ? posix_spawn(&spawned, program, &actions, &attributes, cArguments, cEnvironment)
            : posix_spawnp(&spawned, program, &actions, &attributes, cArguments, cEnvironment)
        // The child's ends are the child's now.
        close(stderrPipe[1])
        if options.captureStdout { close(stdoutPipe[1]) }
        if options.pipeStdin { close(stdinPipe[0]) }
        guard status == 0 else {
            close(stderrPipe[0])
            if options.captureStdout { close(stdoutPipe[0]) }
            if options.pipeStdin { close(stdinPipe[1]) }
            throw SpawnError(description: "cannot run \(program): \(String(cString: strerror(status)))")
        }
        pid = spawned
        stdout = options.captureStdout ? stdoutPipe[0] : -1
        stdin = options.pipeStdin ? stdinPipe[1] : -1
        stderrCapture = OutputCapture(fd: stderrPipe[0], limit: options.stderrLimit)
    }

    /// pipe(2) with both ends close-on-exec (Glibc's module lacks pipe2, a _GNU_SOURCE call), so
    /// that other children never hold this one's pipe open.
    static func cloexecPipe(_ ends: inout [Int32]) -> Int32 {
        guard pipe(&ends) == 0 else { return -1 }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return 0
    }

    deinit {
        if stdout >= 0 { Glibc.close(stdout) }
        if stdin >= 0 { Glibc.close(stdin) }
    }

    public func closeStdout() {
        if stdout >= 0 { Glibc.close(stdout) }
        stdout = -1
    }

    public func closeStdin() {
        if stdin >= 0 { Glibc.close(stdin) }
        stdin = -1
    }

    /// The child's stderr so far (the last `stderrLimit` bytes), complete once `wait` returned.
    public var stderrText: String { stderrCapture.text }

    /// Signals the whole process group, and every descendant that left it (a `setsid` child
    /// of a job), found through /proc while they are still the child's descendants.
    public func signal(_ number: Int32) {
        if exitStatus.withLock({ $0 }) == nil {
            let found = Self.descendants(of: pid, procRoot: "/proc")
            strays.withLock { $0.formUnion(found) }
            kill(-pid, number)
        }
        // Once the leader is gone its strays can no longer be found through it: those seen
        // before are signalled by pid (still alive: kill(pid, 0) succeeds).
        for stray in strays.withLock({ $0 }) where kill(stray, 0) == 0 { kill(stray, number) }
    }

    /// Every process below `pid` (children through /proc/PID/task/TID/children), bounded.
    static func descendants(of pid: pid_t, procRoot: String) -> [pid_t] {
        var found: [pid_t] = []
        var queue = [pid]
        while let next = queue.popLast(), found.count < 4096 {
            for task in (try? FileSystemAccess.listDirectory("\(procRoot)/\(next)/task")) ?? [] {
                let text = (try? FileSystemAccess.readFile("\(procRoot)/\(next)/task/\(task)/children")) ?? ""
                for child in text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap({ pid_t($0) }) where !found.contains(child) {
                    found.append(child)
                    queue.append(child)
                }
            }
        }
        return found
    }

    /// How a child ended, for a message: "exited with status 2", or "was killed by signal 9
    /// (SIGKILL…)" for `wait()`'s 128 + the signal's number. SIGKILL is named with its likeliest
    /// sender, the kernel's OOM killer, since that is what an admin then has to look at.
    public static func describe(exitCode code: Int32) -> String {
        guard code > 128, code < 128 + 65 else { return "exited with status \(code)" }
        let number = code - 128
        let known: [Int32: String] = [SIGKILL: "SIGKILL: the kernel's OOM killer sends it when memory runs out (journalctl -k, dmesg)",
                                      SIGTERM: "SIGTERM", SIGINT: "SIGINT", SIGSEGV: "SIGSEGV: it crashed", SIGABRT: "SIGABRT: it aborted",
                                      SIGBUS: "SIGBUS", SIGPIPE: "SIGPIPE", SIGHUP: "SIGHUP", SIGQUIT: "SIGQUIT"]
        return "was killed by signal \(number)" + (known[number].map { " (\($0))" } ?? "")
    }

    /// Waits for the exit: the exit code, or 128 + the signal's number when killed by one.
    public func wait() async -> Int32 {
        if let status = exitStatus.withLock({ $0 }) { return status }
        let pid = self.pid
        let code = (try? await BlockingWork.run { () -> Int32 in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 {
                if errno != EINTR { return -1 }
            }
            let signal = status & 0x7F
            return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
        }) ?? -1
        await stderrCapture.finished()
        exitStatus.withLock { $0 = code }
        return code
    }

    /// Waits at most `timeout`; then TERM to the group (and strays), and KILL after `grace`.
    /// When the waiting task is cancelled (mastiff is stopping), the same happens at once,
    /// with at most two seconds of grace, so that a shutdown leaves nothing behind and never
    /// spins. Returns the exit code and whether the child was stopped.
    public func wait(timeout: Duration, grace: Duration = .seconds(10)) async -> (code: Int32, timedOut: Bool) {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, !Task.isCancelled {
            if let code = poll() { await stderrCapture.finished(); return (code, false) }
            await Self.pause()
        }
        signal(SIGTERM)
        let killAt = ContinuousClock.now + (Task.isCancelled ? min(grace, .seconds(2)) : grace)
        while ContinuousClock.now < killAt {
            if let code = poll() {
                signal(SIGKILL)   // strays that outlived the group's leader
                await stderrCapture.finished()
                return (code, true)
            }
            await Self.pause()
        }
        signal(SIGKILL)
        return (await wait(), true)
    }

    /// 50 ms, cancelled or not: a stopping task still waits out the grace instead of spinning.
    private static func pause() async {
        _ = try? await BlockingWork.run { usleep(50_000) }
    }

    private func poll() -> Int32? {
        if let status = exitStatus.withLock({ $0 }) { return status }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        let signal = status & 0x7F
        let code = signal == 0 ? (status >> 8) & 0xFF : 128 + signal
        exitStatus.withLock { $0 = code }
        return code
    }

    /// Reads `count` bytes at most from stdout; 0 at EOF.
    public func readStdout(into buffer: UnsafeMutableRawBufferPointer) throws(SpawnError) -> Int {
        while true {
            let got = read(stdout, buffer.baseAddress, buffer.count)
            if got >= 0 { return got }
            if errno != EINTR { throw SpawnError(description: "reading the output: \(String(cString: strerror(errno)))") }
        }
    }
}

/// Drains a pipe on a worker thread until its end of file (the child exits), keeping the last
/// `limit` bytes.
final class OutputCapture: @unchecked Sendable {
    private let state = Mutex<(bytes: [UInt8], done: Bool)>(([], false))
    private let limit: Int

    init(fd: Int32, limit: Int) {
        self.limit = limit
        BlockingWork.start { [self] in
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if got < 0, errno == EINTR { continue }
                if got <= 0 { break }
                state.withLock { current in
                    current.bytes.append(contentsOf: chunk[0..<got])
                    if current.bytes.count > limit * 2 { current.bytes.removeFirst(current.bytes.count - limit) }
                }
            }
            close(fd)
            state.withLock { $0.done = true }
        }
    }

    var text: String {
        let bytes = state.withLock { $0.bytes.suffix(limit) }
        return String(decoding: bytes, as: UTF8.self)
    }

    func finished() async {
        for _ in 0..<100 where !state.withLock({ $0.done }) { try? await Task.sleep(for: .milliseconds(10)) }
    }
}
