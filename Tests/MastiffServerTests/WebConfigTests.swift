import MastiffCore
@testable import MastiffServer
import Testing

/// exporter-toolkit's web configuration, parsed strictly, and the basic auth check over
/// libxcrypt's bcrypt.
@Suite struct WebConfigTests {
    /// libxcrypt's bcrypt of "correct horse battery" (cost 10, htpasswd -nBC 10's format).
    static let hash = "$2y$10$mastiffwebconfigsalt.ubkIWbRA3RFS9/ABdCV2OKkwdm2leW46"

    @Test func readsTLS() throws {
        let config = try WebConfig.parse("""
            tls_server_config:
              cert_file: /etc/mastiff/tls.crt
              key_file: /etc/mastiff/tls.key
              client_auth_type: VerifyClientCertIfGiven
              client_ca_file: /etc/mastiff/clients.pem
              min_version: TLS13
              cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
              curve_preferences: [X25519, CurveP256]
              prefer_server_cipher_suites: true
            """, file: "web.yml")
        let tls = try #require(config.tls)
        #expect(tls.certFile == "/etc/mastiff/tls.crt" && tls.keyFile == "/etc/mastiff/tls.key")
        #expect(tls.clientAuth == .verifyIfGiven && tls.clientCAFile == "/etc/mastiff/clients.pem")
        #expect(tls.minVersion == .tlsv13 && tls.maxVersion == .tlsv13)
        #expect(tls.cipherSuites == [.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256] && tls.curves == [.x25519, .secp256r1])
    }

    @Test func readsUsersAndHeaders() throws {
        let config = try WebConfig.parse("""
            basic_auth_users:
              prometheus: \(Self.hash)
            http_server_config:
              http2: false
              headers:
                x-frame-options: SAMEORIGIN
            """, file: "web.yml")
        #expect(config.basicAuthUsers == ["prometheus": Self.hash])
        #expect(config.headers == [WebConfig.Header(name: "X-Frame-Options", value: "SAMEORIGIN")])
    }

    @Test(arguments: [
        ("tls_server_config: {cert_file: a.crt}\n", "web.yml:1:20: tls_server_config: missing required key 'key_file'"),
        ("tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAnyClientCert}\n",
         "web.yml:1:66: tls_server_config.client_auth_type: client_auth_type 'RequireAnyClientCert': a client certificate that is not verified proves nothing"),
        ("tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAndVerifyClientCert}\n",
         "web.yml:1:66: tls_server_config.client_auth_type: client_auth_type RequireAndVerifyClientCert needs client_ca_file"),
        ("tls_server_config: {cert_file: a, key_file: b, min_version: TLS13, max_version: TLS12}\n",
         "web.yml:1:81: tls_server_config.max_version: max_version is below min_version"),
        ("tls_server_config: {cert_file: a, key_file: b, cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]}\n",
         "web.yml:1:64: tls_server_config.cipher_suites[0]: 'TLS_RSA_WITH_RC4_128_SHA' is not a TLS 1.2 cipher suite"),
        ("basic_auth_user: {a: b}\n", "web.yml:1:1: basic_auth_user: unknown key 'basic_auth_user'"),
        ("basic_auth_users: {a: secret}\n", "web.yml:1:23: basic_auth_users.a: the password of 'a' is not a bcrypt hash"),
        ("http_server_config: {headers: {Server: mastiff}}\n", "web.yml:1:32: http_server_config.headers.Server: header 'Server' cannot be set"),
        ("http_server_config: {http2: true}\n", "web.yml:1:29: http_server_config.http2: HTTP/2 is not served by mastiff"),
        ("basic_auth_users: {\"a:b\": \(hash)}\n", "web.yml:1:20: basic_auth_users.a:b: 'a:b' is not a user name"),
    ])
    func problemsAreLocated(text: String, expected: String) {
        do {
            _ = try WebConfig.parse(text, file: "web.yml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.hasPrefix(expected), "\(error)")
        }
    }

    @Test func credentialsAreCheckedAgainstTheBcryptHash() async throws {
        var config = WebConfig()
        config.basicAuthUsers = ["prometheus": Self.hash]
        let authenticator = BasicAuthenticator(config)
        func header(_ user: String, _ password: String) -> String { "Basic " + Base64.encode(Array("\(user):\(password)".utf8)) }
        #expect(await authenticator.allows(authorization: header("prometheus", "correct horse battery")))
        #expect(await authenticator.allows(authorization: header("prometheus", "correct horse battery")), "remembered")
        #expect(!(await authenticator.allows(authorization: header("prometheus", "correct horse"))))
        #expect(!(await authenticator.allows(authorization: header("grafana", "correct horse battery"))))
        #expect(!(await authenticator.allows(authorization: nil)))
        #expect(!(await authenticator.allows(authorization: "Bearer abc")))
        #expect(!(await authenticator.allows(authorization: "Basic !!!")))
        #expect(authenticator.metrics().first?.samples.first?.value == 5)
        authenticator.replace(nil)
        #expect(await authenticator.allows(authorization: nil), "no users: no credentials needed")
    }

    @Test func bcryptVerificationIsLibxcrypts() {
        #expect(BasicAuthenticator.verify(password: "correct horse battery", hash: Self.hash))
        #expect(!BasicAuthenticator.verify(password: "correct horse batterY", hash: Self.hash))
        #expect(!BasicAuthenticator.verify(password: "x", hash: "$2y$10$short"))
    }

    /// A client that keeps failing is held off (429, Retry-After) before any bcrypt, for the rest
    /// of the window; other clients are not; the window ends.
    @Test func aClientThatKeepsFailingIsHeldOff() async throws {
        final class StepClock: MonotonicClock, @unchecked Sendable {
            var now: Duration = .seconds(1000)
            func elapsed() -> Duration { now }
        }
        let clock = StepClock()
        var config = WebConfig()
        config.basicAuthUsers = ["prometheus": Self.hash]
        let authenticator = BasicAuthenticator(config, clock: clock)
        let good = "Basic " + Base64.encode(Array("prometheus:correct horse battery".utf8))
        let bad = "Basic " + Base64.encode(Array("prometheus:guess".utf8))
        for _ in 0..<BasicAuthenticator.maxFailuresPerClient {
            #expect(await authenticator.check(authorization: bad, client: "192.0.2.7") == .refused)
        }
        clock.now += .seconds(20)
        #expect(await authenticator.check(authorization: good, client: "192.0.2.7") == .tooManyFailures(retryAfter: 40), "even with the right password")
        #expect(await authenticator.check(authorization: good, client: "192.0.2.8") == .allowed, "another client")
        clock.now += .seconds(41)
        #expect(await authenticator.check(authorization: good, client: "192.0.2.7") == .allowed, "the window is over")
        #expect(authenticator.metrics().first?.samples.first?.value == 11)
    }
}
