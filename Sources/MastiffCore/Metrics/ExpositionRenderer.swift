/// Renders metric families in the Prometheus text format, version 0.0.4.
///
/// Families are sorted by name and duplicates are merged, so the output is stable across scrapes
/// and `promtool check metrics` has nothing to say. See docs/adr/0002-own-exposition-renderer.md
/// for why this is not swift-prometheus.
public enum ExpositionRenderer {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(_ families: [MetricFamily]) -> String {
        var merged: [String: MetricFamily] = [:]
        for family in families {
            if var existing = merged[family.name] {
                // Same name from two sources with different types cannot be exposed as one family:
                // keep the first, as statsd_exporter does.
                guard existing.type == family.type else { continue }
                existing.samples.append(contentsOf: family.samples)
                merged[family.name] = existing
            } else {
                merged[family.name] = family
            }
        }
        var out = ""
        out.reserveCapacity(16 * 1024)
        for name in merged.keys.sorted() {
            let family = merged[name]!
            appendHeader(name, help: family.help, type: family.type, to: &out)
            for sample in family.samples {
                appendSample(name, suffix: sample.suffix, labels: sample.labels, value: sample.value, to: &out)
            }
        }
        return out
    }

    /// `# HELP` and `# TYPE` lines, for code that writes samples itself.
    public static func appendHeader(_ name: String, help: String, type: MetricType, to out: inout String) {
        out += "# HELP \(name) \(escapeHelp(help))\n"
        out += "# TYPE \(name) \(type.rawValue)\n"
    }

    public static func appendSample(_ name: String, suffix: String, labels: [Label], value: Double, to out: inout String) {
        out += name
        out += suffix
        if !labels.isEmpty {
            out += "{"
            for (i, label) in labels.enumerated() {
                if i > 0 { out += "," }
                out += label.name
                out += "=\""
                out += escapeLabelValue(label.value)
                out += "\""
            }
            out += "}"
        }
        out += " "
        out += formatValue(value)
        out += "\n"
    }

    /// One sample from parallel label names and values plus an optional extra label (`le`,
    /// `quantile`), without building `Label` arrays: the statsd store writes thousands of these.
    public static func appendSample(_ name: String, suffix: String, labelNames: [String], labelValues: [String],
                                    extra: (name: String, value: String)? = nil, value: Double, to out: inout String) {
        out += name
        out += suffix
        if !labelNames.isEmpty || extra != nil {
            out += "{"
            for index in labelNames.indices {
                if index > 0 { out += "," }
                out += labelNames[index]
                out += "=\""
                out += escapeLabelValue(labelValues[index])
                out += "\""
            }
            if let extra {
                if !labelNames.isEmpty { out += "," }
                out += extra.name
                out += "=\""
                out += extra.value
                out += "\""
            }
            out += "}"
        }
        out += " "
        out += formatValue(value)
        out += "\n"
    }

    public static func escapeHelp(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x5C || $0 == 0x0A }) else { return text }
        var out = ""
        for ch in text {
            switch ch {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out
    }

    public static func escapeLabelValue(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x5C || $0 == 0x0A || $0 == 0x22 }) else { return text }
        var out = ""
        for ch in text {
            switch ch {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\"": out += "\\\""
            default: out.append(ch)
            }
        }
        return out
    }

    /// Integers print without a fraction; other values use Swift's shortest round-trip form, which
    /// Prometheus' parser (Go's ParseFloat) reads exactly.
    public static func formatValue(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 {
            return String(Int64(value))
        }
        return value.description
    }
}
