import MastiffClients
import MastiffCore
import MastiffPolicies
import Synchronization

/// Streams a source of unknown length into one S3 object with fixed-size parts: every part but
/// the last is exactly `partSize` bytes (Cloudflare R2 rejects unequal parts), each sent with
/// Content-Length and its own SHA-256. One part buffer is read into while another uploads, so the
/// upload overlaps the dump. A third buffer, and a second part in flight, is added only when the
/// dump would otherwise wait: when a store takes longer to acknowledge a part (hundreds of
/// milliseconds is common) than the dump takes to produce one. Memory is 2 × partSize while the
/// store keeps up and 3 × partSize at most, whatever the size of the database (BackupPartSize
/// keeps parts small). A source shorter than one part is sent with a single PUT. On any failure
/// the multipart upload is aborted, so nothing half-written is left behind.
public struct StreamUpload: Sendable {
    public var client: S3Client
    public var key: String
    public var partSize: Int
    /// At most this many parts upload while the next is read (so at most one more buffer is held).
    public var partsInFlight: Int
    /// S3's limit; a test sets a lower one to reach it.
    public var maximumParts: Int

    public init(client: S3Client, key: String, partSize: Int, partsInFlight: Int = 2, maximumParts: Int = BackupPartSize.maximumParts) {
        self.client = client
        self.key = key
        self.partSize = partSize
        self.partsInFlight = max(partsInFlight, 1)
        self.maximumParts = maximumParts
    }

    final class EndedUploads: Sendable {
        let count = Mutex(0)
    }

    struct UploadedPart: Sendable {
        var number: Int
        var etag: String
        var buffer: Int
    }

    public struct Result: Sendable, Equatable {
        public var bytes: Int
        public var sha256: String
        public var parts: Int
        /// Part buffers held: 2 while the store kept up, 3 when it did not (1 for a single PUT).
        public var buffers: Int
    }

    /// Progress as it happens: bytes read from the source, parts uploaded, and how long the
    /// source took to its end (the dump's own pace, which the upload should not slow; what
    /// follows is the last parts, the store's completion and the manifest).
    public final class Progress: Sendable {
        let state = Mutex<(bytes: Int, parts: Int, readSeconds: Double?)>((0, 0, nil))
        public init() {}
        public var bytes: Int { state.withLock { $0.bytes } }
        public var parts: Int { state.withLock { $0.parts } }
        public var readSeconds: Double? { state.withLock { $0.readSeconds } }
    }

    /// `read` fills the buffer it is given and returns how much it wrote (0 at the end); it runs
    /// on a worker thread. `beforeCommit` runs after the end of the source and before the object
    /// is completed: a dump that exited non-zero throws there, and nothing is committed.
    public func run(read: @escaping @Sendable (UnsafeMutableRawBufferPointer) throws -> Int, progress: Progress = Progress(),
                    beforeCommit: @Sendable () async throws -> Void = {}) async throws -> Result {
        let digest = SHA256()
        let clock = ContinuousClock(), start = clock.now
        var buffers = [PartBuffer(capacity: partSize)]
        // Uploads that have ended and are not collected yet: collecting them frees their buffers
        // without waiting for one that is still running.
        let ended = EndedUploads()
        var uploadID: String?
        do {
            // Uploads are children of this group, so a failure or a stop ends them all before the
            // multipart upload is aborted.
            return try await withThrowingTaskGroup(of: UploadedPart.self) { uploads in
                var parts: [(number: Int, etag: String)] = []
                var free = Array(buffers.indices)
                var number = 0
                var total = 0
                while true {
                    let index = free.removeLast()
                    let buffer = buffers[index]
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
                    if atEnd {
                        let elapsed = start.duration(to: clock.now).seconds
                        progress.state.withLock { $0.readSeconds = elapsed }
                    }
                    total += buffer.count
                    if number == 0 && atEnd {
                        try await beforeCommit()
                        try await client.put(key: key, body: buffer)
                        progress.state.withLock { $0.parts = 1 }
                        return Result(bytes: total, sha256: Hex.encode(digest.finish()), parts: 1, buffers: buffers.count)
                    }
                    // A source that ends exactly on a part boundary leaves an empty last read.
                    if atEnd && buffer.count == 0 { break }
                    number += 1
                    guard number <= maximumParts else {
                        throw BackupError("the backup outgrew the \(maximumParts) parts S3 allows, at \(ByteSize.format(UInt64(partSize))) each "
                            + "(more than \(ByteSize.approximate(Double(total - buffer.count)))): set backups.storage.part_size larger")
                    }
                    if uploadID == nil { uploadID = try await client.createMultipartUpload(key: key) }
                    let (id, partNumber) = (uploadID!, number)
                    let client = self.client, key = self.key
                    uploads.addTask {
                        defer { ended.count.withLock { $0 += 1 } }
                        let etag = try await client.uploadPart(key: key, uploadID: id, number: partNumber, body: buffer)
                        progress.state.withLock { $0.parts += 1 }
                        return UploadedPart(number: partNumber, etag: etag, buffer: index)
                    }
                    if atEnd { break }
                    func collect() async throws {
                        guard let uploaded = try await uploads.next() else { return }
                        ended.count.withLock { $0 -= 1 }
                        parts.append((uploaded.number, uploaded.etag))
                        free.append(uploaded.buffer)
                    }
                    while ended.count.withLock({ $0 }) > 0 { try await collect() }
                    if free.isEmpty {
                        if buffers.count <= partsInFlight {
                            buffers.append(PartBuffer(capacity: partSize))
                            free.append(buffers.count - 1)
                        } else {
                            try await collect()
                        }
                    }
                }
                while let uploaded = try await uploads.next() { parts.append((uploaded.number, uploaded.etag)) }
                try await beforeCommit()
                try await client.completeMultipartUpload(key: key, uploadID: uploadID!, parts: parts)
                return Result(bytes: total, sha256: Hex.encode(digest.finish()), parts: parts.count, buffers: buffers.count)
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

