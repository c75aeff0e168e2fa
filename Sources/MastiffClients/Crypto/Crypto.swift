import CCrypto
import MastiffCore

/// The primitives backups need, each one call into OpenSSL's libcrypto (CCrypto/shim.h): SHA-256,
/// HMAC-SHA256, HKDF over that HMAC, X25519 and ChaCha20-Poly1305. A missing libcrypto is a
/// `CryptoError`, never a crash.
public enum Crypto {
    public static func checkAvailable() throws(CryptoError) {
        if let error = mastiff_crypto_load_error() {
            throw CryptoError("libcrypto could not be loaded (Debian: libssl3): \(String(cString: error))")
        }
    }

    public static func sha256(_ bytes: some ContiguousBytes) -> [UInt8] {
        let digest = SHA256()
        digest.update(bytes)
        return digest.finish()
    }

    public static func hmacSHA256(key: [UInt8], _ data: some ContiguousBytes) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let ok = key.withUnsafeBytes { key in
            data.withUnsafeBytes { data in
                out.withUnsafeMutableBufferPointer { mastiff_hmac_sha256(key.baseAddress, key.count, data.baseAddress, data.count, $0.baseAddress) }
            }
        }
        precondition(ok != 0, "HMAC-SHA256 failed: is libcrypto loaded? (Crypto.checkAvailable)")
        return out
    }

    /// HKDF-SHA256 (RFC 5869), extract then expand, over libcrypto's HMAC.
    public static func hkdfSHA256(secret: [UInt8], salt: [UInt8], info: [UInt8], length: Int) -> [UInt8] {
        let pseudoRandomKey = hmacSHA256(key: salt.isEmpty ? [UInt8](repeating: 0, count: 32) : salt, secret)
        var output: [UInt8] = []
        var previous: [UInt8] = []
        var counter: UInt8 = 1
        while output.count < length {
            previous = hmacSHA256(key: pseudoRandomKey, previous + info + [counter])
            output += previous
            counter += 1
        }
        return Array(output.prefix(length))
    }

    public static func randomBytes(_ count: Int) throws(CryptoError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        guard out.withUnsafeMutableBufferPointer({ mastiff_random_bytes($0.baseAddress, Int32(count)) }) == 1 else {
            throw CryptoError("no random bytes from libcrypto")
        }
        return out
    }

    public static func x25519PublicKey(privateKey: [UInt8]) throws(CryptoError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        guard privateKey.count == 32, mastiff_x25519_public(privateKey, &out) == 1 else { throw CryptoError("not an X25519 private key") }
        return out
    }

    public static func x25519(privateKey: [UInt8], peerPublicKey: [UInt8]) throws(CryptoError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        guard privateKey.count == 32, peerPublicKey.count == 32, mastiff_x25519(privateKey, peerPublicKey, &out) == 1 else {
            throw CryptoError("X25519 key agreement failed")
        }
        return out
    }

    /// ChaCha20-Poly1305 seal: ciphertext followed by the 16-byte tag.
    public static func seal(key: [UInt8], nonce: [UInt8], _ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(CryptoError) {
        precondition(key.count == 32 && nonce.count == 12 && out.count >= plaintext.count + 16)
        guard mastiff_chacha20poly1305(1, key, nonce, plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), plaintext.count,
                                       out.baseAddress?.assumingMemoryBound(to: UInt8.self)) == 1 else { throw CryptoError("ChaCha20-Poly1305 seal failed") }
    }

    /// ChaCha20-Poly1305 open of ciphertext + tag; throws when the tag does not match.
    public static func open(key: [UInt8], nonce: [UInt8], _ sealed: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(CryptoError) {
        precondition(key.count == 32 && nonce.count == 12 && sealed.count >= 16 && out.count >= sealed.count - 16)
        guard mastiff_chacha20poly1305(0, key, nonce, sealed.baseAddress?.assumingMemoryBound(to: UInt8.self), sealed.count - 16,
                                       out.baseAddress?.assumingMemoryBound(to: UInt8.self)) == 1 else {
            throw CryptoError("authentication failed (wrong key, or the data was altered)")
        }
    }

    public static func seal(key: [UInt8], nonce: [UInt8], _ plaintext: [UInt8]) throws(CryptoError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: plaintext.count + 16)
        let ok = plaintext.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { output in (try? seal(key: key, nonce: nonce, input, into: output)) != nil }
        }
        guard ok else { throw CryptoError("ChaCha20-Poly1305 seal failed") }
        return out
    }

    public static func open(key: [UInt8], nonce: [UInt8], _ sealed: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard sealed.count >= 16 else { throw CryptoError("sealed data shorter than its tag") }
        var out = [UInt8](repeating: 0, count: sealed.count - 16)
        let ok = sealed.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { output in (try? open(key: key, nonce: nonce, input, into: output)) != nil }
        }
        guard ok else { throw CryptoError("authentication failed (wrong key, or the data was altered)") }
        return out
    }
}

/// A running SHA-256 over a stream; `finish` once.
public final class SHA256: @unchecked Sendable {
    private var context: UnsafeMutableRawPointer?

    public init() {
        guard let context = mastiff_sha256_new() else { fatalError("SHA-256 unavailable: is libcrypto loaded? (Crypto.checkAvailable)") }
        self.context = context
    }

    public func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { _ = mastiff_sha256_update(context, $0.baseAddress, $0.count) }
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        _ = mastiff_sha256_update(context, bytes.baseAddress, bytes.count)
    }

    public func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        if let context { _ = mastiff_sha256_finish(context, &out) }
        context = nil
        return out
    }

    deinit { if let context { mastiff_sha256_free(context) } }
}

/// A fixed buffer for one multipart part, allocated once and reused, so that a backup's memory
/// is its part buffers and nothing grows with the database.
public final class PartBuffer: @unchecked Sendable {
    public let capacity: Int
    public let pointer: UnsafeMutableRawBufferPointer
    public var count = 0

    public init(capacity: Int) {
        self.capacity = capacity
        pointer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(capacity, 1), alignment: 16)
    }

    public convenience init(_ bytes: [UInt8]) {
        self.init(capacity: bytes.count)
        bytes.withUnsafeBytes { pointer.copyMemory(from: $0) }
        count = bytes.count
    }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: pointer[0..<count]) }

    deinit { pointer.deallocate() }
}

public struct CryptoError: Error, Sendable, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Bytes without Foundation's protocol of the same name.
public protocol ContiguousBytes {
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}
extension Array: ContiguousBytes where Element == UInt8 {}
extension ArraySlice: ContiguousBytes where Element == UInt8 {}
extension UnsafeRawBufferPointer: ContiguousBytes {
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(self) }
}
extension String.UTF8View: ContiguousBytes {
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Array(self).withUnsafeBytes(body)
    }
}
