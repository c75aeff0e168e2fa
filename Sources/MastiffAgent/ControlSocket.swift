#if canImport(Glibc)
import Glibc
#endif
import CSocketShim
import Logging
import MastiffCore
import ServiceLifecycle
import Synchronization

/// The Unix socket through which the `mastiff` CLI talks to the running agent: one JSON request
/// per connection (`{"command": "status"}` and a newline), one JSON answer, then close.
///
/// Only root, mastiff's own user and members of the socket's group may talk to it: the peer's
/// credentials (SO_PEERCRED, and its supplementary groups from /proc/PID/status) are checked
/// before anything is read. The socket is mode 0660, so that `chgrp adm` on it (or the
/// unit's group) is how an admin grants access. Commands that change state (maintenance,
/// backups: later) come only this way, never over HTTP.
public final class ControlSocketService: Service, Sendable {
    public typealias Handler = @Sendable (_ command: String, _ request: JSONValue) async -> JSONValue

    private let path: String
    private let handler: Handler
    private let logger: Logger
    private let procRoot: String
    private let listening = Mutex<Int32?>(nil)
    private let stopping = Atomic<Bool>(false)
    static let maxRequestBytes = 64 * 1024

    public init(path: String, logger: Logger, procRoot: String = "/proc", handler: @escaping Handler) {
        self.path = path
        self.handler = handler
        self.logger = logger
        self.procRoot = procRoot
    }

    public func run() async throws {
        let fd: Int32
        do {
            fd = try Self.bind(path)
        } catch {
            // The agent's main jobs go on without it; `mastiff status` will say it cannot connect.
            logger.error("control socket not started", metadata: ["control.path": "\(path)", "error": "\(error)"])
            try? await gracefulShutdown()
            return
        }
        listening.withLock { $0 = fd }
        logger.info("control socket listening", metadata: ["control.path": "\(path)"])
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                _ = try? await BlockingWork.run { [self] in acceptLoop(fd) }
            } onGracefulShutdown: { [self] in
                stop()
            }
        } onCancel: { [self] in
            stop()
        }
        close(fd)
        unlink(path)
    }

    private func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        listening.withLock { fd in
            if let fd { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    private func acceptLoop(_ fd: Int32) {
        while !stopping.load(ordering: .relaxed), let connection = SocketCalls.acceptNext(fd) {
            Task { [self] in await serve(connection) }
        }
    }

    private func serve(_ fd: Int32) async {
        defer { close(fd) }
        SocketCalls.setTimeout(fd, .seconds(5), alsoSending: true)
        let answer: JSONValue
        // The request is read even from a refused peer: closing with it unread would reset the
        // connection, and the peer would never see why.
        let request = (try? await BlockingWork.run { Self.readRequest(fd) }) ?? nil
        if let refusal = checkPeer(fd) {
            logger.warning("control socket: peer refused", metadata: ["control.peer": "\(refusal)"])
            answer = Self.error("permission denied: only root, mastiff's user or the socket's group may use the control socket")
        } else if let text = request {
            if let request = JSONValue.parse(text), let command = request["command"]?.string {
                answer = await handler(command, request)
            } else {
                answer = Self.error("a request is one JSON object with a \"command\" string, then a newline")
            }
        } else {
            answer = Self.error("no complete request within 5 s or \(Self.maxRequestBytes) bytes")
        }
        let bytes = Array((answer.serialized() + "\n").utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return }
            sent += count
        }
    }

    public static func error(_ message: String) -> JSONValue {
        .object(["ok": .bool(false), "error": .string(message)])
    }

    /// Who is on the other end; nil when allowed, else a description for the log.
    private func checkPeer(_ fd: Int32) -> String? {
        var credentials = mastiff_peer_credentials()
        guard mastiff_peer_credentials(fd, &credentials) == 0 else { return "credentials unavailable" }
        if credentials.uid == 0 || credentials.uid == geteuid() { return nil }
        var status = stat()
        guard stat(path, &status) == 0 else { return "uid \(credentials.uid)" }
        if credentials.gid == status.st_gid { return nil }
        // Supplementary groups are not in SO_PEERCRED; the kernel lists them per process.
        if let text = try? FileSystemAccess.readFile("\(procRoot)/\(credentials.pid)/status"),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Groups:") }) {
            let groups = line.dropFirst("Groups:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { UInt32($0) }
            if groups.contains(status.st_gid) { return nil }
        }
        return "uid \(credentials.uid), gid \(credentials.gid), pid \(credentials.pid)"
    }

    /// One line, at most `maxRequestBytes`; nil on timeout, overflow or EOF before a newline
    /// with nothing read.
    static func readRequest(_ fd: Int32) -> String? {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while received.count <= maxRequestBytes {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { return received.isEmpty ? nil : String(decoding: received, as: UTF8.self) }
            if let newline = buffer[0..<count].firstIndex(of: 0x0A) {
                received.append(contentsOf: buffer[0..<newline])
                return String(decoding: received, as: UTF8.self)
            }
            received.append(contentsOf: buffer[0..<count])
        }
        return nil
    }

    struct SocketError: Error, CustomStringConvertible {
        let description: String
    }

    /// Binds and listens at `path`, replacing a stale socket of an earlier run (never another
    /// kind of file), mode 0660.
    static func bind(_ path: String) throws(SocketError) -> Int32 {
        guard var address = SocketCalls.unixAddress(path) else {
            throw SocketError(description: "path longer than \(SocketCalls.maxUnixPathLength) bytes")
        }
        // Outside systemd's RuntimeDirectory=, the directory may not exist yet.
        if let slash = path.lastIndex(of: "/"), slash > path.startIndex {
            let directory = String(path[..<slash])
            if access(directory, F_OK) != 0 { mkdir(directory, 0o755) }
        }
        var status = stat()
        if lstat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFSOCK else { throw SocketError(description: "\(path) exists and is not a socket") }
            // A live agent answers a connect: then this is a second agent, which must not steal it.
            if let probe = try? connectUnix(path) {
                close(probe)
                throw SocketError(description: "another mastiff agent is already listening on \(path)")
            }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(description: "socket: \(String(cString: strerror(errno)))") }
        // Created with no permission for others, then opened to the group.
        let previousMask = umask(0o117)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(previousMask)
        guard bound == 0, listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw SocketError(description: "\(path): \(reason)")
        }
        chmod(path, 0o660)
        return fd
    }

    static func connectUnix(_ path: String) throws(SocketError) -> Int32 {
        guard var address = SocketCalls.unixAddress(path) else {
            throw SocketError(description: "path longer than \(SocketCalls.maxUnixPathLength) bytes")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(description: "socket: \(String(cString: strerror(errno)))") }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw SocketError(description: reason)
        }
        return fd
    }
}

/// The CLI's side: one request, one answer.
public enum ControlClient {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func request(_ request: JSONValue, socket path: String, timeoutSeconds: Int = 10) throws(Failure) -> JSONValue {
        let fd: Int32
        do {
            fd = try ControlSocketService.connectUnix(path)
        } catch {
            throw Failure(description: "no mastiff agent answers on \(path) (\(error)); is `mastiff run` running with this control_socket?")
        }
        defer { close(fd) }
        SocketCalls.setTimeout(fd, .seconds(timeoutSeconds))
        let bytes = Array((request.serialized() + "\n").utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            if count < 0, errno == EAGAIN || errno == EWOULDBLOCK { throw Failure(description: "the agent did not answer within \(timeoutSeconds) s") }
            if count < 0 { throw Failure(description: "reading the agent's answer: \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            received.append(contentsOf: buffer[0..<count])
        }
        guard let answer = JSONValue.parse(String(decoding: received, as: UTF8.self)) else {
            throw Failure(description: "the agent's answer is not JSON")
        }
        return answer
    }
}
