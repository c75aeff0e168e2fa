import MastiffCore
@testable import MastiffServer
import Testing

/// exporter-toolkit's web configuration, parsed strictly, and the basic auth check over
/// libxcrypt's bcrypt.
@Suite struct WebConfigTests {
    /// libxcrypt's bcrypt of "correct horse battery" (cost 10, htpasswd -nBC 10's format).
    static let hash = "$2y$10$mastiffwebconfigsalt.ubkIWbRA3RFS9/ABdCV2OKkwdm2leW46"

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
        ("tls_server_config: {cert_file: a.crt}\n", "web.yml:1:20: tls_server_config: TLS is not served by this version of mastiff"),
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
}
