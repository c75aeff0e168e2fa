import MastiffClients
import MastiffCore
import Synchronization

/// Streams a source of unknown length into one S3 object with fixed-size parts: every part but
/// the last is exactly `partSize` bytes (Cloudflare R2 rejects unequal parts), each sent with
/// Content-Length and its own SHA-256. Two part buffers: one is read into while the other
/// uploads, so the upload overlaps the dump and memory is 2 × partSize whatever the size of the
/// database. A source shorter than one part is sent with a single PUT. On any failure the
/// multipart upload is aborted, so nothing half-written is left behind.
public struct StreamUpload: Sendable {
    public var client: S3Client
    public var key: String
    public var partSize: Int

    public init(client: S3Client, key: String, partSize: Int) {
        self.client = client
        self.key = key
        self.partSize = partSize
    }

    public struct Result: Sendable, Equatable {
        public var bytes: Int
        public var sha256: String
        public var parts: Int
    }

    /// Progress as it happens: bytes read from the source, parts uploaded.
    public final class Progress: Sendable {
        let state = Mutex<(bytes: Int, parts: Int)>((0, 0))
        public init() {}
        public var bytes: Int { state.withLock { $0.bytes } }
        public var parts: Int { state.withLock { $0.parts } }
    }

    /// `read` fills the buffer it is given and returns how much it wrote (0 at the end); it runs
    /// on a worker thread. `beforeCommit` runs after the end of the source and before the object
    /// is completed: a dump that exited non-zero throws there, and nothing is committed.
    public func run(read: @escaping @Sendable (UnsafeMutableRawBufferPointer) throws -> Int, progress: Progress = Progress(),
                    beforeCommit: @Sendable () async throws -> Void = {}) async throws -> Result {
        let digest = SHA256()
        let buffers = [PartBuffer(capacity: partSize), PartBuffer(capacity: partSize)]
        var uploadID: String?
        do {
            // At most one part uploads (a child of this group) while the next one is read, so a
            // failure or a stop ends both before the multipart upload is aborted.
            return try await withThrowingTaskGroup(of: (number: Int, etag: String).self) { uploads in
                var parts: [(number: Int, etag: String)] = []
                var partInFlight = false
                var number = 0
                var total = 0
                while true {
                    let buffer = buffers[number % 2]
                    let atEnd = try await BlockingWork.run { () throws -> Bool in
                        buffer.count = 0
                        while buffer.count < buffer.capacity {
                            let got = try read(UnsafeMutableRawBufferPointer(rebasing: buffer.pointer[buffer.count...]))
                            if got == 0 { break }
                            buffer.count += got
                            progress.state.withLock { $0.bytes += got }
                        }
                        digest.update(buffer.bytes)
                        return buffer.count < buffer.capacity
                    }
                    number += 1
                    total += buffer.count
                    if number == 1 && atEnd {
                        try await beforeCommit()
                        try await client.put(key: key, body: buffer)
                        progress.state.withLock { $0.parts = 1 }
                        return Result(bytes: total, sha256: Hex.encode(digest.finish()), parts: 1)
                    }
                    if uploadID == nil { uploadID = try await client.createMultipartUpload(key: key) }
                    if partInFlight {
                        parts.append(try await uploads.next()!)
                        partInFlight = false
                    }
                    // A source that ends exactly on a part boundary leaves an empty last read.
                    if atEnd && buffer.count == 0 { break }
                    let (id, partNumber) = (uploadID!, parts.count + 1)
                    let client = self.client, key = self.key
                    uploads.addTask {
                        let etag = try await client.uploadPart(key: key, uploadID: id, number: partNumber, body: buffer)
                        progress.state.withLock { $0.parts += 1 }
                        return (partNumber, etag)
                    }
                    partInFlight = true
                    if atEnd {
                        parts.append(try await uploads.next()!)
                        break
                    }
                }
                try await beforeCommit()
                try await client.completeMultipartUpload(key: key, uploadID: uploadID!, parts: parts)
                return Result(bytes: total, sha256: Hex.encode(digest.finish()), parts: parts.count)
            }
        } catch {
            // The group has waited for a part still in flight (a blocking transfer cannot be
            // interrupted; it finishes or times out on its own), so the abort comes after it.
            if let uploadID {
                for _ in 0..<3 {
                    try? await client.abortMultipartUpload(key: key, uploadID: uploadID)
                    let remaining = (try? await client.listMultipartUploads(prefix: key)) ?? []
                    if !remaining.contains(where: { $0.uploadID == uploadID }) { break }
                }
            }
            throw error
        }
    }
}
