import MastiffCore

/// What one backup is, written as `<data key>.manifest.json` after the data object is complete
/// and its size checked. A backup without a manifest does not exist for list, restore or
/// retention: the manifest is the commit record.
public struct BackupManifest: Sendable, Equatable {
    public static let suffix = ".manifest.json"

    public var target: String          // postgres | redis
    public var dataKey: String
    public var bytes: Int
    /// SHA-256 of the object as stored (ciphertext when encrypted), hex.
    public var sha256: String
    /// `none` or `age-x25519`.
    public var encryption: String
    public var database: String
    public var serverVersion: String
    /// pg_dump's version, or redis-server's for an RDB file.
    public var toolVersion: String
    public var format: String          // pg_dump-custom | rdb
    public var startedAt: Double
    public var finishedAt: Double
    public var partSize: Int
    public var parts: Int
    public var host: String
    public var mastiffVersion: String
    /// Exact row counts of the largest tables, taken in the snapshot pg_dump dumped: what a
    /// restore drill compares against.
    public var rowCounts: [String: Int] = [:]
    /// Set by `backup verify` (Unix seconds) when the object was read back and checked.
    public var verifiedAt: Double?

    public init(target: String, dataKey: String, bytes: Int, sha256: String, encryption: String, database: String, serverVersion: String,
                toolVersion: String, format: String, startedAt: Double, finishedAt: Double, partSize: Int, parts: Int, host: String,
                mastiffVersion: String, verifiedAt: Double? = nil) {
        self.target = target
        self.dataKey = dataKey
        self.bytes = bytes
        self.sha256 = sha256
        self.encryption = encryption
        self.database = database
        self.serverVersion = serverVersion
        self.toolVersion = toolVersion
        self.format = format
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.partSize = partSize
        self.parts = parts
        self.host = host
        self.mastiffVersion = mastiffVersion
        self.verifiedAt = verifiedAt
    }

    public var manifestKey: String { dataKey + Self.suffix }
    public var isEncrypted: Bool { encryption != "none" }

    public func json() -> String {
        var members: [String: JSONValue] = [
            "version": .number(1), "target": .string(target), "data_key": .string(dataKey), "bytes": .number(Double(bytes)),
            "sha256": .string(sha256), "encryption": .string(encryption), "database": .string(database),
            "server_version": .string(serverVersion), "tool_version": .string(toolVersion), "format": .string(format),
            "started_at": .number(startedAt), "finished_at": .number(finishedAt),
            "started": .string(CalendarTime.utc(startedAt).rfc3339), "finished": .string(CalendarTime.utc(finishedAt).rfc3339),
            "part_size": .number(Double(partSize)), "parts": .number(Double(parts)), "host": .string(host),
            "mastiff_version": .string(mastiffVersion),
        ]
        if let verifiedAt { members["verified_at"] = .number(verifiedAt) }
        if !rowCounts.isEmpty { members["row_counts"] = .object(rowCounts.mapValues { .number(Double($0)) }) }
        return JSONValue.object(members).serialized(indent: true) + "\n"
    }

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public static func parse(_ text: String, key: String) throws(ParseError) -> BackupManifest {
        guard let value = JSONValue.parse(text), case .object = value else { throw ParseError(description: "\(key): not a JSON object") }
        func string(_ name: String) throws(ParseError) -> String {
            guard let text = value[name]?.string else { throw ParseError(description: "\(key): '\(name)' is missing") }
            return text
        }
        func number(_ name: String) throws(ParseError) -> Double {
            guard case .number(let number)? = value[name] else { throw ParseError(description: "\(key): '\(name)' is missing") }
            return number
        }
        var verifiedAt: Double?
        if case .number(let number)? = value["verified_at"] { verifiedAt = number }
        var manifest = BackupManifest(target: try string("target"), dataKey: try string("data_key"), bytes: Int(try number("bytes")),
                              sha256: try string("sha256"), encryption: try string("encryption"), database: try string("database"),
                              serverVersion: try string("server_version"), toolVersion: try string("tool_version"), format: try string("format"),
                              startedAt: try number("started_at"), finishedAt: try number("finished_at"),
                              partSize: Int(try number("part_size")), parts: Int(try number("parts")), host: try string("host"),
                              mastiffVersion: try string("mastiff_version"), verifiedAt: verifiedAt)
        if case .object(let counts)? = value["row_counts"] {
            for (table, count) in counts { if case .number(let number) = count { manifest.rowCounts[table] = Int(number) } }
        }
        return manifest
    }
}
