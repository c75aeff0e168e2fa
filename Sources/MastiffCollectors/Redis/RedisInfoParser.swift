/// Parses the reply of Redis' INFO: `# Section` headers and `key:value` lines.
public enum RedisInfoParser {
    /// Works on the UTF-8 bytes: splitting by Character (grapheme clusters, "\r\n" being one)
    /// made this parser the costliest part of a scrape.
    public static func parse(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        fields.reserveCapacity(192)
        var text = text
        text.withUTF8 { bytes in
            var lineStart = 0
            var index = 0
            while index <= bytes.count {
                if index == bytes.count || bytes[index] == UInt8(ascii: "\n") {
                    var lineEnd = index
                    if lineEnd > lineStart, bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
                    if lineEnd > lineStart, bytes[lineStart] != UInt8(ascii: "#") {
                        var colon = lineStart
                        while colon < lineEnd, bytes[colon] != UInt8(ascii: ":") { colon += 1 }
                        if colon < lineEnd {
                            let key = String(decoding: UnsafeBufferPointer(rebasing: bytes[lineStart..<colon]), as: UTF8.self)
                            fields[key] = String(decoding: UnsafeBufferPointer(rebasing: bytes[(colon + 1)..<lineEnd]), as: UTF8.self)
                        }
                    }
                    lineStart = index + 1
                }
                index += 1
            }
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
