import Glibc
import MastiffClients
import MastiffCore
import MastiffPolicies

/// A files backup: the instance's secrets and small files that exist nowhere else
/// (`.env.production` above all: SECRET_KEY_BASE, the VAPID keys, the ActiveRecord encryption
/// keys), archived as tar and age-encrypted on the way to the bucket, with the same manifest,
/// retention and verification as the others. Never unencrypted: these are the instance's keys.
public struct FilesBackup: Sendable {
    public var storage: BackupStorage
    public var paths: [String]
    /// `backups.storage.part_size`; nil: BackupPartSize.withoutEstimate (the archive's size is not known before it is made).
    public var partSize: Int?
    public var recipients: [AgeRecipient]
    public var host: String
    public var mastiffVersion: String
    public var wallClock: any WallClock = SystemWallClock()

    public init(storage: BackupStorage, paths: [String], partSize: Int?, recipients: [AgeRecipient], host: String, mastiffVersion: String) {
        self.storage = storage
        self.paths = paths
        self.partSize = partSize
        self.recipients = recipients
        self.host = host
        self.mastiffVersion = mastiffVersion
    }

    public func run(progress: StreamUpload.Progress = StreamUpload.Progress()) async throws(BackupError) -> BackupManifest {
        guard !recipients.isEmpty else {
            throw BackupError("a files backup holds the instance's secrets and is never stored unencrypted: set backups.encryption.recipients")
        }
        guard !paths.isEmpty else { throw BackupError("a files backup needs paths (backups.files.paths, or instance.env_file)") }
        let startedAt = wallClock.now()
        // Every path is looked at before anything is uploaded: a typo fails at once, by name.
        for path in paths where access(path, R_OK) != 0 {
            throw BackupError("cannot read \(path): \(String(cString: strerror(errno))) (mastiff's user must be able to read what backups.files names)")
        }
        let partSize = BackupPartSize.choose(estimatedBytes: nil, configured: self.partSize)
        let key = storage.dataKey(target: "files", startedAt: startedAt, host: host, extension: "tar.age")
        let result: StreamUpload.Result
        do {
            let source = try AgeEncryptingSource(TarArchiveSource(paths: paths), recipients: recipients)
            result = try await StreamUpload(client: storage.client, key: key, partSize: partSize).run(read: { try source.read(into: $0) }, progress: progress)
        } catch let error as BackupError {
            throw error
        } catch {
            throw BackupError("upload failed, aborted: \(error)")
        }
        return try await BackupCommit.write(storage: storage, key: key, result: result, target: "files", database: paths.joined(separator: " "),
                                            serverVersion: "", toolVersion: "", format: "tar", startedAt: startedAt, finishedAt: wallClock.now(),
                                            partSize: partSize, encrypted: true, host: host, mastiffVersion: mastiffVersion, rowCounts: [:])
    }
}

/// `mastiff backup restore … --to DIR`: a files backup decrypted and unpacked by Debian's tar
/// into DIR, which must be empty or absent (a restore never overwrites the live files by
/// accident: copy what you need from DIR).
public struct FilesRestore: Sendable {
    public var reader: BackupReader

    public init(reader: BackupReader) {
        self.reader = reader
    }

    public func restore(_ manifest: BackupManifest, to directory: String) async throws(BackupError) -> Int {
        guard manifest.target == "files" else { throw BackupError("\(manifest.dataKey) is a \(manifest.target) backup; --to restores files backups") }
        if let existing = try? FileSystemAccess.listDirectory(directory), !existing.isEmpty {
            throw BackupError("\(directory) is not empty: restore into a new directory and copy what you need from there")
        }
        if access(directory, F_OK) != 0, mkdir(directory, 0o700) != 0 {
            throw BackupError("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        var options = ChildProcess.Options()
        options.pipeStdin = true
        options.stderrLimit = 64 << 10
        let candidates: [String] = ["/usr/bin/tar", "/bin/tar"]
        guard let tar = candidates.first(where: { access($0, X_OK) == 0 }) else { throw BackupError("tar is not installed (/usr/bin/tar)") }
        let child: ChildProcess
        do {
            child = try ChildProcess([tar, "--extract", "--no-same-owner", "--directory", directory, "--file", "-"], options: options)
        } catch {
            throw BackupError("cannot run tar: \(error)")
        }
        signal(SIGPIPE, SIG_IGN)
        let fd = child.stdin
        var failure: BackupError?
        do {
            try await reader.stream(manifest) { bytes in try PostgresRestore.writeAll(fd, bytes, what: "tar's input") }
        } catch {
            failure = error
        }
        child.closeStdin()
        let code = await child.wait()
        if let failure { throw failure }
        guard code == 0 else { throw BackupError("tar failed (status \(code)): \(child.stderrText.trimmingWhitespace.suffix(500))") }
        return ((try? FileSystemAccess.listDirectory(directory)) ?? []).count
    }
}
