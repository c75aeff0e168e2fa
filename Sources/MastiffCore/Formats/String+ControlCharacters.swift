/// Control characters in text that came from outside (a label value from a Redis queue name, an
/// annotation, a peer's error message) are how a value turns into a second HTTP or mail header,
/// or rewrites an admin's terminal. Swift compares `"\r\n"` as one Character, so checks must
/// look at Unicode scalars, as these do.
extension Unicode.Scalar {
    /// C0 controls (NUL, CR, LF, ESC, …), DEL, C1 controls, and the Unicode line and paragraph
    /// separators (which some mail and chat software treat as line ends).
    public var isControlCharacter: Bool {
        value < 0x20 || (0x7F...0x9F).contains(value) || value == 0x2028 || value == 0x2029
    }
}

extension String {
    /// For a header value (HTTP, mail): every control character becomes a space, so no value
    /// can end a header line or start another.
    public var replacingControlCharacters: String {
        guard unicodeScalars.contains(where: \.isControlCharacter) else { return self }
        var result = String.UnicodeScalarView()
        for scalar in unicodeScalars { result.append(scalar.isControlCharacter ? " " : scalar) }
        return String(result)
    }

    /// For a terminal or a text log line: control characters written as `\n`, `\t` or `\x1b`
    /// (`\u{2028}` for the separators), so they show instead of acting.
    public var escapingControlCharacters: String {
        guard unicodeScalars.contains(where: \.isControlCharacter) else { return self }
        var result = ""
        for scalar in unicodeScalars {
            guard scalar.isControlCharacter else {
                result.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                let hex = String(scalar.value, radix: 16)
                result += scalar.value <= 0xFF ? "\\x" + (hex.count == 1 ? "0" : "") + hex : "\\u{\(hex)}"
            }
        }
        return result
    }
}
