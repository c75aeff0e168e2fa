/// Where a Redis server is and how to log in: `redis://[[user]:password@]host[:port][/db]` or
/// `unix://[[user]:password@]/path/to/redis.sock[?db=N]`. The password is a `Secret`; `description` never shows it.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public enum Location: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unixSocket(path: String)
    }

    public var location: Location
    public var username: String?
    public var password: Secret?
    public var database: Int

    public init(location: Location, username: String? = nil, password: Secret? = nil, database: Int = 0) {
        self.location = location
        self.username = username
        self.password = password
        self.database = database
    }

    /// nil and a reason when `text` is not a usable Redis URL.
    public static func parse(_ text: String) -> Result<RedisURL, ParseError> {
        if text.hasPrefix("rediss://") {
            return .failure(ParseError(message: "TLS (rediss://) is not supported by Debian 12's hiredis 0.14; use a local socket or stunnel"))
        }
        if text.hasPrefix("unix://") {
            var path = String(text.dropFirst("unix://".count))
            var username: String?
            var password: Secret?
            // unix://[user]:password@/path: credentials end at the "@" before the absolute path.
            if let at = path.firstIndex(of: "@"), path[path.index(after: at)...].hasPrefix("/"), !path.hasPrefix("/") {
                let credentials = path[..<at]
                path = String(path[path.index(after: at)...])
                if let colon = credentials.firstIndex(of: ":") {
                    username = credentials[..<colon].isEmpty ? nil : String(credentials[..<colon])
                    password = Secret(String(credentials[credentials.index(after: colon)...]))
                } else {
                    password = Secret(String(credentials))
                }
            }
            var database = 0
            if let question = path.firstIndex(of: "?") {
                let query = path[path.index(after: question)...]
                path = String(path[..<question])
                for pair in query.split(separator: "&") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2, parts[0] == "db", let db = Int(parts[1]), db >= 0 else {
                        return .failure(ParseError(message: "only ?db=N is understood after a socket path"))
                    }
                    database = db
                }
            }
            guard path.hasPrefix("/") else { return .failure(ParseError(message: "a unix:// URL needs an absolute socket path")) }
            return .success(RedisURL(location: .unixSocket(path: path), username: username, password: password, database: database))
        }
        guard text.hasPrefix("redis://") else {
            return .failure(ParseError(message: "expected redis://host:port/db or unix:///path/to/socket"))
        }
        var rest = Substring(text.dropFirst("redis://".count))
        var username: String?
        var password: Secret?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : String(user)
                password = Secret(String(credentials[credentials.index(after: colon)...]))
            } else {
                password = Secret(String(credentials))
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let dbText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !dbText.isEmpty {
                guard let db = Int(dbText), db >= 0 else { return .failure(ParseError(message: "the database after / must be a number")) }
                database = db
            }
        }
        var host = String(rest)
        var port = 6379
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            guard let parsed = Int(rest[rest.index(after: colon)...]), (1...65535).contains(parsed) else {
                return .failure(ParseError(message: "the port must be a number from 1 to 65535"))
            }
            port = parsed
            host = String(rest[..<colon])
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return .failure(ParseError(message: "the URL has no host")) }
        return .success(RedisURL(location: .tcp(host: host, port: port), username: username, password: password, database: database))
    }

    public struct ParseError: Error, Sendable, Equatable {
        public var message: String
    }

    public var description: String {
        let credentials = password == nil ? "" : "\(username ?? ""):<redacted>@"
        switch location {
        case .tcp(let host, let port):
            let shownHost = host.contains(":") ? "[\(host)]" : host
            return "redis://\(credentials)\(shownHost):\(port)/\(database)"
        case .unixSocket(let path):
            return "unix://\(credentials)\(path)?db=\(database)"
        }
    }
}
