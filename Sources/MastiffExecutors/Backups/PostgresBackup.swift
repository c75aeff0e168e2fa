import Glibc
import MastiffClients
import MastiffCore
import MastiffPolicies

/// Debian's versioned PostgreSQL client tools (/usr/lib/postgresql/N/bin): pg_dump must be at
/// least as new as the server; the one of the server's own major version is preferred.
public enum PostgresTools {
    public static func installedMajors(root: String = "/usr/lib/postgresql") -> [Int] {
        guard let directory = opendir(root) else { return [] }
        defer { closedir(directory) }
        var majors: [Int] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if let major = Int(name), access("\(root)/\(name)/bin/pg_dump", X_OK) == 0 { majors.append(major) }
        }
        return majors.sorted()
    }

    /// The major version to use for a server of `serverMajor`, or why there is none.
    public static func choose(serverMajor: Int, installed: [Int]) -> Result<Int, BackupError> {
        if installed.contains(serverMajor) { return .success(serverMajor) }
        if let newer = installed.filter({ $0 > serverMajor }).min() { return .success(newer) }
        let found = installed.isEmpty ? "none is installed" : "only \(installed.map(String.init).joined(separator: ", ")) installed"
        return .failure(BackupError("the server is PostgreSQL \(serverMajor) but pg_dump \(serverMajor) or newer is needed (\(found)); "
            + "Debian: apt install postgresql-client-\(serverMajor) (from apt.postgresql.org for versions Debian does not ship)"))
    }
}

/// One PostgreSQL backup: pg_dump's custom format streamed (optionally age-encrypted) into the
/// bucket, then a HEAD size check, then the manifest. The dump runs in a repeatable-read
/// snapshot exported by mastiff's own connection, in which the largest tables are counted too,
/// so a restore drill can compare exact row counts.
public struct PostgresBackup: Sendable {
    public var storage: BackupStorage
    public var conninfo: Secret
    /// `backups.storage.part_size`; nil: chosen from the database's size (BackupPartSize).
    public var partSize: Int?
    /// pg_dump's -Z: `6`, `gzip:9`, `lz4`, `zstd:3` (lz4 and zstd need pg_dump 16+); nil: pg_dump's default.
    public var compression: String?
    public var nice: Int?
    /// ionice class (1 realtime, 2 best-effort, 3 idle) and level.
    public var ioniceClass: Int?
    public var ioniceLevel: Int?
    public var recipients: [AgeRecipient]
    public var host: String
    public var mastiffVersion: String
    public var toolsRoot = "/usr/lib/postgresql"
    public var countedTables = 5
    public var wallClock: any WallClock = SystemWallClock()

    public init(storage: BackupStorage, conninfo: Secret, partSize: Int?, compression: String? = nil, nice: Int? = nil, ioniceClass: Int? = nil,
                ioniceLevel: Int? = nil, recipients: [AgeRecipient] = [], host: String, mastiffVersion: String) {
        self.storage = storage
        self.conninfo = conninfo
        self.partSize = partSize
        self.compression = compression
        self.nice = nice
        self.ioniceClass = ioniceClass
        self.ioniceLevel = ioniceLevel
        self.recipients = recipients
        self.host = host
        self.mastiffVersion = mastiffVersion
    }

    public func run(progress: StreamUpload.Progress = StreamUpload.Progress()) async throws(BackupError) -> BackupManifest {
        let secrets = ConnectionStringSecrets.values(in: conninfo.reveal())
        @Sendable func scrub(_ text: String) -> String { Redaction.clean(Redaction.remove(secrets, from: text)) }
        let startedAt = wallClock.now()
        // The snapshot pg_dump dumps, held open by a psql session until the dump has ended.
        let session: SnapshotSession
        let snapshot: String
        var rowCounts: [String: Int] = [:]
        let database: String
        let serverVersion: String
        let major: Int
        let partSize: Int
        do {
            session = try await SnapshotSession.open(conninfo: conninfo, toolsRoot: toolsRoot)
            let row = try await session.query("""
                BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
                SELECT pg_export_snapshot(), current_database(), current_setting('server_version'), current_setting('server_version_num'),
                       pg_database_size(current_database())
                """, secrets: secrets).last?.split(separator: "|", omittingEmptySubsequences: false).map(String.init) ?? []
            guard row.count == 5, let number = Int(row[3]) else { throw BackupError("no snapshot from the server") }
            (snapshot, database, serverVersion) = (row[0], row[1], row[2])
            partSize = BackupPartSize.choose(estimatedBytes: Int(row[4]), configured: self.partSize)
            major = try PostgresTools.choose(serverMajor: number / 10000, installed: PostgresTools.installedMajors(root: toolsRoot)).get()
            if countedTables > 0 {
                let largest = try await session.query("""
                    SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
                      AND NOT c.relispartition
                    ORDER BY pg_total_relation_size(c.oid) DESC, 1 LIMIT \(countedTables)
                    """, secrets: secrets)
                for table in largest where !table.isEmpty {
                    if let count = try await session.query("SELECT count(*) FROM \(table)", secrets: secrets).last.flatMap({ Int($0) }) {
                        rowCounts[table] = count
                    }
                }
            }
        } catch let error as BackupError {
            throw BackupError("cannot prepare the dump: \(scrub(error.description))")
        } catch {
            throw BackupError("cannot prepare the dump: \(scrub("\(error)"))")
        }
        let pgDump = "\(toolsRoot)/\(major)/bin/pg_dump"
        if let compression, compression.hasPrefix("zstd") || compression.hasPrefix("lz4"), major < 16 {
            await session.close()
            throw BackupError("compression '\(compression)' needs pg_dump 16 or newer; pg_dump \(major) is the one that matches this server (use gzip or 0-9)")
        }
        // The snapshot session ends after the dump (and its commit), on every path: awaited here,
        // not left to a task of its own.
        func dumpAndCommit() async throws(BackupError) -> BackupManifest {

            let toolVersion = await Self.version(of: pgDump)
            let credentials = try PostgresToolCredentials(conninfo)
            defer { credentials.remove() }
            var argv = [pgDump, "--format=custom", "--snapshot=\(snapshot)", "--dbname=\(credentials.conninfo)"]
            if let compression { argv.insert("--compress=\(compression)", at: 2) }
            if let ioniceClass { argv = ["/usr/bin/ionice", "-c", String(ioniceClass)] + (ioniceLevel.map { ["-n", String($0)] } ?? []) + argv }
            if let nice { argv = ["/usr/bin/nice", "-n", String(nice)] + argv }
            var options = ChildProcess.Options()
            options.captureStdout = true
            options.environment = credentials.environment
            let child: ChildProcess
            do { child = try ChildProcess(argv, options: options) } catch { throw BackupError(error.description) }

            let ext = recipients.isEmpty ? "pgdump" : "pgdump.age"
            let key = storage.dataKey(target: "postgres", startedAt: startedAt, host: host, extension: ext)
            let upload = StreamUpload(client: storage.client, key: key, partSize: partSize)
            let result: StreamUpload.Result
            do {
                let dump = FileDescriptorSource(fd: child.stdout, what: "pg_dump's output")
                let source: ByteSource = recipients.isEmpty ? dump : try AgeEncryptingSource(dump, recipients: recipients)
                result = try await upload.run(read: { try source.read(into: $0) }, progress: progress, beforeCommit: {
                    let code = await child.wait()
                    guard code == 0 else {
                        let stderr = scrub(child.stderrText.trimmingWhitespace)
                        throw BackupError("pg_dump \(ChildProcess.describe(exitCode: code))" + (stderr.isEmpty ? "" : ": \(stderr)") + "; the upload is aborted")
                    }
                })
            } catch {
                child.signal(SIGTERM)
                child.closeStdout()
                let code = await child.wait()
                if let failure = error as? BackupError { throw failure }
                let stderr = scrub(child.stderrText.trimmingWhitespace)
                throw BackupError("upload failed, aborted: \(error)" + (code != 0 && !stderr.isEmpty && code != 128 + SIGTERM ? "; pg_dump: \(stderr)" : ""))
            }
            return try await BackupCommit.write(storage: storage, key: key, result: result, target: "postgres", database: database,
                                                serverVersion: serverVersion, toolVersion: toolVersion, format: "pg_dump-custom", startedAt: startedAt,
                                                finishedAt: wallClock.now(), partSize: partSize, encrypted: !recipients.isEmpty, host: host,
                                                mastiffVersion: mastiffVersion, rowCounts: rowCounts)
        }
        let manifest: BackupManifest
        do {
            manifest = try await dumpAndCommit()
        } catch {
            await session.close()
            throw error
        }
        await session.close()
        return manifest
    }

    static func version(of tool: String) async -> String {
        // `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` → 15.18
        var options = ChildProcess.Options()
        options.stdoutToCapture = true
        guard let child = try? ChildProcess([tool, "--version"], options: options) else { return "" }
        _ = await child.wait()
        let words = child.stderrText.split(separator: " ")
        return words.count >= 3 ? String(words[2]).trimmingWhitespace : child.stderrText.trimmingWhitespace
    }
}

/// The end of every backup: the object's size checked with HEAD, then the manifest written.
enum BackupCommit {
    static func write(storage: BackupStorage, key: String, result: StreamUpload.Result, target: String, database: String, serverVersion: String,
                      toolVersion: String, format: String, startedAt: Double, finishedAt: Double, partSize: Int, encrypted: Bool, host: String,
                      mastiffVersion: String, rowCounts: [String: Int]) async throws(BackupError) -> BackupManifest {
        do {
            let size = try await storage.client.head(key: key)
            guard size == result.bytes else {
                throw BackupError("the stored object \(key) is \(size.map { "\($0) bytes" } ?? "missing"), \(result.bytes) were sent")
            }
            var manifest = BackupManifest(target: target, dataKey: key, bytes: result.bytes, sha256: result.sha256,
                                          encryption: encrypted ? "age-x25519" : "none", database: database, serverVersion: serverVersion,
                                          toolVersion: toolVersion, format: format, startedAt: startedAt, finishedAt: finishedAt,
                                          partSize: partSize, parts: result.parts, host: host, mastiffVersion: mastiffVersion)
            manifest.rowCounts = rowCounts
            try await storage.writeManifest(manifest)
            return manifest
        } catch let error as BackupError {
            throw error
        } catch {
            throw BackupError("\(error)")
        }
    }
}
