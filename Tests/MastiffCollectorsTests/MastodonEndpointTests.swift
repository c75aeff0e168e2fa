import MastiffCollectors
import MastiffCore
import Testing

/// Mastodon's endpoints as they answer (checked-in fixtures), parsed, renamed and merged.
@Suite struct MastodonEndpointTests {
    static let streaming = FixturePaths.read(FixturePaths.directory + "/mastodon-endpoints/streaming-4.3.prom")
    static let web = FixturePaths.read(FixturePaths.directory + "/mastodon-endpoints/prometheus-exporter-web.prom")

    @Test func streamingMetricsParse() throws {
        let families = try PrometheusTextParser.parse(Self.streaming)
        #expect(families.map(\.name) == [
            "process_cpu_user_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds", "nodejs_gc_duration_seconds",
            "mastodon_streaming_connected_clients", "mastodon_streaming_connected_channels", "mastodon_streaming_redis_subscriptions",
            "mastodon_streaming_redis_messages_received_total", "mastodon_streaming_messages_sent_total", "pg_pool_total_connections",
        ])
        let gc = families.first { $0.name == "nodejs_gc_duration_seconds" }!
        #expect(gc.type == .histogram)
        #expect(gc.samples.map(\.suffix) == ["_bucket", "_bucket", "_bucket", "_bucket", "_bucket", "_sum", "_count"])
        #expect(gc.samples[4].labels == [Label("le", "+Inf"), Label("kind", "minor")])
        #expect(gc.samples[4].value == 53)
    }

    @Test func familiesAreRenamedLabelledAndMerged() throws {
        let (families, conflicts) = MastodonEndpointFamilies.merge([
            ("streaming", try PrometheusTextParser.parse(Self.streaming)),
            ("web", try PrometheusTextParser.parse(Self.web)),
            ("sidekiq", try PrometheusTextParser.parse(Self.web)),
        ])
        #expect(conflicts == 0)
        let exposition = ExpositionRenderer.render(families)
        #expect(exposition.contains(#"mastodon_streaming_connected_clients{source="streaming",type="websocket"} 17"#))
        #expect(exposition.contains(#"mastodon_process_cpu_user_seconds_total{source="streaming"} 12.345"#))
        #expect(exposition.contains(#"mastodon_ruby_http_requests_total{source="web",controller="api/v1/statuses",action="create",status="200"} 37"#))
        #expect(exposition.contains(#"mastodon_ruby_http_requests_total{source="sidekiq",controller="api/v1/statuses",action="create",status="200"} 37"#))
        #expect(exposition.contains(#"mastodon_ruby_http_request_duration_seconds_count{source="web",controller="api/v1/statuses",action="create"} 37"#))
        #expect(exposition.contains(#"mastodon_ruby_rss{source="web",type="web",pid="1234",exported_source="puma"} 312000000"#))
        #expect(exposition.contains(#"mastodon_ruby_sidekiq_jobs_total{source="web",job_name="LinkCrawlWorker"} 12"#))
        #expect(exposition.split(separator: "\n").filter { $0 == "# TYPE mastodon_ruby_rss gauge" }.count == 1)
    }

    @Test func aTypeConflictDropsTheLaterFamily() throws {
        let (families, conflicts) = MastodonEndpointFamilies.merge([
            ("a", try PrometheusTextParser.parse("# TYPE jobs gauge\njobs 1\n")),
            ("b", try PrometheusTextParser.parse("# TYPE jobs summary\njobs_sum 1\njobs_count 1\n")),
        ])
        #expect(conflicts == 1)
        #expect(families.map(\.name) == ["mastodon_jobs"])
        #expect(families[0].samples.count == 1)
    }

    @Test(arguments: [
        ("metric{a=\"1\" 2\n", "line 1: malformed label '2'"),
        ("# TYPE x flavour\n", "line 1: unknown metric type 'flavour'"),
        ("ok 1\n1bad 2\n", "line 2: invalid metric name '1bad'"),
        ("x{a=\"b\"} notanumber\n", "line 1: invalid value 'notanumber'"),
    ])
    func malformedExpositionNamesTheLine(text: String, message: String) {
        #expect {
            _ = try PrometheusTextParser.parse(text)
        } throws: { error in
            "\(error)".hasPrefix(message)
        }
    }

    @Test func specialValuesEscapesAndTimestamps() throws {
        let families = try PrometheusTextParser.parse("# HELP m A \\\\ help\\nline\nm{path=\"C:\\\\x\",q=\"say \\\"hi\\\"\"} +Inf 1700000000\nn NaN\n")
        #expect(families[0].help == "A \\ help\nline")
        #expect(families[0].samples[0].labels == [Label("path", "C:\\x"), Label("q", "say \"hi\"")])
        #expect(families[0].samples[0].value == .infinity)
        #expect(families[1].samples[0].value.isNaN)
    }
}
