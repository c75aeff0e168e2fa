/// What of a URL may be shown: a URL from a configuration or a file may carry a password
/// (`https://user:secret@host`) or a token in its path or query, so messages, logs and pages
/// show the host only.
public enum URLText {
    /// `https://user:secret@social.example:8443/path?x` → `social.example:8443`; nil when empty.
    public static func host(_ url: String) -> String? {
        var rest = Substring(url)
        if let colon = rest.firstIndex(of: ":"), rest[colon...].hasPrefix("://") { rest = rest[rest.index(colon, offsetBy: 3)...] }
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        return rest.isEmpty ? nil : String(rest)
    }

    /// For an error message: the scheme and host, with `…` for whatever else the URL holds
    /// (credentials, path, query), and control characters escaped.
    public static func redacted(_ url: String) -> String {
        let scheme = url.firstRange(of: "://").map { String(url[..<$0.lowerBound]) + "://" } ?? ""
        let host = host(url) ?? ""
        let shown = scheme + host
        return (shown.utf8.count < url.utf8.count ? shown + "…" : shown).escapingControlCharacters
    }

    /// Whether `text` is an absolute http:// or https:// URL with a host and no whitespace or
    /// control character (which libcurl would reject or, worse, send).
    public static func isHTTP(_ text: String) -> Bool {
        guard text.hasPrefix("http://") || text.hasPrefix("https://"), host(text) != nil else { return false }
        return !text.unicodeScalars.contains { $0.isControlCharacter || $0 == " " }
    }
}

extension ConfigNode {
    /// An http:// or https:// URL; the error shows the URL redacted (URLText.redacted).
    public func httpURL() throws(ConfigError) -> String {
        let text = try string()
        guard URLText.isHTTP(text) else { throw error("'\(URLText.redacted(text))' is not an http:// or https:// URL") }
        return text
    }
}
