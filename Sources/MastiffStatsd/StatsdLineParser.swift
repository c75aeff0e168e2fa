/// One metric event from a statsd line.
public struct StatsdEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A counter increment, already divided by the sample rate.
        case counter(Double)
        /// A gauge set, or (`relative`) a `+`/`-` change of the current value.
        case gauge(Double, relative: Bool)
        /// A timer in milliseconds (`ms`), histogram (`h`) or distribution (`d`) observation;
        /// `weight` is 1 / sample rate, how many observations this one stands for.
        case observation(Double, type: ObservationType, weight: Double)
    }

    public enum ObservationType: String, Sendable, Equatable {
        case timer = "ms", histogram = "h", distribution = "d"
    }

    public var name: String
    public var kind: Kind
    public var tags: [Label]

    public init(name: String, kind: Kind, tags: [Label] = []) {
        self.name = name
        self.kind = kind
        self.tags = tags
    }
}

/// Why a line (or one value of it) was rejected; the listener counts these as
/// `statsd_parse_errors_total{reason}`, never as an error page.
public enum StatsdParseError: String, Sendable, Equatable, CaseIterable {
    case malformedLine = "malformed_line"
    case emptyName = "empty_name"
    case malformedValue = "malformed_value"
    case unsupportedType = "unsupported_type"
    case badSampleRate = "bad_sample_rate"
    case malformedTag = "malformed_tag"
}

/// Parses statsd lines as statsd_exporter does: `name:value|type[|@rate][|#tags]`, several
/// `value|type` samples per line (`name:1|c:2|c`), DogStatsD packed values (`name:1:2:3|d`), and
/// tags in the DogStatsD (`|#k:v`), InfluxDB (`name,k=v`), Librato (`name#k=v`) and SignalFX
/// (`name[k=v]`) forms. Sets (`s`) are rejected as `unsupported_type`: a set needs the distinct
/// values kept per series, unbounded memory for a bridge whose job is counters and timings.
public enum StatsdLineParser {
    public struct Result: Sendable, Equatable {
        public var events: [StatsdEvent] = []
        public var errors: [StatsdParseError] = []
    }

    /// Parses a packet or stream chunk: lines separated by `\n` (a trailing `\r` is dropped).
    public static func parse(packet: String) -> Result {
        var result = Result()
        // "\r\n" is one Character in Swift, so both line ends are named.
        for line in packet.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            var text = line
            if text.hasSuffix("\r") { text = text.dropLast() }
            guard !text.isEmpty else { continue }
            parse(line: text, into: &result)
        }
        return result
    }

    public static func parse(line: Substring, into result: inout Result) {
        guard let colon = line.firstIndex(of: ":") else {
            result.errors.append(.malformedLine)
            return
        }
        let (name, nameTags, tagError) = splitNameTags(line[..<colon])
        var tags = nameTags
        if let tagError {
            result.errors.append(tagError)
            return
        }
        guard !name.isEmpty else {
            result.errors.append(.emptyName)
            return
        }
        // DogStatsD tags come after the type and apply to every sample of the line.
        var samples = line[line.index(after: colon)...]
        if let hash = samples.range(ofLiteral: "|#") {
            guard let parsed = parseTags(samples[hash.upperBound...], separator: ":") else {
                result.errors.append(.malformedTag)
                return
            }
            tags.append(contentsOf: parsed)
            samples = samples[..<hash.lowerBound]
        }
        // `1|c:2|c` — several samples; `1:2:3|d` — packed values of one type.
        var pendingValues: [Substring] = []
        for piece in samples.split(separator: ":", omittingEmptySubsequences: false) {
            guard piece.contains("|") else {
                pendingValues.append(piece)
                continue
            }
            let fields = piece.split(separator: "|", omittingEmptySubsequences: false)
            pendingValues.append(fields[0])
            let values = pendingValues
            pendingValues = []
            guard fields.count >= 2, fields.count <= 3 else {
                result.errors.append(.malformedLine)
                continue
            }
            var rate = 1.0
            if fields.count == 3 {
                guard fields[2].hasPrefix("@"), let parsed = Double(fields[2].dropFirst()), parsed > 0, parsed <= 1 else {
                    result.errors.append(.badSampleRate)
                    continue
                }
                rate = parsed
            }
            for value in values {
                if let event = makeEvent(name: String(name), value: value, type: fields[1], rate: rate, tags: tags, errors: &result.errors) {
                    result.events.append(event)
                }
            }
        }
        if !pendingValues.isEmpty { result.errors.append(.malformedLine) }
    }

    private static func makeEvent(name: String, value: Substring, type: Substring, rate: Double, tags: [Label],
                                  errors: inout [StatsdParseError]) -> StatsdEvent? {
        let relative = value.first == "+" || value.first == "-"
        guard let number = Double(value), number.isFinite else {
            errors.append(.malformedValue)
            return nil
        }
        switch type {
        case "c":
            return StatsdEvent(name: name, kind: .counter(number / rate), tags: tags)
        case "g":
            return StatsdEvent(name: name, kind: .gauge(number, relative: relative), tags: tags)
        case "ms", "h", "d":
            return StatsdEvent(name: name, kind: .observation(number, type: StatsdEvent.ObservationType(rawValue: String(type))!, weight: 1 / rate),
                               tags: tags)
        default:
            errors.append(.unsupportedType)
            return nil
        }
    }

    /// Splits InfluxDB (`name,k=v`), Librato (`name#k=v`) and SignalFX (`name[k=v]rest`) tags
    /// off the name.
    static func splitNameTags(_ text: Substring) -> (Substring, [Label], StatsdParseError?) {
        if let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]") {
            guard let tags = parseTags(text[text.index(after: open)..<close], separator: "=") else { return (text, [], .malformedTag) }
            return (text[..<open] + text[text.index(after: close)...], tags, nil)
        }
        // InfluxDB and Librato: whichever of "," and "#" comes first starts the tags.
        if let index = text.firstIndex(where: { $0 == "," || $0 == "#" }) {
            guard let tags = parseTags(text[text.index(after: index)...], separator: "=") else { return (text, [], .malformedTag) }
            return (text[..<index], tags, nil)
        }
        return (text, [], nil)
    }

    /// `k1<sep>v1,k2<sep>v2`; a tag without a separator or with an empty key is malformed.
    static func parseTags(_ text: Substring, separator: Character) -> [Label]? {
        var tags: [Label] = []
        for pair in text.split(separator: ",", omittingEmptySubsequences: true) {
            guard let index = pair.firstIndex(of: separator), index > pair.startIndex else { return nil }
            tags.append(Label(String(pair[..<index]), String(pair[pair.index(after: index)...])))
        }
        return tags
    }
}

extension Substring {
    fileprivate func range(ofLiteral needle: String) -> Range<Substring.Index>? {
        let target = Array(needle.utf8)
        var index = startIndex
        while index < endIndex {
            if self[index...].utf8.starts(with: target) {
                return index..<self.utf8.index(index, offsetBy: target.count)
            }
            index = self.index(after: index)
        }
        return nil
    }
}

import MastiffCore
