import Foundation
import MastiffTestSupport
import Testing

/// The probes collector against a real HTTP and HTTPS server (a certificate made by openssl for
/// the test, trusted through ca_file): what each probe reports, the certificate's expiry, a
/// redirect followed within the host and not off it, a timeout that does not hold up the sample.
@Suite(.serialized) struct ProbeIntegrationTests {
    @Test func probesReportStatusBodyJSONRedirectsTimeoutsAndCertificateExpiry() async throws {
        let directory = try Harness.temporaryDirectory().path
        let openssl = try Harness.which("openssl")
        let made = try Harness.run(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", directory + "/key.pem",
                                             "-out", directory + "/cert.pem", "-days", "30", "-subj", "/CN=127.0.0.1",
                                             "-addext", "subjectAltName=IP:127.0.0.1"])
        #expect(made.status == 0, "\(made.stderr)")
        let endDate = try Harness.run(openssl, ["x509", "-in", directory + "/cert.pem", "-noout", "-enddate"]).stdout
        let notAfter = try #require(Self.parseOpenSSLDate(endDate))

        let script = Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/probes/probe_server.py"
        let httpPort = try AlertingIntegrationTests.HealthServer.freePort()
        let httpsPort = try AlertingIntegrationTests.HealthServer.freePort()
        let http = try Harness.spawn(try Harness.which("python3"), [script, String(httpPort)], log: directory + "/http.log")
        let https = try Harness.spawn(try Harness.which("python3"), [script, String(httpsPort), directory + "/cert.pem", directory + "/key.pem"],
                                      log: directory + "/https.log")
        defer {
            kill(http, SIGTERM)
            kill(https, SIGTERM)
        }
        try await Task.sleep(for: .seconds(1))
        let base = "http://127.0.0.1:\(httpPort)"
        let config = try Harness.writeConfig(collectors: [
            "timeout": "3s",
            "probes": """
            [{name: web, url: "\(base)/health", body_contains: OK},
                 {name: api, url: "\(base)/api/v2/instance", json_field: configuration.urls.streaming},
                 {name: api_domain, url: "\(base)/api/v2/instance", json_field: domain, json_equals: other.test},
                 {name: tls, url: "https://127.0.0.1:\(httpsPort)/health", ca_file: "\(directory)/cert.pem"},
                 {name: untrusted, url: "https://127.0.0.1:\(httpsPort)/health"},
                 {name: hop, url: "\(base)/hop", body_contains: OK},
                 {name: away, url: "\(base)/away"},
                 {name: missing, url: "\(base)/nothing"},
                 {name: slow, url: "\(base)/slow", timeout: 1s},
                 {name: refused, url: "http://127.0.0.1:1/health"}]
            """,
        ], "statsd: {enabled: false}\n")
        let started = Date()
        let result = try Harness.run(Harness.binary, ["collect", "--once", "--config", config])
        let elapsed = Date().timeIntervalSince(started)
        #expect(result.status == 0, "\(result.stderr)")
        let text = result.stdout
        func value(_ metric: String, _ probe: String) -> Double? { sampleValue(text, "\(metric){probe=\"\(probe)\"}") }
        for (probe, success, status) in [("web", 1.0, 200.0), ("api", 1, 200), ("api_domain", 0, 200), ("tls", 1, 200), ("untrusted", 0, 0),
                                         ("hop", 1, 200), ("away", 0, 302), ("missing", 0, 404), ("slow", 0, 0), ("refused", 0, 0)] {
            #expect(value("probe_success", probe) == success, "\(probe)")
            #expect(value("probe_http_status_code", probe) == status, "\(probe)")
        }
        #expect(value("probe_tls_certificate_expiry_timestamp_seconds", "tls") == notAfter)
        #expect(value("probe_tls_certificate_expiry_timestamp_seconds", "web") == nil, "no certificate over plain HTTP")
        let slow = try #require(value("probe_duration_seconds", "slow"))
        #expect(slow >= 0.9 && slow < 2, "the slow probe stopped at its 1 s timeout, took \(slow)")
        #expect(elapsed < 4, "collect --once took \(elapsed) s")
        #expect(sampleValue(text, #"mastiff_collector_success{collector="probes"}"#) == 1, "failing probes are results, not a failing collector")
        #expect(try Harness.promtoolProblems(text) == "")
        #expect(!((try? String(contentsOfFile: directory + "/http.log", encoding: .utf8)) ?? "").contains("192.0.2.1"))
    }

    /// `notAfter=Jan  2 22:12:22 2027 GMT` in seconds since the epoch.
    static func parseOpenSSLDate(_ line: String) -> Double? {
        let text = line.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "notAfter=", with: "")
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "MMM d HH:mm:ss yyyy zzz"
        return formatter.date(from: text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " "))?.timeIntervalSince1970
    }
}
