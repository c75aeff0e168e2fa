/// Just enough XML for S3's and supervisord's answers: the text of every `<name>…</name>`
/// element, entities decoded, and escaping for the text mastiff writes (XML, and the status
/// page's HTML, attributes included). The answers are flat, so no tree is built.
public enum XMLText {
    public static func elements(_ name: String, in text: String) -> [String] {
        let bytes = Array(text.utf8)
        let open = Array("<\(name)>".utf8), close = Array("</\(name)>".utf8)
        var out: [String] = []
        var index = 0
        while let start = find(open, in: bytes, from: index), let end = find(close, in: bytes, from: start + open.count) {
            out.append(String(decoding: bytes[(start + open.count)..<end], as: UTF8.self))
            index = end + close.count
        }
        return out
    }

    static func find(_ needle: [UInt8], in bytes: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, bytes.count >= needle.count else { return nil }
        var index = from
        while index + needle.count <= bytes.count {
            if bytes[index] == needle[0], bytes[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    public static func values(_ name: String, in text: String) -> [String] { elements(name, in: text).map(unescape) }

    static let entities: [String: String] = ["quot": "\"", "apos": "'", "lt": "<", "gt": ">", "amp": "&"]

    public static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = ""
        var rest = Substring(text)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semicolon = rest[amp...].firstIndex(of: ";") else { break }
            let name = rest[rest.index(after: amp)..<semicolon]
            if let value = entities[String(name)] {
                out += value
            } else if name.hasPrefix("#"), let code = name.hasPrefix("#x") ? UInt32(name.dropFirst(2), radix: 16) : UInt32(name.dropFirst()),
                      let scalar = Unicode.Scalar(code) {
                out.unicodeScalars.append(scalar)
            } else {
                out += rest[amp...semicolon]
            }
            rest = rest[rest.index(after: semicolon)...]
        }
        return out + rest
    }

    public static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}
