import Logging
import MastiffCore
import NIOCore
import NIOHTTP1
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

    public init(metrics: @escaping @Sendable () async -> String,
                health: @escaping @Sendable () -> (healthy: Bool, body: String) = { (true, "ok\n") }) {
        self.metrics = metrics
        self.health = health
    }
}

/// Limits that keep a misbehaving or slow client from tying up the agent.
public struct HTTPLimits: Sendable {
    /// Request bodies are never needed; anything bigger than this is refused with 413.
    public var maxBodyBytes = 16 * 1024
    /// A connection with no complete request in this time is closed (slowloris).
    public var idleTimeout: TimeAmount = .seconds(30)
    /// Connections beyond this are closed at once.
    public var maxConnections = 64
    public init() {}
}

/// HTTP/1.1 server for /metrics and /healthz on SwiftNIO, run as a Service.
public final class HTTPServer: Service, Sendable {
    private let address: ListenAddress
    private let endpoints: HTTPEndpoints
    private let limits: HTTPLimits
    private let logger: Logger
    private let eventLoopGroup: MultiThreadedEventLoopGroup
    private let boundPort = Mutex<Int?>(nil)
    private let connections = Mutex(0)

    public init(address: ListenAddress, endpoints: HTTPEndpoints, limits: HTTPLimits = HTTPLimits(), logger: Logger,
                eventLoopGroup: MultiThreadedEventLoopGroup = .singleton) {
        self.address = address
        self.endpoints = endpoints
        self.limits = limits
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
    }

    /// The port actually bound (differs from the configured one when that is 0), once listening.
    public var port: Int? { boundPort.withLock { $0 } }

    public func run() async throws {
        let idleTimeout = limits.idleTimeout
        let server = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 128)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .bind(host: address.host, port: address.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    try channel.pipeline.syncOperations.addHandler(CloseOnIdleHandler())
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        boundPort.withLock { $0 = server.channel.localAddress?.port }
        logger.info("listening", metadata: ["http.address": "\(address.host):\(server.channel.localAddress?.port ?? address.port)"])

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        let admitted = connections.withLock { count -> Bool in
                            guard count < limits.maxConnections else { return false }
                            count += 1
                            return true
                        }
                        guard admitted else {
                            try? await connection.channel.close()
                            continue
                        }
                        group.addTask {
                            await self.serve(connection)
                            self.connections.withLock { $0 -= 1 }
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
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
                    case .body(let buffer):
                        bodyBytes += buffer.readableBytes
                        if bodyBytes > limits.maxBodyBytes, let request = head {
                            try await respond(outbound, request, status: .payloadTooLarge, body: "request body too large\n", keepAlive: false)
                            return
                        }
                    case .end:
                        guard let request = head, !closing else { continue }
                        head = nil
                        let keepAlive = request.isKeepAlive
                        try await handle(request, outbound, keepAlive: keepAlive)
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

    private func handle(_ request: HTTPRequestHead, _ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
                        keepAlive: Bool) async throws {
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        guard request.method == .GET || request.method == .HEAD else {
            try await respond(outbound, request, status: .methodNotAllowed, body: "only GET and HEAD are supported\n",
                              keepAlive: keepAlive, extraHeaders: [("Allow", "GET, HEAD")])
            return
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
        case "/healthz":
            let health = endpoints.health()
            try await respond(outbound, request, status: health.healthy ? .ok : .serviceUnavailable, body: health.body, keepAlive: keepAlive)
        case "/":
            let body = "<html><head><title>mastiff</title></head><body><h1>mastiff</h1><p><a href=\"/metrics\">Metrics</a> · <a href=\"/healthz\">Health</a></p></body></html>\n"
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
        var headers = HTTPHeaders(extraHeaders)
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
