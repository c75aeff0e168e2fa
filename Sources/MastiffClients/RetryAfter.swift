import MastiffCore

/// HTTP's Retry-After header (RFC 9110 §10.2.3): delta-seconds (digits only) or an HTTP date.
/// What the server asks for is only a hint: the caller caps it (NotificationPolicy.maxRetryAfter
/// and the receiver's give_up_after). Anything else — `inf`, `1e300`, `-5`, `soon`, a date
/// that does not parse — is no hint at all.
public enum RetryAfter {
    /// Seconds to wait from `now`, never negative; nil when the value is not one of HTTP's forms.
    public static func seconds(_ value: String, now: Double) -> Double? {
        let text = value.trimmingWhitespace
        guard !text.isEmpty else { return nil }
        if text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            // A very long run of digits is still "a long time", not an overflow.
            return text.utf8.count > 15 ? 1e15 : Double(text)
        }
        guard let date = httpDate(text) else { return nil }
        return Swift.max(0, date - now)
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), and the two obsolete forms a recipient
    /// must accept: RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
    static func httpDate(_ text: String) -> Double? {
        let fields = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        var day = 0, month = 0, year = 0
        var clock = ""
        if fields.count == 6, fields[0].hasSuffix(","), fields[5] == "GMT" {
            guard let d = Int(fields[1]), let m = months.firstIndex(of: fields[2]), let y = Int(fields[3]) else { return nil }
            (day, month, year, clock) = (d, m + 1, y, fields[4])
        } else if fields.count == 4, fields[0].hasSuffix(","), fields[3] == "GMT" {
            let parts = fields[1].split(separator: "-").map(String.init)
            guard parts.count == 3, let d = Int(parts[0]), let m = months.firstIndex(of: parts[1]), let y = Int(parts[2]), parts[2].count == 2 else { return nil }
            // RFC 9110: a two-digit year more than 50 years in the future is in the past century.
            (day, month, year, clock) = (d, m + 1, y < 70 ? 2000 + y : 1900 + y, fields[2])
        } else if fields.count == 5 {
            guard let m = months.firstIndex(of: fields[1]), let d = Int(fields[2]), let y = Int(fields[4]) else { return nil }
            (day, month, year, clock) = (d, m + 1, y, fields[3])
        } else {
            return nil
        }
        let time = clock.split(separator: ":").map { Int($0) }
        guard (1...31).contains(day), (1970...9999).contains(year), time.count == 3,
              let hour = time[0], let minute = time[1], let second = time[2],
              (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second) else { return nil }
        return Double(CalendarTime.daysSinceEpoch(year: year, month: month, day: day) * 86400 + hour * 3600 + minute * 60 + second)
    }
}
