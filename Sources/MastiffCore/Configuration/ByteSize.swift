/// A memory or disk size as written in mastiff.yml: `512MiB`, `1.5GiB`, `100MB`, `4096` (bytes),
/// or `10%` of physical memory where a setting allows it.
public enum ByteSize: Sendable, Equatable, CustomStringConvertible {
    case bytes(UInt64)
    case percentOfMemory(Double)

    public static func parse(_ text: String) -> ByteSize? {
        let trimmed = text.trimmingWhitespace
        if trimmed.hasSuffix("%") {
            guard let percent = Double(trimmed.dropLast()), percent > 0, percent <= 100 else { return nil }
            return .percentOfMemory(percent)
        }
        let number = trimmed.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard !number.isEmpty, let value = Double(number) else { return nil }
        let unit = trimmed.dropFirst(number.count).trimmingPrefixSpaces
        let multiplier: Double
        switch unit {
        case "", "B": multiplier = 1
        case "KB", "kB": multiplier = 1e3
        case "MB": multiplier = 1e6
        case "GB": multiplier = 1e9
        case "TB": multiplier = 1e12
        case "KiB": multiplier = 1024
        case "MiB": multiplier = 1_048_576
        case "GiB": multiplier = 1_073_741_824
        case "TiB": multiplier = 1_099_511_627_776
        default: return nil
        }
        let bytes = value * multiplier
        guard bytes.isFinite, bytes < 1.8e19 else { return nil }
        return .bytes(UInt64(bytes.rounded()))
    }

    /// Resolves a percentage against the machine's total memory.
    public func bytes(totalMemory: UInt64) -> UInt64 {
        switch self {
        case .bytes(let value): return value
        case .percentOfMemory(let percent): return UInt64(Double(totalMemory) * percent / 100)
        }
    }

    /// `1MiB`, `64KiB`, `1536B`: the largest binary unit that divides the size exactly.
    public static func format(_ bytes: UInt64) -> String {
        for (unit, size) in [("TiB", UInt64(1) << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
            where bytes >= size && bytes % size == 0 {
            return "\(bytes / size)\(unit)"
        }
        return "\(bytes)B"
    }

    /// For people rather than configuration: 1536 → "1.5 KiB", 734003200 → "700 MiB", one
    /// decimal below 100 of a unit (the status page, doctor's findings).
    public static func approximate(_ bytes: Double) -> String {
        guard bytes.isFinite, bytes >= 0 else { return "–" }
        var scaled = bytes
        var unit = 0
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        while scaled >= 1024, unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        if unit == 0 || scaled >= 100 { return "\(Int(scaled.rounded())) \(units[unit])" }
        let tenths = Int((scaled * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    public var description: String {
        switch self {
        case .bytes(let value): return "\(value)B"
        case .percentOfMemory(let percent): return "\(percent)%"
        }
    }
}

extension Substring {
    var trimmingPrefixSpaces: Substring { drop { $0 == " " } }
}
