#if canImport(Glibc)
import Glibc
#endif

/// A five-field cron expression (minute hour day-of-month month day-of-week) with `*`, lists,
/// ranges and steps (`*/15`, `1-5`, `0,30`), and the names `@hourly`, `@daily`, `@weekly`,
/// `@monthly`. Evaluated in the host's local time, as cron does. Day-of-month and day-of-week
/// combine as in cron: when both are restricted, either may match.
public struct CronSchedule: Sendable, Equatable {
    private let minutes: Set<Int>
    private let hours: Set<Int>
    private let days: Set<Int>
    private let months: Set<Int>
    private let weekdays: Set<Int>
    private let daysRestricted: Bool
    private let weekdaysRestricted: Bool
    /// Evaluate in UTC instead of the host's local time.
    public var utc = false

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public static func validate(_ text: String) -> String? {
        do {
            _ = try CronSchedule(text)
            return nil
        } catch {
            return error.description
        }
    }

    public init(_ text: String, utc: Bool) throws(ParseError) {
        try self.init(text)
        self.utc = utc
    }

    private func breakdown(_ time: Double) -> tm {
        var seconds = time_t(time.rounded(.down))
        var parts = tm()
        if utc { gmtime_r(&seconds, &parts) } else { localtime_r(&seconds, &parts) }
        return parts
    }

    public init(_ text: String) throws(ParseError) {
        let aliases = ["@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *",
                       "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"]
        let expanded = aliases[text] ?? text
        let fields = expanded.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count == 5 else {
            throw ParseError(description: "'\(text)' is not a cron expression: expected 5 fields (minute hour day-of-month month day-of-week), found \(fields.count)")
        }
        minutes = try Self.field(fields[0], 0...59, "minute")
        hours = try Self.field(fields[1], 0...23, "hour")
        days = try Self.field(fields[2], 1...31, "day-of-month")
        months = try Self.field(fields[3], 1...12, "month")
        // 7 is Sunday too.
        weekdays = Set(try Self.field(fields[4], 0...7, "day-of-week").map { $0 % 7 })
        daysRestricted = fields[2] != "*"
        weekdaysRestricted = fields[4] != "*"
    }

    private static func field(_ text: String, _ range: ClosedRange<Int>, _ name: String) throws(ParseError) -> Set<Int> {
        var result = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            var body = Substring(part)
            var step = 1
            if let slash = body.firstIndex(of: "/") {
                guard let parsed = Int(body[body.index(after: slash)...]), parsed > 0 else {
                    throw ParseError(description: "bad step in the \(name) field '\(text)'")
                }
                step = parsed
                body = body[..<slash]
            }
            var low = range.lowerBound
            var high = range.upperBound
            if body != "*" {
                if let dash = body.firstIndex(of: "-") {
                    guard let a = Int(body[..<dash]), let b = Int(body[body.index(after: dash)...]) else {
                        throw ParseError(description: "bad range in the \(name) field '\(text)'")
                    }
                    (low, high) = (a, b)
                } else {
                    guard let value = Int(body) else { throw ParseError(description: "bad value in the \(name) field '\(text)'") }
                    (low, high) = (value, step > 1 ? range.upperBound : value)
                }
            }
            guard range.contains(low), range.contains(high), low <= high else {
                throw ParseError(description: "the \(name) field '\(text)' is out of range \(range.lowerBound)–\(range.upperBound)")
            }
            for value in stride(from: low, through: high, by: step) { result.insert(value) }
        }
        return result
    }

    /// Whether the schedule fires in the minute containing `time` (seconds since the epoch).
    public func matches(_ time: Double) -> Bool {
        let parts = breakdown(time)
        guard minutes.contains(Int(parts.tm_min)), hours.contains(Int(parts.tm_hour)), months.contains(Int(parts.tm_mon) + 1) else {
            return false
        }
        let dayMatches = days.contains(Int(parts.tm_mday))
        let weekdayMatches = weekdays.contains(Int(parts.tm_wday))
        if daysRestricted && weekdaysRestricted { return dayMatches || weekdayMatches }
        return dayMatches && weekdayMatches
    }

    /// The start of the window containing `time` when windows open at each match and last
    /// `duration` seconds; nil outside every window.
    public func windowStart(containing time: Double, duration: Double) -> Double? {
        let minute = (time / 60).rounded(.down) * 60
        var start = minute
        while start > time - duration {
            if matches(start) { return start }
            start -= 60
        }
        return nil
    }

    /// The first matching minute strictly after `time`, within a year (nil for a date that never
    /// comes, such as `0 0 31 2 *`). Walks whole hours and days while they cannot match, so even
    /// a yearly schedule takes a few thousand steps.
    public func next(after time: Double) -> Double? {
        var candidate = (time / 60).rounded(.down) * 60 + 60
        let limit = time + 366 * 86400
        while candidate <= limit {
            let parts = breakdown(candidate)
            if !months.contains(Int(parts.tm_mon) + 1) || !dayMatches(parts) {
                // To the next local midnight (DST-safe: step an hour at a time past 23:00).
                candidate += Double((23 - Int(parts.tm_hour)) * 3600 + (60 - Int(parts.tm_min)) * 60)
                continue
            }
            if !hours.contains(Int(parts.tm_hour)) {
                candidate += Double((60 - Int(parts.tm_min)) * 60)
                continue
            }
            if minutes.contains(Int(parts.tm_min)) { return candidate }
            candidate += 60
        }
        return nil
    }

    /// The last matching minute at or before `time`, looking back at most `within` seconds.
    public func previous(atOrBefore time: Double, within: Double = 35 * 86400) -> Double? {
        var candidate = (time / 60).rounded(.down) * 60
        while candidate >= time - within {
            if matches(candidate) { return candidate }
            candidate -= 60
        }
        return nil
    }

    private func dayMatches(_ parts: tm) -> Bool {
        let dayMatches = days.contains(Int(parts.tm_mday))
        let weekdayMatches = weekdays.contains(Int(parts.tm_wday))
        if daysRestricted && weekdaysRestricted { return dayMatches || weekdayMatches }
        return dayMatches && weekdayMatches
    }
}
