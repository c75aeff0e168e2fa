#if canImport(Glibc)
import Glibc
#endif
import MastiffCore

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

    /// The type a mapping's `match_metric_type` compares with.
    public var metricType: StatsdMetricType {
        switch kind {
        case .counter: return .counter
        case .gauge: return .gauge
        case .observation: return .observer
        }
    }
}

/// statsd_exporter's three event classes, as written in `match_metric_type`.
public enum StatsdMetricType: String, Sendable, Equatable, CaseIterable {
    case counter, gauge, observer
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
    /// A TCP line or datagram longer than `max_packet_size`.
    case tooLong = "too_long"
    /// A tag named `le` on a histogram or `quantile` on a summary, kept as `exported_le` or
    /// `exported_quantile` (counted by the series store, not the parser).
    case reservedLabel = "reserved_label"
}

/// Parses statsd lines as statsd_exporter does: `name:value|type[|@rate][|#tags]`, several
/// `value|type` samples per line (`name:1|c:2|c`), DogStatsD packed values (`name:1:2:3|d`), and
/// tags in the DogStatsD (`|#k:v`), InfluxDB (`name,k=v`), Librato (`name#k=v`) and SignalFX
/// (`name[k=v]`) forms. Sets (`s`) are rejected as `unsupported_type`: a set needs the distinct
/// values kept per series, unbounded memory for a bridge whose job is counters and timings.
///
/// Works on bytes: a datagram is parsed where the kernel put it, and only the name and tag
/// strings are copied out.
public enum StatsdLineParser {
    public struct Result: Sendable, Equatable {
        public var events: [StatsdEvent] = []
        public var errors: [StatsdParseError] = []
        public var lines = 0
        public init() {}

        public mutating func removeAll() {
            events.removeAll(keepingCapacity: true)
            errors.removeAll(keepingCapacity: true)
            lines = 0
        }
    }

    public static func parse(packet: String) -> Result {
        var result = Result()
        var text = packet
        text.withUTF8 { parse(packet: UnsafeRawBufferPointer($0), into: &result) }
        return result
    }

    /// Parses a datagram or a run of complete stream lines: lines separated by `\n`, a trailing
    /// `\r` dropped, empty lines skipped.
    public static func parse(packet: UnsafeRawBufferPointer, into result: inout Result) {
        guard let base = packet.baseAddress, packet.count > 0 else { return }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        var start = 0
        let count = packet.count
        while start < count {
            let end: Int
            if let found = memchr(bytes + start, 0x0A, count - start) {
                end = bytes.distance(to: found.assumingMemoryBound(to: UInt8.self))
            } else {
                end = count
            }
            var lineEnd = end
            if lineEnd > start, bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            if lineEnd > start {
                result.lines += 1
                parse(line: UnsafeBufferPointer(start: bytes + start, count: lineEnd - start), into: &result)
            }
            start = end + 1
        }
    }

    static func parse(line: UnsafeBufferPointer<UInt8>, into result: inout Result) {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            result.errors.append(.malformedLine)
            return
        }
        guard let (name, nameTags) = splitNameTags(line, end: colon) else {
            result.errors.append(.malformedTag)
            return
        }
        guard !name.isEmpty else {
            result.errors.append(.emptyName)
            return
        }
        var tags = nameTags
        // DogStatsD lines carry fields after the type (`|#tags`, `|c:container`, `|T<time>`,
        // `|e:…`): their values are packed (`1:2:3|d`) and the fields apply to all of them.
        var samplesEnd = line.count
        if let firstBar = find(line, from: colon + 1, to: line.count, UInt8(ascii: "|")), hasDogStatsDField(line, after: firstBar) {
            var fieldStart = firstBar + 1
            var typeEnd = line.count
            var rateField: (Int, Int)?
            var index = 0
            while fieldStart <= line.count {
                let fieldEnd = find(line, from: fieldStart, to: line.count, UInt8(ascii: "|")) ?? line.count
                defer {
                    fieldStart = fieldEnd + 1
                    index += 1
                }
                if index == 0 {
                    typeEnd = fieldEnd
                    continue
                }
                guard fieldEnd > fieldStart else { continue }
                switch line[fieldStart] {
                case UInt8(ascii: "#"):
                    guard parseTags(line, from: fieldStart + 1, to: fieldEnd, separator: UInt8(ascii: ":"), into: &tags) else {
                        result.errors.append(.malformedTag)
                        return
                    }
                case UInt8(ascii: "@"): rateField = (fieldStart, fieldEnd)
                case UInt8(ascii: "c"), UInt8(ascii: "T"), UInt8(ascii: "e"): break  // origin and timestamp: not used
                default:
                    result.errors.append(.malformedLine)
                    return
                }
            }
            // Rebuild the classic form `values|type[|@rate]` in the parser's own terms.
            samplesEnd = rateField?.1 ?? typeEnd
            if let rateField, rateField.0 != typeEnd + 1 {
                // The rate is not right after the type: parse values with the type alone, then
                // apply the rate by hand.
                return parseSamples(line, from: colon + 1, to: typeEnd, name: name, tags: tags, rate: (rateField.0, rateField.1), into: &result)
            }
        }
        parseSamples(line, from: colon + 1, to: samplesEnd, name: name, tags: tags, rate: nil, into: &result)
    }

    /// Whether a `|` field after `firstBar` is a DogStatsD extension rather than a sample rate.
    private static func hasDogStatsDField(_ line: UnsafeBufferPointer<UInt8>, after firstBar: Int) -> Bool {
        var index = firstBar + 1
        while index + 1 < line.count {
            if line[index] == UInt8(ascii: "|") {
                let next = line[index + 1]
                if next == UInt8(ascii: "#") || next == UInt8(ascii: "T") { return true }
                if (next == UInt8(ascii: "c") || next == UInt8(ascii: "e")), index + 2 < line.count, line[index + 2] == UInt8(ascii: ":") { return true }
            }
            index += 1
        }
        return false
    }

    /// `1|c:2|c` (several samples) or `1:2:3|d` (packed values of one type) between `start` and
    /// `end`; `rate` is a `@rate` field found elsewhere on a DogStatsD line.
    private static func parseSamples(_ line: UnsafeBufferPointer<UInt8>, from start: Int, to samplesEnd: Int, name: String, tags: [Label],
                                     rate externalRate: (Int, Int)?, into result: inout Result) {
        // Values without a type yet (`1:2:` of `1:2:3|d`) start at `pendingStart`; they are
        // contiguous, so an index is all the bookkeeping they need.
        var pendingStart: Int?
        var pieceStart = start
        while pieceStart <= samplesEnd {
            var pieceEnd = pieceStart
            while pieceEnd < samplesEnd, line[pieceEnd] != UInt8(ascii: ":") { pieceEnd += 1 }
            defer { pieceStart = pieceEnd + 1 }
            guard let bar = find(line, from: pieceStart, to: pieceEnd, UInt8(ascii: "|")) else {
                if pendingStart == nil { pendingStart = pieceStart }
                continue
            }
            let valuesStart = pendingStart ?? pieceStart
            pendingStart = nil
            // Fields after the value: type, then an optional `@rate`.
            let typeStart = bar + 1
            let typeEnd = find(line, from: typeStart, to: pieceEnd, UInt8(ascii: "|")) ?? pieceEnd
            var rate = 1.0
            if let (rateStart, rateEnd) = externalRate {
                guard let parsed = sampleRate(line, from: rateStart, to: rateEnd) else {
                    result.errors.append(.badSampleRate)
                    continue
                }
                rate = parsed
            } else if typeEnd < pieceEnd {
                let rateStart = typeEnd + 1
                guard find(line, from: rateStart, to: pieceEnd, UInt8(ascii: "|")) == nil else {
                    result.errors.append(.malformedLine)
                    continue
                }
                guard let parsed = sampleRate(line, from: rateStart, to: pieceEnd) else {
                    result.errors.append(.badSampleRate)
                    continue
                }
                rate = parsed
            }
            guard let type = eventType(line, from: typeStart, to: typeEnd) else {
                result.errors.append(.unsupportedType)
                continue
            }
            var valueStart = valuesStart
            while valueStart <= bar {
                var valueEnd = valueStart
                while valueEnd < bar, line[valueEnd] != UInt8(ascii: ":") { valueEnd += 1 }
                defer { valueStart = valueEnd + 1 }
                guard let number = parseNumber(line, from: valueStart, to: valueEnd) else {
                    result.errors.append(.malformedValue)
                    continue
                }
                let kind: StatsdEvent.Kind
                switch type {
                case .counter: kind = .counter(number / rate)
                case .gauge:
                    let first = line[valueStart]
                    kind = .gauge(number, relative: first == UInt8(ascii: "+") || first == UInt8(ascii: "-"))
                case .observation(let observationType): kind = .observation(number, type: observationType, weight: 1 / rate)
                }
                result.events.append(StatsdEvent(name: name, kind: kind, tags: tags))
            }
        }
        if pendingStart != nil { result.errors.append(.malformedLine) }
    }

    /// `@rate` between `start` and `end`, a number in (0, 1]; nil when it is anything else.
    private static func sampleRate(_ line: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Double? {
        guard start < end, line[start] == UInt8(ascii: "@"), let rate = parseNumber(line, from: start + 1, to: end), rate > 0, rate <= 1 else {
            return nil
        }
        return rate
    }

    private enum EventType {
        case counter, gauge, observation(StatsdEvent.ObservationType)
    }

    private static func eventType(_ line: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> EventType? {
        switch end - start {
        case 1:
            switch line[start] {
            case UInt8(ascii: "c"): return .counter
            case UInt8(ascii: "g"): return .gauge
            case UInt8(ascii: "h"): return .observation(.histogram)
            case UInt8(ascii: "d"): return .observation(.distribution)
            default: return nil
            }
        case 2:
            return line[start] == UInt8(ascii: "m") && line[start + 1] == UInt8(ascii: "s") ? .observation(.timer) : nil
        default:
            return nil
        }
    }

    /// Splits InfluxDB (`name,k=v`), Librato (`name#k=v`) and SignalFX (`name[k=v]rest`) tags
    /// off the name; nil when the tags are malformed.
    private static func splitNameTags(_ line: UnsafeBufferPointer<UInt8>, end: Int) -> (String, [Label])? {
        var tags: [Label] = []
        if let open = find(line, from: 0, to: end, UInt8(ascii: "[")),
           let close = find(line, from: open + 1, to: end, UInt8(ascii: "]")) {
            guard parseTags(line, from: open + 1, to: close, separator: UInt8(ascii: "="), into: &tags) else { return nil }
            let name = string(line, 0, open) + string(line, close + 1, end)
            return (name, tags)
        }
        // InfluxDB and Librato: whichever of "," and "#" comes first starts the tags.
        var index = 0
        while index < end, line[index] != UInt8(ascii: ","), line[index] != UInt8(ascii: "#") { index += 1 }
        if index < end {
            guard parseTags(line, from: index + 1, to: end, separator: UInt8(ascii: "="), into: &tags) else { return nil }
        }
        return (string(line, 0, index), tags)
    }

    /// `k1<sep>v1,k2<sep>v2`; a tag without a separator or with an empty key is malformed.
    private static func parseTags(_ line: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, separator: UInt8,
                                  into tags: inout [Label]) -> Bool {
        var pairStart = start
        while pairStart < end {
            let pairEnd = find(line, from: pairStart, to: end, UInt8(ascii: ",")) ?? end
            if pairEnd > pairStart {
                guard let split = find(line, from: pairStart, to: pairEnd, separator), split > pairStart else { return false }
                tags.append(Label(string(line, pairStart, split), string(line, split + 1, pairEnd)))
            }
            pairStart = pairEnd + 1
        }
        return true
    }

    private static func string(_ line: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: line[start..<end]), as: UTF8.self)
    }

    private static func find(_ line: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, _ byte: UInt8) -> Int? {
        var index = start
        while index < end {
            if line[index] == byte { return index }
            index += 1
        }
        return nil
    }

    private static func find(_ line: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int, _ first: UInt8, _ second: UInt8) -> Int? {
        var index = start
        while index + 1 < end {
            if line[index] == first, line[index + 1] == second { return index }
            index += 1
        }
        return nil
    }

    private static let powersOfTen: [Double] = (0...22).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// A finite number. Plain decimals with at most 15 significant digits take an exact fast
    /// path (an integer mantissa divided by an exact power of ten is correctly rounded); anything
    /// else (exponents, long mantissas) goes through the C library's strtod.
    static func parseNumber(_ line: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Double? {
        guard start < end else { return nil }
        var index = start
        var negative = false
        if line[index] == UInt8(ascii: "-") || line[index] == UInt8(ascii: "+") {
            negative = line[index] == UInt8(ascii: "-")
            index += 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var fractionDigits = 0
        var sawPoint = false
        var sawDigit = false
        var fast = true
        while index < end {
            let byte = line[index]
            if byte.isDigitByte {
                guard digits < 15 else { fast = false; break }
                mantissa = mantissa * 10 + UInt64(byte - 0x30)
                sawDigit = true
                if mantissa > 0 { digits += 1 }
                if sawPoint { fractionDigits += 1 }
            } else if byte == UInt8(ascii: "."), !sawPoint {
                sawPoint = true
            } else {
                fast = false
                break
            }
            index += 1
        }
        if fast, sawDigit, fractionDigits <= 22 {
            let magnitude = Double(mantissa) / powersOfTen[fractionDigits]
            return negative ? -magnitude : magnitude
        }
        return slowNumber(line, from: start, to: end)
    }

    private static func slowNumber(_ line: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Double? {
        guard end - start < 64 else { return nil }
        // strtod needs a terminated copy; it also accepts hex and "inf", refused here as statsd
        // clients never send them.
        var buffer = [CChar](repeating: 0, count: end - start + 1)
        for index in start..<end {
            let byte = line[index]
            let allowed = byte.isDigitByte || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e")
                || byte == UInt8(ascii: "E") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+")
            guard allowed else { return nil }
            buffer[index - start] = CChar(bitPattern: byte)
        }
        return buffer.withUnsafeBufferPointer { pointer -> Double? in
            var endPointer: UnsafeMutablePointer<CChar>?
            let value = strtod(pointer.baseAddress!, &endPointer)
            guard let endPointer, endPointer == UnsafeMutablePointer(mutating: pointer.baseAddress! + (end - start)),
                  value.isFinite else { return nil }
            return value
        }
    }
}
