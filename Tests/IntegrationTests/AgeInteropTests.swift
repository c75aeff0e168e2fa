import Foundation
import MastiffClients
import Testing

/// mastiff's age encryption against Debian's `age`/`age-keygen` (age 1.1): what mastiff writes,
/// age decrypts, and what age writes, mastiff decrypts, across the chunk boundaries (empty, one
/// byte, exactly 64 KiB, 64 KiB + 1, several chunks).
@Suite struct AgeInteropTests {
    static let sizes = [0, 1, 65_536, 65_537, 200_000]

    func keyPair(in directory: URL) throws -> (keyFile: String, recipient: String) {
        let keyFile = directory.appendingPathComponent("key.txt").path
        let generated = try Harness.run(try Harness.which("age-keygen"), ["-o", keyFile])
        guard generated.status == 0 else { throw HarnessError("age-keygen: \(generated.stderr)") }
        let recipient = try Harness.run(try Harness.which("age-keygen"), ["-y", keyFile]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return (keyFile, recipient)
    }

    func payload(_ size: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) } }

    func encrypt(_ plain: [UInt8], to recipients: [AgeRecipient], pieces: Int = 7) throws -> [UInt8] {
        var encryptor = try AgeEncryptor(recipients: recipients)
        var out = encryptor.header
        // Fed in uneven pieces, as a pipe delivers them.
        var offset = 0
        while offset < plain.count {
            let take = min(plain.count - offset, max(1, plain.count / pieces + 13))
            try plain[offset..<(offset + take)].withUnsafeBytes { bytes in try encryptor.update(bytes) { out += $0 } }
            offset += take
        }
        try encryptor.finish { out += $0 }
        return out
    }

    func decrypt(_ sealed: [UInt8], with identities: [AgeIdentity]) throws -> [UInt8] {
        var decryptor = AgeDecryptor(identities: identities)
        var out: [UInt8] = []
        var offset = 0
        while offset < sealed.count {
            let take = min(sealed.count - offset, 50_000)
            try sealed[offset..<(offset + take)].withUnsafeBytes { bytes in try decryptor.update(bytes) { out += $0 } }
            offset += take
        }
        try decryptor.finish { out += $0 }
        return out
    }

    @Test(arguments: sizes) func ageDecryptsWhatMastiffEncrypts(size: Int) throws {
        let directory = try Harness.temporaryDirectory()
        let (keyFile, recipient) = try keyPair(in: directory)
        let plain = payload(size)
        let sealed = try encrypt(plain, to: [try AgeRecipient(recipient)])
        let sealedPath = directory.appendingPathComponent("data.age").path
        let outPath = directory.appendingPathComponent("data.out").path
        try Data(sealed).write(to: URL(fileURLWithPath: sealedPath))
        let result = try Harness.run(try Harness.which("age"), ["-d", "-i", keyFile, "-o", outPath, sealedPath])
        #expect(result.status == 0, "age -d: \(result.stderr)")
        // age opens its -o file lazily: an empty plaintext leaves no file.
        let written = FileManager.default.fileExists(atPath: outPath) ? try [UInt8](Data(contentsOf: URL(fileURLWithPath: outPath))) : []
        #expect(written == plain)
    }

    @Test(arguments: sizes) func mastiffDecryptsWhatAgeEncrypts(size: Int) throws {
        let directory = try Harness.temporaryDirectory()
        let (keyFile, recipient) = try keyPair(in: directory)
        let plain = payload(size)
        let plainPath = directory.appendingPathComponent("data").path
        let sealedPath = directory.appendingPathComponent("data.age").path
        try Data(plain).write(to: URL(fileURLWithPath: plainPath))
        let result = try Harness.run(try Harness.which("age"), ["-r", recipient, "-o", sealedPath, plainPath])
        #expect(result.status == 0, "age -r: \(result.stderr)")
        let identities = try AgeIdentity.parseFile(try String(contentsOfFile: keyFile, encoding: .utf8))
        #expect(identities.first?.recipient.text == recipient)
        #expect(try decrypt([UInt8](Data(contentsOf: URL(fileURLWithPath: sealedPath))), with: identities) == plain)
    }

    @Test func wrongKeyTruncationAndTamperingAreRefused() throws {
        let directory = try Harness.temporaryDirectory()
        let (keyFile, recipient) = try keyPair(in: directory)
        let identities = try AgeIdentity.parseFile(try String(contentsOfFile: keyFile, encoding: .utf8))
        let sealed = try encrypt(payload(150_000), to: [try AgeRecipient(recipient)])
        let other = try AgeIdentity.generate().identity
        #expect(throws: AgeError.self) { try decrypt(sealed, with: [other]) }
        #expect(throws: AgeError.self) { try decrypt(Array(sealed.dropLast(1000)), with: identities) }
        #expect(throws: AgeError.self) { try decrypt(Array(sealed.dropLast(65_536 + 16)), with: identities) } // a whole chunk missing
        var altered = sealed
        altered[altered.count / 2] ^= 1
        #expect(throws: AgeError.self) { try decrypt(altered, with: identities) }
        #expect(throws: AgeError.self) { try AgeRecipient("age1notakey") }
        // Two recipients: either identity opens it.
        let second = try AgeIdentity.generate().identity
        let shared = try encrypt(payload(1000), to: [try AgeRecipient(recipient), second.recipient])
        #expect(try decrypt(shared, with: [second]) == payload(1000))
        #expect(try decrypt(shared, with: identities) == payload(1000))
    }
}
