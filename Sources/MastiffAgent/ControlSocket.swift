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
    /// Connections being served now.
    private let serving = Mutex(0)
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
        // The accept loop blocks on a thread of its own and hands each connection to this
        // task's group, so every connection being served belongs to the service.
        let (connections, sink) = AsyncStream<Int32>.makeStream()
        await withDiscardingTaskGroup { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await withGracefulShutdownHandler {
                        _ = try? await BlockingWork.run { [self] in acceptLoop(fd, into: sink) }
                    } onGracefulShutdown: { [self] in
                        stop()
                    }
                } onCancel: { [self] in
                    stop()
                }
                sink.finish()
            }
            for await connection in connections {
                // A bounded number at once, each with a bounded life (maxRequestSeconds): a
                // client that trickles a byte at a time holds one slot for five seconds, no more.
                let admitted = serving.withLock { count in
                    guard count < Self.maxConnections else { return false }
                    count += 1
                    return true
                }
                guard admitted else {
                    group.addTask { _ = try? await BlockingWork.run { Self.answer(connection, Self.error("the agent is serving \(Self.maxConnections) control requests; try again")) } }
                    continue
                }
                group.addTask { [self] in
                    await serve(connection)
                    serving.withLock { $0 -= 1 }
                }
            }
        }
        close(fd)
        unlink(path)
    }

    /// Connections served at once; more are told to try again.
    static let maxConnections = 16
    /// The whole request must arrive within this, however slowly its bytes come.
    static let maxRequestSeconds = 5

    private func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        listening.withLock { fd in
            if let fd { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    private func acceptLoop(_ fd: Int32, into sink: AsyncStream<Int32>.Continuation) {
        while !stopping.load(ordering: .relaxed), let connection = SocketCalls.acceptNext(fd) {
            sink.yield(connection)
        }
    }

    private func serve(_ fd: Int32) async {
        let answer: JSONValue
        // The request is read even from a refused peer: closing with it unread would reset the
        // connection, and the peer would never see why.
        let request = (try? await BlockingWork.run { Self.readRequest(fd) }) ?? .incomplete
        if let refusal = checkPeer(fd) {
            logger.warning("control socket: peer refused", metadata: ["control.peer": "\(refusal)"])
            answer = Self.error("permission denied: only root, mastiff's user or the socket's group may use the control socket")
        } else {
            switch request {
            case .line(let text):
                if let request = JSONValue.parse(text), let command = request["command"]?.string {
                    answer = await handler(command, request)
                } else {
                    answer = Self.error("a request is one JSON object with a \"command\" string, then a newline")
                }
            case .tooLarge:
                answer = Self.error("the request is larger than \(Self.maxRequestBytes) bytes")
            case .incomplete:
                answer = Self.error("no complete request within \(Self.maxRequestSeconds) s")
            }
        }
        _ = try? await BlockingWork.run { Self.answer(fd, answer) }
    }

    /// Sends `answer` and closes. What the peer still sends is read and dropped first (for the
    /// rest of the request's time): closing with unread bytes would reset the connection, and
    /// the peer would see "connection reset" instead of the answer.
    static func answer(_ fd: Int32, _ answer: JSONValue) {
        defer { close(fd) }
        SocketCalls.setTimeout(fd, .seconds(maxRequestSeconds), alsoSending: true)
        let bytes = Array((answer.serialized() + "\n").utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return }
            sent += count
        }
        shutdown(fd, Int32(SHUT_WR))
        let deadline = ContinuousClock.now + .seconds(maxRequestSeconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        var drained = 0
        while drained < 16 << 20, ContinuousClock.now < deadline {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let remaining = Int32(max(1, (deadline - ContinuousClock.now).seconds * 1000))
            guard poll(&descriptor, 1, remaining) > 0 else { return }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return }
            drained += count
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

    enum Request: Equatable {
        case line(String)
        case tooLarge
        case incomplete
    }

    /// One line, at most `maxRequestBytes`, all of it within `maxRequestSeconds` (a deadline for
    /// the whole request, not per read: a byte every few seconds does not keep it open).
    static func readRequest(_ fd: Int32) -> Request {
        let deadline = ContinuousClock.now + .seconds(maxRequestSeconds)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return .incomplete }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(max(1, remaining.seconds * 1000)))
            if ready < 0, errno == EINTR { continue }
            guard ready > 0 else { return .incomplete }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count < 0, errno == EINTR || errno == EAGAIN { continue }
            if count <= 0 { return received.isEmpty ? .incomplete : .line(String(decoding: received, as: UTF8.self)) }
            if let newline = buffer[0..<count].firstIndex(of: 0x0A) {
                received.append(contentsOf: buffer[0..<newline])
                return received.count <= maxRequestBytes ? .line(String(decoding: received, as: UTF8.self)) : .tooLarge
            }
            received.append(contentsOf: buffer[0..<count])
            if received.count > maxRequestBytes { return .tooLarge }
        }
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
