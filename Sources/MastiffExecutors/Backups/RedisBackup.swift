import Glibc
import MastiffClients
import MastiffCore
import MastiffPolicies

/// A Redis backup: BGSAVE, wait until it has finished (LASTSAVE moves on and INFO persistence
/// says the save went well), then stream the RDB file up like a dump, with the same manifest.
/// Mastodon keeps Sidekiq's queues, schedules and retries in Redis; losing them loses jobs.
public struct RedisBackup: Sendable {
    public var storage: BackupStorage
    public var url: RedisURL
    public var rdbPath: String?
    /// `backups.storage.part_size`; nil: chosen from the RDB file's size (BackupPartSize).
    public var partSize: Int?
    public var recipients: [AgeRecipient]
    public var host: String
    public var mastiffVersion: String
    public var bgsaveTimeout: Duration = .seconds(600)
    public var wallClock: any WallClock = SystemWallClock()

    public init(storage: BackupStorage, url: RedisURL, rdbPath: String? = nil, partSize: Int?, recipients: [AgeRecipient] = [], host: String,
                mastiffVersion: String) {
        self.storage = storage
        self.url = url
        self.rdbPath = rdbPath
        self.partSize = partSize
        self.recipients = recipients
        self.host = host
        self.mastiffVersion = mastiffVersion
    }

    static func text(_ reply: RedisReply) -> String? {
        switch reply {
        case .string(let text), .status(let text): return text
        case .integer(let value): return String(value)
        default: return nil
        }
    }

    static func info(_ text: String, _ field: String) -> String? {
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix(field + ":") {  // "\r\n" is one Character
            return String(line.dropFirst(field.count + 1))
        }
        return nil
    }

    public func run(progress: StreamUpload.Progress = StreamUpload.Progress()) async throws(BackupError) -> BackupManifest {
        let startedAt = wallClock.now()
        let redis: RedisConnection
        do { redis = try await RedisConnection.connect(url, timeoutMilliseconds: 10_000) } catch { throw BackupError("cannot connect to Redis: \(error)") }
        let path: String
        let version: String
        do {
            let server = try await redis.command(["INFO", "server"])
            version = Self.text(server).flatMap { Self.info($0, "redis_version") } ?? ""
            if let rdbPath {
                path = rdbPath
            } else {
                let dir = try await redis.command(["CONFIG", "GET", "dir"])
                let file = try await redis.command(["CONFIG", "GET", "dbfilename"])
                guard case .array(let dirReply) = dir, dirReply.count == 2, let directory = Self.text(dirReply[1]),
                      case .array(let fileReply) = file, fileReply.count == 2, let name = Self.text(fileReply[1]) else {
                    throw BackupError("Redis did not answer CONFIG GET dir/dbfilename (renamed or forbidden?): set backups.redis.rdb_path")
                }
                path = directory + "/" + name
            }
            // LASTSAVE has a resolution of a second, so two saves within one second look like
            // one: rdb_saves (Redis 7+) counts every save; LASTSAVE is the fallback before 7.
            let persistenceBefore = Self.text(try await redis.command(["INFO", "persistence"])) ?? ""
            let savesBefore = Self.info(persistenceBefore, "rdb_saves").flatMap { Int($0) }
            let before = try await redis.command(["LASTSAVE"])
            let reply = try await redis.command(["BGSAVE"])
            if case .error(let message) = reply, !message.contains("already in progress") { throw BackupError("BGSAVE: \(message)") }
            let deadline = ContinuousClock.now + bgsaveTimeout
            while true {
                let persistence = Self.text(try await redis.command(["INFO", "persistence"])) ?? ""
                let saved: Bool
                if let savesBefore, let saves = Self.info(persistence, "rdb_saves").flatMap({ Int($0) }) {
                    saved = saves > savesBefore
                } else {
                    saved = try await redis.command(["LASTSAVE"]) != before
                }
                if Self.info(persistence, "rdb_bgsave_in_progress") == "0" && saved {
                    guard Self.info(persistence, "rdb_last_bgsave_status") == "ok" else {
                        throw BackupError("Redis's BGSAVE failed (rdb_last_bgsave_status: \(Self.info(persistence, "rdb_last_bgsave_status") ?? "?")); see Redis's log")
                    }
                    break
                }
                guard ContinuousClock.now < deadline else { throw BackupError("BGSAVE did not finish within \(DurationParser.format(bgsaveTimeout))") }
                try await Task.sleep(for: .milliseconds(200))
            }
        } catch let error as BackupError {
            throw error
        } catch {
            throw BackupError("Redis: \(error)")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw BackupError("mastiff cannot read Redis's RDB file \(path): \(String(cString: strerror(errno))) "
                + "(run mastiff as a user that can read it, e.g. add it to the redis group, or set backups.redis.rdb_path)")
        }
        defer { close(fd) }
        var status = stat()
        let partSize = BackupPartSize.choose(estimatedBytes: fstat(fd, &status) == 0 ? Int(status.st_size) : nil, configured: self.partSize)
        let key = storage.dataKey(target: "redis", startedAt: startedAt, host: host, extension: recipients.isEmpty ? "rdb" : "rdb.age")
        let result: StreamUpload.Result
        do {
            let file = FileDescriptorSource(fd: fd, what: path)
            let source: ByteSource = recipients.isEmpty ? file : try AgeEncryptingSource(file, recipients: recipients)
            result = try await StreamUpload(client: storage.client, key: key, partSize: partSize).run(read: { try source.read(into: $0) }, progress: progress)
        } catch let error as BackupError {
            throw error
        } catch {
            throw BackupError("upload failed, aborted: \(error)")
        }
        let database = url.description
        return try await BackupCommit.write(storage: storage, key: key, result: result, target: "redis", database: database, serverVersion: version,
                                            toolVersion: version, format: "rdb", startedAt: startedAt, finishedAt: wallClock.now(), partSize: partSize,
                                            encrypted: !recipients.isEmpty, host: host, mastiffVersion: mastiffVersion, rowCounts: [:])
    }
}
