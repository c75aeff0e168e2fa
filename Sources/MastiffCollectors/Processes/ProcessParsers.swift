import MastiffCore

/// Pure parsers for per-process files under /proc/PID. They take bytes, because they run for
/// every process on every scrape and String splitting there is measurable.
public enum ProcessParsers {
    /// The fields of /proc/PID/stat that mastiff uses.
    public struct Stat: Equatable, Sendable {
        public var comm: String
        public var state: UInt8
        public var parentPID: Int
        public var majorFaults: UInt64
        /// User and system CPU time, in clock ticks.
        public var userTicks: UInt64
        public var systemTicks: UInt64
        public var threads: Int
        /// Start time in clock ticks after boot.
        public var startTicks: UInt64
        /// Resident set size in pages.
        public var residentPages: UInt64
    }

    /// /proc/PID/stat: `pid (comm) state ppid …`. The command name may contain spaces and
    /// parentheses, so fields are counted from the last `)`.
    public static func stat(_ bytes: [UInt8]) -> Stat? {
        guard let open = bytes.firstIndex(of: 0x28), let close = bytes.lastIndex(of: 0x29), open < close else { return nil }
        let comm = String(decoding: bytes[(open + 1)..<close], as: UTF8.self)
        // Fields after ") ": index 0 is field 3 (state) of proc(5).
        var fields: [ArraySlice<UInt8>] = []
        fields.reserveCapacity(24)
        var start = close + 2
        var index = start
        while index <= bytes.count, fields.count < 22 {
            if index == bytes.count || bytes[index] == 0x20 || bytes[index] == 0x0A {
                if index > start { fields.append(bytes[start..<index]) }
                start = index + 1
            }
            index += 1
        }
        guard fields.count >= 22, let state = fields[0].first else { return nil }
        guard let ppid = parseInt(fields[1]), let majflt = parseUInt(fields[9]), let utime = parseUInt(fields[11]),
              let stime = parseUInt(fields[12]), let threads = parseInt(fields[17]), let starttime = parseUInt(fields[19]),
              let rss = parseInt(fields[21]) else { return nil }
        return Stat(comm: comm, state: state, parentPID: ppid, majorFaults: majflt, userTicks: utime, systemTicks: stime,
                    threads: threads, startTicks: starttime, residentPages: UInt64(max(0, rss)))
    }

    /// /proc/PID/cmdline: NUL-separated arguments, joined with spaces.
    public static func cmdline(_ bytes: [UInt8]) -> String {
        var end = bytes.count
        while end > 0, bytes[end - 1] == 0 { end -= 1 }
        return String(decoding: bytes[0..<end].map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
    }

    /// From /proc/PID/smaps_rollup: resident and proportional set size and swap, in bytes.
    /// Its `Rss` sums the kernel's per-CPU counters, as VmRSS does; the RSS field of
    /// /proc/PID/stat does not, and reads 0.7–3.4 % low on a busy process.
    public static func smapsRollup(_ bytes: [UInt8]) -> (rss: UInt64, pss: UInt64, swap: UInt64)? {
        var rss: UInt64?
        var pss: UInt64?
        var swap: UInt64 = 0
        forEachKilobyteField(bytes) { key, value in
            switch key {
            case "Rss": rss = value * 1024
            case "Pss": pss = value * 1024
            case "Swap": swap = value * 1024
            default: break
            }
        }
        guard let rss, let pss else { return nil }
        return (rss, pss, swap)
    }

    /// What /proc/PID/status says that the collector uses.
    public struct Status: Sendable, Equatable {
        /// VmRSS in bytes (absent for kernel threads and zombies).
        public var rss: UInt64?
        /// VmSwap in bytes (0 when absent).
        public var swap: UInt64 = 0
        /// The account it runs as (`ProcessOwner.uid(fromStatus:)`).
        public var ownerUID: UInt32?
    }

    public static func status(_ bytes: [UInt8]) -> Status {
        var status = Status()
        forEachKilobyteField(bytes) { key, value in
            if key == "VmRSS" { status.rss = value * 1024 } else if key == "VmSwap" { status.swap = value * 1024 }
        }
        status.ownerUID = ProcessOwner.uid(fromStatus: bytes)
        return status
    }

    /// From /proc/PID/limits: the soft limit on open files (nil when unlimited or absent).
    public static func openFilesSoftLimit(_ bytes: [UInt8]) -> UInt64? {
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("Max open files") {
            let rest = line.dropFirst("Max open files".count).split(separator: " ")
            guard let soft = rest.first else { return nil }
            return UInt64(soft)
        }
        return nil
    }

    /// Calls `body` with each `Key:   123 kB` line's key and number.
    private static func forEachKilobyteField(_ bytes: [UInt8], _ body: (Substring, UInt64) -> Void) {
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon]
            let number = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }.prefix { $0.isASCII && $0.isNumber }
            guard let value = UInt64(number) else { continue }
            body(key, value)
        }
    }

    static func parseUInt(_ bytes: ArraySlice<UInt8>) -> UInt64? {
        guard !bytes.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            guard byte.isDigitByte else { return nil }
            let (multiplied, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (added, overflow2) = multiplied.addingReportingOverflow(UInt64(byte - 0x30))
            guard !overflow1, !overflow2 else { return nil }
            value = added
        }
        return value
    }

    static func parseInt(_ bytes: ArraySlice<UInt8>) -> Int? {
        if bytes.first == 0x2D {
            return parseUInt(bytes.dropFirst()).flatMap { $0 <= UInt64(Int.max) ? -Int($0) : nil }
        }
        return parseUInt(bytes).flatMap { $0 <= UInt64(Int.max) ? Int($0) : nil }
    }
}
