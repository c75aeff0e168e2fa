import MastiffCore
import NIOSSL

/// exporter-toolkit's web configuration file (the one node_exporter, postgres_exporter and
/// Alertmanager read, `--web.config.file`), as far as mastiff serves it: bcrypt basic auth users
/// the security headers and TLS (with client certificates). Parsed strictly: an unknown key, a
/// header outside exporter-toolkit's list, a hash that is not bcrypt or a TLS option mastiff
/// cannot honour is an error with file:line:column.
public struct WebConfig: Sendable, Equatable {
    /// `tls_server_config`; nil: plain HTTP.
    public var tls: TLS?
    /// User name → bcrypt hash (`htpasswd -nBC 10 USER`).
    public var basicAuthUsers: [String: String] = [:]
    /// Response headers, in the file's order.
    public var headers: [Header] = []

    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    public init() {}

    public struct TLS: Sendable, Equatable {
        public enum ClientAuth: String, Sendable, Equatable {
            case none = "NoClientCert"
            case verifyIfGiven = "VerifyClientCertIfGiven"
            case requireAndVerify = "RequireAndVerifyClientCert"
        }

        public var certFile: String
        public var keyFile: String
        public var clientAuth: ClientAuth = .none
        public var clientCAFile: String?
        public var minVersion: TLSVersion = .tlsv12
        public var maxVersion: TLSVersion = .tlsv13
        /// TLS 1.2 suites by their Go names; nil: BoringSSL's default (TLS 1.3's are fixed).
        public var cipherSuites: [NIOTLSCipher]?
        public var curves: [NIOTLSCurve]?
    }

    /// Go's names for the TLS 1.2 suites crypto/tls offers, and their IANA numbers.
    static let cipherSuites: [String: NIOTLSCipher] = [
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": .TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": .TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": .TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": .TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
    ]

    static let curves: [String: NIOTLSCurve] = ["CurveP256": .secp256r1, "CurveP384": .secp384r1, "CurveP521": .secp521r1, "X25519": .x25519]
    static let versions: [String: TLSVersion] = ["TLS10": .tlsv1, "TLS11": .tlsv11, "TLS12": .tlsv12, "TLS13": .tlsv13]

    /// The headers exporter-toolkit lets a web configuration set.
    static let allowedHeaders = ["Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "X-XSS-Protection",
                                 "Content-Security-Policy"]

    /// The web configuration in force: `--web.config.file` when given, else mastiff.yml's
    /// `web_config`; nil when neither names one.
    public static func load(commandLine: String?, configured: String?) throws(ConfigError) -> (path: String, config: WebConfig)? {
        guard let path = commandLine ?? configured else { return nil }
        return (path, try load(path: path))
    }

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
        if let tls = map["tls_server_config"] { config.tls = try parseTLS(tls) }
        if let http = map["http_server_config"] {
            let httpMap = try http.mapping(allowing: ["headers", "http2"])
            if let http2 = httpMap["http2"], try http2.bool() {
                throw http2.error("HTTP/2 is not served by mastiff (HTTP/1.1 only): remove http2 or set it to false")
            }
            if let headers = httpMap["headers"] {
                for (nameNode, valueNode, name, value) in try headers.stringPairs("name: value pairs") {
                    guard let canonical = allowedHeaders.first(where: { $0.lowercased() == name.lowercased() }) else {
                        throw nameNode.error("header '\(name)' cannot be set (allowed: \(allowedHeaders.joined(separator: ", ")))")
                    }
                    guard !value.contains(where: { $0.isNewline || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } == true }) else {
                        throw valueNode.error("a header value cannot hold control characters")
                    }
                    config.headers.append(Header(name: canonical, value: value))
                }
            }
        }
        if let users = map["basic_auth_users"] {
            for (userNode, hashNode, user, hash) in try users.stringPairs("name: value pairs") {
                guard !user.isEmpty, !user.contains(":") else { throw userNode.error("'\(user)' is not a user name (not empty, no ':')") }
                guard BasicAuthenticator.isBcrypt(hash) else {
                    throw hashNode.error("the password of '\(user)' is not a bcrypt hash ($2a$, $2b$ or $2y$: htpasswd -nBC 10 \(user))")
                }
                config.basicAuthUsers[user] = hash
            }
        }
        return config
    }

    private static func parseTLS(_ node: ConfigNode) throws(ConfigError) -> TLS {
        let map = try node.mapping(allowing: ["cert_file", "key_file", "cert", "key", "client_auth_type", "client_ca_file", "client_allowed_sans",
                                             "min_version", "max_version", "cipher_suites", "curve_preferences", "prefer_server_cipher_suites"])
        for inline in ["cert", "key"] {
            if let value = map[inline] { throw value.error("an inline \(inline) is not read by mastiff: write it to a file and name it in \(inline)_file") }
        }
        if let sans = map["client_allowed_sans"] { throw sans.error("client_allowed_sans is not supported: trust a CA that issues only the allowed clients") }
        var tls = TLS(certFile: try map.required("cert_file").string(), keyFile: try map.required("key_file").string())
        if let node = map["client_auth_type"] {
            let text = try node.string()
            guard let auth = TLS.ClientAuth(rawValue: text) else {
                let why = ["RequestClientCert", "RequireAnyClientCert"].contains(text)
                    ? "a client certificate that is not verified proves nothing: use VerifyClientCertIfGiven or RequireAndVerifyClientCert"
                    : "expected NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert"
                throw node.error("client_auth_type '\(text)': \(why)")
            }
            tls.clientAuth = auth
        }
        if let node = map["client_ca_file"] { tls.clientCAFile = try node.string() }
        if tls.clientAuth != .none, tls.clientCAFile == nil {
            throw (map["client_auth_type"] ?? node).error("client_auth_type \(tls.clientAuth.rawValue) needs client_ca_file, the CA that signs the clients")
        }
        for (key, keyPath) in [("min_version", \TLS.minVersion), ("max_version", \TLS.maxVersion)] {
            guard let value = map[key] else { continue }
            let text = try value.string()
            guard let version = versions[text] else { throw value.error("'\(text)' is not a TLS version (TLS10, TLS11, TLS12, TLS13)") }
            tls[keyPath: keyPath] = version
        }
        let order: [TLSVersion] = [.tlsv1, .tlsv11, .tlsv12, .tlsv13]
        if let value = map["max_version"], order.firstIndex(of: tls.maxVersion)! < order.firstIndex(of: tls.minVersion)! {
            throw value.error("max_version is below min_version")
        }
        if let value = map["cipher_suites"] {
            var suites: [NIOTLSCipher] = []
            for item in try value.list() {
                let name = try item.string()
                guard let suite = cipherSuites[name] else {
                    throw item.error("'\(name)' is not a TLS 1.2 cipher suite mastiff offers (\(cipherSuites.keys.sorted().joined(separator: ", ")))")
                }
                suites.append(suite)
            }
            tls.cipherSuites = suites.isEmpty ? nil : suites
        }
        if let value = map["curve_preferences"] {
            var chosen: [NIOTLSCurve] = []
            for item in try value.list() {
                let name = try item.string()
                guard let curve = curves[name] else { throw item.error("'\(name)' is not a curve (CurveP256, CurveP384, CurveP521, X25519)") }
                chosen.append(curve)
            }
            tls.curves = chosen.isEmpty ? nil : chosen
        }
        // BoringSSL's server already prefers its own order; the key is accepted as written.
        if let value = map["prefer_server_cipher_suites"] { _ = try value.bool() }
        return tls
    }

}
