/// FNV-1a, 64 bit, of a string's UTF-8 bytes: stable across processes and hosts (Swift's
/// `hashValue` is seeded per process), for fingerprints and jitter derived from names.
public enum FNV1a {
    public static func hash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
