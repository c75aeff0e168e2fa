import MastiffCore

/// What a statsd name becomes.
public enum MappingOutcome: Sendable, Equatable {
    /// A rule matched: the Prometheus name (still to be escaped) and the rule's labels.
    case mapped(rule: Int, name: String, labels: [Label])
    /// A rule with `action: drop` matched.
    case dropped
    /// No rule matched.
    case unmatched
}

/// Applies a mapping file in statsd_exporter's order: every glob rule first (the first in file
/// order that matches wins), then the regex rules in file order. Pure and immutable; the series
/// store caches what each name resolves to.
public final class StatsdMapper: Sendable {
    public let mapping: StatsdMapping
    private let globRules: [(index: Int, fields: [String?])]

    public init(mapping: StatsdMapping) {
        self.mapping = mapping
        globRules = mapping.rules.enumerated().compactMap { index, rule in
            if case .glob(let fields) = rule.matcher { return (index, fields) }
            return nil
        }
    }

    /// What `name`, an event of `type`, maps to.
    public func resolve(_ name: String, type: StatsdMetricType) -> MappingOutcome {
        if !globRules.isEmpty {
            let fields = name.split(separator: ".", omittingEmptySubsequences: false)
            for (index, pattern) in globRules where pattern.count == fields.count {
                let rule = mapping.rules[index]
                if let wanted = rule.matchMetricType, wanted != type { continue }
                var captures: [Substring] = [Substring(name)]
                var matched = true
                for (field, expected) in zip(fields, pattern) {
                    if let expected {
                        guard field == expected else { matched = false; break }
                    } else {
                        captures.append(field)
                    }
                }
                if matched { return outcome(rule, index: index, captures: captures) }
            }
        }
        for (index, rule) in mapping.rules.enumerated() {
            guard case .regex(let regex) = rule.matcher else { continue }
            if let wanted = rule.matchMetricType, wanted != type { continue }
            guard let groups = regex.firstMatch(in: name) else { continue }
            let utf8 = name.utf8
            func text(_ range: Range<Int>?) -> Substring {
                guard let range else { return "" }
                return Substring(utf8[utf8.index(utf8.startIndex, offsetBy: range.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: range.upperBound)])
            }
            var captures = [text(groups[0])]
            for group in groups.dropFirst() { captures.append(text(group)) }
            return outcome(rule, index: index, captures: captures)
        }
        return .unmatched
    }

    private func outcome(_ rule: StatsdMapping.Rule, index: Int, captures: [Substring]) -> MappingOutcome {
        if rule.action == .drop { return .dropped }
        return .mapped(rule: index, name: rule.name.expand(captures),
                       labels: rule.labels.map { Label($0.name, $0.value.expand(captures)) })
    }
}

/// Turning statsd names and tag keys into Prometheus names.
public enum StatsdNames {
    /// statsd_exporter's escaping: every character outside `[a-zA-Z0-9_]` becomes `_` (a run of
    /// `-` becomes one `_`), and a leading digit gets a `_` in front.
    public static func escape(_ name: String) -> String {
        var needsWork = name.utf8.first?.isDigitByte ?? false
        if !needsWork {
            for byte in name.utf8 where !byte.isNameByte {
                needsWork = true
                break
            }
        }
        guard needsWork else { return name }
        var output: [UInt8] = []
        output.reserveCapacity(name.utf8.count + 1)
        if let first = name.utf8.first, first.isDigitByte { output.append(UInt8(ascii: "_")) }
        var previous: Unicode.Scalar?
        for scalar in name.unicodeScalars {
            if scalar.isASCII, UInt8(scalar.value).isNameByte {
                output.append(UInt8(scalar.value))
            } else if scalar == "-", previous == "-" {
                // statsd_exporter keeps `--` as one `_`, so mapped and unmapped names agree.
            } else {
                output.append(UInt8(ascii: "_"))
            }
            if !(scalar == "-" && previous == "-") { previous = scalar }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The escaped name in lower case: what `unmapped: escape` exposes, so that names such as
    /// `Mastodon.production.web.StatusesController` pass `promtool check metrics`, which
    /// refuses camelCase.
    public static func escapeLowercased(_ name: String) -> String {
        let escaped = escape(name)
        guard escaped.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return escaped }
        return String(decoding: escaped.utf8.map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 + 0x20 : $0 }, as: UTF8.self)
    }
}
