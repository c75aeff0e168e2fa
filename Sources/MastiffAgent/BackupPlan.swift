import Glibc
import MastiffClients
import MastiffCore
import MastiffExecutors
import MastiffPolicies

/// The backup executors built from `backups:`, shared by the agent and the standalone CLI.
public struct BackupPlan: Sendable {
    public let settings: BackupSettings
    public let storage: BackupStorage
    public let recipients: [AgeRecipient]
    public let postgresDSN: Secret
    public let redisURL: RedisURL
    /// What a files backup archives: backups.files.paths, else instance.env_file.
    public let filesPaths: [String]
    public let host: String

    public init(config: MastiffConfig) throws(BackupError) {
        settings = config.backups
        let storageSettings = settings.storage
        guard !storageSettings.endpoint.isEmpty else { throw BackupError("no backups.storage configured (endpoint, bucket, access keys)") }
        var client = S3Client(endpoint: S3Endpoint(url: storageSettings.endpoint, region: storageSettings.region, bucket: storageSettings.bucket,
                                                   pathStyle: storageSettings.pathStyle, accessKeyID: storageSettings.accessKeyID.reveal(),
                                                   secretAccessKey: storageSettings.secretAccessKey, sessionToken: storageSettings.sessionToken,
                                                   caFile: storageSettings.caFile))
        client.connectTimeoutSeconds = Int(storageSettings.connectTimeout.seconds)
        client.lowSpeedSeconds = Int(storageSettings.lowSpeedTimeout.seconds)
        client.attempts = storageSettings.attempts
        let manifestKey: [UInt8]
        if let configured = settings.manifestKey {
            manifestKey = Array(configured.reveal().utf8)
        } else {
            manifestKey = try Self.localManifestKey(stateDirectory: config.stateDirectory)
        }
        storage = BackupStorage(client: client, prefix: storageSettings.prefix, manifestKey: manifestKey)
        var recipients: [AgeRecipient] = []
        for text in settings.recipients {
            do { recipients.append(try AgeRecipient(text)) } catch { throw BackupError("backups.encryption.recipients: \(error)") }
        }
        self.recipients = recipients
        postgresDSN = settings.postgres.dsn ?? config.collectors.postgres.dsn
        redisURL = settings.redis.url ?? config.collectors.redis.url
        filesPaths = settings.files.paths.isEmpty ? [config.instance.envFile] : settings.files.paths
        host = HostName.short
    }

    /// state_dir/backup-manifest.key: 32 random bytes (hex), made on first use with O_EXCL
    /// and mode 0600, and read back as a regular file only. One host's agent and CLI share it;
    /// agents of several hosts need one key set in backups.manifest_key (docs/backups.md).
    public static func localManifestKey(stateDirectory: String) throws(BackupError) -> [UInt8] {
        let path = stateDirectory + "/backup-manifest.key"
        if access(path, F_OK) != 0 {
            if access(stateDirectory, F_OK) != 0 { mkdir(stateDirectory, 0o700) }
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd >= 0 {
                let key: [UInt8]
                do { key = try Crypto.randomBytes(32) } catch {
                    close(fd)
                    unlink(path)
                    throw BackupError("cannot make a manifest key: \(error)")
                }
                let text = Array((Hex.encode(key) + "\n").utf8)
                // Made by root (an admin's `mastiff backup list` before the agent's first
                // backup): the file belongs to the state directory's owner, the user the
                // agent runs as, or the agent could not read its own key.
                var directoryStatus = stat()
                if geteuid() == 0, stat(stateDirectory, &directoryStatus) == 0 { _ = fchown(fd, directoryStatus.st_uid, directoryStatus.st_gid) }
                let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                fsync(fd)
                close(fd)
                guard written == text.count else {
                    unlink(path)
                    throw BackupError("cannot write \(path): \(String(cString: strerror(errno)))")
                }
            } else if errno != EEXIST {
                throw BackupError("cannot create \(path) (set backups.manifest_key, or make state_dir writable): \(String(cString: strerror(errno)))")
            }
        }
        let text: String
        do { text = try FileSystemAccess.readRegularFile(path, limit: 4096) } catch { throw BackupError("cannot read the manifest key \(path): \(error)") }
        let key = text.trimmingWhitespace
        guard key.utf8.count >= 32 else { throw BackupError("\(path) holds no manifest key (at least 32 characters); remove it to make a new one") }
        return Array(key.utf8)
    }

    public func identities() throws(BackupError) -> [AgeIdentity] {
        guard let path = settings.identityFile else { return [] }
        let text: String
        do { text = try FileSystemAccess.readRegularFile(path, limit: 64 << 10) } catch { throw BackupError("cannot read the identity file \(path): \(error)") }
        do { return try AgeIdentity.parseFile(text) } catch { throw BackupError("\(path): \(error)") }
    }

    public func postgresBackup() -> PostgresBackup {
        var backup = PostgresBackup(storage: storage, conninfo: postgresDSN, partSize: settings.storage.partSize, compression: settings.postgres.compression,
                                    nice: settings.postgres.nice, ioniceClass: settings.postgres.ioniceClass, ioniceLevel: settings.postgres.ioniceLevel,
                                    recipients: recipients, host: host, mastiffVersion: MastiffVersion.current)
        // Counting is a full scan of the largest tables: only worth it where drills compare.
        backup.countedTables = settings.drill.schedule != nil ? 5 : 0
        return backup
    }

    public func redisBackup() -> RedisBackup {
        var backup = RedisBackup(storage: storage, url: redisURL, rdbPath: settings.redis.rdbPath, partSize: settings.storage.partSize,
                                 recipients: recipients, host: host, mastiffVersion: MastiffVersion.current)
        backup.bgsaveTimeout = settings.redis.bgsaveTimeout
        return backup
    }

    public func filesBackup() -> FilesBackup {
        FilesBackup(storage: storage, paths: filesPaths, partSize: settings.storage.partSize, recipients: recipients, host: host,
                    mastiffVersion: MastiffVersion.current)
    }

    public func restorer(dsn: Secret? = nil) throws(BackupError) -> PostgresRestore {
        PostgresRestore(reader: BackupReader(storage: storage, identities: try identities()), conninfo: dsn ?? settings.drill.dsn ?? postgresDSN)
    }

    public var retention: BackupRetention {
        BackupRetention(keepLast: settings.retention.keepLast, daily: settings.retention.daily, weekly: settings.retention.weekly,
                        monthly: settings.retention.monthly, localTime: !settings.utc)
    }

    /// Applies retention to `target`'s backups; returns what was (or, dry, would be) deleted.
    public func prune(target: String, dryRun: Bool) async throws(BackupError) -> BackupRetention.Decision {
        let manifests: [BackupManifest]
        do { manifests = try await storage.manifests(target: target).manifests } catch { throw BackupError("listing backups: \(error)") }
        let decision = retention.decide(manifests)
        if !dryRun {
            for manifest in decision.delete {
                do { try await storage.delete(manifest) } catch { throw BackupError("deleting \(manifest.dataKey): \(error)") }
            }
        }
        return decision
    }
}
