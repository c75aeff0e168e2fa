import Foundation
import MastiffClients
import MastiffTestSupport
import Testing

/// Starts the built `mastiff` binary and the tools the tests compare against. The services
/// themselves (PostgreSQL, Redis) are started by scripts/test.sh, which exports MASTIFF_TEST_*.
enum Harness {
    static let packageRoot = RepositoryPaths.root

    static var binary: String {
        ProcessInfo.processInfo.environment["MASTIFF_BINARY"] ?? packageRoot + "/.build/debug/mastiff"
    }

    static func environment(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw HarnessError("\(name) is not set: run the tests through scripts/test.sh, which starts PostgreSQL and Redis")
        }
        return value
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mastiff-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs psql (tuples only, unaligned) and returns its trimmed output; a failure throws with
    /// psql's message. Without a host and port it uses the shared test PostgreSQL.
    static func psql(host: String? = nil, port: String? = nil, user: String = "postgres", database: String = "postgres",
                     _ arguments: [String]) throws -> String {
        let result = try run(try which("psql"), ["-h", try host ?? environment("MASTIFF_TEST_PG_SOCKET_DIR"),
                                                 "-p", try port ?? environment("MASTIFF_TEST_PG_PORT"),
                                                 "-U", user, "-d", database, "-qAt"] + arguments)
        guard result.status == 0 else { throw HarnessError("psql: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A PostgreSQL session that runs `statements` and then sleeps, holding what they took (a
    /// table lock in an open transaction, an advisory lock), as a migration or another agent
    /// would. It is made once the session is in its sleep, so the locks are granted. `release()`
    /// kills its psql; the server notices within a second (`client_connection_check_interval`)
    /// and frees what it held.
    final class HeldSession {
        let pid: pid_t
        private var released = false

        init(host: String? = nil, port: String? = nil, database: String, statements: [String], log: String) async throws {
            let name = "mastiff-test-held-\(UUID().uuidString.prefix(8))"
            var arguments = ["-h", try host ?? environment("MASTIFF_TEST_PG_SOCKET_DIR"), "-p", try port ?? environment("MASTIFF_TEST_PG_PORT"),
                             "-U", "postgres", "-d", database,
                             "-c", "SET application_name = '\(name)'", "-c", "SET client_connection_check_interval = '1s'"]
            for statement in statements { arguments += ["-c", statement] }
            pid = try spawn(try which("psql"), arguments + ["-c", "SELECT pg_sleep(600)"], log: log)
            for _ in 0..<100 {
                let sleeping = try Harness.psql(host: host, port: port, database: database, ["-c", """
                    SELECT count(*) FROM pg_stat_activity WHERE application_name = '\(name)' AND wait_event = 'PgSleep'
                    """])
                if sleeping == "1" { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            release()
            throw HarnessError("the session running \(statements) did not reach its sleep in 10 s: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }

        func release() {
            guard !released else { return }
            released = true
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }

        deinit { release() }
    }

    /// Writes a mastiff.yml into a fresh temporary directory and returns its path.
    static func writeConfig(_ text: String) throws -> String {
        let path = try temporaryDirectory().appendingPathComponent("mastiff.yml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A mastiff.yml on an ephemeral HTTP port in which the process, PostgreSQL, Redis and Sidekiq
    /// collectors are off except those given in `collectors` (key → YAML value, in order; keys
    /// outside those four, such as `pgbouncer` or `mastodon_endpoints`, are added as given), then
    /// `rest` (top-level sections). The system collector stays on. State and the control socket
    /// go to a fresh directory.
    static func writeConfig(collectors: KeyValuePairs<String, String>, _ rest: String = "") throws -> String {
        let given = Dictionary(collectors.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        // Each agent its own state directory and control socket, beside its configuration.
        let directory = try temporaryDirectory().path
        var lines = ["listen: 127.0.0.1:0", "state_dir: \(directory)/state", "control_socket: \(directory)/control.sock", "collectors:"]
        for name in ["processes", "postgres", "redis", "sidekiq"] {
            lines.append("  \(name): \(given[name] ?? "{enabled: false}")")
        }
        for (key, value) in collectors where !["processes", "postgres", "redis", "sidekiq"].contains(key) {
            lines.append("  \(key): \(value)")
        }
        return try writeConfig(lines.joined(separator: "\n") + "\n" + rest)
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a command to completion, feeding `input` to its stdin.
    static func run(_ executable: String, _ arguments: [String], input: String? = nil,
                    environment: [String: String]? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let stdout = Pipe(), stderr = Pipe(), stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = stdin
        try process.run()
        // Read both pipes while the child runs, so a large exposition cannot block it.
        let group = DispatchGroup()
        nonisolated(unsafe) var out = Data(), err = Data()
        group.enter()
        DispatchQueue.global().async { out = stdout.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { err = stderr.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        if let input { stdin.fileHandleForWriting.write(input.data(using: .utf8)!) }
        try stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        group.wait()
        let result = Result(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
                            stderr: String(decoding: err, as: UTF8.self))
        if executable == binary { scanForSecrets(result, arguments: arguments, environment: environment ?? [:], sourceLocation: sourceLocation) }
        return result
    }

    /// What any mastiff command printed, searched for every secret of the configuration it was
    /// given (and of the test services): every integration test that runs the CLI is scanned.
    private static func scanForSecrets(_ result: Result, arguments: [String], environment: [String: String], sourceLocation: SourceLocation) {
        var scan = SecretScan.ofCommand(arguments, environment: environment)
        scan.add("mastiff \(arguments.first ?? "")", result)
        scan.recordLeaks("a secret in the output of mastiff \(arguments.joined(separator: " "))", sourceLocation: sourceLocation)
    }

    /// Runs a command that leaves servers behind (pg_ctl start, services.sh) and returns its
    /// exit status, with posix_spawn and waitpid. Foundation's Process is not used here: it learns
    /// that a child exited from a descriptor the child inherits, and servers the child starts keep
    /// that descriptor open, so waitUntilExit would never return. Output goes to `log`.
    static func runLeavingServers(_ executable: String, _ arguments: [String], log: String) throws -> Int32 {
        let pid = try spawn(executable, arguments, log: log)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        // WEXITSTATUS, which Swift does not import.
        return (status >> 8) & 0xFF
    }

    /// Starts `executable` with output to `log` and a clean signal mask, without waiting.
    static func spawn(_ executable: String, _ arguments: [String], log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // The test runner's threads block most signals, and a spawned child inherits that mask:
        // a server started with SIGTERM blocked would ignore a later kill. Start with a clean one.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard spawned == 0 else { throw HarnessError("cannot start \(executable): \(String(cString: strerror(spawned)))") }
        return pid
    }

    /// Waits up to 5 s for something to accept TCP connections on 127.0.0.1:`port`.
    static func waitForListener(port: Int) -> Bool {
        for _ in 0..<100 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            close(fd)
            if connected { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    /// A tmpfs of `size` (e.g. "64k") mounted over `path`, 0700, for the full-disk tests (root
    /// only). The caller unmounts it: `umount2(path, MNT_DETACH)`.
    static func mountSmallDisk(at path: String, size: String) throws {
        guard mount("tmpfs", path, "tmpfs", 0, "size=\(size),mode=0700") == 0 else {
            throw HarnessError("cannot mount a tmpfs at \(path) (the full-disk tests run as root): \(String(cString: strerror(errno)))")
        }
    }

    /// Fills the filesystem of `directory` with a file named `filler`, until a write fails.
    static func fill(_ directory: String) {
        let filler = open(directory + "/filler", O_WRONLY | O_CREAT, 0o600)
        let zeros = [UInt8](repeating: 0, count: 4096)
        while zeros.withUnsafeBytes({ write(filler, $0.baseAddress, $0.count) }) > 0 {}
        close(filler)
    }

    /// Every process's pid now.
    static func processes() -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
    }

    /// The fields of /proc/PID/stat after the command name (which may itself hold ") "): the
    /// state first, then the parent.
    private static func statFields(of pid: pid_t) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ")
    }

    /// A process's parent.
    static func parent(of pid: pid_t) -> pid_t? {
        statFields(of: pid)?.dropFirst().first.flatMap { pid_t($0) }
    }

    /// Whether a process runs (a zombie, dead and not yet reaped by its parent, does not).
    static func isRunning(_ pid: pid_t) -> Bool {
        guard let state = statFields(of: pid)?.first else { return false }
        return !["Z", "X"].contains(state)
    }

    /// A process's command name (/proc/PID/comm), if it still runs.
    static func command(of pid: pid_t) -> String? {
        (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The processes whose parent is `pid`.
    static func children(of pid: pid_t) -> [pid_t] {
        processes().filter { parent(of: $0) == pid }
    }

    static func which(_ tool: String) throws -> String {
        for directory in ["/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin", "/sbin"] where FileManager.default.isExecutableFile(atPath: "\(directory)/\(tool)") {
            return "\(directory)/\(tool)"
        }
        throw HarnessError("\(tool) is not installed: run scripts/setup.sh")
    }

    /// `promtool check metrics` on an exposition; returns what it printed (empty when clean).
    static func promtoolProblems(_ exposition: String) throws -> String {
        let result = try run(try which("promtool"), ["check", "metrics"], input: exposition)
        return (result.stdout + result.stderr).trimmingCharacters(in: .whitespacesAndNewlines)
            + (result.status == 0 ? "" : " (exit \(result.status))")
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A `mastiff run` child process with its stderr captured to a file.
final class RunningMastiff {
    let process = Process()
    let logPath: String
    private(set) var port = 0

    /// The secrets of this agent's configuration, searched for in everything it wrote when it is
    /// released (`SecretScan`): every integration test that runs an agent is scanned.
    private var secretScan: SecretScan

    /// Where the test started it: a leak is reported there.
    private let startedAt: SourceLocation

    /// `wrapper`: a command that runs the rest (MultiHostTests: `in-host HOST`, which enters a
    /// host's network namespace and execs, so the pid is still mastiff's).
    init(arguments: [String], environment: [String: String] = [:], wrapper: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws {
        startedAt = sourceLocation
        secretScan = SecretScan.ofCommand(arguments, environment: environment)
        let directory = try Harness.temporaryDirectory()
        logPath = directory.appendingPathComponent("stderr.log").path
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: wrapper.first ?? Harness.binary)
        process.arguments = (wrapper.isEmpty ? [] : Array(wrapper.dropFirst()) + [Harness.binary]) + ["run"] + arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "JOURNAL_STREAM")
        env.merge(environment) { _, new in new }
        process.environment = env
        process.standardError = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        port = try waitForPort()
    }

    deinit {
        if process.isRunning {
            // What it serves and the command lines of it and its children, while it still
            // runs; curl, since a deinit cannot await.
            for path in ["/metrics", "/api/v1/status", "/", "/healthz", "/health/deep"] {
                if let result = try? Harness.run("/usr/bin/curl", ["-s", "--max-time", "2", baseURL + path]) { secretScan.add(path, result.stdout) }
            }
            secretScan.addCommandLines(under: process.processIdentifier)
            process.terminate()
            process.waitUntilExit()
        }
        secretScan.add("mastiff's log", log)
        if let stateFile = secretScan.stateFile { secretScan.add(file: stateFile) }
        secretScan.recordLeaks("a secret in what the agent on port \(port) wrote", sourceLocation: startedAt)
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Waits for the "listening" line and reads the bound port from it.
    private func waitForPort() throws -> Int {
        for _ in 0..<300 {
            if let line = log.split(separator: "\n").first(where: { $0.contains(" listening ") && $0.contains("http.address=") }),
               let address = line.split(separator: " ").first(where: { $0.hasPrefix("http.address=") }),
               let port = Int(address.split(separator: ":").last ?? "") {
                return port
            }
            guard process.isRunning else { throw HarnessError("mastiff exited early:\n\(log)") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw HarnessError("mastiff did not start listening within 15 s:\n\(log)")
    }

    /// Scrapes until one serves a sample taken after `event` (scrapes are answered from the
    /// sampler's latest sample, which may predate it). Returns that exposition and the slowest
    /// scrape's duration.
    func metrics(sampledAfter event: Date, within seconds: Double = 10) async throws -> (text: String, slowest: Double) {
        let deadline = event.addingTimeInterval(seconds)
        var slowest = 0.0
        while true {
            let started = Date()
            let response = try await CurlHTTPClient(timeoutMilliseconds: 20_000).get(baseURL + "/metrics")
            slowest = max(slowest, Date().timeIntervalSince(started))
            guard response.status == 200 else { throw HarnessError("/metrics answered \(response.status)") }
            if let taken = sampleValue(response.text, "mastiff_sample_timestamp_seconds"), taken > event.timeIntervalSince1970 {
                return (response.text, slowest)
            }
            guard Date() < deadline else { throw HarnessError("no sample taken after the event within \(seconds) s") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Scrapes until `series` has `expected`, for at most `seconds`: rules are evaluated beside
    /// scrapes, not under them, so an alert shows up an evaluation after the sample that causes it.
    func reaches(_ series: String, _ expected: Double, within seconds: Double = 10) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if sampleValue(try await metrics(sampledAfter: Date()).text, series) == expected { return true }
            try await Task.sleep(for: .milliseconds(250))
        }
        return false
    }

    func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to exit; returns its status, or nil after `timeout` seconds.
    func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        return process.isRunning ? nil : process.terminationStatus
    }
}
