#if canImport(Glibc)
import Glibc
#endif
import CSocketShim
import Logging
import MastiffCore
import ServiceLifecycle
import Synchronization

/// Where and how the statsd bridge listens.
/// The statsd listeners as one Service: a receive loop per datagram socket (`recvmmsg`, 32
/// datagrams per call, parsed in place and applied under one lock per batch), and an accept
/// loop for TCP with a loop per connection. Loops run on `BlockingWork` threads, never on the
/// cooperative pool. A socket that cannot be bound is logged and shown as
/// `statsd_listener_up{transport} 0`; the rest of mastiff runs on.
public final class StatsdListenerService: Service, Sendable {
    private let bridge: StatsdBridge
    private let settings: StatsdSettings
    /// Open TCP connections at most; more are closed at once, so clients cannot exhaust descriptors.
    static let maxTCPConnections = 64
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let openDescriptors = Mutex<Set<Int32>>([])
    /// Accepted TCP connections, from the accept loop's thread to the service's task group,
    /// which serves each as a child task (ended by `stop`).
    private let accepted = AsyncStream.makeStream(of: Int32.self)

    public init(bridge: StatsdBridge, settings: StatsdSettings, logger: Logger) {
        self.bridge = bridge
        self.settings = settings
        self.logger = logger
    }

    public func run() async throws {
        var loops: [@Sendable () -> Void] = []
        if let address = settings.udp, let fd = open(.udp, { () throws(StatsdSocket.Failure) in try StatsdSocket.udp(address) }) {
            loops.append { [self] in receiveDatagrams(fd, transport: .udp) }
        }
        if let path = settings.unixgram,
           let fd = open(.unixgram, { () throws(StatsdSocket.Failure) in try StatsdSocket.bindUnixDatagram(path) }) {
            loops.append { [self] in receiveDatagrams(fd, transport: .unixgram) }
        }
        var servesConnections = false
        if let address = settings.tcp, let fd = open(.tcp, { () throws(StatsdSocket.Failure) in try StatsdSocket.listenTCP(address) }) {
            loops.append { [self] in acceptConnections(fd) }
            servesConnections = true
        } else {
            accepted.continuation.finish()
        }
        guard !loops.isEmpty else {
            try await gracefulShutdown()
            return
        }
        // Both a graceful shutdown and a cancellation (another service failed at start) must wake
        // the blocked loops: a cancelled task cannot interrupt a thread blocked in recvmmsg.
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { group in
                    for loop in loops {
                        group.addTask { _ = try? await BlockingWork.run(loop) }
                    }
                    if servesConnections {
                        group.addTask { [self] in
                            await withDiscardingTaskGroup { connections in
                                for await connection in accepted.stream {
                                    connections.addTask { _ = try? await BlockingWork.run { [self] in serveConnection(connection) } }
                                }
                            }
                        }
                    }
                }
            } onGracefulShutdown: { [self] in
                stop()
            }
        } onCancel: { [self] in
            stop()
        }
    }

    /// Wakes every loop: `shutdown` makes a blocked `recvmmsg`, `accept` or `read` return.
    public func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        accepted.continuation.finish()
        openDescriptors.withLock { descriptors in
            for fd in descriptors { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    /// Opens a socket with `make`, logging and reporting a failure instead of throwing.
    private func open(_ transport: StatsdBridge.Transport, _ make: () throws(StatsdSocket.Failure) -> Int32) -> Int32? {
        do {
            let fd = try make()
            if transport != .tcp {
                let granted = StatsdSocket.setReceiveBuffer(fd, bytes: settings.receiveBuffer)
                if granted < settings.receiveBuffer {
                    logger.warning("statsd receive buffer smaller than statsd.receive_buffer; bursts may be dropped (raise net.core.rmem_max: etc/sysctl.d/60-mastiff.conf)",
                                   metadata: ["statsd.transport": "\(transport.rawValue)", "statsd.receive_buffer_bytes": "\(granted)",
                                              "statsd.requested_bytes": "\(settings.receiveBuffer)"])
                }
            }
            openDescriptors.withLock { _ = $0.insert(fd) }
            let address = StatsdSocket.localAddress(fd) ?? settings.unixgram ?? "?"
            bridge.setListener(transport, up: true)
            logger.info("statsd listening", metadata: ["statsd.transport": "\(transport.rawValue)", "statsd.address": "\(address)"])
            return fd
        } catch {
            bridge.setListener(transport, up: false)
            logger.error("statsd listener not started", metadata: ["statsd.transport": "\(transport.rawValue)", "error": "\(error)"])
            return nil
        }
    }

    private func closeDescriptor(_ fd: Int32) {
        openDescriptors.withLock { _ = $0.remove(fd) }
        close(fd)
    }

    private func receiveDatagrams(_ fd: Int32, transport: StatsdBridge.Transport) {
        defer {
            closeDescriptor(fd)
            bridge.setListener(transport, up: false)
        }
        let batch = 32
        // One slot per datagram; only the pages a datagram lands on become resident.
        let slotSize = settings.maxPacketSize + 1
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: batch * slotSize, alignment: 16)
        let vectors = UnsafeMutablePointer<iovec>.allocate(capacity: batch)
        let headers = UnsafeMutablePointer<mastiff_mmsghdr>.allocate(capacity: batch)
        defer {
            buffer.deallocate()
            vectors.deallocate()
            headers.deallocate()
        }
        // Set up once: recvmmsg writes only msg_len and msg_flags, which every call overwrites.
        for index in 0..<batch {
            vectors[index] = iovec(iov_base: buffer + index * slotSize, iov_len: slotSize)
            headers[index] = mastiff_mmsghdr()
            headers[index].msg_hdr.msg_iov = vectors + index
            headers[index].msg_hdr.msg_iovlen = 1
        }
        var result = StatsdLineParser.Result()
        while !stopping.load(ordering: .relaxed) {
            let received = mastiff_recvmmsg(fd, headers, UInt32(batch), MASTIFF_MSG_WAITFORONE)
            if received < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                if !stopping.load(ordering: .relaxed) {
                    logger.error("statsd receive failed", metadata: ["statsd.transport": "\(transport.rawValue)", "error": "\(StatsdSocket.errorText())"])
                }
                return
            }
            if stopping.load(ordering: .relaxed) { return }
            result.removeAll()
            for index in 0..<Int(received) {
                let length = Int(headers[index].msg_len)
                // One byte more than the limit was offered: a datagram that filled it is too long.
                if length > settings.maxPacketSize || headers[index].msg_hdr.msg_flags & Int32(MSG_TRUNC) != 0 {
                    result.errors.append(.tooLong)
                    continue
                }
                StatsdLineParser.parse(packet: UnsafeRawBufferPointer(start: buffer + index * slotSize, count: length), into: &result)
            }
            bridge.ingest(result, packets: Int(received), transport: transport)
            // A short batch means we are ahead of the senders: wait a moment so the next call
            // takes many datagrams at once. Under steady traffic this turns one wake-up and one
            // system call per datagram into one per batch; an idle socket still blocks in
            // recvmmsg, and half a millisecond of delay means nothing to a metric.
            if Int(received) < batch { usleep(500) }
        }
    }

    private func acceptConnections(_ fd: Int32) {
        defer {
            closeDescriptor(fd)
            bridge.setListener(.tcp, up: false)
            accepted.continuation.finish()
        }
        while !stopping.load(ordering: .relaxed), let connection = SocketCalls.acceptNext(fd) {
            guard !stopping.load(ordering: .relaxed), bridge.tcpConnection(opened: true, limit: Self.maxTCPConnections) else {
                close(connection)
                continue
            }
            SocketCalls.setTimeout(connection, settings.tcpIdleTimeout)
            openDescriptors.withLock { _ = $0.insert(connection) }
            if case .terminated = accepted.continuation.yield(connection) {
                // Stopping: nobody will serve it.
                closeDescriptor(connection)
                _ = bridge.tcpConnection(opened: false, limit: 0)
            }
        }
    }

    /// Newline-delimited lines; a line longer than `maxPacketSize` is counted and skipped up to
    /// its newline, and a partial line waits for the rest of its bytes.
    private func serveConnection(_ fd: Int32) {
        defer {
            closeDescriptor(fd)
            _ = bridge.tcpConnection(opened: false, limit: 0)
        }
        // Room for a line of the longest allowed length plus a full read after it.
        let capacity = settings.maxPacketSize + 65_536
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        let bytes = buffer.assumingMemoryBound(to: UInt8.self)
        // Invariant: the `filled` bytes kept at the front hold no newline.
        var filled = 0
        var discarding = false
        var result = StatsdLineParser.Result()
        while !stopping.load(ordering: .relaxed) {
            let count = read(fd, buffer + filled, capacity - filled)
            if count < 0, errno == EINTR { continue }
            // 0: the client closed; EAGAIN: nothing arrived within the idle timeout (SO_RCVTIMEO).
            guard count > 0 else {
                if count < 0, errno == EAGAIN || errno == EWOULDBLOCK { bridge.tcpConnectionTimedOut() }
                return
            }
            let end = filled + count
            result.removeAll()
            var lastNewline = end - 1
            while lastNewline >= filled, bytes[lastNewline] != 0x0A { lastNewline -= 1 }
            if lastNewline >= filled {
                var start = 0
                if discarding {
                    var firstNewline = filled
                    while bytes[firstNewline] != 0x0A { firstNewline += 1 }
                    start = firstNewline + 1
                    discarding = false
                }
                if lastNewline + 1 > start {
                    StatsdLineParser.parse(packet: UnsafeRawBufferPointer(start: buffer + start, count: lastNewline + 1 - start), into: &result)
                }
                filled = end - (lastNewline + 1)
                if filled > 0 { buffer.copyMemory(from: buffer + lastNewline + 1, byteCount: filled) }
            } else {
                filled = end
            }
            if filled > settings.maxPacketSize {
                if !discarding { result.errors.append(.tooLong) }
                discarding = true
                filled = 0
            }
            bridge.ingest(result, packets: 1, transport: .tcp)
        }
    }
}

/// Socket set-up for the listeners, with errors that name the address and the reason.
enum StatsdSocket {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func errorText() -> String { String(cString: strerror(errno)) }

    static func bindInet(_ address: ListenAddress, type: Int32) throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = type
        hints.ai_flags = AI_PASSIVE
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(address.host, String(address.port), &hints, &list)
        guard status == 0, let first = list else {
            throw Failure(description: "\(address): cannot resolve: \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "\(address): socket: \(errorText())") }
        if type == Int32(SOCK_STREAM.rawValue) {
            // TCP only: on a datagram socket SO_REUSEADDR would let two daemons share a port,
            // each silently getting part of the traffic.
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let reason = errorText()
            close(fd)
            throw Failure(description: "\(address): bind: \(reason)")
        }
        return fd
    }

    static func udp(_ address: ListenAddress) throws(Failure) -> Int32 {
        try bindInet(address, type: Int32(SOCK_DGRAM.rawValue))
    }

    static func listenTCP(_ address: ListenAddress) throws(Failure) -> Int32 {
        let fd = try bindInet(address, type: Int32(SOCK_STREAM.rawValue))
        guard listen(fd, 128) == 0 else {
            let reason = errorText()
            close(fd)
            throw Failure(description: "\(address): listen: \(reason)")
        }
        return fd
    }

    /// Binds a Unix datagram socket at `path`, replacing a stale socket left by a previous run
    /// (never a regular file), writable by every local user like the UDP port on loopback.
    static func bindUnixDatagram(_ path: String) throws(Failure) -> Int32 {
        guard var address = SocketCalls.unixAddress(path) else {
            throw Failure(description: "\(path): path longer than \(SocketCalls.maxUnixPathLength) bytes")
        }
        var status = stat()
        if lstat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFSOCK else { throw Failure(description: "\(path): exists and is not a socket") }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "\(path): socket: \(errorText())") }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            let reason = errorText()
            close(fd)
            throw Failure(description: "\(path): bind: \(reason)")
        }
        chmod(path, 0o666)
        return fd
    }

    /// Asks for a large receive buffer: SO_RCVBUFFORCE passes net.core.rmem_max when mastiff
    /// has CAP_NET_ADMIN, else SO_RCVBUF gets what the limit allows. Returns what was granted
    /// (the kernel reports twice the usable size; halved here to compare with the request).
    @discardableResult
    static func setReceiveBuffer(_ fd: Int32, bytes: Int) -> Int {
        var size = Int32(clamping: bytes)
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var granted: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &length) == 0 else { return 0 }
        return Int(granted) / 2
    }

    /// `host:port` actually bound (port 0 becomes the kernel's choice); nil for Unix sockets.
    static func localAddress(_ fd: Int32) -> String? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard status == 0 else { return nil }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        guard storage.ss_family == sa_family_t(AF_INET) || storage.ss_family == sa_family_t(AF_INET6) else { return nil }
        let named = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), &service, socklen_t(service.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard named == 0 else { return nil }
        func text(_ characters: [CChar]) -> String {
            String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        let hostText = text(host)
        let serviceText = text(service)
        return hostText.contains(":") ? "[\(hostText)]:\(serviceText)" : "\(hostText):\(serviceText)"
    }
}
