/// Durations as written in mastiff.yml: one or more `<number><unit>` parts, units `ms`, `s`, `m`,
/// `h`, `d`, `w` (`90s`, `1h30m`, `1.5h`). A bare `0` is zero.
public enum DurationParser {
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingWhitespace
        if trimmed == "0" { return .zero }
        var remaining = Substring(trimmed)
        var total = 0.0
        var parts = 0
        while !remaining.isEmpty {
            let numberPart = remaining.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !numberPart.isEmpty, let number = Double(numberPart) else { return nil }
            remaining = remaining.dropFirst(numberPart.count)
            let unitPart = remaining.prefix { $0.isLetter }
            remaining = remaining.dropFirst(unitPart.count)
            let multiplier: Double
            switch unitPart {
            case "ms": multiplier = 0.001
            case "s": multiplier = 1
            case "m": multiplier = 60
            case "h": multiplier = 3600
            case "d": multiplier = 86400
            case "w": multiplier = 604_800
            default: return nil
            }
            total += number * multiplier
            parts += 1
        }
        guard parts > 0, total.isFinite, total < 1e12 else { return nil }
        return .milliseconds(Int64((total * 1000).rounded()))
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

