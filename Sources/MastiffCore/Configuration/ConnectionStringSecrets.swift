/// The secret values written in a libpq connection string, so that library messages can be
/// cleaned of them by value rather than by pattern.
///
/// libpq quotes fragments of a malformed string back (`password=correct horse battery` gives
/// `missing "=" after "horse"`), and no pattern over the message can know which words were the
/// password. The string itself can: this reads it the way libpq does and returns every value of
/// `password` and `sslpassword` — raw and %-decoded for URIs — and, when the string is malformed
/// after such a key, every word up to the next keyword libpq knows, since libpq may quote any of
/// them.
public enum ConnectionStringSecrets {
    /// libpq 15's connection keywords: a word `keyword=` ends a run of password fragments.
    static let keywords: Set<String> = [
        "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "channel_binding", "connect_timeout",
        "client_encoding", "options", "application_name", "fallback_application_name", "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "tcp_user_timeout", "replication", "gssencmode", "sslmode", "requiressl",
        "sslcompression", "sslcert", "sslkey", "sslpassword", "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "requirepeer",
        "ssl_min_protocol_version", "ssl_max_protocol_version", "krbsrvname", "gsslib", "service", "target_session_attrs",
        "load_balance_hosts",
    ]
    static let secretKeywords: Set<String> = ["password", "sslpassword"]

    public static func values(in conninfo: String) -> [String] {
        var found: [String] = []
        if conninfo.hasPrefix("postgresql://") || conninfo.hasPrefix("postgres://") {
            found = uriSecrets(conninfo)
        } else {
            found = keywordValueSecrets(conninfo)
        }
        // Longest first, so that a value is removed whole before any fragment of it is looked for.
        return Array(Set(found.filter { !$0.isEmpty })).sorted { $0.count > $1.count }
    }

    /// `keyword = value` pairs separated by whitespace; a value is a run of non-space characters
    /// or a single-quoted string with `\'` and `\\` escapes.
    private static func keywordValueSecrets(_ text: String) -> [String] {
        let characters = Array(text)
        var index = 0
        var found: [String] = []
        func skipSpaces() { while index < characters.count, characters[index].isWhitespace { index += 1 } }
        /// Every word from `index` on, until a word that starts a known `keyword=`.
        func fragmentsUntilNextKeyword() {
            let rest = String(characters[index...])
            for word in rest.split(whereSeparator: { $0.isWhitespace }) {
                let key = word.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
                if word.contains("="), keywords.contains(key) { break }
                found.append(String(word))
                found.append(contentsOf: word.split(whereSeparator: { $0 == "=" || $0 == "'" || $0 == "\\" }).map(String.init))
            }
            index = characters.count
        }
        var inSecret = false
        while index < characters.count {
            skipSpaces()
            guard index < characters.count else { break }
            var key = ""
            while index < characters.count, characters[index] != "=", !characters[index].isWhitespace {
                key.append(characters[index])
                index += 1
            }
            skipSpaces()
            guard index < characters.count, characters[index] == "=" else {
                // Malformed: libpq quotes this word back. After a secret, it may be part of one.
                if inSecret {
                    found.append(key)
                    fragmentsUntilNextKeyword()
                }
                break
            }
            // `password=correct horse=battery`: libpq reads an option "horse" and quotes it back.
            if inSecret, !keywords.contains(key) {
                found.append(key)
                index += 1
                fragmentsUntilNextKeyword()
                break
            }
            index += 1
            skipSpaces()
            var value = ""
            if index < characters.count, characters[index] == "'" {
                index += 1
                var closed = false
                while index < characters.count {
                    let character = characters[index]
                    if character == "\\", index + 1 < characters.count {
                        value.append(characters[index + 1])
                        index += 2
                        continue
                    }
                    index += 1
                    if character == "'" {
                        closed = true
                        break
                    }
                    value.append(character)
                }
                if !closed, secretKeywords.contains(key) {
                    found.append(value)
                    found.append(contentsOf: value.split(whereSeparator: { $0.isWhitespace }).map(String.init))
                    break
                }
            } else {
                while index < characters.count, !characters[index].isWhitespace {
                    if characters[index] == "\\", index + 1 < characters.count { index += 1 }
                    value.append(characters[index])
                    index += 1
                }
            }
            inSecret = secretKeywords.contains(key)
            if inSecret { found.append(value) }
        }
        return found
    }

    /// `postgresql://user:password@host/db?password=…&sslpassword=…`, raw and %-decoded.
    private static func uriSecrets(_ text: String) -> [String] {
        var found: [String] = []
        let afterScheme = text[text.index(after: text.firstIndex(of: "/")!)...].dropFirst()
        let authorityEnd = afterScheme.firstIndex { $0 == "/" || $0 == "?" } ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        // libpq ends the user info at the first "@", so a literal "@" in a password puts the rest
        // of it in the host name that its error quotes: take both readings, and the pieces.
        for at in [authority.firstIndex(of: "@"), authority.lastIndex(of: "@")].compactMap({ $0 }) {
            let userInfo = authority[..<at]
            if let colon = userInfo.firstIndex(of: ":") {
                let password = String(userInfo[userInfo.index(after: colon)...])
                found.append(password)
                found.append(percentDecoded(password))
                found.append(contentsOf: password.split(separator: "@").map(String.init))
            }
        }
        if let question = text.firstIndex(of: "?") {
            for pair in text[text.index(after: question)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, secretKeywords.contains(percentDecoded(String(parts[0]))) else { continue }
                found.append(String(parts[1]))
                found.append(percentDecoded(String(parts[1])))
            }
        }
        // A decoded password with spaces may be quoted back in parts.
        for value in found where value.contains(" ") {
            found.append(contentsOf: value.split(separator: " ").map(String.init))
        }
        return found
    }

    static func percentDecoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "%"), index + 2 < utf8.count,
               let value = UInt8(String(decoding: utf8[(index + 1)...(index + 2)], as: UTF8.self), radix: 16) {
                bytes.append(value)
                index += 3
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
