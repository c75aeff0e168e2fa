#if canImport(Glibc)
import Glibc
#endif
import Logging
import MastiffCore
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOPosix
import ServiceLifecycle
import Synchronization

/// What the HTTP server serves. The composition root supplies the closures, so the server knows
/// nothing about collectors or configuration.
public struct HTTPEndpoints: Sendable {
    /// Renders /metrics. Must not throw: a failing source is already a sample in the output.
    public var metrics: @Sendable () async -> String
    /// /healthz: whether mastiff itself is working (not whether Mastodon is).
    public var health: @Sendable () -> (healthy: Bool, body: String)
    /// /api/v1/status: the agent's status as JSON (read-only; nothing over HTTP changes state).
    public var status: (@Sendable () async -> String)?
    /// /: the status page's HTML; without it, / links to the other endpoints.
    public var page: (@Sendable () async -> String)?
    /// /health/deep (text) and /api/v1/health (JSON): whether Mastodon works, for uptime
    /// checkers; 503 when it does not.
    public var deepHealth: (@Sendable () -> (healthy: Bool, text: String, json: String))?
    /// Whether those two answer without the web configuration's credentials (asked at each request).
    public var deepHealthIsOpen: @Sendable () -> Bool

    public init(metrics: @escaping @Sendable () async -> String,
                health: @escaping @Sendable () -> (healthy: Bool, body: String) = { (true, "ok\n") },
                status: (@Sendable () async -> String)? = nil, page: (@Sendable () async -> String)? = nil,
                deepHealth: (@Sendable () -> (healthy: Bool, text: String, json: String))? = nil,
                deepHealthIsOpen: @escaping @Sendable () -> Bool = { false }) {
        self.metrics = metrics
        self.health = health
        self.status = status
        self.page = page
        self.deepHealth = deepHealth
        self.deepHealthIsOpen = deepHealthIsOpen
    }
}

/// Limits that keep a misbehaving or slow client from tying up the agent.
public struct HTTPLimits: Sendable {
    /// Request bodies are never needed; anything bigger than this is refused with 413.
    public var maxBodyBytes = 16 * 1024
    /// A connection on which nothing arrives for this long is closed.
    public var idleTimeout: TimeAmount = .seconds(30)
    /// A request must have sent all its headers this long after its first byte, or the
    /// connection is closed: a client trickling a byte at a time (slowloris) cannot hold a slot
    /// by staying just under the idle timeout.
    public var headerTimeout: TimeAmount = .seconds(10)
    /// At most this many connections are served at once. A new connection beyond it takes the
    /// slot of the connection that has waited longest without a request in flight (an idle
    /// keep-alive or a half-sent request), so /metrics and /healthz are answered even while
    /// every slot is held; it is refused only when every slot is answering a request.
    public var maxConnections = 64
    /// On shutdown, requests in flight get this long to be answered before every connection is
    /// closed; idle connections are closed at once.
    public var shutdownGrace: TimeAmount = .seconds(3)
    public init() {}
}

/// HTTP/1.1 server for /metrics, /healthz, /api/v1/status and the status page on SwiftNIO, run as a Service.
public final class HTTPServer: Service, Sendable {
    private let address: ListenAddress
    private let endpoints: HTTPEndpoints
    private let limits: HTTPLimits
    private let logger: Logger
    private let eventLoopGroup: MultiThreadedEventLoopGroup
    private let boundPort = Mutex<Int?>(nil)
    private let connections = ConnectionRegistry()
    /// The web configuration's basic auth and headers; nil: none.
    private let authenticator: BasicAuthenticator?
    /// HTTPS with this context (its certificate files watched); nil: plain HTTP.
    private let tls: TLSServerContext?

    public init(address: ListenAddress, endpoints: HTTPEndpoints, limits: HTTPLimits = HTTPLimits(), logger: Logger,
                eventLoopGroup: MultiThreadedEventLoopGroup = .singleton, authenticator: BasicAuthenticator? = nil,
                tls: TLSServerContext? = nil) {
        self.authenticator = authenticator
        self.tls = tls
        self.address = address
        self.endpoints = endpoints
        self.limits = limits
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
    }

    /// The port actually bound (differs from the configured one when that is 0), once listening.
    public var port: Int? { boundPort.withLock { $0 } }

    public func run() async throws {
        let limits = limits
        let tls = tls
        let server: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
        do {
            server = try await ServerBootstrap(group: eventLoopGroup)
                .serverChannelOption(.backlog, value: 128)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.maxMessagesPerRead, value: 1)
                .bind(host: address.host, port: address.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try Self.configureConnection(channel, limits: limits, tls: tls?.context())
                        return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            // Said here, at once: the service group reports a failing service only after every
            // other service has stopped.
            // NIO's text names its own call ("bind(descriptor:ptr:bytes:)"); the admin needs the reason.
            let reason = (error as? IOError).map { String(cString: strerror($0.errnoCode)) } ?? "\(error)"
            logger.critical("cannot listen for HTTP", metadata: ["http.address": "\(address)", "error": "\(reason)"])
            throw error
        }
        boundPort.withLock { $0 = server.channel.localAddress?.port }
        logger.info("listening", metadata: ["http.address": "\(address.host):\(server.channel.localAddress?.port ?? address.port)"])

        let connections = connections
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await withThrowingDiscardingTaskGroup { group in
                    try await server.executeThenClose { inbound in
                        for try await connection in inbound {
                            guard connections.admit(connection.channel, limit: limits.maxConnections) else {
                                try? await connection.channel.close()
                                continue
                            }
                            group.addTask {
                                await self.serve(connection)
                                connections.remove(connection.channel)
                            }
                        }
                    }
                }
            } onGracefulShutdown: {
                // Stop accepting, close idle connections, let requests in flight finish, and
                // close whatever is left after the grace period.
                server.channel.close(promise: nil)
                connections.drain()
                server.channel.eventLoop.scheduleTask(in: limits.shutdownGrace) { connections.closeAll() }
            }
        } onCancel: {
            server.channel.close(promise: nil)
            connections.closeAll()
        }
    }

    /// The handlers of one connection, up to the HTTP request parts: TLS first (the deadline and
    /// HTTP handlers see the decrypted bytes), the idle and header deadlines, NIO's HTTP codec.
    /// Called on the channel's event loop; the "http-request" fuzz target drives the same pipeline.
    public static func configureConnection(_ channel: any Channel, limits: HTTPLimits, tls: NIOSSLContext?) throws {
        let handlers = channel.pipeline.syncOperations
        if let tls { try handlers.addHandler(NIOSSLServerHandler(context: tls)) }
        try handlers.addHandler(IdleStateHandler(readTimeout: limits.idleTimeout))
        try handlers.addHandler(CloseOnIdleHandler())
        try handlers.addHandler(HeaderDeadlineHandler(timeout: limits.headerTimeout))
        try handlers.configureHTTPServerPipeline(withErrorHandling: true)
    }

    /// The path of a request target, without its query.
    public static func path(of uri: String) -> String {
        uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var bodyBytes = 0
                var closing = false
                for try await part in inbound {
                    switch part {
                    case .head(let requestHead):
                        head = requestHead
                        bodyBytes = 0
                        connections.setBusy(connection.channel, true)
                    case .body(let buffer):
                        bodyBytes += buffer.readableBytes
                        if bodyBytes > limits.maxBodyBytes, let request = head {
                            try await respond(outbound, request, status: .payloadTooLarge, body: "request body too large\n", keepAlive: false)
                            return
                        }
                    case .end:
                        guard let request = head, !closing else { continue }
                        head = nil
                        // A server that is shutting down answers and then closes.
                        let keepAlive = request.isKeepAlive && !connections.isDraining
                        try await handle(request, outbound, keepAlive: keepAlive, client: connection.channel.remoteAddress?.ipAddress ?? "?")
                        connections.setBusy(connection.channel, false)
                        // "Connection: close": shut down our side once NIO has written everything
                        // (a half-close waits for pending writes), then wait for the client to
                        // close. Closing at once dropped what NIO had not yet written: a
                        // multi-megabyte /metrics arrived cut short. The idle timeout still ends
                        // connections whose client never closes.
                        if !keepAlive {
                            closing = true
                            try? await connection.channel.close(mode: .output)
                        }
                    }
                }
            }
        } catch {
            logger.debug("connection ended with an error", metadata: ["error": "\(error)"])
        }
    }

    /// Whether Mastodon works (`deepHealth`), as text and JSON; open when the admin says so.
    static let deepHealthPaths: Set<String> = ["/health/deep", "/api/v1/health"]

    private func handle(_ request: HTTPRequestHead, _ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
                        keepAlive: Bool, client: String) async throws {
        let path = Self.path(of: request.uri)
        guard request.method == .GET || request.method == .HEAD else {
            try await respond(outbound, request, status: .methodNotAllowed, body: "only GET and HEAD are supported\n",
                              keepAlive: keepAlive, extraHeaders: [("Allow", "GET, HEAD")])
            return
        }
        // Every path but /healthz (a liveness check must work without secrets) needs the web
        // configuration's credentials when it names users; the answer never says what was wrong.
        // The deep health URLs are open too when the admin says so (instance.health_open).
        let open = path == "/healthz" || (Self.deepHealthPaths.contains(path) && endpoints.deepHealth != nil && endpoints.deepHealthIsOpen())
        if !open, let authenticator, authenticator.requiresCredentials {
            switch await authenticator.check(authorization: request.headers["Authorization"].first, client: client) {
            case .allowed:
                break
            case .refused:
                try await respond(outbound, request, status: .unauthorized, body: "unauthorized\n", keepAlive: keepAlive,
                                  extraHeaders: [("WWW-Authenticate", "Basic realm=\"mastiff\", charset=\"UTF-8\"")])
                return
            case .tooManyFailures(let retryAfter):
                try await respond(outbound, request, status: .tooManyRequests, body: "too many failed logins; try again later\n", keepAlive: false,
                                  extraHeaders: [("Retry-After", String(retryAfter))])
                return
            }
        }
        switch path {
        case "/metrics":
            let text = await endpoints.metrics()
            var bytes = Array(text.utf8)
            var headers: [(String, String)] = [("Content-Type", ExpositionRenderer.contentType)]
            if Gzip.isAccepted(by: request.headers["Accept-Encoding"].joined(separator: ",")), let compressed = try? Gzip.compress(bytes) {
                bytes = compressed
                headers.append(("Content-Encoding", "gzip"))
            }
            headers.append(("Vary", "Accept-Encoding"))
            try await respond(outbound, request, status: .ok, bytes: bytes, keepAlive: keepAlive, extraHeaders: headers)
        case "/api/v1/status" where endpoints.status != nil:
            let body = await endpoints.status!() + "\n"
            try await respond(outbound, request, status: .ok, body: body, keepAlive: keepAlive,
                              extraHeaders: [("Content-Type", "application/json")])
        case "/health/deep" where endpoints.deepHealth != nil:
            let health = endpoints.deepHealth!()
            try await respond(outbound, request, status: health.healthy ? .ok : .serviceUnavailable, body: health.text, keepAlive: keepAlive,
                              extraHeaders: [("Cache-Control", "no-store")])
        case "/api/v1/health" where endpoints.deepHealth != nil:
            let health = endpoints.deepHealth!()
            try await respond(outbound, request, status: health.healthy ? .ok : .serviceUnavailable, body: health.json + "\n", keepAlive: keepAlive,
                              extraHeaders: [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
        case "/healthz":
            let health = endpoints.health()
            try await respond(outbound, request, status: health.healthy ? .ok : .serviceUnavailable, body: health.body, keepAlive: keepAlive)
        case "/" where endpoints.page != nil:
            let body = await endpoints.page!()
            try await respond(outbound, request, status: .ok, body: body, keepAlive: keepAlive,
                              extraHeaders: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")])
        case "/":
            let body = "<html><head><title>mastiff</title></head><body><h1>mastiff</h1><p><a href=\"/metrics\">Metrics</a> · <a href=\"/healthz\">Health</a> · <a href=\"/api/v1/status\">Status (JSON)</a></p></body></html>\n"
            try await respond(outbound, request, status: .ok, body: body, keepAlive: keepAlive,
                              extraHeaders: [("Content-Type", "text/html; charset=utf-8")])
        default:
            try await respond(outbound, request, status: .notFound, body: "not found\n", keepAlive: keepAlive)
        }
    }

    private func respond(_ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, _ request: HTTPRequestHead,
                         status: HTTPResponseStatus, body: String, keepAlive: Bool, extraHeaders: [(String, String)] = []) async throws {
        var headers = extraHeaders
        if !headers.contains(where: { $0.0 == "Content-Type" }) { headers.append(("Content-Type", "text/plain; charset=utf-8")) }
        try await respond(outbound, request, status: status, bytes: Array(body.utf8), keepAlive: keepAlive, extraHeaders: headers)
    }

    private func respond(_ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, _ request: HTTPRequestHead,
                         status: HTTPResponseStatus, bytes: [UInt8], keepAlive: Bool, extraHeaders: [(String, String)]) async throws {
        var headers = HTTPHeaders(extraHeaders + (authenticator?.headers ?? []))
        headers.add(name: "Content-Length", value: String(bytes.count))
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        try await outbound.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
        if request.method != .HEAD {
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: bytes))))
        }
        try await outbound.write(.end(nil))
    }
}

/// Closes a connection on which nothing arrived within the idle timeout.
private final class CloseOnIdleHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// Closes a connection whose request has not sent all its headers `timeout` after its first
/// byte. It sits before the HTTP decoder and watches the raw bytes for the empty line that ends
/// the headers (CRLF or bare LF): the decoder says nothing until the headers are complete.
private final class HeaderDeadlineHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    /// True right after a line feed, until a byte other than CR arrives.
    private var atLineStart = false

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        for byte in buffer.readableBytesView {
            if deadline == nil {
                let loopBoundContext = context.loopBound
                deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                    loopBoundContext.value.close(promise: nil)
                }
            }
            if byte == UInt8(ascii: "\n") {
                if atLineStart {
                    // The headers are complete; the next byte starts the next request's clock.
                    deadline?.cancel()
                    deadline = nil
                    atLineStart = false
                } else {
                    atLineStart = true
                }
            } else if byte != UInt8(ascii: "\r") {
                atLineStart = false
            }
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }
}

/// The open connections, which of them are answering a request, and whether the server is
/// shutting down. Guarded by a lock: the accept loop, the connection tasks and the shutdown
/// handler run on different threads.
final class ConnectionRegistry: Sendable {
    private struct Entry {
        let channel: any Channel
        var busy = false
        /// When the connection last became idle (opened, or answered a request).
        var idleSince: ContinuousClock.Instant
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var draining = false
    }

    private let state = Mutex(State())

    /// Registers a new connection. At the limit, the connection idle the longest is closed to
    /// make room; false when every connection is busy or the server is shutting down.
    func admit(_ channel: any Channel, limit: Int) -> Bool {
        var evicted: (any Channel)?
        let admitted = state.withLock { state -> Bool in
            guard !state.draining else { return false }
            if state.entries.count >= limit {
                guard let oldest = state.entries.filter({ !$0.value.busy }).min(by: { $0.value.idleSince < $1.value.idleSince }) else {
                    return false
                }
                state.entries.removeValue(forKey: oldest.key)
                evicted = oldest.value.channel
            }
            state.entries[ObjectIdentifier(channel)] = Entry(channel: channel, idleSince: .now)
            return true
        }
        evicted?.close(promise: nil)
        return admitted
    }

    func remove(_ channel: any Channel) {
        state.withLock { _ = $0.entries.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    func setBusy(_ channel: any Channel, _ busy: Bool) {
        state.withLock { state in
            guard state.entries[ObjectIdentifier(channel)] != nil else { return }
            state.entries[ObjectIdentifier(channel)]!.busy = busy
            if !busy { state.entries[ObjectIdentifier(channel)]!.idleSince = .now }
        }
    }

    var isDraining: Bool { state.withLock { $0.draining } }

    /// Refuses new connections and closes those without a request in flight.
    func drain() {
        let idle = state.withLock { state in
            state.draining = true
            return state.entries.values.filter { !$0.busy }.map(\.channel)
        }
        for channel in idle { channel.close(promise: nil) }
    }

    func closeAll() {
        let all = state.withLock { state in
            state.draining = true
            return state.entries.values.map(\.channel)
        }
        for channel in all { channel.close(promise: nil) }
    }
}
