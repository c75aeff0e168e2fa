import Foundation
import MastiffClients
import MastiffTestSupport
import Testing

/// The status page of a mastiff watching the real PostgreSQL (over TCP, with a password), Redis
/// with Sidekiq's queues, a probed web server and a dead one, with a backup made to moto: the
/// figures an admin looks for are on it and agree with /api/v1/status and the host; no secret
/// of the configuration appears in either; Debian's headless Chromium renders it (screenshots
/// kept in test-artifacts/) and, at a phone's 390 px, nothing is wider than the screen.
@Suite(.serialized) struct StatusPageTests {
    static let artifacts = Harness.packageRoot + "/test-artifacts"

    @Test func statusPageShowsTheHostAndKeepsSecrets() async throws {
        let redisPort = try Harness.environment("MASTIFF_TEST_REDIS_PORT")
        let now = Date().timeIntervalSince1970
        for command in [["-n", "11", "FLUSHDB"], ["-n", "11", "SADD", "queues", "default", "push"],
                        ["-n", "11", "LPUSH", "queue:default", "{\"class\":\"ActivityPub::DeliveryWorker\",\"args\":[],\"queue\":\"default\",\"jid\":\"s1\",\"created_at\":\(now - 30),\"enqueued_at\":\(now - 30)}"]] {
            _ = try Harness.run("/usr/bin/redis-cli", ["-p", redisPort] + command)
        }
        _ = try BackupIntegrationTests.database("status_page", "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
        let www = try Harness.temporaryDirectory()
        try "OK".write(to: www.appendingPathComponent("health"), atomically: true, encoding: .utf8)
        let web = try HTTPFixtureServer(directory: www.path)
        let pgPassword = try Harness.environment("MASTIFF_TEST_PG_PASSWORD")
        let s3Secret = try Harness.environment("MASTIFF_TEST_S3_SECRET_KEY")
        let hookToken = "hook-token-\(UUID().uuidString.prefix(8))"
        let bearer = "bearer-\(UUID().uuidString.prefix(8))"
        let urlPassword = "url-pass-\(UUID().uuidString.prefix(8))"
        let config = try Harness.writeConfig(collectors: [
            "processes": "{enabled: true}",
            "postgres": "{dsn: \"\(try Harness.environment("MASTIFF_TEST_PG_TCP_DSN")) password=\(pgPassword)\"}",
            "redis": "{url: \"redis://127.0.0.1:\(redisPort)/11\"}",
            "sidekiq": "{redis_url: \"redis://127.0.0.1:\(redisPort)/11\"}",
            "probes": "[{name: web, url: \"http://127.0.0.1:\(web.port)/health\", body_contains: OK, timeout: 1s}, {name: streaming, url: \"http://127.0.0.1:9/api/v1/streaming/health\", timeout: 1s}]",
        ], """
            sampling: {interval: 1s}
            statsd: {enabled: false}
            instance: {url: "https://admin:\(urlPassword)@127.0.0.1:9/"}
            alerts:
              receivers:
                - {name: hook, webhook: {url: "http://127.0.0.1:9/hooks/\(hookToken)", bearer_token: "\(bearer)"}}

            """
            + (try BackupAgentTests.backupsSection(prefix: "status-\(UUID().uuidString.prefix(8))/", schedule: "@yearly", database: "status_page"))
            + "jobs:\n  - {name: media-cleanup, schedule: \"@yearly\", command: [/bin/true]}\n")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        defer { withExtendedLifetime(web) {} }
        let backup = try Harness.run(Harness.binary, ["backup", "run", "--config", config])
        #expect(backup.status == 0, "\(backup.stdout)\(backup.stderr)")
        _ = try await mastiff.metrics(sampledAfter: Date().addingTimeInterval(1))

        let client = CurlHTTPClient(timeoutMilliseconds: 10_000)
        let page = try await client.get(mastiff.baseURL + "/")
        #expect(page.status == 200)
        #expect(page.headers.first { $0.name == "content-type" }?.value == "text/html; charset=utf-8")
        let html = page.text
        let statusResponse = try await client.get(mastiff.baseURL + "/api/v1/status")
        let status = try #require(try JSONSerialization.jsonObject(with: Data(statusResponse.body)) as? [String: Any])

        // The dead probe is the one failing check, and the headline says so.
        #expect(html.contains("1 of "), "\(html.prefix(2000))")
        #expect(html.contains("checks failing"))
        #expect(status["healthy"] as? Bool == false)
        // Memory available agrees with the kernel's within 10 %.
        let meminfo = try String(contentsOfFile: "/proc/meminfo", encoding: .utf8)
        let availableKiB = try #require(meminfo.split(separator: "\n").first { $0.hasPrefix("MemAvailable:") }
            .flatMap { Double($0.split(separator: " ")[1]) })
        let shown = try #require(Self.figure(html, id: "mem-available"))
        #expect(abs(shown - availableKiB * 1024) / (availableKiB * 1024) < 0.1, "page \(shown), kernel \(availableKiB * 1024)")
        // Connections: the figure the page shows is the JSON's, and the limit is PostgreSQL's.
        let postgres = try #require(status["postgres"] as? [String: Any])
        let connections = try #require(postgres["connections"] as? Double)
        #expect(connections >= 1)
        #expect(Self.figure(html, id: "pg-connections") == connections)
        let maxConnections = try Harness.psql(["-c", "SHOW max_connections"])
        #expect(html.contains("connections of \(maxConnections) allowed"))
        // The Sidekiq queue with its half-minute latency, the backup just made, the job not run yet.
        let queues = try #require(status["sidekiq_queues"] as? [[String: Any]])
        #expect(queues.first?["queue"] as? String == "default")
        #expect((queues.first?["latency_seconds"] as? Double ?? 0) >= 25)
        #expect(html.contains("<tr><td>default</td><td class=\"num\">1</td>"))
        let backups = try #require(status["backups"] as? [[String: Any]])
        #expect(backups.first?["target"] as? String == "postgres")
        #expect((backups.first?["size_bytes"] as? Double ?? 0) > 0)
        #expect(html.contains("<tr><td>postgres</td><td><time"))
        #expect(html.contains("<tr><td>media-cleanup</td><td>never</td>"))
        // Process groups by PSS, with postgres among them.
        #expect(html.contains("Process group"))
        #expect((status["process_groups"] as? [[String: Any]])?.contains { $0["group"] as? String == "postgres" } == true)
        #expect(html.contains("<svg class=\"spark\""), "the probes' response time has points already")

        let json = statusResponse.text
        for secret in [pgPassword, s3Secret, hookToken, bearer, urlPassword] {
            #expect(!html.contains(secret), "a secret is on the page")
            #expect(!json.contains(secret), "a secret is in /api/v1/status")
        }

        // Chromium: the page as a browser shows it. Headless Chromium will not make a window
        // narrower than 500 px, so the phone's 390 px come from an iframe of that width holding
        // the page's own HTML (srcdoc: same origin, so the test's script can measure inside it;
        // the page itself has no script).
        let chromium = try Harness.which("chromium")
        try FileManager.default.createDirectory(atPath: Self.artifacts, withIntermediateDirectories: true)
        let directory = try Harness.temporaryDirectory()
        let phone = directory.appendingPathComponent("phone.html")
        try Self.phoneFrame(html, height: 1800, measuring: false).write(to: phone, atomically: true, encoding: .utf8)
        for (name, size, url) in [("phone", "390,1800", phone.absoluteString), ("desktop", "1280,1400", mastiff.baseURL + "/")] {
            let file = Self.artifacts + "/status-page-\(name).png"
            try? FileManager.default.removeItem(atPath: file)
            let shot = try Harness.run("/usr/bin/timeout", ["60", chromium] + Self.chromiumFlags + ["--window-size=\(size)", "--screenshot=\(file)", url])
            #expect(shot.status == 0, "\(shot.stderr.suffix(2000))")
            let png = try Data(contentsOf: URL(fileURLWithPath: file))
            #expect(png.count > 10_000, "a blank page would be smaller")
            // IHDR: width at bytes 16…19, big-endian.
            #expect(png.count > 24 && png[16..<20].reduce(0) { $0 << 8 | Int($1) } == Int(size.split(separator: ",")[0])!)
        }
        let rendered = try Harness.run("/usr/bin/timeout", ["60", chromium] + Self.chromiumFlags + ["--window-size=1280,844", "--dump-dom", mastiff.baseURL + "/"])
        #expect(rendered.stdout.contains("id=\"headline\""))
        #expect(rendered.stdout.contains("checks failing"))

        // At 390 px nothing is wider than the screen: no horizontal scrolling, no element past
        // the right edge.
        let measuring = directory.appendingPathComponent("measure.html")
        try Self.phoneFrame(html, height: 844, measuring: true).write(to: measuring, atomically: true, encoding: .utf8)
        let measured = try Harness.run("/usr/bin/timeout", ["60", chromium] + Self.chromiumFlags + ["--window-size=390,844", "--virtual-time-budget=3000", "--dump-dom", measuring.absoluteString])
        let line = try #require(measured.stdout.split(separator: "\n").first { $0.contains("scroll=") }.map(String.init), "\(measured.stdout.suffix(500))")
        let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        #expect(numbers.count >= 2 && numbers[1] == 390, "the frame is a phone's width: \(line)")
        #expect(numbers.count >= 2 && numbers[0] <= numbers[1], "wider than a phone: \(line)")
        #expect(line.contains("wide=</pre>"), "elements past the right edge: \(line)")
        withExtendedLifetime(mastiff) {}
    }

    static let chromiumFlags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-extensions",
                                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--metrics-recording-only",
                                "--user-data-dir=" + NSTemporaryDirectory() + "mastiff-chromium-\(getpid())"]

    /// A page holding `html` in a 390 px iframe; with `measuring`, a script writes the frame's
    /// scroll width, its viewport width and the first elements past its right edge into
    /// `<pre id="measured">`.
    static func phoneFrame(_ html: String, height: Int, measuring: Bool) -> String {
        let escaped = html.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
        var page = "<!doctype html><html><body style=\"margin:0\"><iframe id=\"frame\" style=\"width:390px;height:\(height)px;border:0;display:block\" srcdoc=\"\(escaped)\"></iframe>"
        if measuring {
            page += """
                <pre id="measured"></pre><script>addEventListener("load", () => {
                  const doc = document.getElementById("frame").contentDocument, view = doc.defaultView;
                  const wide = [...doc.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > view.innerWidth + 1)
                    .map(e => e.tagName + "." + (e.className.baseVal ?? e.className)).slice(0, 5);
                  document.getElementById("measured").textContent = "scroll=" + doc.documentElement.scrollWidth + " inner=" + view.innerWidth + " wide=" + wide.join(",");
                })</script>
                """
        }
        return page + "</body></html>"
    }

    /// The number of `<span … id="ID">1.5 GiB</span>` in bytes (or as is, without a unit).
    static func figure(_ html: String, id: String) -> Double? {
        guard let start = html.range(of: "id=\"\(id)\">"), let end = html[start.upperBound...].range(of: "</span>") else { return nil }
        let parts = html[start.upperBound..<end.lowerBound].split(separator: " ")
        guard let number = parts.first.flatMap({ Double($0) }) else { return nil }
        let units = ["B": 1.0, "KiB": 1024, "MiB": 1_048_576, "GiB": 1_073_741_824, "TiB": 1_099_511_627_776]
        return number * (parts.count > 1 ? units[String(parts[1])] ?? 1 : 1)
    }
}
