/// A metric name or label value with `$n` references to a rule's captures, pre-split so that
/// expansion is a concatenation.
///
/// Two reference syntaxes, each as statsd_exporter reads it:
/// - glob rules: `$` or `${`, then the longest run of `[A-Za-z0-9_$]`, then an optional `}`;
///   a run that is not a capture number from 1 to the capture count expands to nothing
///   (so `$1_total` is empty and `${1}_total` is the first capture followed by `_total`);
/// - regex rules (Go's `Regexp.Expand`): `$name` takes the longest `[A-Za-z0-9_]` run, `${name}`
///   what is inside the braces; a number is a group, anything else a named group (never
///   present here) and expands to nothing; `$$` is a literal `$`; a `$` that starts no
///   reference is kept.
public struct MappingTemplate: Sendable, Equatable {
    public enum Style: Sendable { case glob, regex }

    enum Part: Sendable, Equatable {
        case literal(String)
        /// Capture number: 1 is the first group or `*`, 0 the whole match.
        case capture(Int)
    }

    let parts: [Part]
    public let text: String

    public init(_ text: String, style: Style, captureCount: Int) {
        self.text = text
        var parts: [Part] = []
        var literal: [UInt8] = []
        let bytes = Array(text.utf8)
        var index = 0
        func isNameByte(_ byte: UInt8, allowDollar: Bool) -> Bool {
            byte.isNameByte || (allowDollar && byte == UInt8(ascii: "$"))
        }
        func flushLiteral() {
            if !literal.isEmpty { parts.append(.literal(String(decoding: literal, as: UTF8.self))) }
            literal.removeAll()
        }
        // Go's Expand also knows `$0`, the whole match; statsd_exporter's glob formatter does not.
        let lowest = style == .regex ? 0 : 1
        func reference(_ name: ArraySlice<UInt8>) {
            flushLiteral()
            if let number = Int(String(decoding: name, as: UTF8.self)), number >= lowest, number <= captureCount {
                parts.append(.capture(number))
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "$") else {
                literal.append(byte)
                index += 1
                continue
            }
            switch style {
            case .glob:
                var cursor = index + 1
                if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "{") { cursor += 1 }
                let nameStart = cursor
                while cursor < bytes.count, isNameByte(bytes[cursor], allowDollar: true) { cursor += 1 }
                guard cursor > nameStart else {
                    literal.append(byte)
                    index += 1
                    continue
                }
                reference(bytes[nameStart..<cursor])
                if cursor < bytes.count, bytes[cursor] == UInt8(ascii: "}") { cursor += 1 }
                index = cursor
            case .regex:
                let next = index + 1
                if next < bytes.count, bytes[next] == UInt8(ascii: "$") {
                    literal.append(byte)
                    index += 2
                    continue
                }
                if next < bytes.count, bytes[next] == UInt8(ascii: "{") {
                    var cursor = next + 1
                    while cursor < bytes.count, isNameByte(bytes[cursor], allowDollar: false) { cursor += 1 }
                    if cursor > next + 1, cursor < bytes.count, bytes[cursor] == UInt8(ascii: "}") {
                        reference(bytes[(next + 1)..<cursor])
                        index = cursor + 1
                        continue
                    }
                } else {
                    var cursor = next
                    while cursor < bytes.count, isNameByte(bytes[cursor], allowDollar: false) { cursor += 1 }
                    if cursor > next {
                        reference(bytes[next..<cursor])
                        index = cursor
                        continue
                    }
                }
                literal.append(byte)
                index += 1
            }
        }
        flushLiteral()
        self.parts = parts
    }

    /// Expands with `captures[n]` for `$n` (`captures[0]` is the whole match).
    public func expand(_ captures: [Substring]) -> String {
        if parts.count == 1, case .literal(let text) = parts[0] { return text }
        var result = ""
        for part in parts {
            switch part {
            case .literal(let text): result += text
            case .capture(let number): if number < captures.count { result += captures[number] }
            }
        }
        return result
    }

    /// statsd_exporter's rule for `name`: letters, digits, `_` and references, not starting
    /// with a digit.
    static func isValidNameTemplate(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "$") {
                var cursor = index + 1
                let braced = cursor < bytes.count && bytes[cursor] == UInt8(ascii: "{")
                if braced { cursor += 1 }
                let digitsStart = cursor
                while cursor < bytes.count, bytes[cursor].isDigitByte { cursor += 1 }
                guard cursor > digitsStart else { return false }
                if braced {
                    guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: "}") else { return false }
                    cursor += 1
                }
                index = cursor
                continue
            }
            guard byte.isNameStartByte || (byte.isDigitByte && index > 0) else { return false }
            index += 1
        }
        return !bytes.isEmpty
    }
}
