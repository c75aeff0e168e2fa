import Glibc
import MastiffClients

/// Where a backup's bytes come from, read on a worker thread: a pipe from pg_dump, an RDB file,
/// optionally encrypted on the way.
public protocol ByteSource: AnyObject, Sendable {
    /// Fills at most `buffer.count` bytes; 0 at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

public final class FileDescriptorSource: ByteSource, @unchecked Sendable {
    let fd: Int32
    let what: String
    public init(fd: Int32, what: String) {
        self.fd = fd
        self.what = what
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let got = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if got >= 0 { return got }
            if errno != EINTR { throw BackupError("reading \(what): \(String(cString: strerror(errno)))") }
        }
    }
}

/// The age encryption of another source, produced as it is read: at most one 64 KiB chunk of
/// plaintext and one of ciphertext are held.
public final class AgeEncryptingSource: ByteSource, @unchecked Sendable {
    private let inner: ByteSource
    private var encryptor: AgeEncryptor
    private var output: [UInt8]
    private var outputOffset = 0
    private var plain = [UInt8](repeating: 0, count: Age.chunkSize)
    private var finished = false

    public init(_ inner: ByteSource, recipients: [AgeRecipient]) throws(AgeError) {
        self.inner = inner
        encryptor = try AgeEncryptor(recipients: recipients)
        output = encryptor.header
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while outputOffset == output.count {
            if finished { return 0 }
            output.removeAll(keepingCapacity: true)
            outputOffset = 0
            let got = try plain.withUnsafeMutableBytes { try inner.read(into: $0) }
            if got == 0 {
                try encryptor.finish { output.append(contentsOf: $0) }
                finished = true
            } else {
                try plain.withUnsafeBytes { bytes in
                    try encryptor.update(UnsafeRawBufferPointer(rebasing: bytes[0..<got])) { output.append(contentsOf: $0) }
                }
            }
        }
        let count = min(buffer.count, output.count - outputOffset)
        output.withUnsafeBytes { bytes in
            buffer.baseAddress!.copyMemory(from: bytes.baseAddress! + outputOffset, byteCount: count)
        }
        outputOffset += count
        return count
    }
}
