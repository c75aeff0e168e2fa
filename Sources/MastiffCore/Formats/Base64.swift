/// RFC 4648 base64 (standard alphabet). age writes it unpadded; S3's Content-MD5 and most peers
/// pad it.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: some Swift.Collection<UInt8>, padded: Bool = true) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next(), third = iterator.next()
            let value = UInt32(first) << 16 | UInt32(second ?? 0) << 8 | UInt32(third ?? 0)
            out.append(alphabet[Int(value >> 18 & 63)])
            out.append(alphabet[Int(value >> 12 & 63)])
            if second != nil { out.append(alphabet[Int(value >> 6 & 63)]) } else if padded { out.append(UInt8(ascii: "=")) }
            if third != nil { out.append(alphabet[Int(value & 63)]) } else if padded { out.append(UInt8(ascii: "=")) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// nil for a character outside the alphabet, a misplaced `=`, or (with `canonical`) bits
    /// left over in the last character, which age requires to be zero.
    public static func decode(_ text: some StringProtocol, canonical: Bool = false) -> [UInt8]? {
        var values: [UInt8] = []
        var sawPadding = false
        for byte in text.utf8 {
            if byte == UInt8(ascii: "=") { sawPadding = true; continue }
            guard !sawPadding, let index = alphabet.firstIndex(of: byte) else { return nil }
            values.append(UInt8(index))
        }
        guard values.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 3 / 4)
        var index = 0
        while index < values.count {
            let chunk = values[index..<min(index + 4, values.count)]
            var value: UInt32 = 0
            for (offset, sextet) in chunk.enumerated() { value |= UInt32(sextet) << (18 - 6 * offset) }
            let produced = chunk.count - 1
            for offset in 0..<produced { out.append(UInt8(value >> (16 - 8 * offset) & 0xFF)) }
            if canonical, produced < 3, value & ((1 << (16 - 8 * (produced - 1))) - 1) != 0 { return nil }
            index += 4
        }
        return out
    }
}

public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: some Swift.Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
