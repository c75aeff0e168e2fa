#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// Writes one line per event to stderr, as text or JSON lines.
///
/// Under systemd (`JOURNAL_STREAM` set) the text form drops its timestamp, which journald adds,
/// and starts with a `<N>` syslog priority so `journalctl -p warning` works.
public struct StderrLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let format: LogSettings.Format
    private let underJournald: Bool
    private let write: @Sendable (String) -> Void

    public init(label: String, level: Logger.Level, format: LogSettings.Format,
                underJournald: Bool = FileSystemAccess.environment("JOURNAL_STREAM") != nil,
                write: @escaping @Sendable (String) -> Void = StderrLogHandler.writeToStderr) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.underJournald = underJournald
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line: String
        switch format {
        case .json: line = jsonLine(event.level, event.message.description, merged)
        case .text: line = textLine(event.level, event.message.description, merged)
        }
        write(line + "\n")
    }

    private func textLine(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata) -> String {
        var line = underJournald ? "<\(syslogPriority(level))>" : Self.timestamp() + " "
        line += "\(level.rawValue) \(message)"
        for key in metadata.keys.sorted() {
            let value = "\(metadata[key]!)"
            let needsQuotes = value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" })
            line += " \(key)=" + (needsQuotes ? "\"" + value.replacingAll("\"", with: "\\\"") + "\"" : value)
        }
        // One event, one line, and nothing that acts on a terminal: values carry text from
        // peers and data (queue names, error messages), so every control character is escaped.
        return line.escapingControlCharacters
    }

    private func jsonLine(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata) -> String {
        var line = "{\"ts\":\"\(Self.timestamp())\",\"level\":\"\(level.rawValue)\",\"logger\":\(Self.jsonString(label)),\"msg\":\(Self.jsonString(message))"
        for key in metadata.keys.sorted() {
            line += ",\(Self.jsonString(key)):\(Self.jsonString("\(metadata[key]!)"))"
        }
        return line + "}"
    }

    private func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    public static func jsonString(_ text: String) -> String {
        JSONValue.quoted(text)
    }

    /// RFC 3339 UTC with milliseconds, without Foundation.
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var seconds = ts.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int = 2) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))T\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec)).\(pad(Int32(ts.tv_nsec / 1_000_000), 3))Z"
    }

    public static let writeToStderr: @Sendable (String) -> Void = { line in
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { break }
            offset += n
        }
    }
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        guard contains(target) else { return self }
        var out = ""
        for ch in self { if ch == target { out += replacement } else { out.append(ch) } }
        return out
    }
}
