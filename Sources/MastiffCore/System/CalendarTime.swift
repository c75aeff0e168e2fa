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
        var value = time_t(seconds.rounded(.down))
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
}
