#if canImport(Glibc)
import Glibc
#endif

/// A time broken down into calendar fields, in UTC or the host's local time, and the few text
/// forms mastiff writes (logs, notifications, e-mail headers, templates).
public struct CalendarTime: Sendable, Equatable {
    public var year: Int
    /// 1…12.
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int
    /// 0 is Sunday.
    public var weekday: Int

    public static func utc(_ seconds: Double) -> CalendarTime { broken(seconds, local: false) }
    public static func local(_ seconds: Double) -> CalendarTime { broken(seconds, local: true) }

    private static func broken(_ seconds: Double, local: Bool) -> CalendarTime {
        // Clamped to years 0–5000 (NaN as the epoch): a corrupt time shows as a strange date,
        // never as a trap in the conversion.
        let bounded = seconds.isNaN ? 0 : Swift.min(Swift.max(seconds, -62_167_219_200), JSONValue.latestTimestamp)
        var value = time_t(bounded.rounded(.down))
        var parts = tm()
        if local { localtime_r(&value, &parts) } else { gmtime_r(&value, &parts) }
        return CalendarTime(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday), hour: Int(parts.tm_hour),
                            minute: Int(parts.tm_min), second: Int(parts.tm_sec), weekday: Int(parts.tm_wday))
    }

    static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// `2026-12-03`.
    public var date: String { "\(year)-\(Self.two(month))-\(Self.two(day))" }
    /// `22:52:20`.
    public var clock: String { "\(Self.two(hour)):\(Self.two(minute)):\(Self.two(second))" }
    /// `2026-12-03T22:52:20Z` (for a UTC time).
    public var rfc3339: String { "\(date)T\(clock)Z" }
    /// `Thu, 03 Dec 2026 22:52:20 +0000` (RFC 5322, for a UTC time).
    public var rfc5322: String {
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return "\(days[weekday]), \(Self.two(day)) \(months[month - 1]) \(year) \(clock) +0000"
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil):
    /// certificate dates and retention's weeks.
    public static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        return era * 146_097 + yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear - 719_468
    }

    public var daysSinceEpoch: Int { Self.daysSinceEpoch(year: year, month: month, day: day) }
}
