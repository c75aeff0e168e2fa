import MastiffClients
import MastiffCore
import MastiffPolicies

/// Backups in a bucket under `prefix`: `<prefix><target>/<UTC time>-<host>.<ext>` with the
/// manifest beside the data as `<data key>.manifest.json`.
public struct BackupStorage: Sendable {
    public var client: S3Client
    public var prefix: String

    public init(client: S3Client, prefix: String) {
        self.client = client
        self.prefix = prefix
    }

    public func dataKey(target: String, startedAt: Double, host: String, extension ext: String) -> String {
        "\(prefix)\(target)/\(SigV4Signer.amzDate(startedAt))-\(host).\(ext)"
    }

    /// Every backup that has a manifest, oldest first. Unreadable manifests are reported, not
    /// skipped silently.
    public func manifests(target: String? = nil) async throws(S3Error) -> (manifests: [BackupManifest], problems: [String]) {
        let objects = try await client.list(prefix: prefix + (target.map { $0 + "/" } ?? ""))
        var manifests: [BackupManifest] = []
        var problems: [String] = []
        for object in objects where object.key.hasSuffix(BackupManifest.suffix) {
            let bytes = try await client.get(key: object.key)
            do {
                manifests.append(try BackupManifest.parse(String(decoding: bytes, as: UTF8.self), key: object.key))
            } catch {
                problems.append(error.description)
            }
        }
        return (manifests.sorted { $0.finishedAt < $1.finishedAt }, problems)
    }

    /// `latest`, a data key or a manifest key.
    public func find(_ reference: String, target: String? = nil) async throws(BackupError) -> BackupManifest {
        let all: [BackupManifest]
        do { all = try await manifests(target: target).manifests } catch { throw BackupError("listing backups: \(error)") }
        if reference == "latest" {
            guard let newest = all.last else { throw BackupError("no backup with a manifest under \(prefix)\(target ?? "")") }
            return newest
        }
        guard let found = all.first(where: { $0.dataKey == reference || $0.manifestKey == reference || $0.dataKey.hasSuffix("/" + reference) }) else {
            throw BackupError("no backup '\(reference)' (a data key from `mastiff backup list`, or latest)")
        }
        return found
    }

    public func writeManifest(_ manifest: BackupManifest) async throws(S3Error) {
        try await client.put(key: manifest.manifestKey, body: Array(manifest.json().utf8), contentType: "application/json")
    }

    /// Data first, then the manifest: a half-deleted backup is one without data but with a
    /// manifest only for the moment between the two, and verify names that plainly.
    public func delete(_ manifest: BackupManifest) async throws(S3Error) {
        try await client.delete(key: manifest.dataKey)
        try await client.delete(key: manifest.manifestKey)
    }

    /// Aborts multipart uploads under the prefix (those whose key contains `onlyContaining`, when
    /// given), repeating until the listing no longer shows them. Returns what was aborted.
    public func abortOrphans(onlyContaining marker: String? = nil) async throws(S3Error) -> [S3MultipartUpload] {
        var aborted: [S3MultipartUpload] = []
        for _ in 0..<3 {
            let uploads = try await client.listMultipartUploads(prefix: prefix).filter { marker == nil || $0.key.contains(marker!) }
            if uploads.isEmpty { break }
            for upload in uploads {
                try await client.abortMultipartUpload(key: upload.key, uploadID: upload.uploadID)
                if !aborted.contains(upload) { aborted.append(upload) }
            }
        }
        return aborted
    }
}

public struct BackupError: Error, Sendable, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
