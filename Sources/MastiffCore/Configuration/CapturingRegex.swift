import CRE2

/// A regular expression as Go's regexp reads it — RE2's syntax and leftmost-first matching, in
/// time linear in the text and memory bounded by the pattern (Debian's libre2; ADR 20) — for
/// everything Prometheus, Alertmanager or statsd_exporter would read as Go: PromQL label
/// matchers, `label_replace`, templates' `match` and `reReplaceAll`, route and silence
/// matchers, statsd mapping rules. Unanchored: callers anchor as Prometheus does
/// (`^(?:…)$`). One compiled instance is safe to share between threads (RE2 is).
public final class CapturingRegex: @unchecked Sendable {
    private let regex: OpaquePointer
    /// Number of capturing groups in the compiled pattern.
    public let groupCount: Int
    /// Named groups (`(?P<code>…)`) and their numbers, for `${code}` in replacements.
    public let groupNumbers: [String: Int]

    /// The longest pattern mastiff compiles.
    public static let maxPatternLength = 16 << 10

    /// Compiles `pattern`; the error is RE2's reason (`missing ): (a`, `invalid escape
    /// sequence: \1`, `invalid repetition size: {1001}`).
    public init(_ pattern: String) throws(ConfigErrorReason) {
        let bytes = Array(pattern.utf8)
        guard bytes.count <= Self.maxPatternLength else { throw ConfigErrorReason("pattern longer than \(Self.maxPatternLength) bytes") }
        var error = [CChar](repeating: 0, count: 256)
        let compiled = bytes.withUnsafeBufferPointer { pattern in
            pattern.withMemoryRebound(to: CChar.self) { mastiff_re2_compile($0.baseAddress, $0.count, &error, error.count) }
        }
        guard let compiled else {
            throw ConfigErrorReason(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        regex = compiled
        groupCount = Int(mastiff_re2_groups(compiled))
        var names: [String: Int] = [:]
        var name = [CChar](repeating: 0, count: 256)
        for index in stride(from: 1, through: groupCount, by: 1) where mastiff_re2_group_name(compiled, Int32(index), &name, name.count) >= 0 {
            names[String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)] = index
        }
        groupNumbers = names
    }

    deinit { mastiff_re2_free(regex) }

    /// Why `pattern` is not a Go regexp, or nil.
    public static func problem(_ pattern: String) -> String? {
        do {
            _ = try CapturingRegex(pattern)
            return nil
        } catch {
            return error.description
        }
    }

    /// The leftmost-first match at or after UTF-8 offset `start`: group 0 is the whole match,
    /// then each group's byte range in `text`'s UTF-8 (nil for a group that did not take part).
    /// Nil when there is no match.
    public func firstMatch(in text: String, from start: Int = 0) -> [Range<Int>?]? {
        var text = text
        let pairs = groupCount + 1
        var spans = [Int](repeating: -1, count: 2 * pairs)
        let matched = text.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) { characters in
                spans.withUnsafeMutableBufferPointer { spans in
                    mastiff_re2_match(regex, characters.baseAddress, characters.count, max(0, start), spans.baseAddress, Int32(pairs))
                }
            }
        }
        guard matched == 1 else { return nil }
        return (0..<pairs).map { index in spans[2 * index] < 0 ? nil : spans[2 * index]..<spans[2 * index + 1] }
    }

    /// Whether the pattern matches anywhere in `text`.
    public func matches(_ text: String) -> Bool {
        var text = text
        var spans = [Int](repeating: -1, count: 2)
        return text.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) { characters in
                spans.withUnsafeMutableBufferPointer { spans in
                    mastiff_re2_match(regex, characters.baseAddress, characters.count, 0, spans.baseAddress, 0) == 1
                }
            }
        }
    }
}
