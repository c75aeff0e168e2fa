import Foundation
import MastiffClients
import MastiffCore
import MastiffTestSupport
import Testing

/// exporter-toolkit's web configuration on a running agent (issue 25, basic auth and headers):
/// what curl-like clients and Debian's Prometheus get, and what never reaches the log.
@Suite(.serialized) struct WebConfigIntegrationTests {
    static let password = "correct horse battery"
    /// The password's bcrypt hash at cost 10, as `htpasswd -nBC 10` writes it.
    static var hash: String { get throws { try bcrypt(password) } }

    /// libxcrypt's bcrypt of `password`, with a fixed salt, computed by Python through ctypes
    /// (an implementation independent of mastiff's own call).
    static func bcrypt(_ password: String) throws -> String {
        let script = "import ctypes,sys; lib=ctypes.CDLL('libcrypt.so.1'); lib.crypt.restype=ctypes.c_char_p; "
            + "print(lib.crypt(sys.argv[1].encode(), b'$2y$10$mastiffwebconfigsalt.u').decode())"
        let result = try Harness.run(try Harness.which("python3"), ["-c", script, password])
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func authorization(_ user: String, _ password: String) -> String {
        "Authorization: Basic " + Base64.encode(Array("\(user):\(password)".utf8))
    }

    static func get(_ url: String, headers: [String] = []) async throws -> HTTPResponse {
        try await CurlHTTPClient(timeoutMilliseconds: 10_000).send(HTTPRequest(url: url, headers: headers))
    }

    static func start(webConfig: String) throws -> (RunningMastiff, String) {
        let directory = try Harness.temporaryDirectory()
        let web = directory.appendingPathComponent("web.yml").path
        try webConfig.write(toFile: web, atomically: true, encoding: .utf8)
        let config = try Harness.writeConfig(collectors: [:], "web_config: \(web)\n")
        return (try RunningMastiff(arguments: ["--config", config]), web)
    }

    @Test func everyPathButHealthzNeedsTheCredentialsAndGetsTheHeaders() async throws {
        let (mastiff, _) = try Self.start(webConfig: """
            basic_auth_users:
              prometheus: \(try Self.hash)
            http_server_config:
              headers:
                X-Frame-Options: DENY
                Content-Security-Policy: "default-src 'self'"
                Strict-Transport-Security: max-age=31536000
            """)
        for path in ["/metrics", "/", "/api/v1/status"] {
            let anonymous = try await Self.get(mastiff.baseURL + path)
            #expect(anonymous.status == 401, "\(path)")
            #expect(anonymous.header("WWW-Authenticate")?.hasPrefix("Basic realm=\"mastiff\"") == true)
            #expect(anonymous.text == "unauthorized\n", "no hint of what was wrong")
            let wrongPassword = try await Self.get(mastiff.baseURL + path, headers: [Self.authorization("prometheus", "wrong")])
            #expect(wrongPassword.status == 401 && wrongPassword.text == anonymous.text)
            let unknownUser = try await Self.get(mastiff.baseURL + path, headers: [Self.authorization("nobody", Self.password)])
            #expect(unknownUser.status == 401 && unknownUser.text == anonymous.text)
            let good = try await Self.get(mastiff.baseURL + path, headers: [Self.authorization("prometheus", Self.password)])
            #expect(good.status == 200, "\(path)")
            #expect(good.header("X-Frame-Options") == "DENY")
            #expect(good.header("Content-Security-Policy") == "default-src 'self'")
            #expect(good.header("Strict-Transport-Security") == "max-age=31536000")
        }
        let health = try await Self.get(mastiff.baseURL + "/healthz")
        #expect(health.status == 200, "/healthz stays open for liveness checks")
        let metrics = try await Self.get(mastiff.baseURL + "/metrics", headers: [Self.authorization("prometheus", Self.password)])
        #expect(sampleValue(metrics.text, "mastiff_http_auth_failures_total") == 9)
        #expect(try Harness.promtoolProblems(metrics.text) == "")
        var scan = SecretScan(["the basic auth password": Self.password, "the bcrypt hash": try Self.hash])
        scan.add("mastiff's log", mastiff.log)
        scan.add("/metrics", metrics.text)
        #expect(scan.leaks().isEmpty, "\(scan.leaks())")
    }

    /// A client that keeps guessing is held off with 429 and Retry-After, before any bcrypt, even
    /// when it finally sends the right password; the held-off requests are counted too.
    @Test func aClientThatKeepsGuessingIsHeldOff() async throws {
        let (mastiff, _) = try Self.start(webConfig: "basic_auth_users: {prometheus: \(try Self.hash)}\n")
        for attempt in 0..<10 {
            #expect(try await Self.get(mastiff.baseURL + "/metrics", headers: [Self.authorization("prometheus", "guess \(attempt)")]).status == 401)
        }
        let held = try await Self.get(mastiff.baseURL + "/metrics", headers: [Self.authorization("prometheus", Self.password)])
        #expect(held.status == 429)
        #expect(Int(held.header("Retry-After") ?? "") ?? 0 > 0)
        #expect(try await Self.get(mastiff.baseURL + "/healthz").status == 200, "/healthz needs no credentials")
    }

    /// Debian's Prometheus, with basic_auth in its scrape config, scrapes the agent; without
    /// credentials it sees 401.
    @Test func prometheusScrapesWithBasicAuth() async throws {
        let (mastiff, _) = try Self.start(webConfig: "basic_auth_users: {prometheus: \(try Self.hash)}\n")
        let target = "127.0.0.1:\(mastiff.port)"
        let authenticated = try PrometheusServer(scraping: target, basicAuth: ("prometheus", Self.password))
        let anonymous = try PrometheusServer(scraping: target)
        var up: (Double?, Double?) = (nil, nil)
        for _ in 0..<100 {
            up = (try authenticated.query("up").first?.value, try anonymous.query("up").first?.value)
            if up.0 == 1, up.1 == 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(up.0 == 1, "scraped with credentials")
        #expect(up.1 == 0, "refused without")
        #expect(try anonymous.target()?.lastError.contains("401") == true)
        #expect(try authenticated.query("mastiff_build_info").count == 1)
    }

    /// SIGHUP re-reads the web configuration; a broken one keeps the running one.
    @Test func aReloadChangesTheUsersAndABrokenFileKeepsThem() async throws {
        let (mastiff, web) = try Self.start(webConfig: "basic_auth_users: {prometheus: \(try Self.hash)}\n")
        let other = "another horse battery"
        try "basic_auth_users: {grafana: \(try Self.bcrypt(other))}\n".write(toFile: web, atomically: true, encoding: .utf8)
        mastiff.signal(SIGHUP)
        var grafana = 0
        for _ in 0..<50 {
            grafana = try await Self.get(mastiff.baseURL + "/metrics", headers: [Self.authorization("grafana", other)]).status
            if grafana == 200 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(grafana == 200)
        #expect(try await Self.get(mastiff.baseURL + "/metrics", headers: [Self.authorization("prometheus", Self.password)]).status == 401)
        try "basic_auth_users: {grafana: not-a-hash}\n".write(toFile: web, atomically: true, encoding: .utf8)
        mastiff.signal(SIGHUP)
        try await Task.sleep(for: .milliseconds(500))
        #expect(mastiff.log.contains("configuration reload failed"))
        #expect(mastiff.log.contains("web.yml:1:29: basic_auth_users.grafana: the password of 'grafana' is not a bcrypt hash"), "\(mastiff.log)")
        #expect(try await Self.get(mastiff.baseURL + "/metrics", headers: [Self.authorization("grafana", other)]).status == 200, "the running users stay")
    }

    @Test func aBrokenWebConfigStopsTheStartWithItsPosition() throws {
        let directory = try Harness.temporaryDirectory()
        let web = directory.appendingPathComponent("web.yml").path
        try "tls_server_config:\n  cert_file: /etc/ssl/mastiff.crt\n  key_file: /etc/ssl/mastiff.key\n  client_auth_type: RequestClientCert\n"
            .write(toFile: web, atomically: true, encoding: .utf8)
        let config = try Harness.writeConfig(collectors: [:], "")
        let result = try Harness.run(Harness.binary, ["run", "--config", config, "--web.config.file", web])
        #expect(result.status == 1)
        #expect(result.stderr.contains("web.yml:4:21: tls_server_config.client_auth_type: client_auth_type 'RequestClientCert': a client certificate that is not verified proves nothing"),
                "\(result.stderr)")
        // A certificate that does not load stops the start too, naming the file.
        try "tls_server_config:\n  cert_file: \(directory.path)/missing.crt\n  key_file: \(directory.path)/missing.key\n".write(toFile: web, atomically: true, encoding: .utf8)
        let missing = try Harness.run(Harness.binary, ["run", "--config", config, "--web.config.file", web])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot start: TLS setup from \(directory.path)/missing.crt"), "\(missing.stderr)")
    }
}
