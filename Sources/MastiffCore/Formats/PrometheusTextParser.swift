/// Reads the Prometheus text exposition format (0.0.4), as served by Mastodon's streaming
/// server and by the prometheus_exporter gem, into families. `_bucket`, `_sum`, `_count` (and
/// OpenMetrics' `_created`) samples join their histogram or summary family; a sample without a
/// TYPE line forms an untyped family of its own name. Timestamps are dropped: mastiff exposes
/// what it read at scrape time.
public enum PrometheusTextParser {
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let line: Int
        public let message: String
        public var description: String { "line \(line): \(message)" }
    }

    public static func parse(_ text: String) throws(ParseError) -> [MetricFamily] {
        var families: [MetricFamily] = []
        var indexByName: [String: Int] = [:]
        var helpByName: [String: String] = [:]

        func familyIndex(_ name: String, type: MetricType) -> Int {
            if let index = indexByName[name] { return index }
            families.append(MetricFamily(name: name, help: helpByName[name] ?? "", type: type))
            indexByName[name] = families.count - 1
            return families.count - 1
        }

        var lineNumber = 0
        for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(decoding: rawLine, as: UTF8.self)
            if line.last == "\r" { line = line.dropLast() }
            line = line.drop { $0 == " " || $0 == "\t" }
            if line.isEmpty { continue }
            if line.first == "#" {
                let words = line.dropFirst().split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
                guard words.count >= 3, words[0] == "HELP" || words[0] == "TYPE" else { continue }
                let name = String(words[1])
                let rest = words.count > 3 ? String(words[2]) + " " + String(words[3]) : String(words[2])
                if words[0] == "HELP" {
                    helpByName[name] = unescapeHelp(rest)
                    if let index = indexByName[name] { families[index].help = helpByName[name]! }
                } else {
                    guard let type = MetricType(rawValue: rest.trimmingTrailingSpaces) else {
                        throw ParseError(line: lineNumber, message: "unknown metric type '\(rest)'")
                    }
                    if let index = indexByName[name] {
                        guard families[index].samples.isEmpty else {
                            throw ParseError(line: lineNumber, message: "TYPE for \(name) after its samples")
                        }
                        families[index].type = type
                    } else {
                        _ = familyIndex(name, type: type)
                    }
                }
                continue
            }
            let (name, labels, value) = try parseSample(line, lineNumber: lineNumber)
            // A suffixed sample belongs to the histogram or summary it extends.
            var familyName = name
            var suffix = ""
            for candidate in ["_bucket", "_count", "_sum", "_created"] where name.hasSuffix(candidate) {
                let base = String(name.dropLast(candidate.count))
                if let index = indexByName[base], families[index].type == .histogram || families[index].type == .summary {
                    familyName = base
                    suffix = candidate
                }
                break
            }
            if suffix == "_created" { continue }
            let index = familyIndex(familyName, type: .untyped)
            families[index].samples.append(Sample(suffix: suffix, labels: labels, value: value))
        }
        return families
    }

    private static func parseSample(_ line: Substring, lineNumber: Int) throws(ParseError) -> (String, [Label], Double) {
        let bytes = Array(line.utf8)
        var index = 0
        while index < bytes.count, bytes[index] != UInt8(ascii: "{"), bytes[index] != UInt8(ascii: " "), bytes[index] != UInt8(ascii: "\t") {
            index += 1
        }
        let name = String(decoding: bytes[0..<index], as: UTF8.self)
        guard MetricName.isValidMetricName(name) else { throw ParseError(line: lineNumber, message: "invalid metric name '\(name)'") }
        var labels: [Label] = []
        if index < bytes.count, bytes[index] == UInt8(ascii: "{") {
            index += 1
            while true {
                while index < bytes.count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: ",") { index += 1 }
                guard index < bytes.count else { throw ParseError(line: lineNumber, message: "unterminated label set") }
                if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    break
                }
                let nameStart = index
                while index < bytes.count, bytes[index] != UInt8(ascii: "="), bytes[index] != UInt8(ascii: " ") { index += 1 }
                let labelName = String(decoding: bytes[nameStart..<index], as: UTF8.self)
                while index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 }
                guard MetricName.isValidLabelName(labelName) || labelName == "le" || labelName == "quantile",
                      index + 1 < bytes.count, bytes[index] == UInt8(ascii: "="), bytes[index + 1] == UInt8(ascii: "\"") else {
                    throw ParseError(line: lineNumber, message: "malformed label '\(labelName)'")
                }
                index += 2
                var value: [UInt8] = []
                var closed = false
                while index < bytes.count {
                    let byte = bytes[index]
                    if byte == UInt8(ascii: "\\"), index + 1 < bytes.count {
                        let next = bytes[index + 1]
                        value.append(next == UInt8(ascii: "n") ? 0x0A : next)
                        index += 2
                        continue
                    }
                    index += 1
                    if byte == UInt8(ascii: "\"") {
                        closed = true
                        break
                    }
                    value.append(byte)
                }
                guard closed else { throw ParseError(line: lineNumber, message: "unterminated value of label '\(labelName)'") }
                labels.append(Label(labelName, String(decoding: value, as: UTF8.self)))
            }
        }
        let fields = bytes[index...].split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
        guard let valueField = fields.first, fields.count <= 2 else {
            throw ParseError(line: lineNumber, message: "expected a value (and optional timestamp) after \(name)")
        }
        let valueText = String(decoding: valueField, as: UTF8.self)
        guard let value = Double(valueText) else { throw ParseError(line: lineNumber, message: "invalid value '\(valueText)'") }
        return (name, labels, value)
    }

    private static func unescapeHelp(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var result = ""
        var escaping = false
        for character in text {
            if escaping {
                result.append(character == "n" ? "\n" : character)
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                result.append(character)
            }
        }
        return result
    }
}

extension String {
    fileprivate var trimmingTrailingSpaces: String {
        var text = Substring(self)
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return String(text)
    }
}
