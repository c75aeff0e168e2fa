import MastiffCore

/// The status page at `/`: one HTML document with inline CSS and SVG sparklines, no script and
/// no external asset, so it reads the same from a phone on the admin's couch, a text browser
/// or a `curl`. It refreshes itself every 30 s. Everything it shows comes from a
/// `StatusReport` (the JSON at `/api/v1/status` is the same report), and every text from
/// outside (names, collector messages, alert summaries) is escaped.
public enum StatusPage {
    public static let refreshSeconds = 30

    public static func render(_ report: StatusReport) -> String {
        var html = ""
        html.reserveCapacity(24 * 1024)
        let title = report.instance.map { "\(escape($0)) · mastiff" } ?? "mastiff"
        let down = report.components.filter { !$0.ok }
        let headline: String
        if report.sampledAt == nil {
            headline = "Waiting for the first sample"
        } else if report.healthy {
            headline = "All \(report.components.count) checks answer; no alert is firing"
        } else {
            var parts: [String] = []
            if !report.alerts.isEmpty { parts.append(count(report.alerts.count, "alert", "alerts") + " firing") }
            if !down.isEmpty { parts.append("\(down.count) of \(report.components.count) checks failing") }
            headline = parts.joined(separator: "; ")
        }
        html += """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta http-equiv="refresh" content="\(refreshSeconds)">
            <title>\(report.healthy ? "" : "⚠ ")\(title)</title>
            <style>\(css)</style></head>
            <body><header><h1>\(report.instance.map(escape) ?? "mastiff")</h1>
            <p class="headline \(report.sampledAt == nil ? "" : report.healthy ? "ok" : "bad")" id="headline">\(escape(headline))</p>
            <p class="meta">mastiff \(escape(report.version))
            """
        if let sampled = report.sampledAt { html += " · sampled \(time(sampled, now: report.now))" }
        html += " · <a href=\"/api/v1/status\">JSON</a> · <a href=\"/metrics\">metrics</a></p></header>\n<main>\n"

        // Firing alerts first: what needs the admin now.
        html += "<section id=\"alerts\"><h2>Firing alerts</h2>"
        if report.alerts.isEmpty {
            html += "<p class=\"quiet\">None.</p>"
        } else {
            html += "<ul class=\"alerts\">"
            for alert in report.alerts {
                html += "<li class=\"\(alert.severity == "critical" ? "critical" : "warning")\"><strong>\(escape(alert.name))</strong>"
                if !alert.severity.isEmpty { html += " <span class=\"tag\">\(escape(alert.severity))</span>" }
                html += " <span class=\"age\">since \(time(alert.since, now: report.now))</span>"
                if !alert.summary.isEmpty { html += "<br>\(escape(alert.summary))" }
                html += "</li>"
            }
            html += "</ul>"
        }
        html += "</section>\n"

        html += "<section id=\"health\"><h2>Health</h2>"
        if report.components.isEmpty {
            html += "<p class=\"quiet\">No sample yet.</p>"
        } else {
            html += "<table><thead><tr><th>Check</th><th>State</th><th class=\"trend\">24 h</th></tr></thead><tbody>"
            for component in report.components {
                html += "<tr><td>\(escape(component.name)) <span class=\"kind\">\(component.kind)</span>"
                if let detail = component.detail { html += "<div class=\"detail\">\(escape(detail))</div>" }
                html += "</td><td class=\"\(component.ok ? "ok" : "bad")\">\(component.ok ? "up" : "down")</td>"
                // Collectors have no trend of their own; their sources' figures are below.
                html += "<td class=\"trend\">\(component.kind == "probe" ? sparkline(component.trend, label: "response time of \(component.name)", unit: .seconds) : "")</td></tr>"
            }
            html += "</tbody></table>"
        }
        html += "</section>\n"

        if let memory = report.memory {
            let share = memory.totalBytes > 0 ? memory.availableBytes / memory.totalBytes : 0
            html += "<section id=\"memory\"><h2>Memory</h2><p><span class=\"figure \(share < 0.1 ? "bad" : "")\" id=\"mem-available\">\(bytes(memory.availableBytes))</span> available of \(bytes(memory.totalBytes)) (\(percent(share)))"
            html += memory.swapTotalBytes > 0 ? " · swap \(bytes(memory.swapUsedBytes)) used of \(bytes(memory.swapTotalBytes))" : " · no swap"
            if let pressure = memory.pressure { html += " · pressure \(percent(pressure)) (10 s)" }
            html += "</p>"
            html += "<div class=\"wide\">\(sparkline(memory.availableTrend, label: "memory available", unit: .bytes))</div>"
            if !report.groups.isEmpty {
                html += "<table><thead><tr><th>Process group</th><th class=\"num\">PSS</th><th class=\"trend\">24 h</th></tr></thead><tbody>"
                for group in report.groups {
                    html += "<tr><td>\(escape(group.name)) <span class=\"kind\">\(count(group.processes, "process", "processes"))</span></td>"
                    html += "<td class=\"num\">\(bytes(group.proportionalBytes))</td><td class=\"trend\">\(sparkline(group.trend, label: "memory of \(group.name)", unit: .bytes))</td></tr>"
                }
                html += "</tbody></table>"
            }
            html += "</section>\n"
        }

        if !report.queues.isEmpty {
            html += "<section id=\"queues\"><h2>Sidekiq queues</h2><table><thead><tr><th>Queue</th><th class=\"num\">Jobs</th><th class=\"num\">Latency</th><th class=\"trend\">24 h</th></tr></thead><tbody>"
            for queue in report.queues {
                html += "<tr><td>\(escape(queue.name))</td><td class=\"num\">\(integer(queue.size))</td><td class=\"num\">\(duration(queue.latencySeconds))</td>"
                html += "<td class=\"trend\">\(sparkline(queue.latencyTrend, label: "latency of \(queue.name)", unit: .seconds))</td></tr>"
            }
            html += "</tbody></table></section>\n"
        }

        if let federation = report.federation {
            html += "<section id=\"federation\"><h2>Federation</h2><p><span class=\"figure\">\(integer(federation.failingHosts))</span> servers with failed deliveries"
            if let unavailable = federation.unavailableDomains { html += "; \(integer(unavailable)) domains given up on (7 days of failures)" }
            html += "</p>"
            if !federation.worst.isEmpty {
                html += "<table><thead><tr><th>Failing longest</th><th class=\"num\">Days</th></tr></thead><tbody>"
                for host in federation.worst {
                    html += "<tr><td>\(escape(host.host))</td><td class=\"num\">\(host.days)</td></tr>"
                }
                html += "</tbody></table>"
            }
            html += "</section>\n"
        }

        if let postgres = report.postgres {
            html += "<section id=\"postgres\"><h2>PostgreSQL</h2><p><span class=\"figure\" id=\"pg-connections\">\(integer(postgres.connections))</span> connections"
            if let maximum = postgres.maxConnections, maximum > 0 {
                let share = postgres.connections / maximum
                html += " of \(integer(maximum)) allowed (\(percent(share)))"
                html += "<span class=\"bar\"><span class=\"\(share > 0.8 ? "bad" : "")\" style=\"width:\(Int(min(1, share) * 100))%\"></span></span>"
            }
            html += "</p><div class=\"wide\">\(sparkline(postgres.trend, label: "PostgreSQL connections", unit: .count))</div></section>\n"
        }

        if !report.backups.isEmpty {
            html += "<section id=\"backups\"><h2>Backups</h2><table><thead><tr><th>Target</th><th>Last good</th><th class=\"num\">Size</th><th>Last run</th></tr></thead><tbody>"
            for backup in report.backups {
                html += "<tr><td>\(escape(backup.target))</td><td>\(backup.lastSuccess.map { time($0, now: report.now) } ?? "never")</td>"
                html += "<td class=\"num\">\(backup.sizeBytes.map(bytes) ?? "–")</td><td class=\"\(outcomeClass(backup.lastRunSuccessful))\">\(outcome(backup.lastRunSuccessful))</td></tr>"
            }
            html += "</tbody></table></section>\n"
        }

        if !report.jobs.isEmpty {
            html += "<section id=\"jobs\"><h2>Jobs</h2><table><thead><tr><th>Job</th><th>Last good</th><th class=\"num\">Took</th><th>Last run</th></tr></thead><tbody>"
            for job in report.jobs {
                html += "<tr><td>\(escape(job.name))</td><td>\(job.lastSuccess.map { time($0, now: report.now) } ?? "never")</td>"
                html += "<td class=\"num\">\(job.durationSeconds.map(duration) ?? "–")</td><td class=\"\(outcomeClass(job.lastRunSuccessful))\">\(outcome(job.lastRunSuccessful))</td></tr>"
            }
            html += "</tbody></table></section>\n"
        }

        html += "<section id=\"restarts\"><h2>Recent restarts</h2>"
        if report.restarts.isEmpty {
            html += "<p class=\"quiet\">None.</p>"
        } else {
            html += "<table><thead><tr><th>When</th><th>Target</th><th>Why</th><th>Result</th></tr></thead><tbody>"
            for restart in report.restarts {
                html += "<tr><td>\(time(restart.time, now: report.now))</td><td>\(escape(restart.target)) <span class=\"kind\">pid \(restart.pid)</span></td>"
                html += "<td>\(escape(restart.reason))</td><td class=\"\(restart.result == "failed" ? "bad" : "")\">\(escape(restart.result))</td></tr>"
            }
            html += "</tbody></table>"
        }
        html += "</section>\n</main></body></html>\n"
        return html
    }

    // MARK: Sparklines

    enum Unit { case bytes, seconds, count }

    /// An inline SVG polyline of the trend, scaled from 0 to its largest value (so a flat line
    /// at the bottom means "nothing", not "the same as before"); a gap where nothing was
    /// recorded breaks the line. Coordinates are integers in tenths, written without Double
    /// formatting: the page's render time is mostly these.
    static func sparkline(_ trend: StatusReport.Trend?, label: String, unit: Unit) -> String {
        guard let trend, !trend.isEmpty else { return "<span class=\"quiet\">–</span>" }
        let largest = trend.values.reduce(0.0) { max($0, $1 ?? 0) }
        let width = trend.values.count - 1
        var lines: [String] = []
        var current = ""
        for (index, value) in trend.values.enumerated() {
            guard let value else {
                if !current.isEmpty { lines.append(current); current = "" }
                continue
            }
            let tenths = largest > 0 ? Int(((1 - value / largest) * 220).rounded()) + 10 : 230
            if !current.isEmpty { current += " " }
            current += "\(index),\(tenths / 10).\(tenths % 10)"
        }
        if !current.isEmpty { lines.append(current) }
        let peak = unit == .bytes ? bytes(largest) : unit == .seconds ? duration(largest) : integer(largest)
        var svg = "<svg class=\"spark\" viewBox=\"0 0 \(width) 24\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"\(escape(label)) over 24 h, peak \(peak)\"><title>\(escape(label)): peak \(peak) in 24 h</title>"
        for line in lines {
            // A lone point draws nothing as a polyline; a short dash shows it.
            svg += line.contains(" ") ? "<polyline points=\"\(line)\"/>" : "<polyline points=\"\(line) \(line)\" class=\"dot\"/>"
        }
        return svg + "</svg>"
    }

    // MARK: Formatting

    static func escape(_ text: String) -> String { XMLText.escape(text) }

    static func count(_ n: Int, _ one: String, _ many: String) -> String { "\(n) \(n == 1 ? one : many)" }

    static func integer(_ value: Double) -> String { value.isFinite ? String(Int(value.rounded())) : "–" }

    static func percent(_ ratio: Double) -> String {
        guard ratio.isFinite else { return "–" }
        let tenths = Int((ratio * 1000).rounded())
        return tenths < 100 ? "\(tenths / 10).\(tenths % 10) %" : "\(tenths / 10) %"
    }

    static func bytes(_ value: Double) -> String { ByteSize.approximate(value) }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "–" }
        if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
        if seconds < 10 { let tenths = Int((seconds * 10).rounded()); return "\(tenths / 10).\(tenths % 10) s" }
        let total = Int(seconds.rounded())
        if total < 120 { return "\(total) s" }
        if total < 7200 { return "\(total / 60) min" }
        if total < 172_800 { return "\(total / 3600) h \(total % 3600 / 60) min" }
        return "\(total / 86400) d \(total % 86400 / 3600) h"
    }

    /// "3 min ago", with the UTC time as a tooltip and in the `datetime` attribute.
    static func time(_ seconds: Double, now: Double) -> String {
        let stamp = CalendarTime.utc(seconds).rfc3339
        let age = now - seconds
        let text = age < 0 ? "in \(duration(-age))" : age < 1 ? "just now" : "\(duration(age)) ago"
        return "<time datetime=\"\(stamp)\" title=\"\(stamp)\">\(text)</time>"
    }

    static func outcomeClass(_ successful: Bool?) -> String { successful.map { $0 ? "ok" : "bad" } ?? "quiet" }

    static func outcome(_ successful: Bool?) -> String {
        switch successful {
        case true?: return "ok"
        case false?: return "failed"
        case nil: return "not run yet"
        }
    }

    /// Phone first: one column, tables that fit 320 px (names wrap, the sparkline column
    /// shrinks), light and dark schemes from the system's preference.
    static let css = """
        :root{color-scheme:light dark;--fg:#1b1f24;--muted:#5b6570;--line:#d6dbe0;--ok:#1a7f37;--bad:#c62828;--warn:#9a6700;--spark:#3b6fd8;--bg:#fff}\
        @media (prefers-color-scheme:dark){:root{--fg:#e6e8eb;--muted:#9aa4ae;--line:#39414a;--ok:#4ac26b;--bad:#ff6b6b;--warn:#e3b341;--spark:#79a6ff;--bg:#15181c}}\
        *{box-sizing:border-box}body{margin:0 auto;max-width:60rem;padding:.75rem;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg);overflow-wrap:anywhere}\
        h1{font-size:1.35rem;margin:.2rem 0}h2{font-size:1.05rem;margin:1.4rem 0 .4rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}\
        a{color:var(--spark)}.meta,.quiet,.kind,.age,.detail{color:var(--muted)}.kind,.age,.detail,.meta{font-size:.85em}\
        .headline{font-weight:600;margin:.2rem 0;padding:.4rem .6rem;border-radius:.4rem;border:1px solid var(--line)}\
        .headline.ok{color:var(--ok);border-color:var(--ok)}.headline.bad{color:var(--bad);border-color:var(--bad)}\
        .ok{color:var(--ok)}.bad{color:var(--bad)}.figure{font-size:1.3em;font-weight:600}\
        table{width:100%;border-collapse:collapse;table-layout:fixed}th,td{text-align:left;padding:.3rem .3rem;border-bottom:1px solid var(--line);vertical-align:top}\
        th{font-size:.8em;color:var(--muted);font-weight:600}.num{text-align:right;width:5.5rem}.trend{width:32%}\
        .spark{display:block;width:100%;height:1.6rem;fill:none;stroke:var(--spark);stroke-width:1.5;vector-effect:non-scaling-stroke}\
        .spark polyline{vector-effect:non-scaling-stroke}.spark .dot{stroke-width:3;stroke-linecap:round}.wide .spark{height:2.4rem}\
        .alerts{list-style:none;padding:0;margin:0}.alerts li{padding:.45rem .6rem;margin:.3rem 0;border-left:4px solid var(--warn);background:color-mix(in srgb,var(--warn) 8%,transparent)}\
        .alerts li.critical{border-color:var(--bad);background:color-mix(in srgb,var(--bad) 8%,transparent)}.tag{font-size:.8em;border:1px solid currentColor;border-radius:.3rem;padding:0 .3rem}\
        .bar{display:block;height:.4rem;background:var(--line);border-radius:.2rem;margin:.3rem 0;overflow:hidden}.bar span{display:block;height:100%;background:var(--ok)}.bar span.bad{background:var(--bad)}\
        @media (min-width:40rem){body{padding:1.25rem}.num{width:7rem}}
        """
}
