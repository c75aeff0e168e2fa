#if canImport(Glibc)
import Glibc
#endif
import Logging
import MastiffCore
import MastiffServer
import ServiceLifecycle
import Foundation
import Synchronization
import Testing

/// The server on a real loopback socket, driven by a raw client so that slow and malformed
/// clients can be imitated byte by byte.
@Suite struct HTTPServerTests: Sendable {
    /// Runs a server for `body`, then shuts it down; returns how long the shutdown took.
    @discardableResult
    private func withServer(limits: HTTPLimits, metrics: @escaping @Sendable () async -> String = { "# HELP up Up.\n# TYPE up gauge\nup 1\n" },
                            _ body: (Int) async throws -> Void) async throws -> Duration {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let server = HTTPServer(address: ListenAddress(host: "127.0.0.1", port: 0),
                                endpoints: HTTPEndpoints(metrics: metrics),
                                limits: limits, logger: logger)
        let group = ServiceGroup(services: [server], logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { tasks -> Duration in
            tasks.addTask { try await group.run() }
            var port: Int?
            for _ in 0..<200 where port == nil {
                port = server.port
                try await Task.sleep(for: .milliseconds(10))
            }
            try await body(try #require(port))
            let shutdownStarted = ContinuousClock.now
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return ContinuousClock.now - shutdownStarted
        }
    }

    /// Connects, sends `request`, and returns everything read until the server closes (or 3 s).
    /// The blocking socket calls run on their own thread, not on the cooperative pool that the
    /// server itself runs on.
    private func exchange(port: Int, request: String) async throws -> (response: String, closedByServer: Bool) {
        try await BlockingWork.run { blockingExchange(port: port, request: request) }
    }

    /// A TCP socket connected to 127.0.0.1:`port`, or nil; the caller closes it.
    private func connectLoopback(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    private func blockingExchange(port: Int, request: String, pauseBeforeReading: UInt32 = 0) -> (response: String, closedByServer: Bool) {
        guard let fd = connectLoopback(port: port) else { return ("", false) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        if pauseBeforeReading > 0 { usleep(pauseBeforeReading) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { received.append(contentsOf: buffer[0..<n]); continue }
            // An orderly close reads as 0; a close with our request still unread arrives as a reset.
            return (String(decoding: received, as: UTF8.self), n == 0 || errno == ECONNRESET)
        }
    }

    @Test func slowClientIsDisconnectedAfterTheIdleTimeout() async throws {
        var limits = HTTPLimits()
        limits.idleTimeout = .milliseconds(300)
        try await withServer(limits: limits) { port in
            let clock = ContinuousClock()
            let start = clock.now
            // Half a request line, then nothing: slowloris.
            let result = try await exchange(port: port, request: "GET /metr")
            #expect(result.closedByServer)
            #expect(result.response.isEmpty)
            #expect(clock.now - start < .seconds(2))
        }
    }

    /// A body far larger than the socket buffers, to a client that reads late, arrives whole
    /// before the server closes (it once arrived cut short: the close dropped unwritten bytes).
    @Test func largeBodyArrivesWholeBeforeTheServerCloses() async throws {
        let line = String(repeating: "x", count: 99) + "\n"
        let body = String(repeating: line, count: 80_000)
        try await withServer(limits: HTTPLimits(), metrics: { body }) { port in
            let result = try await BlockingWork.run {
                blockingExchange(port: port, request: "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", pauseBeforeReading: 300_000)
            }
            #expect(result.closedByServer)
            #expect(result.response.hasSuffix(body))
            #expect(result.response.contains("Content-Length: \(body.utf8.count)"))
        }
    }

    @Test func keepAliveServesSeveralRequestsOnOneConnection() async throws {
        try await withServer(limits: HTTPLimits()) { port in
            let two = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            let result = try await exchange(port: port, request: two)
            #expect(result.response.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
            #expect(result.response.contains("up 1\n"))
            #expect(result.response.hasSuffix("ok\n"))
            #expect(result.closedByServer)
        }
    }

    @Test func garbageGetsABadRequestNotACrash() async throws {
        try await withServer(limits: HTTPLimits()) { port in
            let result = try await exchange(port: port, request: "\u{01}\u{02} NOT HTTP\r\n\r\n")
            #expect(result.response.hasPrefix("HTTP/1.1 400"))
            // And the server still serves the next client.
            #expect(try await exchange(port: port, request: "GET /healthz HTTP/1.0\r\n\r\n").response.hasPrefix("HTTP/1.0 200 OK"))
        }
    }

    @Test func atTheLimitANewConnectionTakesTheSlotOfTheLongestIdleOne() async throws {
        var limits = HTTPLimits()
        limits.maxConnections = 1
        limits.idleTimeout = .seconds(5)
        try await withServer(limits: limits) { port in
            // Hold the only slot with a partial request, then connect again.
            let holder = try #require(connectLoopback(port: port))
            defer { close(holder) }
            _ = Array("GET /".utf8).withUnsafeBytes { send(holder, $0.baseAddress, $0.count, 0) }
            try await Task.sleep(for: .milliseconds(200))
            let second = try await exchange(port: port, request: "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(second.response.hasPrefix("HTTP/1.1 200 OK"))
            var byte: UInt8 = 0
            #expect(recv(holder, &byte, 1, 0) == 0, "the holder was closed to make room")
        }
    }

    @Test func atTheLimitWithEverySlotAnsweringANewConnectionIsRefused() async throws {
        var limits = HTTPLimits()
        limits.maxConnections = 1
        let release = Mutex(false)
        // Sleeps rather than spins: a blocked cooperative thread would stall the other tests.
        let slowMetrics: @Sendable () async -> String = {
            while !release.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(10)) }
            return "up 1\n"
        }
        try await withServer(limits: limits, metrics: slowMetrics) { port in
            let busy = try #require(connectLoopback(port: port))
            defer { close(busy) }
            _ = Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8).withUnsafeBytes { send(busy, $0.baseAddress, $0.count, 0) }
            try await Task.sleep(for: .milliseconds(200))
            let second = try await exchange(port: port, request: "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(second.response.isEmpty)
            #expect(second.closedByServer)
            release.withLock { $0 = true }
        }
    }

    /// A client trickling its headers a byte at a time stays under the idle timeout forever; the
    /// header deadline closes it.
    @Test func headersNotCompleteInTimeCloseTheConnection() async throws {
        var limits = HTTPLimits()
        limits.headerTimeout = .milliseconds(500)
        try await withServer(limits: limits) { port in
            let fd = try #require(connectLoopback(port: port))
            defer { close(fd) }
            let start = ContinuousClock.now
            var closed = false
            for byte in Array("GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Slow: yes\r\n".utf8) {
                var value = byte
                if send(fd, &value, 1, Int32(MSG_NOSIGNAL)) < 0 {
                    closed = true
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(closed, "the connection was closed while the headers trickled in")
            #expect(ContinuousClock.now - start < .seconds(2))
        }
    }

    /// Slowloris at the default limits: 64 sockets sending a byte a second once held every slot
    /// and refused /healthz for 40 s. A scrape must now be answered within 1 s.
    @Test func sixtyFourSlowClientsDoNotStopAScrape() async throws {
        try await withServer(limits: HTTPLimits()) { port in
            var slow: [Int32] = []
            defer { slow.forEach { close($0) } }
            for _ in 0..<64 {
                let fd = try #require(connectLoopback(port: port))
                _ = Array("GET /metrics HTTP/1.1\r\nX".utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                slow.append(fd)
            }
            try await Task.sleep(for: .milliseconds(300))
            for round in 0..<3 {
                for fd in slow {
                    var byte = UInt8(ascii: "x")
                    _ = send(fd, &byte, 1, Int32(MSG_NOSIGNAL))
                }
                let start = ContinuousClock.now
                let scrape = try await exchange(port: port, request: "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                let elapsed = ContinuousClock.now - start
                #expect(scrape.response.hasPrefix("HTTP/1.1 200 OK"), "round \(round)")
                #expect(elapsed < .seconds(1), "round \(round): answered after \(elapsed)")
            }
        }
    }

    /// On shutdown idle keep-alive connections are closed at once and the server stops well
    /// within its grace period.
    @Test func shutdownClosesIdleKeepAliveConnections() async throws {
        var idle: [Int32] = []
        defer { idle.forEach { close($0) } }
        let shutdown = try await withServer(limits: HTTPLimits()) { port in
            for _ in 0..<10 {
                let fd = try #require(connectLoopback(port: port))
                _ = Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
                idle.append(fd)
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(shutdown < .seconds(1), "idle connections are closed at once, not waited for (grace is 3 s)")
    }
}
