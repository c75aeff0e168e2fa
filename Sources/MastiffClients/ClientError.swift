/// An error from a client library. `description` names the operation and a cleaned-up reason
/// but never a connection string, password or query text (see `Redaction`).
public struct ClientError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        case connect, query, timeout, protocolError, transport, authentication
    }
    public var kind: Kind
    public var system: String
    public var reason: String

    /// `secrets`: values known to be secret (a DSN's passwords, see `ConnectionStringSecrets`),
    /// removed from the reason wherever they appear.
    public init(_ kind: Kind, system: String, reason: String, secrets: [String] = []) {
        self.kind = kind
        self.system = system
        self.reason = Redaction.clean(Redaction.remove(secrets, from: reason))
    }

    public var description: String { "\(system) \(kind.rawValue) failed: \(reason)" }
}

/// Removes credentials from library messages before they reach a log: `password=…` pairs and the
/// user-info part of URLs. Library messages are otherwise kept, since "password authentication
/// failed for user mastodon" is exactly what an admin needs to read.
public enum Redaction {
    /// Replaces every occurrence of each secret value with `<redacted>`. Values shorter than four
    /// characters are replaced only as whole words, so a two-letter password fragment does not
    /// blank every word containing those letters.
    public static func remove(_ secrets: [String], from message: String) -> String {
        var text = message
        for secret in secrets.sorted(by: { $0.count > $1.count }) where !secret.isEmpty {
            let needle = Array(secret)
            let wholeWordsOnly = needle.count < 4
            var characters = Array(text)
            var output: [Character] = []
            output.reserveCapacity(characters.count)
            var index = 0
            while index < characters.count {
                if characters[index] == needle[0], index + needle.count <= characters.count,
                   Array(characters[index..<(index + needle.count)]) == needle {
                    let end = index + needle.count
                    let bounded = !wholeWordsOnly
                        || ((index == 0 || !isWordCharacter(characters[index - 1])) && (end == characters.count || !isWordCharacter(characters[end])))
                    if bounded {
                        output.append(contentsOf: "<redacted>")
                        index = end
                        continue
                    }
                }
                output.append(characters[index])
                index += 1
            }
            characters = output
            text = String(characters)
        }
        return text
    }

    private static func isWordCharacter(_ character: Character) -> Bool {
        character.isLetter || character.isNumber || character == "_"
    }

    public static func clean(_ message: String) -> String {
        var text = message.split(separator: "\n").map { $0.trimmingWhitespace }.filter { !$0.isEmpty }.joined(separator: "; ")
        // password=secret or password='se cret'
        var output = ""
        var rest = Substring(text)
        while let range = rest.rangeOfLiteral("password=") {
            output += rest[..<range.upperBound]
            output += "<redacted>"
            var after = rest[range.upperBound...]
            if after.first == "'" {
                after = after.dropFirst()
                after = after.drop { $0 != "'" }.dropFirst()
            } else {
                after = after.drop { $0 != " " }
            }
            rest = after
        }
        output += rest
        text = output
        // scheme://user:secret@host
        if let scheme = text[...].rangeOfLiteral("://"), let at = text[scheme.upperBound...].firstIndex(of: "@"),
           !text[scheme.upperBound..<at].contains(" ") {
            text = String(text[..<scheme.upperBound]) + "<redacted>" + String(text[at...])
        }
        return text
    }
}


extension Substring {
    /// First occurrence of `needle`, compared by Unicode scalars; hand-written so the daemon does
    /// not link Swift's string-processing library for two searches.
    fileprivate func rangeOfLiteral(_ needle: String) -> Range<Substring.Index>? {
        let target = Array(needle.unicodeScalars)
        let scalars = unicodeScalars
        var index = scalars.startIndex
        while index < scalars.endIndex {
            if scalars[index...].starts(with: target) {
                let end = scalars.index(index, offsetBy: target.count)
                return index..<end
            }
            index = scalars.index(after: index)
        }
        return nil
    }
}
