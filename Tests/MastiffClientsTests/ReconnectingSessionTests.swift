import MastiffClients
import MastiffCore
import MastiffTestSupport
import Synchronization
import Testing

/// The session's back-off on a manual clock: a source that is down is not hammered, and the
/// wait doubles up to the maximum.
@Suite struct ReconnectingSessionTests {
    struct FakeConnection: SessionConnection {
        var isBroken: Bool { false }
    }

    final class FlakyServer: Sendable {
        let attempts = Mutex(0)
        let up = Mutex(false)
        func connect() throws -> FakeConnection {
            attempts.withLock { $0 += 1 }
            guard up.withLock({ $0 }) else { throw ClientError(.connect, system: "fake", reason: "Connection refused") }
            return FakeConnection()
        }
    }

    @Test func backOffDoublesUpToTheMaximumAndResetsOnSuccess() async throws {
        let clock = ManualClock()
        let server = FlakyServer()
        let session = ReconnectingSession<FakeConnection>(maxBackoff: .seconds(4), clock: clock) { try server.connect() }
        func attempt() async -> String? {
            do {
                _ = try await session.withConnection { _ in 1 }
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(await attempt()?.contains("Connection refused") == true)
        #expect(server.attempts.withLock { $0 } == 1)
        // Within the 1 s window: refused at once, without a connect.
        #expect(await attempt()?.contains("next attempt in 1s") == true)
        #expect(server.attempts.withLock { $0 } == 1)
        // Windows of 1, 2, 4, 4 s.
        for (window, attempts) in [(1, 2), (2, 3), (4, 4), (4, 5)] {
            clock.advance(by: .seconds(window) - .milliseconds(1))
            _ = await attempt()
            #expect(server.attempts.withLock { $0 } == attempts - 1, "still waiting in the \(window) s window")
            clock.advance(by: .milliseconds(1))
            _ = await attempt()
            #expect(server.attempts.withLock { $0 } == attempts)
        }
        server.up.withLock { $0 = true }
        clock.advance(by: .seconds(4))
        #expect(await attempt() == nil)
        #expect(await attempt() == nil, "the connection is kept")
        #expect(server.attempts.withLock { $0 } == 6)
    }
}
