import MastiffCore

/// The age file format (age-encryption.org/v1) with X25519 recipients, so that an admin can
/// decrypt a backup without mastiff: `age -d -i key.txt dump.age | pg_restore …`.
///
/// Header: the version line, one `-> X25519 <ephemeral share>` stanza per recipient wrapping the
/// 16-byte file key, then `--- <HMAC>` over the header. Payload: a 16-byte nonce, then the STREAM
/// construction: 64 KiB chunks sealed with ChaCha20-Poly1305 under a key derived from the file
/// key and nonce, each chunk's nonce an 11-byte counter and a last-chunk flag.
public enum Age {
    static let version = "age-encryption.org/v1"
    public static let chunkSize = 64 * 1024
    static let x25519Info = Array("age-encryption.org/v1/X25519".utf8)

    static func payloadKey(fileKey: [UInt8], nonce: [UInt8]) -> [UInt8] {
        Crypto.hkdfSHA256(secret: fileKey, salt: nonce, info: Array("payload".utf8), length: 32)
    }

    static func headerMAC(fileKey: [UInt8], header: [UInt8]) -> [UInt8] {
        let key = Crypto.hkdfSHA256(secret: fileKey, salt: [], info: Array("header".utf8), length: 32)
        return Crypto.hmacSHA256(key: key, header)
    }

    static func chunkNonce(_ counter: UInt64, last: Bool) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: 12)
        for index in 0..<8 { nonce[10 - index] = UInt8(truncatingIfNeeded: counter >> (8 * UInt64(index))) }
        nonce[11] = last ? 1 : 0
        return nonce
    }

    /// age wraps stanza bodies at 64 columns; a body whose last line would be full ends with an
    /// empty line.
    static func wrapped(_ text: String) -> String {
        var lines: [String] = []
        var rest = Substring(text)
        while rest.count >= 64 {
            lines.append(String(rest.prefix(64)))
            rest = rest.dropFirst(64)
        }
        lines.append(String(rest))
        return lines.joined(separator: "\n")
    }
}

public struct AgeError: Error, Sendable, CustomStringConvertible, Equatable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// An X25519 recipient, `age1…` (Bech32).
public struct AgeRecipient: Sendable, Equatable {
    public let publicKey: [UInt8]

    public init(_ text: String) throws(AgeError) {
        guard let (prefix, data) = Bech32.decode(text), prefix == "age", data.count == 32 else {
            throw AgeError("'\(text.prefix(12))…' is not an age X25519 recipient (age1…, as age-keygen prints)")
        }
        publicKey = data
    }

    public init(publicKey: [UInt8]) { self.publicKey = publicKey }

    public var text: String { Bech32.encode(prefix: "age", publicKey) }
}

/// An X25519 identity, `AGE-SECRET-KEY-1…`, read from a key file as age-keygen writes it.
public struct AgeIdentity: Sendable {
    let privateKey: [UInt8]
    public let recipient: AgeRecipient

    public init(_ text: String) throws(AgeError) {
        guard let (prefix, data) = Bech32.decode(text), prefix == "age-secret-key-", data.count == 32 else {
            throw AgeError("not an age identity (AGE-SECRET-KEY-1…, as age-keygen writes it)")
        }
        privateKey = data
        do { recipient = AgeRecipient(publicKey: try Crypto.x25519PublicKey(privateKey: data)) } catch { throw AgeError("\(error)") }
    }

    /// Every identity line of a key file (comments and blank lines skipped).
    public static func parseFile(_ text: String) throws(AgeError) -> [AgeIdentity] {
        var identities: [AgeIdentity] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.allSatisfy(\.isWhitespace) {
            identities.append(try AgeIdentity(String(line).trimmingWhitespace))
        }
        guard !identities.isEmpty else { throw AgeError("the identity file holds no AGE-SECRET-KEY-1… line") }
        return identities
    }

    public static func generate() throws(AgeError) -> (identity: AgeIdentity, text: String) {
        do {
            let key = try Crypto.randomBytes(32)
            let text = Bech32.encode(prefix: "age-secret-key-", key).uppercased()
            return (try AgeIdentity(text), text)
        } catch let error as AgeError { throw error } catch { throw AgeError("\(error)") }
    }
}

/// Encrypts a stream: `header` first, then `update` with plaintext as it comes and `finish` at the
/// end. Holds at most one chunk (64 KiB) of plaintext.
public struct AgeEncryptor: ~Copyable {
    public let header: [UInt8]
    private let payloadKey: [UInt8]
    private var pending: [UInt8] = []
    private var counter: UInt64 = 0
    private var sealed: [UInt8]

    public init(recipients: [AgeRecipient]) throws(AgeError) {
        guard !recipients.isEmpty else { throw AgeError("no recipients") }
        do {
            let fileKey = try Crypto.randomBytes(16)
            var text = Age.version + "\n"
            for recipient in recipients {
                let ephemeral = try Crypto.randomBytes(32)
                let share = try Crypto.x25519PublicKey(privateKey: ephemeral)
                let shared = try Crypto.x25519(privateKey: ephemeral, peerPublicKey: recipient.publicKey)
                let wrapKey = Crypto.hkdfSHA256(secret: shared, salt: share + recipient.publicKey, info: Age.x25519Info, length: 32)
                let body = try Crypto.seal(key: wrapKey, nonce: [UInt8](repeating: 0, count: 12), fileKey)
                text += "-> X25519 \(Base64.encode(share, padded: false))\n\(Age.wrapped(Base64.encode(body, padded: false)))\n"
            }
            text += "---"
            let mac = Age.headerMAC(fileKey: fileKey, header: Array(text.utf8))
            text += " \(Base64.encode(mac, padded: false))\n"
            let nonce = try Crypto.randomBytes(16)
            header = Array(text.utf8) + nonce
            payloadKey = Age.payloadKey(fileKey: fileKey, nonce: nonce)
            pending.reserveCapacity(Age.chunkSize)
            sealed = [UInt8](repeating: 0, count: Age.chunkSize + 16)
        } catch { throw AgeError("\(error)") }
    }

    /// Adds plaintext; `emit` receives each sealed chunk (valid only during the call).
    public mutating func update(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        var offset = 0
        while offset < bytes.count {
            // A full chunk is sealed only once more data follows: the last chunk carries a flag.
            if pending.count == Age.chunkSize {
                try sealPending(last: false, emit: emit)
            }
            let take = min(Age.chunkSize - pending.count, bytes.count - offset)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            offset += take
        }
    }

    public mutating func finish(emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        try sealPending(last: true, emit: emit)
    }

    private mutating func sealPending(last: Bool, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        let nonce = Age.chunkNonce(counter, last: last)
        let count = pending.count
        try pending.withUnsafeBytes { plain in
            try sealed.withUnsafeMutableBytes { out in
                try Crypto.seal(key: payloadKey, nonce: nonce, plain, into: out)
                try emit(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[0..<(count + 16)]))
            }
        }
        counter += 1
        pending.removeAll(keepingCapacity: true)
    }
}

/// Decrypts a stream with one of `identities`: `update` with ciphertext as it comes (the header
/// first), `finish` at the end, which fails if the stream was cut short.
public struct AgeDecryptor: ~Copyable {
    private let identities: [AgeIdentity]
    private var headerBytes: [UInt8] = []
    private var payloadKey: [UInt8]?
    private var pending: [UInt8] = []
    private var counter: UInt64 = 0
    private var opened: [UInt8] = [UInt8](repeating: 0, count: Age.chunkSize)
    private var sawLast = false

    public init(identities: [AgeIdentity]) { self.identities = identities }

    public mutating func update(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        var input = bytes[...]
        if payloadKey == nil {
            // The header ends with the line starting "---", then the 16-byte nonce.
            headerBytes.append(contentsOf: input)
            input = bytes[bytes.count...]
            guard let end = Self.headerEnd(headerBytes) else {
                guard headerBytes.count < 1 << 20 else { throw AgeError("no age header within 1 MiB: not an age file") }
                return
            }
            guard headerBytes.count >= end + 16 else { return }
            payloadKey = try Self.openHeader(Array(headerBytes[..<end]), nonce: Array(headerBytes[end..<(end + 16)]), identities: identities)
            pending = Array(headerBytes[(end + 16)...])
            headerBytes = []
        }
        pending.append(contentsOf: input)
        // A full sealed chunk is opened only once more data follows (it might be the last).
        let sealedSize = Age.chunkSize + 16
        var consumed = 0
        while pending.count - consumed > sealedSize {
            try openChunk(consumed..<(consumed + sealedSize), last: false, emit: emit)
            consumed += sealedSize
        }
        if consumed > 0 { pending.removeFirst(consumed) }
    }

    public mutating func finish(emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard payloadKey != nil else { throw AgeError("the stream ended inside the age header") }
        guard !sawLast else { throw AgeError("data after the last chunk") }
        guard pending.count >= 16 else { throw AgeError("the age payload was cut short") }
        try openChunk(0..<pending.count, last: true, emit: emit)
        pending = []
    }

    private mutating func openChunk(_ range: Range<Int>, last: Bool, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let payloadKey else { return }
        let nonce = Age.chunkNonce(counter, last: last)
        do {
            try pending.withUnsafeBytes { sealed in
                try opened.withUnsafeMutableBytes { out in
                    try Crypto.open(key: payloadKey, nonce: nonce, UnsafeRawBufferPointer(rebasing: sealed[range]), into: out)
                    try emit(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[0..<(range.count - 16)]))
                }
            }
        } catch let error as CryptoError {
            throw AgeError("chunk \(counter) of the age payload: \(error.description)\(last ? " (or the stream was cut short)" : "")")
        }
        if last { sawLast = true }
        counter += 1
    }

    /// The offset just past the `--- mac\n` line, or nil when it has not arrived yet.
    static func headerEnd(_ bytes: [UInt8]) -> Int? {
        var lineStart = 0
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            if bytes[lineStart...].starts(with: Array("--- ".utf8)) { return index + 1 }
            lineStart = index + 1
        }
        return nil
    }

    static func openHeader(_ header: [UInt8], nonce: [UInt8], identities: [AgeIdentity]) throws -> [UInt8] {
        let text = String(decoding: header, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.first == Age.version else { throw AgeError("not an age-encryption.org/v1 file") }
        lines.removeFirst()
        guard let macLine = lines.dropLast().last, macLine.hasPrefix("--- "), let mac = Base64.decode(macLine.dropFirst(4), canonical: true) else {
            throw AgeError("malformed age header")
        }
        // Stanzas: "-> type args…" then body lines, the last shorter than 64 characters.
        var stanzas: [(arguments: [String], body: [UInt8])] = []
        var index = 0
        while index < lines.count, lines[index].hasPrefix("-> ") {
            let arguments = lines[index].dropFirst(3).split(separator: " ").map(String.init)
            index += 1
            var bodyText = ""
            while index < lines.count {
                let line = lines[index]
                index += 1
                bodyText += line
                if line.count < 64 { break }
            }
            guard let body = Base64.decode(bodyText, canonical: true) else { throw AgeError("malformed age stanza body") }
            stanzas.append((arguments, body))
        }
        for stanza in stanzas where stanza.arguments.count == 2 && stanza.arguments[0] == "X25519" {
            guard let share = Base64.decode(stanza.arguments[1], canonical: true), share.count == 32, stanza.body.count == 32 else {
                throw AgeError("malformed X25519 stanza")
            }
            for identity in identities {
                guard let shared = try? Crypto.x25519(privateKey: identity.privateKey, peerPublicKey: share) else { continue }
                let wrapKey = Crypto.hkdfSHA256(secret: shared, salt: share + identity.recipient.publicKey, info: Age.x25519Info, length: 32)
                guard let fileKey = try? Crypto.open(key: wrapKey, nonce: [UInt8](repeating: 0, count: 12), stanza.body) else { continue }
                // The MAC covers the header up to and including "---".
                let macInput = Array(header[..<(header.count - macLine.utf8.count - 1 + 3)])
                guard Age.headerMAC(fileKey: fileKey, header: macInput) == mac else { throw AgeError("the age header's MAC does not match: the file was altered") }
                return Age.payloadKey(fileKey: fileKey, nonce: nonce)
            }
        }
        throw AgeError("none of the identities can decrypt this file (it was encrypted to other recipients)")
    }
}

/// Bech32 (BIP 173), as age uses it for keys; age's strings are longer than BIP 173's 90
/// characters, so no length limit is applied.
enum Bech32 {
    static let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)

    static func polymod(_ values: [UInt8]) -> UInt32 {
        let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]
        var check: UInt32 = 1
        for value in values {
            let top = check >> 25
            check = (check & 0x1ff_ffff) << 5 ^ UInt32(value)
            for bit in 0..<5 where (top >> bit) & 1 == 1 { check ^= generator[bit] }
        }
        return check
    }

    static func expand(_ prefix: [UInt8]) -> [UInt8] { prefix.map { $0 >> 5 } + [0] + prefix.map { $0 & 31 } }

    static func convert(_ data: [UInt8], from: Int, to: Int, pad: Bool) -> [UInt8]? {
        var accumulator = 0, bits = 0
        var out: [UInt8] = []
        let maximum = (1 << to) - 1
        for value in data {
            accumulator = accumulator << from | Int(value)
            bits += from
            while bits >= to {
                bits -= to
                out.append(UInt8(accumulator >> bits & maximum))
            }
        }
        if pad {
            if bits > 0 { out.append(UInt8(accumulator << (to - bits) & maximum)) }
        } else if bits >= from || (accumulator << (to - bits)) & maximum != 0 {
            return nil
        }
        return out
    }

    static func encode(prefix: String, _ data: [UInt8]) -> String {
        let hrp = Array(prefix.utf8)
        let values = convert(data, from: 8, to: 5, pad: true)!
        let check = polymod(expand(hrp) + values + [0, 0, 0, 0, 0, 0]) ^ 1
        let checksum = (0..<6).map { UInt8(check >> (5 * (5 - $0)) & 31) }
        return prefix + "1" + String(decoding: (values + checksum).map { charset[Int($0)] }, as: UTF8.self)
    }

    static func decode(_ text: String) -> (String, [UInt8])? {
        guard text == text.lowercased() || text == text.uppercased() else { return nil }
        let lowered = Array(text.lowercased().utf8)
        guard let separator = lowered.lastIndex(of: UInt8(ascii: "1")), separator >= 1, lowered.count - separator > 6 else { return nil }
        let hrp = Array(lowered[..<separator])
        var values: [UInt8] = []
        for byte in lowered[(separator + 1)...] {
            guard let index = charset.firstIndex(of: byte) else { return nil }
            values.append(UInt8(index))
        }
        guard polymod(expand(hrp) + values) == 1, let data = convert(Array(values.dropLast(6)), from: 5, to: 8, pad: false) else { return nil }
        return (String(decoding: hrp, as: UTF8.self), data)
    }
}
