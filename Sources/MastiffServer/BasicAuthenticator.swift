#if canImport(Glibc)
import Glibc
#endif
import CCrypt
import MastiffCore
import Synchronization

/// HTTP basic auth against the web configuration's bcrypt users (libxcrypt's crypt_r), for
/// every path but /healthz. The check never says which part was wrong; an unknown user costs a
/// bcrypt as a known one does, so timing does not tell users apart; the hash comparison is in
/// constant time. A verified pair is remembered (bcrypt at cost 10 takes tens of milliseconds,
/// a scrape every 15 s should not), bounded, and forgotten when the configuration changes.
public final class BasicAuthenticator: Sendable {
    private struct State {
        var config: WebConfig?
        /// "user\0password" → the hash it was verified against.
        var verified: [String: String] = [:]
        var failures = 0
        /// Failed attempts per client address in the current window, and when it began.
        var recentFailures: [String: (count: Int, since: Double)] = [:]
    }

    /// What a request's credentials come to.
    public enum Verdict: Sendable, Equatable {
        case allowed
        case refused
        /// The client failed `maxFailuresPerClient` times within the window: answered 429 without
        /// a bcrypt (so guessing cannot burn the CPU), for this many seconds more.
        case tooManyFailures(retryAfter: Int)
    }

    /// Failed attempts one client address may make per window before it is held off.
    public static let maxFailuresPerClient = 10
    public static let failureWindow = 60.0
    /// Client addresses remembered at once (the oldest windows are dropped past it).
    static let maxClients = 1024

    private let state: Mutex<State>
    static let maxRemembered = 256
    /// Compared against when the user is unknown (a bcrypt of a random string, cost 10).
    static let decoyHash = "$2b$10$abcdefghijklmnopqrstuuqflPDzB6gcMhKa1rZqKiun2YGL5sa2u"

    private let clock: any MonotonicClock

    public init(_ config: WebConfig?, clock: any MonotonicClock = SystemMonotonicClock()) {
        state = Mutex(State(config: config))
        self.clock = clock
    }

    /// A reload's web configuration (nil: none); what was verified is forgotten.
    public func replace(_ config: WebConfig?) {
        state.withLock { $0 = State(config: config, verified: [:], failures: $0.failures, recentFailures: $0.recentFailures) }
    }

    /// Whether requests need credentials: the configuration names users.
    public var requiresCredentials: Bool { state.withLock { !($0.config?.basicAuthUsers.isEmpty ?? true) } }

    /// The TLS settings of the configuration in force (compared on reload).
    public var tlsSettings: WebConfig.TLS? { state.withLock { $0.config?.tls } }

    /// The headers every response carries.
    public var headers: [(String, String)] { state.withLock { $0.config?.headers.map { ($0.name, $0.value) } ?? [] } }

    /// The verdict on a request from `client` (its address): a client past its failures in this
    /// window is held off before any bcrypt; otherwise the credentials are checked, and a
    /// failure counted against it.
    public func check(authorization: String?, client: String) async -> Verdict {
        let now = clock.elapsed().seconds
        let heldFor = state.withLock { state -> Double? in
            guard let recent = state.recentFailures[client], now - recent.since < Self.failureWindow,
                  recent.count >= Self.maxFailuresPerClient else { return nil }
            return Self.failureWindow - (now - recent.since)
        }
        if let heldFor {
            state.withLock { $0.failures += 1 }
            return .tooManyFailures(retryAfter: max(1, Int(heldFor.rounded(.up))))
        }
        if await allows(authorization: authorization) { return .allowed }
        state.withLock { state in
            if var recent = state.recentFailures[client], now - recent.since < Self.failureWindow {
                recent.count += 1
                state.recentFailures[client] = recent
            } else {
                if state.recentFailures.count >= Self.maxClients {
                    state.recentFailures = state.recentFailures.filter { now - $0.value.since < Self.failureWindow }
                    if state.recentFailures.count >= Self.maxClients { state.recentFailures.removeAll() }
                }
                state.recentFailures[client] = (1, now)
            }
        }
        return .refused
    }

    /// Whether the `Authorization` header's credentials are a configured user's. Runs bcrypt off
    /// the caller's thread.
    func allows(authorization: String?) async -> Bool {
        let users = state.withLock { $0.config?.basicAuthUsers ?? [:] }
        guard !users.isEmpty else { return true }
        guard let (user, password) = Self.credentials(authorization) else { return refuse() }
        let hash = users[user]
        let key = user + "\u{0}" + password
        if let hash, state.withLock({ $0.verified[key] == hash }) { return true }
        let matches = (try? await BlockingWork.run { Self.verify(password: password, hash: hash ?? Self.decoyHash) }) ?? false
        guard matches, let hash else { return refuse() }
        state.withLock { state in
            if state.verified.count >= Self.maxRemembered { state.verified.removeAll() }
            state.verified[key] = hash
        }
        return true
    }

    private func refuse() -> Bool {
        state.withLock { $0.failures += 1 }
        return false
    }

    /// `Basic base64(user:password)`; nil when absent or malformed.
    public static func credentials(_ header: String?) -> (String, String)? {
        guard let header, header.count > 6, header.prefix(6).lowercased() == "basic " else { return nil }
        guard let bytes = Base64.decode(header.dropFirst(6).trimmingWhitespace) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    static func isBcrypt(_ hash: String) -> Bool {
        ["$2a$", "$2b$", "$2y$"].contains { hash.hasPrefix($0) } && hash.utf8.count == 60
    }

    /// crypt_r of the password with the hash's salt and cost, compared with the hash in
    /// constant time.
    static func verify(password: String, hash: String) -> Bool {
        let data = UnsafeMutablePointer<crypt_data>.allocate(capacity: 1)
        defer { data.deallocate() }
        memset(data, 0, MemoryLayout<crypt_data>.size)
        guard let computed = crypt_r(password, hash, data) else { return false }
        let expected = Array(hash.utf8)
        let actual = Array(String(cString: computed).utf8)
        guard actual.count == expected.count else { return false }
        var difference: UInt8 = 0
        for index in expected.indices { difference |= expected[index] ^ actual[index] }
        return difference == 0
    }

    /// `mastiff_http_auth_failures_total`.
    public func metrics() -> [MetricFamily] {
        let failures = state.withLock { $0.failures }
        return [MetricFamily(name: "mastiff_http_auth_failures_total",
                             help: "HTTP requests refused for missing or wrong basic auth credentials, or held off after too many (web_config).",
                             type: .counter, samples: [Sample(labels: [], value: Double(failures))])]
    }
}
