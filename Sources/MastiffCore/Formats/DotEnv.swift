/// Mastodon's `.env.production`: a dotenv file of `KEY=value` lines, as the dotenv gem reads
/// them — `#` comments and blank lines skipped, an optional `export `, values bare (an inline
/// comment after ` #` dropped), 'single-quoted' (taken as written) or "double-quoted" (`\n`,
/// `\"` and `\\` unescaped). A later line wins. No variable expansion: mastiff never runs a shell
/// over the file.
public enum DotEnv {
    public static func parse(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            var trimmed = Substring(String(line).trimmingWhitespace)
            guard !trimmed.hasPrefix("#") else { continue }
            if trimmed.hasPrefix("export ") { trimmed = trimmed.dropFirst("export ".count).drop { $0 == " " } }
            guard let equals = trimmed.firstIndex(of: "=") else { continue }
            let key = String(trimmed[..<equals]).trimmingWhitespace
            guard !key.isEmpty, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") }) else { continue }
            let raw = String(trimmed[trimmed.index(after: equals)...]).trimmingWhitespace
            values[key] = value(raw)
        }
        return values
    }

    static func value(_ raw: String) -> String {
        if raw.count >= 2, raw.first == "'", let close = raw.dropFirst().firstIndex(of: "'") {
            return String(raw[raw.index(after: raw.startIndex)..<close])
        }
        if raw.first == "\"" {
            var result = ""
            var escaped = false
            for character in raw.dropFirst() {
                if escaped {
                    result.append(character == "n" ? "\n" : character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    return result
                } else {
                    result.append(character)
                }
            }
            return raw  // unterminated: as written
        }
        if let comment = raw.firstRange(of: " #") { return String(raw[..<comment.lowerBound]).trimmingWhitespace }
        return raw
    }
}
