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
        storage = BackupStorage(client: client, prefix: storageSettings.prefix)
        var recipients: [AgeRecipient] = []
        for text in settings.recipients {
            do { recipients.append(try AgeRecipient(text)) } catch { throw BackupError("backups.encryption.recipients: \(error)") }
        }
        self.recipients = recipients
        postgresDSN = settings.postgres.dsn ?? config.collectors.postgres.dsn
        redisURL = settings.redis.url ?? config.collectors.redis.url
        host = Self.hostName()
    }

    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        let name = String(cString: buffer).split(separator: ".").first.map(String.init) ?? "host"
        return name.isEmpty ? "host" : name
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
