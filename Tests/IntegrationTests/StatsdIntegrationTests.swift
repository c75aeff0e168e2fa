import Foundation
import MastiffClients
import MastiffCore
import MastiffTestSupport
import Testing

/// The statsd bridge as applications use it: real client libraries (PyPI's statsd and datadog)
/// send to a running mastiff over UDP, TCP and a Unix datagram socket; /metrics is read back
/// and linted with promtool.
@Suite(.serialized) struct StatsdIntegrationTests {
    static let clients = Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/statsd/clients.py"
    static let endpointFixtures = Harness.packageRoot + "/Tests/MastiffCollectorsTests/Fixtures/mastodon-endpoints"

    /// A mastiff with statsd on ephemeral ports and the data-source collectors off.
    static func start(_ extra: String = "", udp: String = "127.0.0.1:0", unixgram: String? = nil) throws -> (RunningMastiff, udp: Int, tcp: Int) {
        let config = try Harness.writeConfig(collectors: ["processes": "{enabled: true}"], """
            statsd:
              udp: \(udp)
              tcp: 127.0.0.1:0
              unixgram: "\(unixgram ?? "")"
            \(extra)
            """)
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        return (mastiff, (try? statsdPort(mastiff, "udp")) ?? 0, try statsdPort(mastiff, "tcp"))
    }

    static func statsdPort(_ mastiff: RunningMastiff, _ transport: String) throws -> Int {
        for line in mastiff.log.split(separator: "\n") where line.contains("statsd.transport=\(transport)") && line.contains("statsd listening") {
            if let address = line.split(separator: " ").first(where: { $0.hasPrefix("statsd.address=") }),
               let port = Int(address.split(separator: ":").last ?? "") {
                return port
            }
        }
        throw HarnessError("no statsd \(transport) listener in the log:\n\(mastiff.log)")
    }

    static func metrics(_ mastiff: RunningMastiff) async throws -> String {
        let response = try await CurlHTTPClient().get(mastiff.baseURL + "/metrics")
        #expect(response.status == 200)
        return response.text
    }

    /// Waits until `series` reaches `value` (datagrams are applied asynchronously).
    static func waitFor(_ mastiff: RunningMastiff, _ series: String, _ value: Double) async throws -> String {
        var text = ""
        do {
            try await waitUntil {
                text = (try? Harness.run(try Harness.which("curl"), ["-s", mastiff.baseURL + "/metrics"]).stdout) ?? ""
                return sampleValue(text, series) == value
            }
        } catch {
            Issue.record("\(series) never reached \(value); last value \(String(describing: sampleValue(text, series)))")
        }
        return text
    }

    @Test func etsyStatsdClientWithMastodonNamesOverUDPAndTCP() async throws {
        let (mastiff, udp, tcp) = try Self.start()
        let sent = try Harness.run("/usr/bin/env", ["python3", Self.clients, "etsy", "127.0.0.1", "\(udp)", "\(tcp)"])
        #expect(sent.status == 0, "\(sent.stderr)")
        let text = try await Self.waitFor(mastiff, #"mastodon_sidekiq_job_duration_seconds_count{worker="LinkCrawlWorker"}"#, 1)
        let expected: [(String, Double)] = [
            (#"mastodon_web_request_duration_seconds_sum{action="create",controller="Api.V1.StatusesController",format="json"}"#, 0.1825),
            (#"mastodon_web_db_duration_seconds_count{action="create",controller="Api.V1.StatusesController",format="json"}"#, 1),
            (#"mastodon_web_requests_total{action="create",controller="Api.V1.StatusesController",format="json",status="200"}"#, 1),
            (#"mastodon_web_requests_total{action="index",controller="HomeController",format="html",status="302"}"#, 5),
            (#"mastodon_db_query_duration_seconds_count{operation="select",table="statuses"}"#, 1),
            (#"mastodon_sidekiq_jobs_total{outcome="success",worker="ActivityPub::DeliveryWorker"}"#, 3),
            (#"mastodon_sidekiq_jobs_total{outcome="failure",worker="LinkCrawlWorker"}"#, 1),
            (#"mastodon_sidekiq_queue_enqueued_jobs{queue="push"}"#, 15),
            (#"statsd_events_unmapped_total"#, 0),
            (#"statsd_listener_up{transport="tcp"}"#, 1),
            (#"statsd_listener_up{transport="udp"}"#, 1),
        ]
        for (series, value) in expected {
            #expect(sampleValue(text, series) == value, "\(series)")
        }
        #expect((sampleValue(text, #"statsd_packets_total{transport="udp"}"#) ?? 0) >= 7)
        #expect(try Harness.promtoolProblems(text) == "")
    }

    @Test func dogStatsDClientWithTagsOverUDPAndUnixSocket() async throws {
        let socket = try Harness.temporaryDirectory().appendingPathComponent("statsd.sock").path
        let (mastiff, udp, _) = try Self.start(unixgram: socket)
        let sent = try Harness.run("/usr/bin/env", ["python3", Self.clients, "dogstatsd", "127.0.0.1", "\(udp)", socket])
        #expect(sent.status == 0, "\(sent.stderr)")
        let text = try await Self.waitFor(mastiff, #"statsd_conflicts_total{kind="labels"}"#, 1)
        let expected: [(String, Double)] = [
            (#"shop_orders_total{region="eu",tier="gold"}"#, 2),
            (#"shop_orders_total{region="us",tier="basic"}"#, 1),
            (#"shop_queue{region="eu"}"#, 7),
            (#"shop_payload_sum{region="eu"}"#, 512),
            (#"shop_latency_sum"#, 0.25),
            (#"shop_render_sum"#, 0.04),
            (#"statsd_listener_up{transport="unixgram"}"#, 1),
        ]
        for (series, value) in expected {
            #expect(sampleValue(text, series) == value, "\(series)")
        }
        #expect(try Harness.promtoolProblems(text) == "")
    }

    @Test func sighupReloadsTheMappingAndABadMappingKeepsTheOldOne() async throws {
        let directory = try Harness.temporaryDirectory()
        let mapping = directory.appendingPathComponent("mapping.yml").path
        try "mappings:\n- match: app.*.hits\n  name: app_hits_total\n  labels: {page: \"$1\"}\n".write(toFile: mapping, atomically: true, encoding: .utf8)
        let (mastiff, udp, _) = try Self.start("  mapping: \(mapping)")
        let sender = try StatsdSender(port: udp)
        sender.send("app.home.hits:1|c")
        _ = try await Self.waitFor(mastiff, #"app_hits_total{page="home"}"#, 1)

        try "mappings:\n- match: app.*.hits\n  name: site_hits_total\n  labels: {page: \"$1\"}\n".write(toFile: mapping, atomically: true, encoding: .utf8)
        mastiff.signal(SIGHUP)
        try await waitUntil { mastiff.log.contains("configuration reloaded") }
        sender.send("app.home.hits:1|c")
        _ = try await Self.waitFor(mastiff, #"site_hits_total{page="home"}"#, 1)

        try "mappings:\n- match: '(app'\n  match_type: regex\n  name: broken\n".write(toFile: mapping, atomically: true, encoding: .utf8)
        mastiff.signal(SIGHUP)
        try await waitUntil { mastiff.log.contains("configuration reload failed") }
        #expect(mastiff.log.contains("\(mapping):2:10: mappings[0].match: invalid regex '(app'"))
        sender.send("app.home.hits:1|c")
        let text = try await Self.waitFor(mastiff, #"site_hits_total{page="home"}"#, 2)
        #expect(text.contains("mastiff_config_last_reload_successful 0\n"))
    }

    /// TCP lines split across writes are joined; a line over max_packet_size is counted and
    /// skipped up to its newline, and the lines after it still count; an oversized datagram too.
    @Test func tcpPartialLinesAndOversizedInput() async throws {
        let (mastiff, udp, tcp) = try Self.start("  max_packet_size: 1KiB")
        let script = """
            import socket, sys, time
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            s.sendall(b"split.a:1|c\\nsplit.b:")
            time.sleep(0.2)
            s.sendall(b"2|c\\n" + b"x" * 5000)
            time.sleep(0.2)
            s.sendall(b"y" * 3000 + b":1|c\\nafter.long:3|c\\n")
            s.close()
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.sendto(b"big:" + b"1" * 2000 + b"|c", ("127.0.0.1", int(sys.argv[2])))
            u.sendto(b"small:1|c", ("127.0.0.1", int(sys.argv[2])))
            """
        let sent = try Harness.run("/usr/bin/env", ["python3", "-c", script, "\(tcp)", "\(udp)"])
        #expect(sent.status == 0, "\(sent.stderr)")
        let text = try await Self.waitFor(mastiff, "small_total", 1)
        #expect(sampleValue(text, "split_a_total") == 1)
        #expect(sampleValue(text, "split_b_total") == 2)
        #expect(sampleValue(text, "after_long_total") == 3)
        #expect(sampleValue(text, #"statsd_parse_errors_total{reason="too_long"}"#) == 2)
        #expect(!text.contains("big_total"))
    }

    @Test func aBusyPortIsReportedAndMastiffRunsOn() async throws {
        let holder = try StatsdSender(port: 0, bindLocally: true)
        let (mastiff, _, _) = try Self.start(udp: "127.0.0.1:\(holder.localPort)")
        let text = try await Self.metrics(mastiff)
        #expect(sampleValue(text, #"statsd_listener_up{transport="udp"}"#) == 0)
        #expect(sampleValue(text, #"statsd_listener_up{transport="tcp"}"#) == 1)
        #expect(mastiff.log.contains("statsd listener not started"))
        #expect(mastiff.log.contains("127.0.0.1:\(holder.localPort): bind: Address already in use"))
    }

    @Test func mastodonEndpointsAreReexposedAndAFailingOneIsReported() async throws {
        let server = try HTTPFixtureServer(directory: Self.endpointFixtures)
        let base = "http://127.0.0.1:\(server.port)"
        let config = try Harness.writeConfig(collectors: [
            "processes": "{enabled: true}",
            "mastodon_endpoints": """
                [{name: streaming, url: "\(base)/streaming-4.3.prom"}, {name: web, url: "\(base)/prometheus-exporter-web.prom"},
                 {name: gone, url: "http://127.0.0.1:9/metrics"}, {name: missing, url: "\(base)/no-such-file"}]
                """,
        ], "statsd: {enabled: false}")
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        let text = try await Self.metrics(mastiff)
        for (series, value) in [
            (#"mastiff_target_up{target="streaming"}"#, 1.0),
            (#"mastiff_target_up{target="web"}"#, 1),
            (#"mastiff_target_up{target="gone"}"#, 0),
            (#"mastiff_target_up{target="missing"}"#, 0),
            (#"mastodon_streaming_connected_clients{source="streaming",type="websocket"}"#, 17),
            (#"mastodon_ruby_http_requests_total{source="web",controller="api/v1/statuses",action="create",status="200"}"#, 37),
            (#"mastiff_collector_success{collector="mastodon_endpoints"}"#, 1),
            (#"mastiff_collector_errors_total{collector="mastodon_endpoints",reason="unreachable"}"#, 1),
            (#"mastiff_collector_errors_total{collector="mastodon_endpoints",reason="http_status"}"#, 1),
        ] {
            #expect(sampleValue(text, series) == value, "\(series)")
        }
        #expect(try Harness.promtoolProblems(text) == "")
    }

    /// Tags that clash with the labels Prometheus's format writes itself (`le`, `quantile`) and
    /// names Prometheus reserves (`up`, `scrape_*`), scraped by a real Prometheus: the target
    /// stays up, the other series arrive, and `up` is Prometheus's own.
    @Test func prometheusAcceptsTheScrapeWhateverTheTags() async throws {
        let mappingPath = try Harness.temporaryDirectory().appendingPathComponent("mapping.yml").path
        try """
            defaults: {observer_type: histogram}
            mappings:
            - {match: "svc.*.latency", name: svc_latency_seconds, observer_type: summary, labels: {service: "$1"}}
            """.write(toFile: mappingPath, atomically: true, encoding: .utf8)
        let (mastiff, udp, _) = try Self.start("  mapping: \(mappingPath)\n")
        let sender = try StatsdSender(port: udp)
        for _ in 0..<3 {
            sender.send("x:10|ms|#le:5\nsvc.api.latency:3|ms|#quantile:0.9\nup:0|g\nscrape_samples_scraped:1|g\nplain:1|c")
        }
        _ = try await Self.waitFor(mastiff, "plain_total", 3)
        let prometheus = try PrometheusServer(scraping: "127.0.0.1:\(mastiff.port)")
        try await waitUntil(timeout: 20) { ((try? prometheus.query("x_bucket")) ?? []).count >= 2 }
        let target = try #require(try prometheus.target())
        #expect(target.health == "up", "last error: \(target.lastError)")
        #expect(target.lastError.isEmpty)
        #expect(try prometheus.query(#"up{job="mastiff"}"#).map(\.value) == [1])
        let buckets = try prometheus.query(#"x_bucket{le="+Inf"}"#)
        #expect(buckets.map(\.value) == [3] && buckets.first?.labels["exported_le"] == "5", "\(buckets)")
        #expect(try prometheus.query(#"svc_latency_seconds_count{exported_quantile="0.9",service="api"}"#).map(\.value) == [3])
        #expect(try prometheus.query("scrape_samples_scraped").count == 1, "only Prometheus's own series")
        let metrics = try await Self.metrics(mastiff)
        #expect(sampleValue(metrics, #"statsd_parse_errors_total{reason="reserved_label"}"#) == 6)
        #expect(sampleValue(metrics, #"statsd_events_dropped_total{reason="reserved_name"}"#) == 6)
    }


    /// A statsd_exporter mapping file moved over with `counter_suffix: as_mapped`: the series are
    /// named as statsd_exporter names them (no `_total` added), and promtool says what that costs.
    @Test func countersAsMappedGiveStatsdExportersSeries() async throws {
        let directory = try Harness.temporaryDirectory()
        let mapping = directory.appendingPathComponent("mapping.yml").path
        try """
            mappings:
            - match: "app.*.hits"
              name: "app_hits"
              labels: {page: "$1"}
            """.write(toFile: mapping, atomically: true, encoding: .utf8)
        let (mastiff, udp, _) = try Self.start("  mapping: \(mapping)\n  counter_suffix: as_mapped")
        let sender = try StatsdSender(port: udp)
        sender.send("app.home.hits:2|c\nother.thing:1|c")
        let text = try await Self.waitFor(mastiff, #"app_hits{page="home"}"#, 2)
        #expect(text.contains("# TYPE app_hits counter"))
        #expect(sampleValue(text, "other_thing") == 1)
        #expect(!text.contains("app_hits_total") && !text.contains("other_thing_total"))
        let problems = try Harness.promtoolProblems(text)
        #expect(problems.contains("app_hits counter metrics should have \"_total\" suffix"), "\(problems)")
        withExtendedLifetime(mastiff) {}
    }
}
