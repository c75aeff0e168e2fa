import Foundation
import MastiffCore
import MastiffTestSupport
import Testing

/// HTTPS from web_config's tls_server_config (issue 25), against clients that are not mastiff's:
/// curl, openssl s_client and Debian's Prometheus, with certificates made by openssl.
@Suite(.serialized) struct TLSIntegrationTests {
    /// A CA, a server certificate for 127.0.0.1, a client certificate the CA signed, and one from
    /// another CA; EC keys (quick to make).
    struct Certificates {
        let directory: String
        var ca: String { directory + "/ca.pem" }
        var serverCert: String { directory + "/server.pem" }
        var serverKey: String { directory + "/server.key" }
        var clientCert: String { directory + "/client.pem" }
        var clientKey: String { directory + "/client.key" }
        var strangerCert: String { directory + "/stranger.pem" }
        var strangerKey: String { directory + "/stranger.key" }

        init() throws {
            directory = try Harness.temporaryDirectory().path
            try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", directory + "/ca.key",
                              "-out", directory + "/ca.pem", "-days", "2", "-subj", "/CN=mastiff test CA"])
            try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", directory + "/other-ca.key",
                              "-out", directory + "/other-ca.pem", "-days", "2", "-subj", "/CN=another CA"])
            try issue("server", subject: "/CN=127.0.0.1", san: "IP:127.0.0.1", ca: "ca", serial: "1001")
            try issue("client", subject: "/CN=prometheus", san: "DNS:prometheus", ca: "ca", serial: "2001")
            try issue("stranger", subject: "/CN=prometheus", san: "DNS:prometheus", ca: "other-ca", serial: "3001")
        }

        /// A key and a certificate `name`.pem signed by `ca`.
        func issue(_ name: String, subject: String, san: String, ca: String, serial: String) throws {
            let extensions = directory + "/\(name).ext"
            try "subjectAltName=\(san)\n".write(toFile: extensions, atomically: true, encoding: .utf8)
            try Self.openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", directory + "/\(name).key",
                              "-out", directory + "/\(name).csr", "-subj", subject])
            try Self.openssl(["x509", "-req", "-in", directory + "/\(name).csr", "-CA", directory + "/\(ca).pem", "-CAkey", directory + "/\(ca).key",
                              "-set_serial", serial, "-days", "2", "-extfile", extensions, "-out", directory + "/\(name).pem"])
        }

        static func openssl(_ arguments: [String]) throws {
            let result = try Harness.run(try Harness.which("openssl"), arguments)
            guard result.status == 0 else { throw HarnessError("openssl \(arguments.joined(separator: " ")): \(result.stderr)") }
        }
    }

    static let password = "correct horse battery"
    static let hash = "$2y$10$mastiffwebconfigsalt.ubkIWbRA3RFS9/ABdCV2OKkwdm2leW46"

    static func start(_ certificates: Certificates, clientAuth: String? = nil) throws -> RunningMastiff {
        let web = certificates.directory + "/web.yml"
        var text = """
            tls_server_config:
              cert_file: \(certificates.serverCert)
              key_file: \(certificates.serverKey)

            """
        if let clientAuth { text += "  client_auth_type: \(clientAuth)\n  client_ca_file: \(certificates.ca)\n" }
        text += "basic_auth_users: {prometheus: \"\(hash)\"}\n"
        try text.write(toFile: web, atomically: true, encoding: .utf8)
        let config = try Harness.writeConfig(collectors: [:], "web_config: \(web)\n")
        return try RunningMastiff(arguments: ["--config", config])
    }

    /// curl's exit status and the HTTP status it printed ("000" when there was no answer).
    static func curl(_ mastiff: RunningMastiff, _ extra: [String], path: String = "/metrics") throws -> (exit: Int32, status: String) {
        let result = try Harness.run(try Harness.which("curl"), ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10"] + extra
            + ["https://127.0.0.1:\(mastiff.port)\(path)"])
        return (result.status, result.stdout)
    }

    @Test func httpsWithBasicAuthAndOnlyModernTLS() async throws {
        let certificates = try Certificates()
        let mastiff = try Self.start(certificates)
        #expect(try Self.curl(mastiff, ["--cacert", certificates.ca, "-u", "prometheus:\(Self.password)"]) == (0, "200"))
        #expect(try Self.curl(mastiff, ["--cacert", certificates.ca]).status == "401")
        #expect(try Self.curl(mastiff, ["--cacert", certificates.ca, "-u", "prometheus:wrong"]).status == "401")
        #expect(try Self.curl(mastiff, ["--cacert", certificates.ca], path: "/healthz").status == "200")
        // TLS 1.1 and below are refused (min_version defaults to TLS12, as exporter-toolkit's).
        #expect(try Self.curl(mastiff, ["--cacert", certificates.ca, "--tlsv1.1", "--tls-max", "1.1", "-u", "prometheus:\(Self.password)"]).status == "000")
        // Plain HTTP on the TLS port gets no page.
        let plain = try Harness.run(try Harness.which("curl"), ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                                                              "http://127.0.0.1:\(mastiff.port)/metrics"])
        #expect(plain.stdout != "200")
    }

    @Test func clientCertificatesAreVerified() async throws {
        let certificates = try Certificates()
        let mastiff = try Self.start(certificates, clientAuth: "RequireAndVerifyClientCert")
        let auth = ["--cacert", certificates.ca, "-u", "prometheus:\(Self.password)"]
        #expect(try Self.curl(mastiff, auth + ["--cert", certificates.clientCert, "--key", certificates.clientKey]) == (0, "200"))
        #expect(try Self.curl(mastiff, auth).status == "000", "no client certificate")
        #expect(try Self.curl(mastiff, auth + ["--cert", certificates.strangerCert, "--key", certificates.strangerKey]).status == "000",
                "a certificate from another CA")
    }

    @Test func prometheusScrapesOverTLSWithBasicAuth() async throws {
        let certificates = try Certificates()
        let mastiff = try Self.start(certificates)
        let prometheus = try PrometheusServer(scraping: "127.0.0.1:\(mastiff.port)", basicAuth: ("prometheus", Self.password), caFile: certificates.ca)
        var up: Double?
        for _ in 0..<100 {
            up = try prometheus.query("up").first?.value
            if up == 1 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let target = try prometheus.target()
        #expect(up == 1, "\(target as Any)")
        #expect(try prometheus.query("mastiff_build_info").count == 1)
    }

    /// Prometheus presenting a client certificate the CA signed scrapes an agent that requires
    /// one; without it, the scrape fails.
    @Test func prometheusScrapesWithAClientCertificate() async throws {
        let certificates = try Certificates()
        let mastiff = try Self.start(certificates, clientAuth: "RequireAndVerifyClientCert")
        let target = "127.0.0.1:\(mastiff.port)"
        let withCertificate = try PrometheusServer(scraping: target, basicAuth: ("prometheus", Self.password), caFile: certificates.ca,
                                                   clientCertificate: (certificates.clientCert, certificates.clientKey))
        let without = try PrometheusServer(scraping: target, basicAuth: ("prometheus", Self.password), caFile: certificates.ca)
        var up: (Double?, Double?) = (nil, nil)
        for _ in 0..<100 {
            up = (try withCertificate.query("up").first?.value, try without.query("up").first?.value)
            if up.0 == 1, up.1 == 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(up.0 == 1 && up.1 == 0, "\(up)")
    }

    /// A renewed certificate (certbot replaces the files) is served on the next connection,
    /// without a restart.
    @Test func aReplacedCertificateIsServedOnTheNextConnection() async throws {
        let certificates = try Certificates()
        let mastiff = try Self.start(certificates)
        func servedSerial() throws -> String {
            let handshake = try Harness.run(try Harness.which("openssl"), ["s_client", "-connect", "127.0.0.1:\(mastiff.port)", "-CAfile", certificates.ca],
                                           input: "")
            let pem = handshake.stdout.components(separatedBy: "-----BEGIN CERTIFICATE-----").dropFirst().first.map {
                "-----BEGIN CERTIFICATE-----" + $0.components(separatedBy: "-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
            } ?? ""
            return try Harness.run(try Harness.which("openssl"), ["x509", "-noout", "-serial"], input: pem).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try servedSerial() == "serial=03E9")
        try certificates.issue("server", subject: "/CN=127.0.0.1", san: "IP:127.0.0.1", ca: "ca", serial: "1002")
        #expect(try servedSerial() == "serial=03EA")
        #expect(try Self.curl(mastiff, ["--cacert", certificates.ca, "-u", "prometheus:\(Self.password)"]) == (0, "200"))
        #expect(mastiff.log.contains("TLS certificate files changed: new connections use them"))
    }

    /// Headless Chromium loads the status page over HTTPS, trusting exactly the server's key
    /// (its SPKI hash), with the security headers set; without that trust it gets no page.
    @Test func chromiumLoadsTheStatusPageOverTLS() async throws {
        let chromium: String
        do { chromium = try Harness.which("chromium") } catch { Issue.record("\(error)"); return }
        let certificates = try Certificates()
        let web = certificates.directory + "/web.yml"
        try """
            tls_server_config: {cert_file: \(certificates.serverCert), key_file: \(certificates.serverKey)}
            http_server_config:
              headers:
                Content-Security-Policy: "default-src 'self'; style-src 'unsafe-inline'"
                X-Frame-Options: DENY
                X-Content-Type-Options: nosniff
            """.write(toFile: web, atomically: true, encoding: .utf8)
        let config = try Harness.writeConfig(collectors: [:], "web_config: \(web)\n")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        let spki = try Harness.run("/bin/sh", ["-c", "openssl x509 -in '\(certificates.serverCert)' -pubkey -noout | openssl pkey -pubin -outform der"
            + " | openssl dgst -sha256 -binary | base64"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let url = "https://127.0.0.1:\(mastiff.port)/"
        let trusted = try Harness.run("/usr/bin/timeout", ["60", chromium] + StatusPageTests.chromiumFlags
            + ["--ignore-certificate-errors-spki-list=\(spki)", "--window-size=1280,844", "--dump-dom", url])
        #expect(trusted.stdout.contains("id=\"headline\""), "\(trusted.stderr.suffix(1500))")
        let untrusted = try Harness.run("/usr/bin/timeout", ["60", chromium] + StatusPageTests.chromiumFlags + ["--window-size=1280,844", "--dump-dom", url])
        #expect(!untrusted.stdout.contains("id=\"headline\""), "an untrusted certificate must not show the page")
        let page = try Harness.run(try Harness.which("curl"), ["-s", "-D", "-", "-o", "/dev/null", "--cacert", certificates.ca, url])
        let headers = page.stdout.lowercased()
        #expect(headers.contains("content-security-policy: default-src 'self'; style-src 'unsafe-inline'"), "\(page.stdout)")
        #expect(headers.contains("x-frame-options: deny") && headers.contains("x-content-type-options: nosniff"), "\(page.stdout)")
    }
}
