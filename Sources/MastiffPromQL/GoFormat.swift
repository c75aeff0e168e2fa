import Glibc

/// Go's number formatting, which Prometheus's templates and promtool's messages use: `%v` of a
/// float is the shortest representation with an exponent from 1e+06 up (1234567 prints
/// `1.234567e+06`), infinities print `+Inf`/`-Inf`.
public enum GoFloat {
    /// strconv.FormatFloat(value, format, precision, 64) for `g`, `e` and `f`; precision -1
    /// is the shortest representation that reads back exactly.
    public static func format(_ value: Double, _ format: Character, _ precision: Int) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if precision >= 0 { return cFormat(value, format, precision) }
        let negative = value.sign == .minus
        var (digits, point) = shortestDigits(Swift.abs(value))
        if digits.isEmpty { (digits, point) = ("0", 1) }
        let sign = negative ? "-" : ""
        switch format {
        case "e": return sign + exponentForm(digits, point)
        case "f": return sign + fixedForm(digits, point)
        default:
            let exponent = point - 1
            if exponent < -4 || exponent >= 21 || (exponent >= 6) {
                return sign + exponentForm(digits, point)
            }
            return sign + fixedForm(digits, point)
        }
    }

    /// Go's `%v` for a float64.
    public static func v(_ value: Double) -> String { format(value, "g", -1) }

    /// printf-style with a precision: C's conversions match Go's for finite values.
    public static func cFormat(_ value: Double, _ format: Character, _ precision: Int, flags: String = "", width: Int? = nil) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? (flags.contains("+") ? "+Inf" : "+Inf") : "-Inf" }
        let spec = "%" + flags + (width.map(String.init) ?? "") + (precision >= 0 ? ".\(precision)" : "") + String(format)
        var buffer = [CChar](repeating: 0, count: 512)
        let count = withVaList([value]) { vsnprintf(&buffer, buffer.count, spec, $0) }
        return String(decoding: buffer.prefix(Int(max(0, min(count, 511)))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The shortest decimal digits of a positive finite value, and where the decimal point
    /// goes (digits "1234567", point 7 for 1234567).
    static func shortestDigits(_ value: Double) -> (String, Int) {
        if value == 0 { return ("", 0) }
        let text = value.description // Swift prints the shortest round-tripping form.
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        var digits = ""
        var point = 0
        var seenPoint = false
        for character in mantissa {
            if character == "." {
                seenPoint = true
                continue
            }
            digits.append(character)
            if !seenPoint { point += 1 }
        }
        point += exponent
        while digits.first == "0" {
            digits.removeFirst()
            point -= 1
        }
        while digits.last == "0" { digits.removeLast() }
        return (digits, point)
    }

    private static func exponentForm(_ digits: String, _ point: Int) -> String {
        var result = String(digits.first!)
        if digits.count > 1 { result += "." + digits.dropFirst() }
        let exponent = point - 1
        let magnitude = Swift.abs(exponent)
        return result + "e" + (exponent < 0 ? "-" : "+") + (magnitude < 10 ? "0" : "") + String(magnitude)
    }

    private static func fixedForm(_ digits: String, _ point: Int) -> String {
        if point <= 0 { return "0." + String(repeating: "0", count: -point) + digits }
        if digits.count <= point { return digits + String(repeating: "0", count: point - digits.count) }
        return digits.prefix(point) + "." + digits.dropFirst(point)
    }
}

/// Go's regexp.Expand for `$1`, `${1}`, `$name`, `${name}` and `$$`; Go reads `$1x` as the
/// group named `1x`, and a group that does not exist expands to nothing.
enum GoRegexpExpand {
    static func expand(_ template: String, value: String, groups: [Range<Int>?], names: [String: Int] = [:]) -> String {
        let bytes = Array(template.utf8)
        let source = Array(value.utf8)
        var result: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "$"), index + 1 < bytes.count else {
                result.append(byte)
                index += 1
                continue
            }
            if bytes[index + 1] == UInt8(ascii: "$") {
                result.append(byte)
                index += 2
                continue
            }
            var name: [UInt8] = []
            var next = index + 1
            if bytes[next] == UInt8(ascii: "{") {
                guard let close = bytes[(next + 1)...].firstIndex(of: UInt8(ascii: "}")) else {
                    result.append(byte)
                    index += 1
                    continue
                }
                name = Array(bytes[(next + 1)..<close])
                next = close + 1
            } else {
                while next < bytes.count, isNameByte(bytes[next]) {
                    name.append(bytes[next])
                    next += 1
                }
            }
            guard !name.isEmpty else {
                result.append(byte)
                index += 1
                continue
            }
            let text = String(decoding: name, as: UTF8.self)
            if let number = name.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) ? Int(text) : names[text], number < groups.count, let range = groups[number] {
                result.append(contentsOf: source[range])
            }
            index = next
        }
        return String(decoding: result, as: UTF8.self)
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
    }
}
