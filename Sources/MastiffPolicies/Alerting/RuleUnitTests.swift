import MastiffCore
import MastiffPromQL

/// Series held in memory with all their points: the input of a rule unit test.
public final class MemorySeriesStorage: SeriesStorage {
    private var series: [String: StoredSeries] = [:]
    private var byMetric: [String: [String]] = [:]

    public init() {}

    public func append(_ labels: Labels, time: Int64, value: Double) {
        let key = labels.promQLText
        if series[key] == nil {
            series[key] = StoredSeries(labels: labels, times: [], values: [])
            byMetric[labels.value(of: "__name__") ?? "", default: []].append(key)
        }
        if let last = series[key]!.times.last, last >= time {
            // Out of order (not expected from the runner): insert in place.
            let index = series[key]!.times.firstIndex { $0 >= time }!
            if series[key]!.times[index] == time {
                series[key]!.values[index] = value
            } else {
                series[key]!.times.insert(time, at: index)
                series[key]!.values.insert(value, at: index)
            }
            return
        }
        series[key]!.times.append(time)
        series[key]!.values.append(value)
    }

    public func select(_ selector: VectorSelector, after: Int64, through: Int64) -> [StoredSeries] {
        var result: [StoredSeries] = []
        // A selector without a metric name looks at every series (its matchers include __name__).
        for key in selector.metric.isEmpty ? byMetric.values.flatMap({ $0 }) : byMetric[selector.metric] ?? [] {
            let stored = series[key]!
            guard selector.matchers.allSatisfy({ $0.matches(stored.labels) }) else { continue }
            let start = stored.times.firstIndex { $0 > after } ?? stored.times.count
            let end = stored.times.lastIndex { $0 <= through }.map { $0 + 1 } ?? 0
            guard start < end else { continue }
            result.append(StoredSeries(labels: stored.labels, times: Array(stored.times[start..<end]), values: Array(stored.values[start..<end])))
        }
        return result
    }
}

/// promtool's rule unit-test format (`promtool test rules`), run on mastiff's engine: the same
/// files pass through both (docs/alerting.md, CI). See promtool's cmd/promtool/unittest.go for
/// the semantics followed: groups evaluated at 0, interval, 2·interval, … (the rule files'
/// group intervals are ignored, as promtool ignores them); an alert check at `eval_time`
/// sees the evaluation at the latest multiple of the interval not after it; only firing alerts
/// are compared; `promql_expr_test` is an instant query after all evaluations.
public enum RuleUnitTests {
    public struct Outcome: Sendable {
        public var file: String
        /// One entry per failed test group, with promtool-like details.
        public var failures: [String]
        public var passed: Bool { failures.isEmpty }
    }

    /// `readFile` reads a path (rule files are relative to the test file's directory).
    public static func run(testFile: String, readFile: (String) throws(ConfigError) -> String) -> Outcome {
        do {
            return Outcome(file: testFile, failures: try runFile(testFile, readFile: readFile))
        } catch {
            return Outcome(file: testFile, failures: ["\(error)"])
        }
    }

    private static func duration(_ node: ConfigNode) throws(ConfigError) -> Int64 {
        Int64((try node.duration().seconds * 1000).rounded())
    }

    private static func runFile(_ testFile: String, readFile: (String) throws(ConfigError) -> String) throws(ConfigError) -> [String] {
        let root = try ConfigNode.parse(try readFile(testFile), file: testFile)
        let top = try root.mapping(allowing: ["rule_files", "evaluation_interval", "group_eval_order", "tests", "fuzzy_compare"])
        let directory = testFile.contains("/") ? String(testFile[..<testFile.lastIndex(of: "/")!]) : "."
        var groups: [RuleGroup] = []
        for fileNode in try top["rule_files"]?.list() ?? [] {
            let name = try fileNode.string()
            let path = name.hasPrefix("/") ? name : directory + "/" + name
            groups.append(contentsOf: try RuleFileLoader.load(text: try readFile(path), file: path))
        }
        let evaluationInterval = try top["evaluation_interval"].map(duration) ?? 60_000
        var order: [String] = []
        if let orderNode = top["group_eval_order"] {
            for item in try orderNode.list() { order.append(try item.string()) }
        }
        let ordered = order.compactMap { name in groups.first { $0.name == name } } + groups.filter { !order.contains($0.name) }
        var failures: [String] = []
        for (index, testNode) in (try top["tests"]?.list() ?? []).enumerated() {
            let problems = try runTest(testNode, groups: ordered, evaluationInterval: evaluationInterval)
            if !problems.isEmpty {
                let test = try testNode.mapping(allowing: testKeys)
                let name = try test["name"]?.string() ?? "#\(index)"
                failures.append("    name: \(name),\n" + problems.joined(separator: "\n"))
            }
        }
        return failures
    }

    private static let testKeys = ["name", "interval", "input_series", "alert_rule_test", "promql_expr_test", "external_labels",
                                   "external_url", "start_timestamp"]

    private static func runTest(_ node: ConfigNode, groups: [RuleGroup], evaluationInterval: Int64) throws(ConfigError) -> [String] {
        let test = try node.mapping(allowing: testKeys)
        let interval = try test["interval"].map(duration) ?? evaluationInterval
        let storage = MemorySeriesStorage()
        for seriesNode in try test["input_series"]?.list() ?? [] {
            let entry = try seriesNode.mapping(allowing: ["series", "values"])
            let descriptionNode = try entry.required("series")
            let labels: Labels
            do {
                labels = try PromQLParser.parseSeriesDescription(try descriptionNode.string())
            } catch {
                throw descriptionNode.error("series: \(error)")
            }
            let valuesNode = try entry.required("values")
            guard let values = expandValues(try valuesNode.string()) else {
                throw valuesNode.error("cannot read the values (notation: 1 2 3, 1+2x10, 5x3, _, _x3, stale)")
            }
            for (index, value) in values.enumerated() {
                guard let value else { continue }
                storage.append(labels, time: Int64(index) * interval, value: value)
            }
        }
        var externalLabels: Labels = []
        if let labelsNode = test["external_labels"] {
            guard case .mapping(let entries) = labelsNode.node.content else { throw labelsNode.error("expected a mapping") }
            for entry in entries {
                if case .scalar(let key, _) = entry.key.content, case .scalar(let value, _) = entry.value.content {
                    externalLabels.append(Label(key, value))
                }
            }
        }
        var engine = RuleEngine(groups: groups, externalLabels: externalLabels.sortedByName(),
                                externalURL: try test["external_url"]?.string() ?? "")

        struct AlertCheck {
            var time: Int64
            var name: String
            var expected: [String]
            var node: ConfigNode
        }
        var checks: [AlertCheck] = []
        for checkNode in try test["alert_rule_test"]?.list() ?? [] {
            let check = try checkNode.mapping(allowing: ["eval_time", "alertname", "exp_alerts"])
            let name = try check.required("alertname").string()
            var expected: [String] = []
            for alertNode in try check["exp_alerts"]?.list() ?? [] {
                let alert = try alertNode.mapping(allowing: ["exp_labels", "exp_annotations"])
                var labels = try stringPairs(alert["exp_labels"])
                labels.set("alertname", name)
                expected.append(describe(labels, try stringPairs(alert["exp_annotations"])))
            }
            checks.append(AlertCheck(time: try check["eval_time"].map(duration) ?? 0, name: name, expected: expected.sorted(), node: checkNode))
        }
        var problems: [String] = []
        let queryTests = try test["promql_expr_test"]?.list() ?? []
        var lastTime: Int64 = checks.map(\.time).max() ?? 0
        for queryNode in queryTests {
            let query = try queryNode.mapping(allowing: ["expr", "eval_time", "exp_samples"])
            lastTime = max(lastTime, try query["eval_time"].map(duration) ?? 0)
        }
        var time: Int64 = 0
        while time <= lastTime {
            for index in engine.groups.indices {
                let evaluation = engine.evaluate(groupAt: index, time: time, storage: storage, subqueryStepMs: evaluationInterval)
                for sample in evaluation.samples { storage.append(sample.labels, time: time, value: sample.value) }
                for failure in evaluation.failures {
                    problems.append("    rule \(failure.rule) at \(formatTime(time)): \(failure.reason)")
                }
            }
            for check in checks where check.time >= time && check.time < time + evaluationInterval {
                let got = engine.activeAlerts.filter { $0.rule == check.name && $0.state == .firing }
                    .map { describe($0.labels, $0.annotations) }.sorted()
                if got != check.expected {
                    problems.append("    alertname: \(check.name), time: \(formatTime(check.time)),\n        exp:[\(check.expected.joined(separator: ", "))],\n        got:[\(got.joined(separator: ", "))]")
                }
            }
            time += evaluationInterval
        }
        for queryNode in queryTests {
            let query = try queryNode.mapping(allowing: ["expr", "eval_time", "exp_samples"])
            let exprNode = try query.required("expr")
            let exprText = try exprNode.string()
            let expr: Expr
            do {
                expr = try PromQLParser.parse(exprText)
            } catch {
                throw exprNode.error("\(error.message) (in expression \(exprText.debugDescription))")
            }
            let evalTime = try query["eval_time"].map(duration) ?? 0
            var expected: [(String, Double)] = []
            for sampleNode in try query["exp_samples"]?.list() ?? [] {
                let sample = try sampleNode.mapping(allowing: ["labels", "value", "histogram"])
                let labelsText = try sample["labels"]?.string() ?? "{}"
                let labels: Labels
                do {
                    labels = try PromQLParser.parseSeriesDescription(labelsText)
                } catch {
                    throw sampleNode.error("labels: \(error)")
                }
                let valueText = try sample.required("value").string()
                guard let value = Double(valueText.replacingInfinity) else { throw sampleNode.error("value '\(valueText)' is not a number") }
                expected.append((labels.promQLText, value))
            }
            var got: [(String, Double)] = []
            do {
                let result = try RuleEngine.instantVector(try Evaluator(storage: storage, time: evalTime, defaultSubqueryStepMs: evaluationInterval).evaluate(expr))
                got = result.map { ($0.labels.promQLText, $0.value) }
            } catch {
                problems.append("    expr: \(exprText.debugDescription), time: \(formatTime(evalTime)), err: \(error)")
                continue
            }
            let sortedExpected = expected.sorted { $0.0 < $1.0 }
            let sortedGot = got.sorted { $0.0 < $1.0 }
            let same = sortedExpected.count == sortedGot.count && zip(sortedExpected, sortedGot).allSatisfy {
                // Exactly, as promtool compares (so NaN never equals NaN there either).
                $0.0 == $1.0 && $0.1 == $1.1
            }
            if !same {
                func show(_ list: [(String, Double)]) -> String { list.map { "{\($0.0) \(GoFloat.format($0.1, "e", 16))}" }.joined(separator: ", ") }
                problems.append("    expr: \(exprText.debugDescription), time: \(formatTime(evalTime)),\n        exp: [\(show(sortedExpected))]\n        got: [\(show(sortedGot))]")
            }
        }
        return problems
    }

    private static func stringPairs(_ node: ConfigNode?) throws(ConfigError) -> Labels {
        guard let node else { return [] }
        guard case .mapping(let entries) = node.node.content else { throw node.error("expected a mapping") }
        var result: Labels = []
        for entry in entries {
            guard case .scalar(let key, _) = entry.key.content, case .scalar(let value, _) = entry.value.content else {
                throw node.error("expected string keys and values")
            }
            result.append(Label(key, value))
        }
        return result.sortedByName()
    }

    private static func describe(_ labels: Labels, _ annotations: Labels) -> String {
        "(labels: \(labels.promQLText), annotations: \(annotations.promQLText))"
    }

    /// Prometheus's duration text (`10m30s`, `1h`, `0s`), as promtool prints eval times.
    static func formatTime(_ ms: Int64) -> String {
        if ms == 0 { return "0s" }
        var rest = ms
        var text = ""
        for (unit, size) in [("y", Int64(31_536_000_000)), ("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] {
            if rest >= size {
                text += "\(rest / size)\(unit)"
                rest %= size
            }
        }
        return text
    }

    /// promtool's series notation: `1 2 3`, `a+bxn` (n+1 values), `axn`, `_` (missing),
    /// `_xn`, `stale`. nil entries are missing samples.
    public static func expandValues(_ text: String) -> [Double?]? {
        var values: [Double?] = []
        for token in text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            if token == "_" {
                values.append(nil)
                continue
            }
            if token == "stale" {
                values.append(Double(bitPattern: staleMarkerBits))
                continue
            }
            if let x = token.lastIndex(of: "x"), let count = Int(token[token.index(after: x)...]) {
                let head = token[..<x]
                if head == "_" {
                    values.append(contentsOf: [Double?](repeating: nil, count: count))
                    continue
                }
                if head == "stale" {
                    values.append(contentsOf: [Double?](repeating: Double(bitPattern: staleMarkerBits), count: count))
                    continue
                }
                // Split `a+b` / `a-b` at the sign that is not the first character or an exponent's.
                let characters = Array(head)
                var split: Int?
                for index in characters.indices.dropFirst() where (characters[index] == "+" || characters[index] == "-")
                    && characters[index - 1] != "e" && characters[index - 1] != "E" {
                    split = index
                }
                var start: Double
                var delta = 0.0
                if let split {
                    guard let a = Double(String(characters[..<split]).replacingInfinity),
                          let b = Double(String(characters[split...]).replacingInfinity) else { return nil }
                    (start, delta) = (a, b)
                } else {
                    guard let a = Double(String(head).replacingInfinity) else { return nil }
                    start = a
                }
                for _ in 0...count {
                    values.append(start)
                    start += delta
                }
                continue
            }
            guard let value = Double(String(token).replacingInfinity) else { return nil }
            values.append(value)
        }
        return values
    }
}

extension String {
    /// Go's float syntax for infinities and NaN, which Swift's parser spells differently.
    var replacingInfinity: String {
        switch lowercased() {
        case "+inf", "inf", ".inf", "+.inf": return "inf"
        case "-inf", "-.inf": return "-inf"
        case "nan", ".nan": return "nan"
        default: return self
        }
    }
}
