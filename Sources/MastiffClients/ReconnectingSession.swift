import MastiffCore
import Synchronization

/// Something a session can hold and replace once it breaks.
public protocol SessionConnection: Sendable {
    var isBroken: Bool { get }
}

extension PostgresConnection: SessionConnection {}
extension RedisConnection: SessionConnection {}

/// Keeps one connection to a source across scrapes, reconnecting with exponential backoff.
///
/// A scrape during the backoff window fails at once ("down, next attempt in 4 s") instead of
/// hammering a server that is restarting; the window doubles from 1 s up to `maxBackoff`, and a
/// successful connect resets it. The connection is dropped when it reports itself broken or when
/// the work throws a transport or timeout error.
public final class ReconnectingSession<Connection: SessionConnection>: Sendable {
    public typealias Connector = @Sendable () async throws -> Connection

    private struct State: Sendable {
        var connection: Connection?
        var failures = 0
        var retryAt: Duration?
        var lastError: String = ""
    }

    private let connector: Connector
    private let maxBackoff: Duration
    private let clock: any MonotonicClock
    private let state = Mutex(State())

    public init(maxBackoff: Duration = .seconds(30), clock: any MonotonicClock = SystemMonotonicClock(),
                connector: @escaping Connector) {
        self.connector = connector
        self.maxBackoff = maxBackoff
        self.clock = clock
    }

    public func withConnection<T: Sendable>(_ body: (Connection) async throws -> T) async throws -> T {
        let connection = try await currentConnection()
        do {
            let result = try await body(connection)
            if connection.isBroken { drop(connection) }
            return result
        } catch let error as ClientError where error.kind != .query {
            drop(connection)
            throw error
        } catch {
            if connection.isBroken { drop(connection) }
            throw error
        }
    }

    /// Forgets the connection, e.g. after a reload changed where it should point.
    public func reset() {
        state.withLock { $0 = State() }
    }

    private func currentConnection() async throws -> Connection {
        let now = clock.elapsed()
        let cached = state.withLock { state -> Result<Connection?, ClientError> in
            if let connection = state.connection { return .success(connection) }
            if let retryAt = state.retryAt, now < retryAt {
                let wait = Int((retryAt - now).seconds.rounded(.up))
                return .failure(ClientError(.connect, system: "session", reason: "\(state.lastError) (next attempt in \(wait)s)"))
            }
            return .success(nil)
        }
        if let connection = try cached.get() { return connection }
        do {
            let connection = try await connector()
            state.withLock { state in
                state = State()
                state.connection = connection
            }
            return connection
        } catch {
            let backoff = maxBackoff
            state.withLock { state in
                state.failures += 1
                let seconds = min(backoff.seconds, Double(1 << min(state.failures - 1, 16)))
                state.retryAt = clock.elapsed() + .milliseconds(Int64(seconds * 1000))
                state.lastError = "\(error)"
            }
            throw error
        }
    }

    private func drop(_ connection: Connection) {
        state.withLock { state in
            state.connection = nil
        }
    }
}
