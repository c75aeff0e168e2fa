import MastiffCore

/// A statsd_exporter mapping file, read unchanged: `defaults` and `mappings` with the keys
/// statsd_exporter documents. Validation errors point at the file, line and column.
public struct StatsdMapping: Sendable {
    public enum Action: String, Sendable { case map, drop }
    public enum ObserverType: String, Sendable { case histogram, summary }

    public struct Quantile: Sendable, Equatable {
        public var quantile: Double
        public var error: Double
    }

    public struct SummaryOptions: Sendable, Equatable {
        public var quantiles: [Quantile] = []
        public var maxAge: Duration = .zero
        public var ageBuckets = 0
        public var bufferCapacity = 0
    }

    /// One rule, with every default already applied.
    public struct Rule: Sendable {
        public enum Matcher: Sendable {
            /// Dot-separated fields, each a literal or `*` (one whole field, possibly empty).
            case glob([String?])
            /// A Go (RE2) regexp, unanchored as statsd_exporter runs it; `$n` is its n-th group.
            case regex(CapturingRegex)
        }

        public var match: String
        public var matcher: Matcher
        public var matchMetricType: StatsdMetricType?
        public var name: MappingTemplate
        public var labels: [(name: String, value: MappingTemplate)]
        public var action: Action
        public var observerType: ObserverType
        public var buckets: [Double]
        public var summary: SummaryOptions
        /// Zero: series never expire.
        public var ttl: Duration
        public var honorLabels: Bool
        public var scale: Double?
        public var help: String?
    }

    public var rules: [Rule] = []
    /// Applied to events no rule matched.
    public var defaultObserverType: ObserverType = .summary
    public var defaultBuckets = StatsdMapping.prometheusDefaultBuckets
    public var defaultSummary = StatsdMapping.resolvedSummary(SummaryOptions(), defaults: SummaryOptions())
    public var defaultTTL: Duration = .zero

    public init() {}

    /// client_golang's `DefBuckets`, statsd_exporter's default.
    public static let prometheusDefaultBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    static let defaultQuantiles = [Quantile(quantile: 0.5, error: 0.05), Quantile(quantile: 0.9, error: 0.01),
                                   Quantile(quantile: 0.99, error: 0.001)]

    static func resolvedSummary(_ options: SummaryOptions, defaults: SummaryOptions) -> SummaryOptions {
        var resolved = options
        if resolved.quantiles.isEmpty { resolved.quantiles = defaults.quantiles.isEmpty ? defaultQuantiles : defaults.quantiles }
        if resolved.maxAge == .zero { resolved.maxAge = defaults.maxAge == .zero ? .seconds(600) : defaults.maxAge }
        if resolved.ageBuckets == 0 { resolved.ageBuckets = defaults.ageBuckets == 0 ? 5 : defaults.ageBuckets }
        if resolved.bufferCapacity == 0 { resolved.bufferCapacity = defaults.bufferCapacity == 0 ? 500 : defaults.bufferCapacity }
        return resolved
    }
}

extension StatsdMapping {
    public static func load(path: String) throws(ConfigError) -> StatsdMapping {
        let text: String
        do {
            text = try FileSystemAccess.readRegularFile(path, limit: 4 << 20)
        } catch {
            throw ConfigError(unreadable: path, error)
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws(ConfigError) -> StatsdMapping {
        let root = try ConfigNode.parse(text, file: file)
        let top = try root.mapping(allowing: ["defaults", "mappings"])
        var mapping = StatsdMapping()
        var defaults = RawOptions()
        var matchTypeDefault = "glob"
        if let node = top["defaults"] {
            let map = try node.mapping(allowing: ["observer_type", "timer_type", "buckets", "quantiles", "match_type",
                                                  "glob_disable_ordering", "ttl", "summary_options", "histogram_options"])
            defaults = try RawOptions(map)
            if let type = map["match_type"] { matchTypeDefault = try matchType(type) }
            // Ordering is always kept: the first matching rule in file order wins, one of the
            // outcomes statsd_exporter allows when ordering is disabled.
            if let disable = map["glob_disable_ordering"] { _ = try disable.bool() }
            if let ttl = map["ttl"] { mapping.defaultTTL = try ttl.duration() }
        }
        mapping.defaultObserverType = defaults.observerType ?? .summary
        mapping.defaultBuckets = defaults.buckets ?? prometheusDefaultBuckets
        mapping.defaultSummary = resolvedSummary(defaults.summary ?? SummaryOptions(), defaults: SummaryOptions())

        for item in try top["mappings"]?.list() ?? [] {
            mapping.rules.append(try parseRule(item, mapping: mapping, defaults: defaults, matchTypeDefault: matchTypeDefault))
        }
        return mapping
    }

    /// Observer options as written in `defaults` or in one mapping, legacy keys folded in.
    private struct RawOptions {
        var observerType: ObserverType?
        var buckets: [Double]?
        var summary: SummaryOptions?
        var wroteHistogramOptions = false
        var wroteSummaryOptions = false

        init() {}

        init(_ map: ConfigMapping) throws(ConfigError) {
            if let node = map["observer_type"] ?? map["timer_type"] {
                let text = try node.string()
                // "" is statsd_exporter's "not set": the defaults apply.
                if !text.isEmpty {
                    guard let type = ObserverType(rawValue: text) else { throw node.error("unknown observer_type '\(text)' (histogram, summary)") }
                    observerType = type
                }
            }
            if let node = map["histogram_options"] {
                wroteHistogramOptions = true
                let options = try node.mapping(allowing: ["buckets", "native_histogram_bucket_factor", "native_histogram_max_buckets"])
                if let bucketsNode = options["buckets"] { buckets = try StatsdMapping.buckets(bucketsNode) }
            }
            if let node = map["buckets"] {
                guard buckets == nil else { throw node.error("buckets given both here and in histogram_options") }
                buckets = try StatsdMapping.buckets(node)
            }
            var summaryOptions = SummaryOptions()
            var wroteSummary = false
            if let node = map["summary_options"] {
                wroteSummaryOptions = true
                wroteSummary = true
                let options = try node.mapping(allowing: ["quantiles", "max_age", "age_buckets", "buf_cap"])
                if let quantiles = options["quantiles"] { summaryOptions.quantiles = try StatsdMapping.quantiles(quantiles) }
                if let age = options["max_age"] { summaryOptions.maxAge = try age.duration(atLeast: .seconds(1)) }
                if let buckets = options["age_buckets"] { summaryOptions.ageBuckets = try buckets.int(in: 1...60) }
                if let capacity = options["buf_cap"] { summaryOptions.bufferCapacity = try capacity.int(in: 1...100_000) }
            }
            if let node = map["quantiles"] {
                guard summaryOptions.quantiles.isEmpty else { throw node.error("quantiles given both here and in summary_options") }
                summaryOptions.quantiles = try StatsdMapping.quantiles(node)
                wroteSummary = true
            }
            if wroteSummary { summary = summaryOptions }
        }
    }

    private static func parseRule(_ node: ConfigNode, mapping: StatsdMapping, defaults: RawOptions,
                                  matchTypeDefault: String) throws(ConfigError) -> Rule {
        let map = try node.mapping(allowing: [
            "match", "name", "labels", "observer_type", "timer_type", "buckets", "quantiles", "match_type", "help", "action",
            "match_metric_type", "ttl", "summary_options", "histogram_options", "scale", "honor_labels",
        ])
        let matchNode = try map.required("match")
        let match = try matchNode.string()
        let matchType = try map["match_type"].map { node throws(ConfigError) in try Self.matchType(node) } ?? matchTypeDefault
        let matcher: Rule.Matcher
        let captureCount: Int
        if matchType == "glob" {
            guard let fields = globFields(match) else {
                throw matchNode.error("invalid glob '\(match)': each dot-separated field is * or a name like [a-zA-Z_](-?[a-zA-Z0-9_])*")
            }
            matcher = .glob(fields)
            captureCount = fields.filter { $0 == nil }.count
        } else {
            do {
                let regex = try CapturingRegex(match)
                matcher = .regex(regex)
                captureCount = regex.groupCount
            } catch {
                throw matchNode.error("invalid regex '\(match)': \(error)")
            }
        }
        let style: MappingTemplate.Style = matchType == "glob" ? .glob : .regex

        var action = Action.map
        if let actionNode = map["action"] {
            let text = try actionNode.string()
            guard let parsed = Action(rawValue: text) else { throw actionNode.error("unknown action '\(text)' (map, drop)") }
            action = parsed
        }
        let nameNode = map["name"]
        let nameText = try nameNode?.string() ?? ""
        if action == .map {
            guard let nameNode, !nameText.isEmpty else { throw node.error("mapping for '\(match)' has no name") }
            guard MappingTemplate.isValidNameTemplate(nameText) else {
                throw nameNode.error("metric name '\(nameText)' is not valid: letters, digits, _ and $n references, not starting with a digit")
            }
        }
        var labels: [(name: String, value: MappingTemplate)] = []
        var labelKeyNodes: [String: ConfigNode] = [:]
        if let labelsNode = map["labels"], case .mapping(let entries) = labelsNode.node.content {
            for entry in entries {
                let keyNode = ConfigNode(node: entry.key, file: labelsNode.file, keyPath: labelsNode.keyPath)
                let key = try keyNode.string()
                guard MetricName.isValidLabelName(key) else { throw keyNode.error("invalid label name '\(key)'") }
                guard !labels.contains(where: { $0.name == key }) else { throw keyNode.error("duplicate label '\(key)'") }
                let value = try ConfigNode(node: entry.value, file: labelsNode.file, keyPath: "\(labelsNode.keyPath).\(key)").string()
                labels.append((key, MappingTemplate(value, style: style, captureCount: captureCount)))
                labelKeyNodes[key] = keyNode
            }
        } else if let labelsNode = map["labels"] {
            throw labelsNode.error("labels must be a mapping of label name to value")
        }

        var metricType: StatsdMetricType?
        if let typeNode = map["match_metric_type"] {
            let text = try typeNode.string()
            guard let parsed = StatsdMetricType(rawValue: text) else {
                throw typeNode.error("invalid match_metric_type '\(text)' (counter, gauge, observer)")
            }
            metricType = parsed
        }
        let options = try RawOptions(map)
        let observerType = options.observerType ?? defaults.observerType ?? .summary
        if observerType == .histogram, options.wroteSummaryOptions {
            throw node.error("cannot use the histogram observer and summary_options at the same time")
        }
        if observerType == .summary, options.wroteHistogramOptions {
            throw node.error("cannot use the summary observer and histogram_options at the same time")
        }
        // Observers of this rule become histograms or summaries, whose bucket and quantile lines
        // carry `le` or `quantile` themselves: a second one makes Prometheus reject the scrape.
        if metricType == nil || metricType == .observer {
            let reserved = observerType == .histogram ? "le" : "quantile"
            if let keyNode = labelKeyNodes[reserved] {
                throw keyNode.error("label '\(reserved)' is reserved for \(observerType == .histogram ? "histogram buckets" : "summary quantiles"); rename it, or set match_metric_type to counter or gauge")
            }
        }
        var scale: Double?
        if let scaleNode = map["scale"] {
            let text = try scaleNode.string()
            guard let value = Double(text), value.isFinite else { throw scaleNode.error("scale '\(text)' is not a number") }
            scale = value
        }
        return Rule(
            match: match, matcher: matcher, matchMetricType: metricType,
            name: MappingTemplate(nameText, style: style, captureCount: captureCount), labels: labels, action: action,
            observerType: observerType, buckets: options.buckets ?? mapping.defaultBuckets,
            summary: resolvedSummary(options.summary ?? SummaryOptions(), defaults: defaults.summary ?? SummaryOptions()),
            ttl: try map["ttl"]?.duration() ?? mapping.defaultTTL,
            honorLabels: try map["honor_labels"]?.bool() ?? false, scale: scale, help: try map["help"]?.string())
    }

    private static func matchType(_ node: ConfigNode) throws(ConfigError) -> String {
        let text = try node.string()
        guard text == "glob" || text == "regex" else { throw node.error("unknown match_type '\(text)' (glob, regex)") }
        return text
    }

    private static func buckets(_ node: ConfigNode) throws(ConfigError) -> [Double] {
        var values: [Double] = []
        for item in try node.list() {
            let text = try item.string()
            guard let value = Double(text), value.isFinite else { throw item.error("bucket '\(text)' is not a number") }
            guard values.last.map({ $0 < value }) ?? true else { throw item.error("buckets must be in increasing order") }
            values.append(value)
        }
        guard !values.isEmpty else { throw node.error("buckets must not be empty") }
        return values
    }

    private static func quantiles(_ node: ConfigNode) throws(ConfigError) -> [Quantile] {
        var values: [Quantile] = []
        for item in try node.list() {
            let map = try item.mapping(allowing: ["quantile", "error"])
            let quantileNode = try map.required("quantile")
            guard let quantile = Double(try quantileNode.string()), quantile >= 0, quantile <= 1 else {
                throw quantileNode.error("quantile must be a number from 0 to 1")
            }
            var error = 0.0
            if let errorNode = map["error"] {
                guard let parsed = Double(try errorNode.string()), parsed >= 0, parsed < 1 else { throw errorNode.error("error must be a number from 0 to 1") }
                error = parsed
            }
            values.append(Quantile(quantile: quantile, error: error))
        }
        return values
    }

    /// statsd_exporter's glob syntax: fields `*` or `[a-zA-Z_](-?[a-zA-Z0-9_])*`; nil marks `*`.
    static func globFields(_ match: String) -> [String?]? {
        var fields: [String?] = []
        for field in match.split(separator: ".", omittingEmptySubsequences: false) {
            if field == "*" {
                fields.append(nil)
                continue
            }
            var previousDash = true
            for (offset, byte) in field.utf8.enumerated() {
                if offset == 0 {
                    guard byte.isNameStartByte else { return nil }
                    previousDash = false
                } else if byte == UInt8(ascii: "-") {
                    guard !previousDash else { return nil }
                    previousDash = true
                } else {
                    guard byte.isNameByte else { return nil }
                    previousDash = false
                }
            }
            guard !field.isEmpty, !previousDash else { return nil }
            fields.append(String(field))
        }
        return fields.count >= 2 ? fields : nil
    }
}
