import MastiffCore

/// exporter-toolkit's web configuration file (the one node_exporter, postgres_exporter and
/// Alertmanager read, `--web.config.file`), as far as mastiff serves it: bcrypt basic auth users
/// and the security headers. Parsed strictly: an unknown key, a header outside exporter-toolkit's
/// list or a hash that is not bcrypt is an error with file:line:column. TLS
/// (`tls_server_config`) is refused with its reason until it is built.
public struct WebConfig: Sendable, Equatable {
    /// User name → bcrypt hash (`htpasswd -nBC 10 USER`).
    public var basicAuthUsers: [String: String] = [:]
    /// Response headers, in the file's order.
    public var headers: [Header] = []

    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    public init() {}

    /// The headers exporter-toolkit lets a web configuration set.
    static let allowedHeaders = ["Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "X-XSS-Protection",
                                 "Content-Security-Policy"]

    public static func load(path: String) throws(ConfigError) -> WebConfig {
        let text: String
        do {
            text = try FileSystemAccess.readRegularFile(path, limit: 1 << 20)
        } catch {
            throw ConfigError(unreadable: path, error)
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(ConfigError) -> WebConfig {
        let root = try ConfigNode.parse(text, file: file)
        let map = try root.mapping(allowing: ["tls_server_config", "http_server_config", "basic_auth_users"])
        var config = WebConfig()
        if let tls = map["tls_server_config"] {
            throw tls.error("TLS is not served by this version of mastiff: terminate TLS in a proxy in front of it (docs/security.md), or remove tls_server_config")
        }
        if let http = map["http_server_config"] {
            let httpMap = try http.mapping(allowing: ["headers", "http2"])
            if let http2 = httpMap["http2"], try http2.bool() {
                throw http2.error("HTTP/2 is not served by mastiff (HTTP/1.1 only): remove http2 or set it to false")
            }
            if let headers = httpMap["headers"] {
                for (name, value) in try pairs(headers) {
                    guard let canonical = allowedHeaders.first(where: { $0.lowercased() == name.text.lowercased() }) else {
                        throw name.error("header '\(name.text)' cannot be set (allowed: \(allowedHeaders.joined(separator: ", ")))")
                    }
                    guard !value.text.contains(where: { $0.isNewline || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } == true }) else {
                        throw value.error("a header value cannot hold control characters")
                    }
                    config.headers.append(Header(name: canonical, value: value.text))
                }
            }
        }
        if let users = map["basic_auth_users"] {
            for (user, hash) in try pairs(users) {
                guard !user.text.isEmpty, !user.text.contains(":") else { throw user.error("'\(user.text)' is not a user name (not empty, no ':')") }
                guard BasicAuthenticator.isBcrypt(hash.text) else {
                    throw hash.error("the password of '\(user.text)' is not a bcrypt hash ($2a$, $2b$ or $2y$: htpasswd -nBC 10 \(user.text))")
                }
                config.basicAuthUsers[user.text] = hash.text
            }
        }
        return config
    }

    /// A mapping's entries with their positions, for keys that are data (user names, headers).
    private static func pairs(_ node: ConfigNode) throws(ConfigError) -> [(name: Located, value: Located)] {
        if node.isNull { return [] }
        guard case .mapping(let entries) = node.node.content else { throw node.error("expected a mapping") }
        var seen = Set<String>()
        var result: [(name: Located, value: Located)] = []
        for entry in entries {
            guard case .scalar(let key, _) = entry.key.content, case .scalar(let value, _) = entry.value.content else {
                throw node.error("expected name: value pairs")
            }
            let name = Located(text: key, node: ConfigNode(node: entry.key, file: node.file, keyPath: "\(node.keyPath).\(key)"))
            guard seen.insert(key).inserted else { throw name.error("duplicate key '\(key)'") }
            result.append((name, Located(text: value, node: ConfigNode(node: entry.value, file: node.file, keyPath: "\(node.keyPath).\(key)"))))
        }
        return result
    }

    private struct Located {
        var text: String
        var node: ConfigNode
        func error(_ message: String) -> ConfigError { node.error(message) }
    }
}
