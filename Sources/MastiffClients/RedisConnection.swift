import CHiredis
import MastiffCore
import Synchronization

/// A reply from Redis, decoded from hiredis' reply tree.
public indirect enum RedisReply: Sendable, Equatable {
    case string(String)
    case status(String)
    case integer(Int64)
    case array([RedisReply])
    case null
    case error(String)
}

/// One hiredis connection with a single owner (a mutex), blocking calls off the cooperative
/// pool, and connect and command timeouts.
public final class RedisConnection: @unchecked Sendable {
    // The context is only touched under `lock` (or in deinit, when no one else can hold it).
    private let context: UnsafeMutablePointer<redisContext>
    private let lock = Mutex(())

    private init(_ context: UnsafeMutablePointer<redisContext>) {
        self.context = context
    }

    deinit {
        redisFree(context)
    }

    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unixSocket(String)
    }

    public static func connect(_ endpoint: Endpoint, timeoutMilliseconds: Int = 5000) async throws -> RedisConnection {
        try await BlockingWork.run {
            let context: UnsafeMutablePointer<redisContext>?
            switch endpoint {
            case .tcp(let host, let port): context = mastiff_redis_connect_tcp(host, Int32(port), timeoutMilliseconds)
            case .unixSocket(let path): context = mastiff_redis_connect_unix(path, timeoutMilliseconds)
            }
            guard let context else { throw ClientError(.connect, system: "redis", reason: "out of memory") }
            if context.pointee.err != 0 {
                let reason = errorString(context)
                redisFree(context)
                throw ClientError(.connect, system: "redis", reason: reason)
            }
            _ = mastiff_redis_set_timeout(context, timeoutMilliseconds)
            return RedisConnection(context)
        }
    }

    /// Connects to `url`, authenticates (AUTH [user] password) and selects its database. A
    /// refused AUTH is a connect error that names the server's reason, never the password.
    public static func connect(_ url: RedisURL, timeoutMilliseconds: Int = 5000) async throws -> RedisConnection {
        let endpoint: Endpoint
        switch url.location {
        case .tcp(let host, let port): endpoint = .tcp(host: host, port: port)
        case .unixSocket(let path): endpoint = .unixSocket(path)
        }
        let connection = try await connect(endpoint, timeoutMilliseconds: timeoutMilliseconds)
        var setup: [[String]] = []
        if let password = url.password {
            setup.append(url.username.map { ["AUTH", $0, password.reveal()] } ?? ["AUTH", password.reveal()])
        }
        if url.database != 0 { setup.append(["SELECT", String(url.database)]) }
        if !setup.isEmpty {
            for reply in try await connection.pipeline(setup) {
                if case .error(let message) = reply {
                    throw ClientError(.connect, system: "redis", reason: message)
                }
            }
        }
        return connection
    }

    /// Whether the context has failed (I/O error, timeout, protocol error): hiredis cannot use
    /// it again, so the session makes a new one.
    public var isBroken: Bool {
        lock.withLock { _ in context.pointee.err != 0 }
    }

    /// Sends several commands in one round trip and returns their replies in order.
    public func pipeline(_ commands: [[String]]) async throws -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        return try await BlockingWork.run { [self] in
            try lock.withLock { _ throws -> [RedisReply] in
                for command in commands {
                    let status = withArgv(command) { argv, lengths in
                        redisAppendCommandArgv(context, Int32(command.count), argv, lengths)
                    }
                    guard status == REDIS_OK else { throw ClientError(.transport, system: "redis", reason: errorString(context)) }
                }
                var replies: [RedisReply] = []
                replies.reserveCapacity(commands.count)
                for _ in commands {
                    var raw: UnsafeMutableRawPointer?
                    guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
                        let kind: ClientError.Kind = context.pointee.err == REDIS_ERR_IO ? .timeout : .transport
                        throw ClientError(kind, system: "redis", reason: errorString(context))
                    }
                    replies.append(decode(raw.assumingMemoryBound(to: redisReply.self)))
                    freeReplyObject(raw)
                }
                return replies
            }
        }
    }

    /// Sends one command (binary-safe, via redisCommandArgv) and returns its reply.
    public func command(_ arguments: [String]) async throws -> RedisReply {
        try await BlockingWork.run { [self] in
            try lock.withLock { _ throws -> RedisReply in
                let raw = withArgv(arguments) { argv, lengths in
                    redisCommandArgv(context, Int32(arguments.count), argv, lengths)
                }
                guard let raw else {
                    let kind: ClientError.Kind = context.pointee.err == REDIS_ERR_IO ? .timeout : .transport
                    throw ClientError(kind, system: "redis", reason: errorString(context))
                }
                defer { freeReplyObject(raw) }
                return decode(raw.assumingMemoryBound(to: redisReply.self))
            }
        }
    }
}

private func errorString(_ context: UnsafeMutablePointer<redisContext>) -> String {
    withUnsafePointer(to: context.pointee.errstr) {
        $0.withMemoryRebound(to: CChar.self, capacity: 128) { String(cString: $0) }
    }
}

private func decode(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
    let value = reply.pointee
    switch value.type {
    case REDIS_REPLY_STRING:
        return .string(String(decoding: UnsafeRawBufferPointer(start: value.str, count: Int(value.len)), as: UTF8.self))
    case REDIS_REPLY_STATUS:
        return .status(String(decoding: UnsafeRawBufferPointer(start: value.str, count: Int(value.len)), as: UTF8.self))
    case REDIS_REPLY_ERROR:
        return .error(String(decoding: UnsafeRawBufferPointer(start: value.str, count: Int(value.len)), as: UTF8.self))
    case REDIS_REPLY_INTEGER:
        return .integer(Int64(value.integer))
    case REDIS_REPLY_ARRAY:
        var items: [RedisReply] = []
        for index in 0..<Int(value.elements) {
            if let element = value.element[index] { items.append(decode(element)) }
        }
        return .array(items)
    default:
        return .null
    }
}

private func withArgv<R>(_ arguments: [String], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R) -> R {
    var buffers: [UnsafeMutablePointer<CChar>?] = []
    var lengths: [Int] = []
    for argument in arguments {
        let bytes = Array(argument.utf8)
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, bytes.count))
        bytes.withUnsafeBufferPointer { source in
            source.withMemoryRebound(to: CChar.self) { buffer.update(from: $0.baseAddress!, count: bytes.count) }
        }
        buffers.append(buffer)
        lengths.append(bytes.count)
    }
    defer { buffers.forEach { $0?.deallocate() } }
    var constPointers: [UnsafePointer<CChar>?] = buffers.map { $0.map { UnsafePointer($0) } }
    return constPointers.withUnsafeMutableBufferPointer { argv in
        lengths.withUnsafeBufferPointer { body(argv.baseAddress!, $0.baseAddress!) }
    }
}
