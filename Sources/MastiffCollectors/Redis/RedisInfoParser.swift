/// Parses the reply of Redis' INFO: `# Section` headers and `key:value` lines.
public enum RedisInfoParser {
    public static func parse(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" }) {
            guard !line.hasPrefix("#"), let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        return fields
    }

    public struct KeyspaceEntry: Equatable, Sendable {
        public var database: String
        public var keys: Double
        public var expires: Double
    }

    /// `db0:keys=12,expires=3,avg_ttl=0` entries of the Keyspace section.
    public static func keyspace(_ fields: [String: String]) -> [KeyspaceEntry] {
        fields.compactMap { key, value -> KeyspaceEntry? in
            guard key.hasPrefix("db"), Int(key.dropFirst(2)) != nil else { return nil }
            var values: [Substring: Double] = [:]
            for pair in value.split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, let number = Double(parts[1]) { values[parts[0]] = number }
            }
            guard let keys = values["keys"] else { return nil }
            return KeyspaceEntry(database: key, keys: keys, expires: values["expires"] ?? 0)
        }.sorted { $0.database < $1.database }
    }
}
