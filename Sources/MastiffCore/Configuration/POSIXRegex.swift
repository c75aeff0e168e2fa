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
        let regex = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        defer { regex.deallocate() }
        let status = regcomp(regex, pattern, REG_EXTENDED | REG_NOSUB)
        if status == 0 {
            regfree(regex)
            return nil
        }
        var buffer = [CChar](repeating: 0, count: 256)
        regerror(status, regex, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
