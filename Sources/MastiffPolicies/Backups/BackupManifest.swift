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
    /// The HMAC-SHA256 (hex) the manifest was read with, if any; not part of what is signed.
    public var signature: String?
    /// Whether `signature` was checked against the cluster's manifest key (BackupStorage): only
    /// authenticated manifests count as backups for retention, `latest`, drills and schedules.
    public var authenticated = false

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

    /// The manifest's fields as JSON (sorted keys, mastiff's serializer): what is signed. The
    /// signature itself is added by `json(signature:)`.
    public func signedText() -> String { JSONValue.object(members()).serialized(indent: false) }

    /// The manifest as written to the bucket, with its HMAC (hex) when given.
    public func json(signature: String? = nil) -> String {
        var members = members()
        if let signature { members["hmac"] = .string(signature) }
        return JSONValue.object(members).serialized(indent: true) + "\n"
    }

    private func members() -> [String: JSONValue] {
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
        return members
    }

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// What a manifest may hold. Everything read back from a bucket is input from whoever can
    /// write to it: fields are checked by kind and range, and one out of place makes the whole
    /// manifest a problem to report, never a number that traps or a key that names another
    /// backup's data.
    static let fields: Set<String> = ["version", "target", "data_key", "bytes", "sha256", "encryption", "database", "server_version",
                                      "tool_version", "format", "started_at", "finished_at", "started", "finished", "part_size", "parts",
                                      "host", "mastiff_version", "verified_at", "row_counts", "hmac"]
    static let maxBytes = 1 << 50          // 1 PiB
    static let maxRowCounts = 1000
    static let maxTextBytes = 512
    /// How far ahead of this host's clock a manifest may be dated (clock skew between agents).
    public static let allowedSkew = 3600.0

    /// Parses and checks `text`, the manifest stored at `key`, against the time `now`. The
    /// signature (if any) is returned as `signature`; checking it takes the cluster's key
    /// (BackupStorage).
    public static func parse(_ text: String, key: String, now: Double) throws(ParseError) -> BackupManifest {
        func problem(_ message: String) -> ParseError { ParseError(description: "\(key): \(message)") }
        guard text.utf8.count <= 1 << 20 else { throw problem("larger than 1 MiB: not a manifest") }
        guard let value = JSONValue.parse(text), case .object(let object) = value else { throw problem("not a JSON object") }
        if let unknown = object.keys.sorted().first(where: { !fields.contains($0) }) {
            throw problem("unknown field '\(String(unknown.prefix(64)).escapingControlCharacters)'")
        }
        func string(_ name: String, _ allowed: Set<String>? = nil) throws(ParseError) -> String {
            guard let text = value[name]?.string else { throw problem("'\(name)' is missing or not a string") }
            guard text.utf8.count <= maxTextBytes, !text.unicodeScalars.contains(where: \.isControlCharacter) else { throw problem("'\(name)' is not a plain short text") }
            if let allowed, !allowed.contains(text) { throw problem("'\(name)' is '\(text.prefix(32))', not one of \(allowed.sorted().joined(separator: ", "))") }
            return text
        }
        func whole(_ name: String, _ range: ClosedRange<Int>) throws(ParseError) -> Int {
            guard let number = value[name]?.integer, range.contains(number) else {
                throw problem("'\(name)' is not a whole number in \(range.lowerBound)…\(range.upperBound)")
            }
            return number
        }
        func time(_ name: String) throws(ParseError) -> Double {
            guard let seconds = value[name]?.timestamp else { throw problem("'\(name)' is not a time (seconds since 1970, before the year 5000)") }
            return seconds
        }
        guard value["version"]?.integer == 1 else { throw problem("version is not 1") }
        guard key.hasSuffix(suffix) else { throw problem("a manifest's key ends in \(suffix)") }
        // The data belongs to the manifest's own key: a manifest naming another object (another
        // backup's data, to have it deleted with this one) is refused.
        let dataKey = String(key.dropLast(suffix.count))
        guard try string("data_key") == dataKey else { throw problem("data_key does not name this manifest's own data (\(dataKey))") }
        let sha256 = try string("sha256")
        guard sha256.utf8.count == 64, sha256.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw problem("'sha256' is not 64 lowercase hex digits")
        }
        let startedAt = try time("started_at"), finishedAt = try time("finished_at")
        guard startedAt <= finishedAt else { throw problem("finished before it started") }
        guard finishedAt <= now + allowedSkew else { throw problem("dated in the future (\(CalendarTime.utc(finishedAt).rfc3339))") }
        var verifiedAt: Double?
        if value["verified_at"] != nil {
            verifiedAt = try time("verified_at")
            guard verifiedAt! >= finishedAt, verifiedAt! <= now + allowedSkew else { throw problem("verified_at is out of order") }
        }
        var manifest = BackupManifest(target: try string("target", ["postgres", "redis", "files"]), dataKey: dataKey, bytes: try whole("bytes", 0...maxBytes),
                                      sha256: sha256, encryption: try string("encryption", ["none", "age-x25519"]), database: try string("database"),
                                      serverVersion: try string("server_version"), toolVersion: try string("tool_version"),
                                      format: try string("format", ["pg_dump-custom", "rdb", "tar"]), startedAt: startedAt, finishedAt: finishedAt,
                                      partSize: try whole("part_size", 0...(5 << 30)), parts: try whole("parts", 0...10_000), host: try string("host"),
                                      mastiffVersion: try string("mastiff_version"), verifiedAt: verifiedAt)
        if let counts = value["row_counts"] {
            guard case .object(let tables) = counts, tables.count <= maxRowCounts else { throw problem("'row_counts' is not an object of at most \(maxRowCounts) tables") }
            for (table, count) in tables {
                guard table.utf8.count <= maxTextBytes, !table.unicodeScalars.contains(where: \.isControlCharacter),
                      let rows = count.integer, rows >= 0 else { throw problem("'row_counts' holds something other than table names and row counts") }
                manifest.rowCounts[table] = rows
            }
        }
        if let signature = value["hmac"] {
            guard let hex = signature.string, hex.utf8.count == 64 else { throw problem("'hmac' is not 64 hex digits") }
            manifest.signature = hex
        }
        return manifest
    }
}
