import MastiffCore
import MastiffPolicies
import MastiffPromQL
import MastiffStatsd

/// The fuzzing entry points, one per parser that takes input from outside: the libFuzzer driver
/// (Fuzz/Driver, `scripts/fuzz.sh`) calls the one `MASTIFF_FUZZ_TARGET` names, and
/// FuzzRegressionTests feeds every input in Fuzz/Regressions/<target>/ through the same function,
/// so that each crash fuzzing found stays fixed.
public enum FuzzEntries {
    public static let targets: [String: @Sendable (UnsafeRawBufferPointer) -> Void] = [
        "statsd": statsd,
        "statsd-mapping": statsdMapping,
        "config": config,
        "promql": promql,
        "rule-file": ruleFile,
        "template": template,
        "exposition": exposition,
        "json": json,
        "s3-answer": s3Answer,
        "redis-answer": redisAnswer,
        "age-file": ageFile,
        "manifest": manifest,
        "state-file": stateFile,
        "http-request": httpRequest,
        "control-request": controlRequest,
    ]

    /// statsd datagrams, as any local process may send them: the line parser on the raw bytes, then
    /// every name it accepts through the built-in Mastodon mapping.
    static func statsd(_ bytes: UnsafeRawBufferPointer) {
        var result = StatsdLineParser.Result()
        StatsdLineParser.parse(packet: bytes, into: &result)
        for event in result.events { _ = mapper.resolve(event.name, type: event.metricType) }
    }

    /// statsd_exporter mapping files (statsd.mapping): parsed strictly, then used on a few names.
    static func statsdMapping(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let mapping = try? StatsdMapping.parse(text, file: "fuzz.yml") else { return }
        let mapper = StatsdMapper(mapping: mapping)
        for name in ["Mastodon.production.web.ApiController.index.json.total_duration", "a.b.c", "x"] {
            for type in StatsdMetricType.allCases { _ = mapper.resolve(name, type: type) }
        }
    }

    /// mastiff.yml: the strict loader, with a fixed environment and accounts (no lookups of the host).
    static func config(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = try? ConfigLoader.parse(text, file: "fuzz.yml", environment: { name in name == "SECRET" ? "s3cr3t" : nil }, accounts: accounts)
    }

    /// PromQL expressions: parsed, then evaluated over a small fixed history (ten minutes of two
    /// counters and a gauge), so that the evaluator sees whatever the parser accepts.
    static func promql(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let expr = try? PromQLParser.parse(text) else { return }
        _ = try? Evaluator(storage: storage, time: 600_000).evaluate(expr)
    }

    /// Prometheus rule files (alerts.rule_files): YAML, PromQL and templates, loaded strictly.
    static func ruleFile(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = try? RuleFileLoader.load(text: text, file: "fuzz.rules.yml")
    }

    /// Go templates of annotations and notification texts: parsed, then expanded with labels, a
    /// value and a query that answers one sample.
    static func template(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let template = try? AlertTemplate(text) else { return }
        let context = TemplateContext(labels: [Label("instance", "web-1"), Label("job", "mastodon")], externalLabels: [Label("cluster", "c")],
                                      value: 0.5) { _ throws(EvaluationError) in [VectorSample(labels: [Label("x", "y")], value: 42, timestamp: 0)] }
        _ = template.expand(context)
    }

    /// Prometheus text from Mastodon's endpoints: parsed, then rendered again as /metrics would.
    static func exposition(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let families = try? PrometheusTextParser.parse(text) else { return }
        _ = ExpositionRenderer.render(families)
    }

    /// JSON (the control socket's requests, Sidekiq's records, the state file) and dotenv
    /// (.env.production): parsed, and JSON serialized back.
    static func json(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        if let value = JSONValue.parse(text) { _ = value.serialized() }
        _ = DotEnv.parse(text)
    }
}

private let mapper = StatsdMapper(mapping: try! StatsdMapping.parse(MastodonStatsdMapping.text(), file: "built-in"))

private let accounts = SystemAccounts(effectiveUID: 0) { name in name == "mastodon" ? 991 : nil }

/// Ten minutes of two counters and a gauge, 15 s apart; immutable.
private final class FixedStorage: SeriesStorage, @unchecked Sendable {
    let series: [StoredSeries] = {
        var result: [StoredSeries] = []
        for (name, labels, step) in [("c_total", [Label("job", "a")], 10.0), ("c_total", [Label("job", "b")], 3.0), ("g", [Label("job", "a")], -1.5)] {
            let times = (0..<40).map { Int64($0) * 15_000 }
            result.append(StoredSeries(labels: ([Label("__name__", name)] + labels).sortedByName(), times: times, values: times.indices.map { Double($0) * step }))
        }
        return result
    }()

    func select(_ selector: VectorSelector, after: Int64, through: Int64) -> [StoredSeries] {
        series.filter { stored in
            (selector.metric.isEmpty || stored.labels.value(of: "__name__") == selector.metric) && selector.matchers.allSatisfy { $0.matches(stored.labels) }
        }.map { stored in
            let indices = stored.times.indices.filter { stored.times[$0] > after && stored.times[$0] <= through }
            return StoredSeries(labels: stored.labels, times: indices.map { stored.times[$0] }, values: indices.map { stored.values[$0] })
        }
    }
}

private let storage = FixedStorage()
