import Foundation
import Testing

/// A real Prometheus (Debian's `prometheus`) scraping one target every second, on a free
/// loopback port with its own storage: the oracle for what Prometheus accepts, which promtool
/// alone is not (it passes duplicate label names that Prometheus refuses).
final class PrometheusServer {
    let pid: pid_t
    let port: Int
    let directory: URL

    /// `basicAuth`: the scrape's credentials, as Prometheus sends them (`basic_auth`).
    /// `caFile`: scrape over HTTPS, trusting this CA.
    /// `clientCertificate`: the certificate and key Prometheus presents (tls_config).
    init(scraping target: String, job: String = "mastiff", basicAuth: (user: String, password: String)? = nil, caFile: String? = nil,
         clientCertificate: (cert: String, key: String)? = nil) throws {
        directory = try Harness.temporaryDirectory()
        port = try HTTPFixtureServer.freeTCPPort()
        let config = directory.appendingPathComponent("prometheus.yml").path
        try ("""
            global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}
            scrape_configs:
              - job_name: \(job)
                static_configs: [{targets: ["\(target)"]}]
            """ + (basicAuth.map { "\n    basic_auth: {username: \"\($0.user)\", password: \"\($0.password)\"}" } ?? "")
            + (caFile.map { ca in
                "\n    scheme: https\n    tls_config: {ca_file: \"\(ca)\""
                    + (clientCertificate.map { ", cert_file: \"\($0.cert)\", key_file: \"\($0.key)\"" } ?? "") + "}"
            } ?? "") + "\n").write(toFile: config, atomically: true, encoding: .utf8)
        pid = try Harness.spawn(try Harness.which("prometheus"), [
            "--config.file=\(config)", "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
            "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
        ], log: directory.appendingPathComponent("prometheus.log").path)
        for _ in 0..<200 {
            if (try? Harness.run(try Harness.which("curl"), ["-sf", "-o", "/dev/null", "http://127.0.0.1:\(port)/-/ready"]))?.status == 0 { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw HarnessError("Prometheus did not become ready on port \(port):\n\(log)")
    }

    deinit {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        try? FileManager.default.removeItem(at: directory)
    }

    var log: String { (try? String(contentsOfFile: directory.appendingPathComponent("prometheus.log").path, encoding: .utf8)) ?? "" }

    /// GET on the HTTP API, decoded as JSON.
    func api(_ path: String, _ query: [String: String] = [:]) throws -> [String: Any] {
        var components = URLComponents(string: "http://127.0.0.1:\(port)\(path)")!
        // URLComponents leaves "+" as it is, which a server reads as a space ("+Inf").
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "+&=")
        components.percentEncodedQuery = query.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }
            .joined(separator: "&")
        let result = try Harness.run(try Harness.which("curl"), ["-sf", components.url!.absoluteString])
        guard result.status == 0, let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            throw HarnessError("Prometheus API \(path) failed: \(result.stderr)")
        }
        return json
    }

    /// An instant query's samples as (labels, value).
    func query(_ expression: String) throws -> [(labels: [String: String], value: Double)] {
        let json = try api("/api/v1/query", ["query": expression])
        let data = json["data"] as? [String: Any]
        let results = data?["result"] as? [[String: Any]] ?? []
        return results.map { result in
            let value = (result["value"] as? [Any])?.last as? String
            return (result["metric"] as? [String: String] ?? [:], Double(value ?? "") ?? .nan)
        }
    }

    /// The scrape target's health and last error, once it has been scraped.
    func target() throws -> (health: String, lastError: String)? {
        let json = try api("/api/v1/targets")
        let active = ((json["data"] as? [String: Any])?["activeTargets"] as? [[String: Any]]) ?? []
        guard let first = active.first, let health = first["health"] as? String, health != "unknown" else { return nil }
        return (health, first["lastError"] as? String ?? "")
    }
}
