import MastiffCore
@testable import MastiffServer
import Testing

/// The status page's HTML from a report: what it says, that nothing from outside can inject
/// markup, and that it needs nothing but itself.
@Suite struct StatusPageTests {
    static let now = 1_800_000_000.0

    static func report() -> StatusReport {
        var report = StatusReport(now: now, version: "1.2.3", instance: "social.example", sampledAt: now - 3)
        report.components = [
            .init(name: "postgres", kind: "collector", ok: true, detail: nil, trend: nil),
            .init(name: "web<script>alert(1)</script>", kind: "probe", ok: false, detail: "status 502 \"Bad Gateway\"", trend: nil),
        ]
        report.alerts = [StatusReport.Alert(name: "MastodonDown", severity: "critical", summary: "web & API <down>", since: now - 300)]
        report.memory = .init(totalBytes: 2 * 1_073_741_824, availableBytes: 734_003_200, swapTotalBytes: 0, swapUsedBytes: 0, pressure: 0.031,
                              availableTrend: StatusReport.Trend(start: now - 86_400, step: 720, values: [nil, 100, 50, nil, nil, 75] + [Double?](repeating: nil, count: 114)),
                              pressureTrend: nil)
        report.queues = [.init(name: "pull", size: 1500, latencySeconds: 4000, latencyTrend: nil)]
        report.postgres = .init(connections: 92, maxConnections: 100, trend: nil)
        // A remote host's name comes from whoever runs that server.
        report.federation = .init(unavailableDomains: 12, failingHosts: 40, worst: [FailingHost(host: "evil<img onerror=alert(1)>.example", days: 6)])
        report.backups = [.init(target: "postgres", lastSuccess: now - 7200, sizeBytes: 1_288_490_189, lastRunSuccessful: false)]
        report.restarts = [.init(time: now - 60, target: "sidekiq", pid: 4242, reason: "memory", result: "restarted")]
        return report
    }

    @Test func showsTheFiguresAndEscapesEverything() {
        let html = StatusPage.render(Self.report())
        #expect(html.hasPrefix("<!doctype html>"))
        #expect(html.contains("1 alert firing; 1 of 2 checks failing"))
        #expect(html.contains("40</span> servers with failed deliveries; 12 domains given up on"))
        #expect(html.contains("evil&lt;img onerror=alert(1)&gt;.example") && !html.contains("<img"))
        #expect(html.contains("<strong>MastodonDown</strong>"))
        #expect(html.contains("web &amp; API &lt;down&gt;"))
        #expect(!html.contains("<script"), "a probe name is text, not markup")
        #expect(html.contains("web&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("status 502 &quot;Bad Gateway&quot;"))
        #expect(html.contains(">700 MiB</span> available of 2.0 GiB (34 %)"))
        #expect(html.contains("pressure 3.1 % (10 s)"))
        #expect(html.contains(">92</span> connections of 100 allowed (92 %)"))
        #expect(html.contains("class=\"bad\" style=\"width:92%\""), "past 80 % the bar turns red")
        #expect(html.contains("<td class=\"num\">1500</td><td class=\"num\">66 min</td>"))
        #expect(html.contains("<time datetime=\"2027-01-15T06:00:00Z\" title=\"2027-01-15T06:00:00Z\">2 h 0 min ago</time>"))
        #expect(html.contains("<td class=\"num\">1.2 GiB</td><td class=\"bad\">failed</td>"))
        #expect(html.contains("pid 4242"))
        #expect(html.contains("<meta http-equiv=\"refresh\" content=\"30\">"))
        #expect(html.contains("name=\"viewport\""))
    }

    /// No script, no stylesheet, image or font from anywhere: the page is one document.
    @Test func needsNoOtherResource() {
        let html = StatusPage.render(Self.report())
        for needle in ["<script", "<link", "src=", "@import", "url(", "http://", "https://"] {
            #expect(!html.contains(needle), "\(needle)")
        }
    }

    /// A gap in the trend breaks the line; a lone point is drawn as a dot; the scale starts at 0.
    @Test func sparklinesBreakAtGaps() {
        let trend = StatusReport.Trend(start: 0, step: 720, values: [nil, 100, 50, nil, nil, 75] + [Double?](repeating: nil, count: 114))
        let svg = StatusPage.sparkline(trend, label: "memory available", unit: .bytes)
        #expect(svg.contains("viewBox=\"0 0 119 24\""))
        #expect(svg.contains("<polyline points=\"1,1.0 2,12.0\"/>"), "100 is the top, 50 half way")
        #expect(svg.contains("<polyline points=\"5,6.5 5,6.5\" class=\"dot\"/>"))
        #expect(svg.contains("peak 100 B"))
        #expect(StatusPage.sparkline(nil, label: "x", unit: .count).contains("–"))
    }

    @Test func beforeTheFirstSampleItSaysSo() {
        let html = StatusPage.render(StatusReport(now: Self.now, version: "1.2.3", instance: nil, sampledAt: nil))
        #expect(html.contains("Waiting for the first sample"))
        #expect(html.contains("<h1>mastiff</h1>"))
    }

    @Test func figuresAreReadable() {
        #expect(StatusPage.bytes(512) == "512 B")
        #expect(StatusPage.bytes(1536) == "1.5 KiB")
        #expect(StatusPage.bytes(734_003_200) == "700 MiB")
        #expect(StatusPage.duration(0.042) == "42 ms")
        #expect(StatusPage.duration(4.26) == "4.3 s")
        #expect(StatusPage.duration(90) == "90 s")
        #expect(StatusPage.duration(3 * 86400 + 7200) == "3 d 2 h")
        #expect(StatusPage.percent(0.0314) == "3.1 %")
        #expect(StatusPage.percent(0.5) == "50 %")
    }
}
