/// Pure parsers for the system-wide files under /proc. Each takes the file's text and returns
/// values; malformed lines are skipped, and the caller counts what it expected but did not get.
public enum SystemParsers {
    /// /proc/meminfo → bytes by field name (`MemTotal`, `MemAvailable`, …). Values given in kB
    /// are converted; unit-less counts (HugePages_Total) are kept as they are.
    public static func meminfo(_ text: String) -> [String: Double] {
        var result: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            let fields = line[line.index(after: colon)...].split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first, let value = Double(first) else { continue }
            result[key] = fields.count > 1 && fields[1] == "kB" ? value * 1024 : value
        }
        return result
    }

    public struct Pressure: Equatable, Sendable {
        public var kind: String            // "some" or "full"
        public var avg10: Double           // percent, as the kernel writes it
        public var avg60: Double
        public var avg300: Double
        public var totalMicroseconds: Double

        public init(kind: String, avg10: Double, avg60: Double, avg300: Double, totalMicroseconds: Double) {
            self.kind = kind
            self.avg10 = avg10
            self.avg60 = avg60
            self.avg300 = avg300
            self.totalMicroseconds = totalMicroseconds
        }
    }

    /// /proc/pressure/{memory,cpu,io}: `some avg10=0.00 avg60=0.00 avg300=0.00 total=123`.
    public static func pressure(_ text: String) -> [Pressure] {
        var result: [Pressure] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 5, fields[0] == "some" || fields[0] == "full" else { continue }
            var values: [Substring: Double] = [:]
            for field in fields.dropFirst() {
                let pair = field.split(separator: "=", maxSplits: 1)
                guard pair.count == 2, let value = Double(pair[1]) else { continue }
                values[pair[0]] = value
            }
            guard let avg10 = values["avg10"], let avg60 = values["avg60"], let avg300 = values["avg300"],
                  let total = values["total"] else { continue }
            result.append(Pressure(kind: String(fields[0]), avg10: avg10, avg60: avg60, avg300: avg300, totalMicroseconds: total))
        }
        return result
    }

    /// /proc/sys/fs/file-nr: allocated, free (always 0 since 2.6), maximum.
    public static func fileNr(_ text: String) -> (allocated: Double, maximum: Double)? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        guard fields.count >= 3, let allocated = Double(fields[0]), let maximum = Double(fields[2]) else { return nil }
        return (allocated, maximum)
    }

    /// /proc/vmstat → counter by name.
    public static func vmstat(_ text: String) -> [String: Double] {
        var result: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 2, let value = Double(fields[1]) else { continue }
            result[String(fields[0])] = value
        }
        return result
    }

    /// /proc/loadavg: the 1, 5 and 15 minute load averages.
    public static func loadavg(_ text: String) -> (Double, Double, Double)? {
        let fields = text.split(separator: " ")
        guard fields.count >= 3, let one = Double(fields[0]), let five = Double(fields[1]), let fifteen = Double(fields[2]) else {
            return nil
        }
        return (one, five, fifteen)
    }

    /// /proc/stat's `btime`: boot time in seconds since the epoch.
    public static func bootTime(_ text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).split(separator: " ").first ?? "")
        }
        return nil
    }
}
