#if canImport(Glibc)
import Glibc
#endif

/// POSIX extended regular expressions (regcomp/regexec from the C library), used for process
/// `cmdline` matchers. The syntax is ERE: `^puma[ :]`, `org\.elasticsearch`, `(a|b)+`.
public enum POSIXRegex {
    /// Compiles `pattern` for match/no-match tests; nil when it is not a valid ERE.
    /// The caller owns the result (`regfree` then `deallocate`).
    public static func compile(_ pattern: String) -> UnsafeMutablePointer<regex_t>? {
        let regex = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        guard regcomp(regex, pattern, REG_EXTENDED | REG_NOSUB) == 0 else {
            regex.deallocate()
            return nil
        }
        return regex
    }

    /// Whether `pattern` compiles, and if not, the C library's reason.
    public static func validate(_ pattern: String) -> String? {
        do {
            _ = try CapturingRegex(pattern)
            return nil
        } catch {
            return error.description
        }
    }
}

/// A compiled POSIX extended regular expression that reports capture groups. `regexec` on a
/// compiled pattern is safe from several threads, so one instance serves every listener.
public final class CapturingRegex: @unchecked Sendable {
    private let regex: UnsafeMutablePointer<regex_t>
    /// Number of parenthesized groups in the compiled pattern.
    public let groupCount: Int

    /// Compiles `pattern`; the error is the C library's reason.
    public init(_ pattern: String) throws(ConfigErrorReason) {
        regex = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        let status = regcomp(regex, pattern, REG_EXTENDED)
        guard status == 0 else {
            var buffer = [CChar](repeating: 0, count: 256)
            regerror(status, regex, &buffer, buffer.count)
            regex.deallocate()
            throw ConfigErrorReason(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        groupCount = Int(regex.pointee.re_nsub)
    }

    deinit {
        regfree(regex)
        regex.deallocate()
    }

    /// The leftmost match: group 0 is the whole match, then each group's byte range in `text`'s
    /// UTF-8 (nil for a group that did not take part). Nil when there is no match.
    public func firstMatch(in text: String) -> [Range<Int>?]? {
        var matches = [regmatch_t](repeating: regmatch_t(), count: groupCount + 1)
        let status = text.withCString { regexec(regex, $0, matches.count, &matches, 0) }
        guard status == 0 else { return nil }
        return matches.map { $0.rm_so < 0 ? nil : Int($0.rm_so)..<Int($0.rm_eo) }
    }
}

/// Why a pattern or value was refused, without a position (the caller's node has one).
public struct ConfigErrorReason: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
