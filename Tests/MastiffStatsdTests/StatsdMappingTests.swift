import MastiffCore
@testable import MastiffStatsd
import Testing

/// Builds a store from a mapping text, feeds it statsd lines, and returns the exposition.
struct Bridge {
    let store: StatsdSeriesStore
    var now = 1_000.0

    init(_ yaml: String, maxSeries: Int = 10_000, unmapped: UnmappedNames = .escape, appendTotalToCounters: Bool = true) throws {
        store = StatsdSeriesStore(mapper: StatsdMapper(mapping: try StatsdMapping.parse(yaml, file: "mapping.yml")),
                                  maxSeries: maxSeries, unmapped: unmapped, appendTotalToCounters: appendTotalToCounters)
    }

    func send(_ packet: String) {
        store.apply(StatsdLineParser.parse(packet: packet).events, now: now)
    }

    /// Exposition lines without HELP/TYPE comments.
    func lines() -> [String] {
        exposition().split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
    }

    func exposition() -> String {
        var text = ""
        store.render(into: &text, now: now)
        return text
    }
}

@Suite struct StatsdMappingTests {
    /// The glob example of statsd_exporter's README, with its documented results.
    @Test func readmeGlobExample() throws {
        let bridge = try Bridge("""
            mappings:
            - match: "test.dispatcher.*.*.*"
              name: "dispatcher_events_total"
              labels:
                processor: "$1"
                action: "$2"
                outcome: "$3"
                job: "test_dispatcher"
            - match: "*.signup.*.*"
              name: "signup_events_total"
              labels:
                provider: "$2"
                outcome: "$3"
                job: "${1}_server"
            """)
        bridge.send("test.dispatcher.FooProcessor.send.success:1|c\nfoo_product.signup.facebook.failure:1|c\ntest.web-server.foo.bar:1|c")
        #expect(bridge.lines() == [
            #"dispatcher_events_total{action="send",job="test_dispatcher",outcome="success",processor="FooProcessor"} 1"#,
            #"signup_events_total{job="foo_product_server",outcome="failure",provider="facebook"} 1"#,
            "test_web_server_foo_bar_total 1",
        ])
    }

    /// `counter_suffix: as_mapped`: the README's results exactly as statsd_exporter documents
    /// them, the unmapped counter without `_total`, and a mapped counter named without it.
    @Test func countersAsMappedKeepStatsdExportersNames() throws {
        let bridge = try Bridge("""
            mappings:
            - match: "test.dispatcher.*.*.*"
              name: "dispatcher_events_total"
              labels: {processor: "$1", action: "$2", outcome: "$3", job: "test_dispatcher"}
            - match: "api.*.requests"
              name: "api_requests"
              labels: {endpoint: "$1"}
            """, appendTotalToCounters: false)
        bridge.send("test.dispatcher.FooProcessor.send.success:1|c\ntest.web-server.foo.bar:1|c\napi.statuses.requests:3|c\napi.latency:12|ms")
        #expect(bridge.lines().filter { !$0.hasPrefix("api_latency") } == [
            #"api_requests{endpoint="statuses"} 3"#,
            #"dispatcher_events_total{action="send",job="test_dispatcher",outcome="success",processor="FooProcessor"} 1"#,
            "test_web_server_foo_bar 1",
        ])
        #expect(bridge.exposition().contains("# TYPE api_requests counter"))
    }

    /// The regex example of the README.
    @Test func readmeRegexExample() throws {
        let bridge = try Bridge(#"""
            mappings:
            - match: '(.*)\.(.*)--(.*)\.status\.(.*)\.count'
              match_type: regex
              name: "request_total"
              labels:
                hostname: "$1"
                exec: "$2"
                protocol: "$3"
                code: "$4"
            """#)
        bridge.send("web01.nginx--https.status.200.count:3|c")
        #expect(bridge.lines() == [#"request_total{code="200",exec="nginx",hostname="web01",protocol="https"} 3"#])
    }

    /// Globs are tried before regexes whatever the file order, and among globs the first match wins.
    @Test func globsBeforeRegexesThenFileOrder() throws {
        let bridge = try Bridge(#"""
            mappings:
            - match: 'app\..*'
              match_type: regex
              name: from_regex
            - match: app.*.requests
              name: first_glob
            - match: app.web.requests
              name: second_glob
            - match: app.*.*
              name: third_glob
              labels: {a: "$1", b: "$2"}
            """#)
        #expect(bridge.store.mapper.resolve("app.web.requests", type: .counter) == .mapped(rule: 1, name: "first_glob", labels: []))
        #expect(bridge.store.mapper.resolve("app.web.errors", type: .counter)
            == .mapped(rule: 3, name: "third_glob", labels: [Label("a", "web"), Label("b", "errors")]))
        #expect(bridge.store.mapper.resolve("app.x", type: .counter) == .mapped(rule: 0, name: "from_regex", labels: []))
        #expect(bridge.store.mapper.resolve("other.x", type: .counter) == .unmatched)
    }

    @Test func matchMetricTypeSelectsTheRule() throws {
        let bridge = try Bridge("""
            mappings:
            - match: svc.*
              match_metric_type: gauge
              name: svc_level
              labels: {what: "$1"}
            - match: svc.*
              match_metric_type: observer
              name: svc_duration_seconds
              observer_type: histogram
              buckets: [0.1, 1]
              labels: {what: "$1"}
            - match: svc.*
              name: svc_events_total
              labels: {what: "$1"}
            """)
        bridge.send("svc.queue:5|g\nsvc.queue:250|ms\nsvc.queue:2|c")
        #expect(bridge.lines() == [
            #"svc_duration_seconds_bucket{what="queue",le="0.1"} 0"#,
            #"svc_duration_seconds_bucket{what="queue",le="1"} 1"#,
            #"svc_duration_seconds_bucket{what="queue",le="+Inf"} 1"#,
            #"svc_duration_seconds_sum{what="queue"} 0.25"#,
            #"svc_duration_seconds_count{what="queue"} 1"#,
            #"svc_events_total{what="queue"} 2"#,
            #"svc_level{what="queue"} 5"#,
        ])
    }

    @Test func dropActionAndUnmappedModes() throws {
        let yaml = """
            mappings:
            - match: noisy.*
              action: drop
            """
        let escaping = try Bridge(yaml)
        escaping.send("noisy.thing:1|c\nMy-App--Web.Requests:1|c\n9lives:2|g")
        #expect(escaping.lines() == ["_9lives 2", "my_app_web_requests_total 1"])
        #expect(escaping.store.statistics.dropped["drop_action"] == 1)

        let exact = try Bridge(yaml, unmapped: .escapeExact)
        exact.send("My-App--Web.Requests:1|c")
        #expect(exact.lines() == ["My_App_Web_Requests_total 1"])

        let dropping = try Bridge(yaml, unmapped: .drop)
        dropping.send("other:1|c")
        #expect(dropping.lines().isEmpty)
        #expect(dropping.store.statistics.dropped["unmapped"] == 1)
    }

    /// statsd_exporter's escaping, from its escape tests.
    @Test(arguments: [
        ("clean_name", "clean_name"), ("0starts_with_digit", "_0starts_with_digit"), ("with.dot", "with_dot"),
        ("with😱emoji", "with_emoji"), ("with.*.multiple", "with___multiple"), ("test.web-server.foo.bar", "test_web_server_foo_bar"),
        ("a--b", "a_b"), ("", ""),
    ])
    func escaping(input: String, expected: String) {
        #expect(StatsdNames.escape(input) == expected)
    }

    @Test func templatesFollowStatsdExporterQuirks() {
        let glob = { (text: String) in MappingTemplate(text, style: .glob, captureCount: 2).expand(["whole", "a", "b"]) }
        #expect(glob("x_${1}_$2") == "x_a_b")
        #expect(glob("x_$1_$2") == "x_")  // "$1_$2" is one reference that names no capture
        #expect(glob("${1}_total") == "a_total")
        #expect(glob("$1_total") == "")  // the reference swallows "_total" and names no capture
        #expect(glob("$3") == "")
        let regex = { (text: String) in MappingTemplate(text, style: .regex, captureCount: 2).expand(["whole", "a", "b"]) }
        #expect(regex("${1}x$2") == "axb")
        #expect(regex("$1x") == "")  // Go reads `$1x` as a named group
        #expect(regex("$$1") == "$1")
        #expect(regex("$0") == "whole")
        #expect(regex("cost $") == "cost $")
    }

    @Test func honorLabelsAndTagPrecedence() throws {
        let bridge = try Bridge("""
            mappings:
            - match: a.b
              name: plain
              labels: {env: mapping}
            - match: c.d
              name: honoring
              honor_labels: true
              labels: {env: mapping}
            """)
        bridge.send("a.b:1|g|#env:tag,host:x\nc.d:1|g|#env:tag")
        #expect(bridge.lines() == [#"honoring{env="tag"} 1"#, #"plain{env="mapping",host="x"} 1"#])
    }

    @Test func typeAndLabelConflictsAreCountedNotExposed() throws {
        let bridge = try Bridge("mappings: []")
        bridge.send("thing:1|g\nthing:1|ms\nthing:2|g|#a:b\nother:1|h\nother_count:1|g")
        #expect(bridge.lines().filter { $0.hasPrefix("thing") } == ["thing 1"])
        #expect(bridge.store.statistics.conflicts == ["type": 1, "labels": 1, "name": 1])
        #expect(!bridge.exposition().contains("# TYPE other_count"))
    }

    @Test func seriesCapDropsNewSeriesAndCountsThem() throws {
        let bridge = try Bridge("mappings: []", maxSeries: 3)
        bridge.send((0..<5).map { "s\($0):1|c" }.joined(separator: "\n"))
        bridge.send("s0:1|c")
        #expect(bridge.store.seriesCount == 3)
        #expect(bridge.store.statistics.dropped["series_limit"] == 2)
        #expect(bridge.lines().contains("s0_total 2"))
    }

    @Test func ttlExpiresQuietSeries() throws {
        var bridge = try Bridge("""
            defaults: {ttl: 1m}
            mappings:
            - match: keep.me
              name: kept
              ttl: 0s
            """)
        bridge.send("keep.me:1|g\ngo.away:1|g")
        bridge.now += 59
        #expect(bridge.lines() == ["go_away 1", "kept 1"])
        bridge.now += 2
        #expect(bridge.lines() == ["kept 1"])
        #expect(bridge.store.statistics.expired == 1)
    }

    @Test func timersBecomeSecondsAndScaleApplies() throws {
        let bridge = try Bridge("""
            mappings:
            - match: size.*
              name: payload_bytes
              observer_type: histogram
              histogram_options: {buckets: [1000, 1000000]}
              scale: 1024
              labels: {kind: "$1"}
            """)
        bridge.send("size.upload:2|h\nsize.upload:1|d|@0.5")
        #expect(bridge.lines().contains(#"payload_bytes_sum{kind="upload"} 4096"#))
        #expect(bridge.lines().contains(#"payload_bytes_count{kind="upload"} 3"#))
    }

    @Test func summaryQuantilesOverTheSlidingWindow() throws {
        var bridge = try Bridge("""
            defaults:
              observer_type: summary
              summary_options: {max_age: 1m, age_buckets: 2, quantiles: [{quantile: 0.5, error: 0.05}, {quantile: 0.99, error: 0.001}]}
            mappings: []
            """)
        bridge.send((1...100).map { "job.size:\($0)|h" }.joined(separator: "\n"))
        #expect(bridge.lines() == [#"job_size{quantile="0.5"} 50"#, #"job_size{quantile="0.99"} 99"#,
                                   "job_size_sum 5050", "job_size_count 100"])
        bridge.now += 61
        bridge.send("other:1|c")
        bridge.now += 61
        #expect(bridge.lines().contains(#"job_size{quantile="0.5"} NaN"#))
        #expect(bridge.lines().contains("job_size_count 100"))
    }

    @Test(arguments: [
        ("mappings:\n- match: a.b\n  name: 1bad\n", "mapping.yml:3:9", "metric name '1bad' is not valid"),
        ("mappings:\n- match: a..b\n  name: x\n", "mapping.yml:2:10", "invalid glob"),
        ("mappings:\n- match: '(a'\n  match_type: regex\n  name: x\n", "mapping.yml:2:10", "invalid regex"),
        ("mappings:\n- match: a.b\n  name: x\n  observer_type: sketch\n", "mapping.yml:4:18", "unknown observer_type 'sketch'"),
        ("mappings:\n- match: a.b\n  name: x\n  buckets: [2, 1]\n", "mapping.yml:4:16", "increasing order"),
        ("mappings:\n- match: a.b\n  name: x\n  labels: {bad-name: y}\n", "mapping.yml:4:12", "invalid label name 'bad-name'"),
        ("mappings:\n- match: a.b\n  nmae: x\n", "mapping.yml:3:3", "unknown key 'nmae'"),
        ("mappings:\n- match: a.b\n  name: x\n  observer_type: histogram\n  summary_options: {max_age: 1m}\n", "mapping.yml:2:3",
         "histogram observer and summary_options"),
        ("mappings:\n- match: a.*\n  name: x\n  observer_type: histogram\n  labels: {le: $1}\n", "mapping.yml:5:12",
         "label 'le' is reserved for histogram buckets"),
        ("defaults: {observer_type: summary}\nmappings:\n- match: a.*\n  name: x\n  labels: {quantile: $1}\n", "mapping.yml:5:12",
         "label 'quantile' is reserved for summary quantiles"),
    ])
    func badMappingFilesNameTheProblem(yaml: String, position: String, message: String) {
        #expect {
            _ = try StatsdMapping.parse(yaml, file: "mapping.yml")
        } throws: { error in
            let text = "\(error)"
            return text.contains(position) && text.contains(message)
        }
    }

    /// `le` and `quantile` mean something only for the series type that writes them; a counter
    /// rule may use them.
    @Test func reservedLabelNamesAreFineForCountersAndGauges() throws {
        let mapping = try StatsdMapping.parse("mappings: [{match: a.*, name: x, match_metric_type: counter, labels: {le: $1}}]\n", file: "m.yml")
        #expect(mapping.rules[0].labels.map(\.name) == ["le"])
    }

    /// `x:1|ms|#le:5` once produced `x_bucket{le="5",le="0.005"}`, which promtool let pass and
    /// Prometheus refused, losing the whole scrape. The tag is kept as `exported_le`.
    @Test func leTagOnAHistogramAndQuantileTagOnASummaryAreRenamed() throws {
        let bridge = try Bridge("""
            defaults: {observer_type: histogram, buckets: [0.005, 1]}
            mappings:
            - {match: "svc.*.latency", name: svc_latency_seconds, observer_type: summary, labels: {service: "$1"}}
            """)
        bridge.send("x:10|ms|#le:5\nsvc.api.latency:3|ms|#quantile:0.9\ngauge_with_le:1|g|#le:7")
        let lines = bridge.lines()
        #expect(lines.contains(#"x_bucket{exported_le="5",le="0.005"} 0"#))
        #expect(lines.contains(#"x_bucket{exported_le="5",le="+Inf"} 1"#))
        #expect(lines.contains(#"svc_latency_seconds{exported_quantile="0.9",service="api",quantile="0.5"} 0.003"#))
        #expect(lines.contains(#"gauge_with_le{le="7"} 1"#), "a gauge keeps its le tag")
        #expect(bridge.store.statistics.reservedLabels == 2)
        #expect(!lines.contains { $0.contains("{le=\"5\"") || $0.contains(",le=\"5\"") })
        let families = try PrometheusTextParser.parse(bridge.exposition())
        #expect(families.contains { $0.name == "x" })
    }

    /// Prometheus writes `up` and `scrape_*` itself for every target: a statsd `up:0|g` would
    /// read as mastiff being down.
    @Test func namesPrometheusReservesAreRefused() throws {
        let bridge = try Bridge("mappings: []\n")
        bridge.send("up:0|g\nscrape_samples_scraped:5|g\nscrape_duration_seconds:1|ms\nuptime:3|g\nup:1|c")
        #expect(bridge.lines() == ["up_total 1", "uptime 3"])
        #expect(bridge.store.statistics.dropped["reserved_name"] == 3)
    }

    @Test func anEmptyObserverTypeMeansTheDefault() throws {
        let mapping = try StatsdMapping.parse("defaults: {observer_type: histogram}\nmappings: [{match: a.b, name: x, observer_type: ''}]\n",
                                              file: "m.yml")
        #expect(mapping.rules[0].observerType == .histogram)
    }

    @Test func re2ClassesAndNonCapturingGroupsWork() throws {
        let bridge = try Bridge(#"""
            mappings:
            - match: '^(?:web|api)\.(\d+)\.(\w+)$'
              match_type: regex
              name: hits
              labels: {shard: "$1", what: "$2"}
            """#)
        #expect(bridge.store.mapper.resolve("api.12.users", type: .counter) == .mapped(rule: 0, name: "hits", labels: [Label("shard", "12"), Label("what", "users")]))
        #expect(bridge.store.mapper.resolve("api.x.users", type: .counter) == .unmatched)
    }

    @Test func cacheCountsHitsAndStaysBounded() throws {
        let store = StatsdSeriesStore(mapper: StatsdMapper(mapping: try StatsdMapping.parse("mappings: [{match: a.*, name: a}]", file: "m.yml")),
                                      cacheCapacity: 10)
        for index in 0..<25 { store.apply(StatsdEvent(name: "a.\(index)", kind: .gauge(1, relative: false)), now: 0) }
        store.apply(StatsdEvent(name: "a.24", kind: .gauge(1, relative: false)), now: 0)
        #expect(store.statistics.cacheMisses == 25)
        #expect(store.statistics.cacheHits == 1)
        #expect(store.cacheCount == 10)
    }

    /// Whatever arrives, the exposition stays parseable: valid names, no duplicate families.
    @Test func exposedNamesAreAlwaysValid() throws {
        let bridge = try Bridge("mappings: [{match: '(.*)', match_type: regex, name: 'm_$1'}]")
        bridge.send("a-b.c:1|c\nweird name:1|g\nü:1|ms\nx:1|c|#k-ey:v")
        let families = try PrometheusTextParser.parse(bridge.exposition())
        #expect(families.count == 4)
        for family in families {
            #expect(MetricName.isValidMetricName(family.name), "\(family.name)")
            for sample in family.samples { #expect(sample.labels.allSatisfy { MetricName.isValidLabelName($0.name) }) }
        }
    }
}
