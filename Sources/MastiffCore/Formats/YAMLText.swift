/// YAML written by mastiff (`mastiff init`): every value from elsewhere goes in a double-quoted
/// scalar, so that no `#`, `:`, quote or newline in it can change the document's structure.
public enum YAMLText {
    /// A JSON string literal is a YAML double-quoted scalar, once the characters YAML reads
    /// differently are escaped too: DEL and C1 (not printable to libyaml), NEL, U+2028 and
    /// U+2029 (line breaks it would fold), and the byte-order mark.
    public static func quoted(_ text: String) -> String {
        JSONValue.quoted(text) { $0.isControlCharacter || $0 == "\u{2028}" || $0 == "\u{2029}" || $0 == "\u{FEFF}" }
    }

    /// Text for a `#` comment: one line, control characters shown escaped.
    public static func comment(_ text: String) -> String { text.escapingControlCharacters }
}
