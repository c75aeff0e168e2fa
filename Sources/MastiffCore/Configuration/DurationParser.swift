/// Durations as written in mastiff.yml: one or more `<number><unit>` parts, units `ms`, `s`, `m`,
/// `h`, `d`, `w` (`90s`, `1h30m`, `1.5h`). A bare `0` is zero.
/// The one duration grammar mastiff reads — in the configuration, rule files, PromQL and the
/// CLI — which is Prometheus's (`model.ParseDuration`): whole numbers, each with a unit, units
/// from largest to smallest and each at most once: `y` (365 days), `w`, `d`, `h`, `m`, `s`, `ms`;
/// or a bare `0`. So `1h30m` and `1y` are durations, `1.5h` and `30m1h` are not, in every file.
public enum DurationParser {
    public enum Problem: Error, Equatable, Sendable {
        case notADuration
        case outOfRange
    }

    /// What a duration looks like, for error messages.
    public static let examples = "whole numbers with units from largest to smallest, e.g. 500ms, 90s, 5m, 1h30m, 2d, 1y"

    /// The duration in milliseconds; `.outOfRange` past `Int64.max / 1_000_000` ms (292 years).
    public static func milliseconds(_ text: some StringProtocol) throws(Problem) -> Int64 {
        if text == "0" { return 0 }
        let limit = Int64.max / 1_000_000
        var total: Int64 = 0
        var rest = Substring(text)
        var lastUnit = Int64.max
        guard !rest.isEmpty else { throw .notADuration }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let size: Int64
            switch unit {
            case "ms": size = 1
            case "s": size = 1000
            case "m": size = 60_000
            case "h": size = 3_600_000
            case "d": size = 86_400_000
            case "w": size = 604_800_000
            case "y": size = 31_536_000_000
            default: throw .notADuration
            }
            guard !digits.isEmpty, size < lastUnit else { throw .notADuration }
            guard let number = Int64(digits) else { throw .outOfRange }
            lastUnit = size
            let (part, overflow) = number.multipliedReportingOverflow(by: size)
            guard !overflow, part <= limit - total else { throw .outOfRange }
            total += part
        }
        return total
    }

    /// A duration as the configuration and the CLI take it (surrounding blanks ignored).
    public static func parse(_ text: String) -> Duration? {
        guard let milliseconds = try? milliseconds(text.trimmingWhitespace) else { return nil }
        return .milliseconds(milliseconds)
    }

    /// The shortest exact form, for messages and `check-config` output.
    public static func format(_ duration: Duration) -> String {
        let ms = Int64(duration.seconds * 1000)
        if ms == 0 { return "0s" }
        if ms % 1000 != 0 { return "\(ms)ms" }
        let s = ms / 1000
        for (unit, size) in [("w", 604_800 as Int64), ("d", 86400), ("h", 3600), ("m", 60)] where s % size == 0 {
            return "\(s / size)\(unit)"
        }
        return "\(s)s"
    }
}

