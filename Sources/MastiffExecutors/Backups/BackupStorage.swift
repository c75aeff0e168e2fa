import MastiffClients
import MastiffCore
import MastiffPolicies

/// Backups in a bucket under `prefix`: `<prefix><target>/<UTC time>-<host>.<ext>` with the
/// manifest beside the data as `<data key>.manifest.json`.
///
/// Manifests are signed (HMAC-SHA256 with the cluster's manifest key, ADR 17): whoever can write
/// to the bucket but does not hold the key cannot make mastiff count, keep, delete, restore or
/// skip anything with a manifest of their own.
public struct BackupStorage: Sendable {
    public var client: S3Client
    public var prefix: String
    /// The key manifests are signed and checked with (backups.manifest_key).
    public var manifestKey: [UInt8]
    public var wallClock: any WallClock = SystemWallClock()

    public init(client: S3Client, prefix: String, manifestKey: [UInt8]) {
        self.client = client
        self.prefix = prefix
        self.manifestKey = manifestKey
    }

    public func signature(_ manifest: BackupManifest) -> String {
        Hex.encode(Crypto.hmacSHA256(key: manifestKey, Array(manifest.signedText().utf8)))
    }

    /// Parses a manifest read from `key` and checks its signature: `authenticated` says
    /// whether it was made by an agent holding this cluster's key.
    public func readManifest(_ bytes: [UInt8], key: String) throws(BackupManifest.ParseError) -> BackupManifest {
        var manifest = try BackupManifest.parse(String(decoding: bytes, as: UTF8.self), key: key, now: wallClock.now())
        if let signature = manifest.signature {
            manifest.authenticated = Self.constantTimeEqual(Array(signature.utf8), Array(self.signature(manifest).utf8))
        }
        return manifest
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    public func dataKey(target: String, startedAt: Double, host: String, extension ext: String) -> String {
        "\(prefix)\(target)/\(SigV4Signer.amzDate(startedAt))-\(host).\(ext)"
    }

    /// Every backup with a signed manifest, oldest first: what retention, `latest`, drills and
    /// schedules count. Manifests that cannot be read and those not signed with this cluster's
    /// key are reported in `problems` (never silently), and the unsigned ones returned apart,
    /// for `backup list` to show and for an explicit `restore KEY`.
    public func manifests(target: String? = nil) async throws(S3Error) -> (manifests: [BackupManifest], problems: [String], unsigned: [BackupManifest]) {
        let objects = try await client.list(prefix: prefix + (target.map { $0 + "/" } ?? ""))
        var manifests: [BackupManifest] = []
        var unsigned: [BackupManifest] = []
        var problems: [String] = []
        for object in objects where object.key.hasSuffix(BackupManifest.suffix) {
            guard object.size <= 1 << 20 else {
                problems.append("\(object.key): \(object.size) bytes, larger than any manifest; ignored")
                continue
            }
            let bytes = try await client.get(key: object.key)
            do {
                let manifest = try readManifest(bytes, key: object.key)
                if manifest.authenticated {
                    manifests.append(manifest)
                } else {
                    unsigned.append(manifest)
                    problems.append("\(object.key): not signed with this cluster's manifest key (an older mastiff, another cluster, or someone "
                        + "with write access to the bucket); not counted as a backup")
                }
            } catch {
                problems.append(error.description)
            }
        }
        return (manifests.sorted { $0.finishedAt < $1.finishedAt }, problems, unsigned.sorted { $0.finishedAt < $1.finishedAt })
    }

    /// `latest` (signed manifests only), or a data key or a manifest key — which may name an
    /// unsigned manifest: the admin chose it (`authenticated` is then false, and callers say so).
    public func find(_ reference: String, target: String? = nil) async throws(BackupError) -> BackupManifest {
        let listing: (manifests: [BackupManifest], problems: [String], unsigned: [BackupManifest])
        do { listing = try await manifests(target: target) } catch { throw BackupError("listing backups: \(error)") }
        if reference == "latest" {
            guard let newest = listing.manifests.last else { throw BackupError("no backup with a signed manifest under \(prefix)\(target ?? "")") }
            return newest
        }
        guard let found = (listing.manifests + listing.unsigned).first(where: {
            $0.dataKey == reference || $0.manifestKey == reference || $0.dataKey.hasSuffix("/" + reference)
        }) else {
            throw BackupError("no backup '\(reference)' (a data key from `mastiff backup list`, or latest)")
        }
        return found
    }

    /// Writes the manifest, signed with this cluster's key.
    public func writeManifest(_ manifest: BackupManifest) async throws(S3Error) {
        try await client.put(key: manifest.manifestKey, body: Array(manifest.json(signature: signature(manifest)).utf8), contentType: "application/json")
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
