#if canImport(Glibc)
import Glibc
#endif

/// POSIX extended regular expressions (regcomp/regexec from the C library), used for process
/// `cmdline` matchers only (documented as ERE: `^puma[ :]`, `org\.elasticsearch`, `(a|b)+`).
/// Everything Prometheus, Alertmanager or statsd_exporter would read as a Go regexp is a
/// `CapturingRegex` (RE2).
public enum POSIXRegex {
    /// Compiles `pattern` for match/no-match tests; nil when it is not a valid ERE.
    /// The caller owns the result (`regfree` then `deallocate`).
    public static func compile(_ pattern: String) -> UnsafeMutablePointer<regex_t>? {
        guard refusal(pattern) == nil else { return nil }
        let regex = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        guard regcomp(regex, pattern, REG_EXTENDED | REG_NOSUB) == 0 else {
            regex.deallocate()
            return nil
        }
        return regex
    }

    /// The longest pattern mastiff compiles.
    public static let maxPatternLength = 16 << 10
    /// RE2's limit on a counted repetition, and on the product of nested ones.
    public static let maxRepeat = 1000

    /// Why `pattern` is refused before it reaches the C library, or nil. Prometheus's and
    /// statsd_exporter's patterns are Go's (RE2): linear time, bounded memory, no
    /// backreferences. glibc's engine backtracks on a backreference and builds automata that
    /// grow with the product of nested counts (`((a{1,100}){1,100}){1,100}` took 1.8 GB), so
    /// what RE2 refuses is refused here, with RE2's reasons: a backreference, a count over
    /// 1000, nested counts whose product is over 1000.
    public static func refusal(_ pattern: String) -> String? {
        let bytes = Array(pattern.utf8)
        guard bytes.count <= maxPatternLength else { return "pattern longer than \(maxPatternLength) bytes" }
        // The largest product of counted repetitions inside each open group, innermost last.
        var groups: [Int] = [1]
        var lastAtom = 1
        var index = 0
        func digits(_ from: inout Int) -> Int? {
            var value = 0, seen = false
            while from < bytes.count, bytes[from] >= 0x30, bytes[from] <= 0x39 {
                value = Swift.min(value * 10 + Int(bytes[from] - 0x30), 1_000_000)
                seen = true
                from += 1
            }
            return seen ? value : nil
        }
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\\"):
                if index + 1 < bytes.count, bytes[index + 1] >= 0x31, bytes[index + 1] <= 0x39 {
                    return "invalid escape sequence \\\(Character(Unicode.Scalar(bytes[index + 1]))): backreferences are not supported (RE2 syntax)"
                }
                index += 2
                lastAtom = 1
            case UInt8(ascii: "["):
                // A bracket expression: `]` first (or after `^`) is literal; `[:alpha:]` nests.
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "^") { index += 1 }
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1 }
                while index < bytes.count, bytes[index] != UInt8(ascii: "]") {
                    if bytes[index] == UInt8(ascii: "["), index + 1 < bytes.count, [UInt8(ascii: ":"), UInt8(ascii: "."), UInt8(ascii: "=")].contains(bytes[index + 1]) {
                        let close = bytes[index + 1]
                        index += 2
                        while index + 1 < bytes.count, !(bytes[index] == close && bytes[index + 1] == UInt8(ascii: "]")) { index += 1 }
                        index += 2
                    } else {
                        index += 1
                    }
                }
                index += 1
                lastAtom = 1
            case UInt8(ascii: "("):
                groups.append(1)
                index += 1
                lastAtom = 1
            case UInt8(ascii: ")"):
                guard groups.count > 1 else { return "unexpected )" }
                lastAtom = groups.removeLast()
                groups[groups.count - 1] = Swift.max(groups[groups.count - 1], lastAtom)
                index += 1
            case UInt8(ascii: "{"):
                var cursor = index + 1
                guard let low = digits(&cursor) else {
                    index += 1   // a literal brace
                    lastAtom = 1
                    continue
                }
                var high: Int? = low
                if cursor < bytes.count, bytes[cursor] == UInt8(ascii: ",") {
                    cursor += 1
                    high = digits(&cursor)
                }
                guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: "}") else {
                    index += 1
                    lastAtom = 1
                    continue
                }
                let count = high ?? low
                guard low <= maxRepeat, count <= maxRepeat else { return "bad repetition operator: {\(low)\(high == low ? "" : ",\(high.map(String.init) ?? "")")} counts past \(maxRepeat)" }
                let product = lastAtom * Swift.max(count, 1)
                guard product <= maxRepeat else { return "bad repetition operator: nested counted repetitions multiply past \(maxRepeat)" }
                groups[groups.count - 1] = Swift.max(groups[groups.count - 1], product)
                lastAtom = product
                index = cursor + 1
            default:
                index += 1
                if byte != UInt8(ascii: "*") && byte != UInt8(ascii: "+") && byte != UInt8(ascii: "?") { lastAtom = 1 }
            }
        }
        return nil
    }

    /// Whether `pattern` compiles as an ERE, and if not, why.
    public static func validate(_ pattern: String) -> String? {
        if let refusal = refusal(pattern) { return refusal }
        let regex = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        defer { regex.deallocate() }
        let status = regcomp(regex, pattern, REG_EXTENDED | REG_NOSUB)
        guard status != 0 else {
            regfree(regex)
            return nil
        }
        var buffer = [CChar](repeating: 0, count: 256)
        regerror(status, regex, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Why a pattern or value was refused, without a position (the caller's node has one).
public struct ConfigErrorReason: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
