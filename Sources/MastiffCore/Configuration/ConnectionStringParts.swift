/// Rewrites of a libpq connection string for the tools mastiff runs (pg_dump, pg_restore), which
/// take it on their command line, where every local user can read it in /proc: the password is
/// taken out and handed over in PGPASSWORD instead, and the database can be swapped for another
/// (restores, drills).
public enum ConnectionStringParts {
    /// The connection string without `password` (key/value) or the URI's `:password@` and
    /// `password=` parameter, and the password (%-decoded for URIs).
    public static func splitPassword(_ conninfo: String) -> (conninfo: String, password: String?) {
        if isURI(conninfo) { return splitURIPassword(conninfo) }
        var password: String?
        let pairs = keywordValuePairs(conninfo).filter { pair in
            if pair.key == "password" { password = pair.value; return false }
            return true
        }
        return (render(pairs), password)
    }

    /// The connection string without any secret parameter (`password`, `sslpassword`, and the
    /// URI's `:password@`), and those secrets by keyword: for the command line of pg_dump, psql
    /// and pg_restore, which every local user can read in /proc.
    public static func splitSecrets(_ conninfo: String) -> (conninfo: String, secrets: [String: String]) {
        let (withoutPassword, password) = splitPassword(conninfo)
        var secrets: [String: String] = [:]
        if let password { secrets["password"] = password }
        if isURI(withoutPassword) {
            let (base, query) = splitQuery(withoutPassword)
            let parameters = query.split(separator: "&").filter { parameter in
                if parameter.hasPrefix("sslpassword=") {
                    secrets["sslpassword"] = percentDecode(String(parameter.dropFirst("sslpassword=".count)))
                    return false
                }
                return true
            }
            return (base + (parameters.isEmpty ? "" : "?" + parameters.joined(separator: "&")), secrets)
        }
        let pairs = keywordValuePairs(withoutPassword).filter { pair in
            if pair.key == "sslpassword" { secrets["sslpassword"] = pair.value; return false }
            return true
        }
        return (render(pairs), secrets)
    }

    /// `conninfo` with one more `keyword=value` (a query parameter for a URI).
    public static func adding(_ key: String, _ value: String, to conninfo: String) -> String {
        if isURI(conninfo) { return conninfo + (conninfo.contains("?") ? "&" : "?") + key + "=" + percentEncode(value) }
        return render(keywordValuePairs(conninfo) + [(key: key, value: value)])
    }

    /// The same server and options, database `name`.
    public static func replacingDatabase(_ conninfo: String, with name: String) -> String {
        if isURI(conninfo) {
            let (base, query) = splitQuery(conninfo)
            let afterScheme = base.index(base.firstIndex(of: ":")!, offsetBy: 3)
            let rest = base[afterScheme...]
            let hostPart = rest.firstIndex(of: "/").map { rest[..<$0] } ?? rest
            return String(base[..<afterScheme]) + hostPart + "/" + percentEncode(name) + (query.isEmpty ? "" : "?" + query)
        }
        var pairs = keywordValuePairs(conninfo).filter { $0.key != "dbname" }
        pairs.append((key: "dbname", value: name))
        return render(pairs)
    }

    /// The database a connection string names, if it names one.
    public static func database(_ conninfo: String) -> String? {
        if isURI(conninfo) {
            let (base, _) = splitQuery(conninfo)
            let afterScheme = base.index(base.firstIndex(of: ":")!, offsetBy: 3)
            guard let slash = base[afterScheme...].firstIndex(of: "/") else { return nil }
            let name = percentDecode(String(base[base.index(after: slash)...]))
            return name.isEmpty ? nil : name
        }
        return keywordValuePairs(conninfo).last { $0.key == "dbname" }?.value
    }

    static func isURI(_ text: String) -> Bool { text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") }

    static func splitQuery(_ text: String) -> (String, String) {
        guard let mark = text.firstIndex(of: "?") else { return (text, "") }
        return (String(text[..<mark]), String(text[text.index(after: mark)...]))
    }

    static func splitURIPassword(_ uri: String) -> (conninfo: String, password: String?) {
        var (base, query) = splitQuery(uri)
        var password: String?
        let afterScheme = base.index(base.firstIndex(of: ":")!, offsetBy: 3)
        let authorityEnd = base[afterScheme...].firstIndex(of: "/") ?? base.endIndex
        let authority = base[afterScheme..<authorityEnd]
        if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
            password = percentDecode(String(authority[authority.index(after: colon)..<at]))
            base = String(base[..<colon]) + String(base[at...])
        }
        let parameters = query.split(separator: "&").filter { parameter in
            if parameter.hasPrefix("password=") {
                password = percentDecode(String(parameter.dropFirst("password=".count)))
                return false
            }
            return true
        }
        query = parameters.joined(separator: "&")
        return (base + (query.isEmpty ? "" : "?" + query), password)
    }

    /// libpq's `keyword = value` syntax: values bare or single-quoted with `\'` and `\\`.
    static func keywordValuePairs(_ text: String) -> [(key: String, value: String)] {
        parseKeywordValues(text).pairs
    }

    /// The Unix socket a connection string reaches, when that is the only place libpq could go
    /// with it: exactly one `host`, a directory; a port from the string, PGPORT or 5432; no
    /// `hostaddr` or `service` (nor PGHOSTADDR, PGSERVICE); only libpq's keywords, well formed.
    /// nil for anything else (a URI, TCP, several hosts, the host from PGHOST), so a check of
    /// this path never changes which servers libpq can reach.
    public static func onlyUnixSocket(_ conninfo: String, environment: (String) -> String?) -> String? {
        guard !isURI(conninfo), environment("PGSERVICE") == nil, environment("PGHOSTADDR") == nil else { return nil }
        let (pairs, complete) = parseKeywordValues(conninfo)
        guard complete, pairs.allSatisfy({ ConnectionStringSecrets.keywords.contains($0.key) }),
              !pairs.contains(where: { $0.key == "hostaddr" || $0.key == "service" }),
              let host = pairs.last(where: { $0.key == "host" })?.value, host.hasPrefix("/"), !host.contains(",") else { return nil }
        let port = pairs.last { $0.key == "port" }?.value ?? environment("PGPORT") ?? "5432"
        guard !port.isEmpty, port.allSatisfy({ $0.isASCII && $0.isNumber }), Int(port).map({ (1...65535).contains($0) }) == true else { return nil }
        return host + (host.hasSuffix("/") ? "" : "/") + ".s.PGSQL." + port
    }

    /// The pairs, and whether the whole string was read (no word without `=`, no open quote).
    static func parseKeywordValues(_ text: String) -> (pairs: [(key: String, value: String)], complete: Bool) {
        let characters = Array(text)
        var index = 0
        var pairs: [(key: String, value: String)] = []
        var complete = true
        while index < characters.count {
            while index < characters.count, characters[index].isWhitespace { index += 1 }
            var key = ""
            while index < characters.count, characters[index] != "=", !characters[index].isWhitespace { key.append(characters[index]); index += 1 }
            while index < characters.count, characters[index].isWhitespace { index += 1 }
            guard index < characters.count, characters[index] == "=" else { return (pairs, complete && key.isEmpty) }
            index += 1
            while index < characters.count, characters[index].isWhitespace { index += 1 }
            var value = ""
            if index < characters.count, characters[index] == "'" {
                index += 1
                while index < characters.count, characters[index] != "'" {
                    if characters[index] == "\\", index + 1 < characters.count { index += 1 }
                    value.append(characters[index])
                    index += 1
                }
                guard index < characters.count else { return (pairs, false) }
                index += 1
            } else {
                while index < characters.count, !characters[index].isWhitespace { value.append(characters[index]); index += 1 }
            }
            if key.isEmpty { complete = false } else { pairs.append((key, value)) }
        }
        return (pairs, complete)
    }

    /// `keyword='value'` pairs, quoted as libpq reads them.
    public static func render(_ pairs: [(key: String, value: String)]) -> String {
        pairs.map { pair in
            var quoted = ""
            for character in pair.value {
                if character == "'" || character == "\\" { quoted.append("\\") }
                quoted.append(character)
            }
            return "\(pair.key)='\(quoted)'"
        }.joined(separator: " ")
    }

    static func percentDecode(_ text: String) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x2E || byte == 0x5F {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
