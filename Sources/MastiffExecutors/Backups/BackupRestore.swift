import Glibc
import MastiffClients
import MastiffCore
import MastiffPolicies
import Synchronization

/// Reads a backup back: streams the object, checks its size and SHA-256 against the manifest,
/// decrypts it when encrypted, and hands the plaintext to a consumer (pg_restore's stdin).
public struct BackupReader: Sendable {
    public var storage: BackupStorage
    public var identities: [AgeIdentity]

    public init(storage: BackupStorage, identities: [AgeIdentity]) {
        self.storage = storage
        self.identities = identities
    }

    final class StreamState: @unchecked Sendable {
        let digest = SHA256()
        var bytes = 0
        var decryptor: AgeDecryptor?
        let sink: (UnsafeRawBufferPointer) throws -> Void
        var failure: Error?
        init(decryptor: consuming AgeDecryptor?, sink: @escaping (UnsafeRawBufferPointer) throws -> Void) {
            self.decryptor = decryptor
            self.sink = sink
        }
    }

    /// Streams `manifest`'s object into `sink` (plaintext). Throws when the object is missing,
    /// differs from the manifest, cannot be decrypted, or `sink` throws.
    public func stream(_ manifest: BackupManifest, into sink: @escaping (UnsafeRawBufferPointer) throws -> Void) async throws(BackupError) {
        if manifest.isEncrypted && identities.isEmpty {
            throw BackupError("\(manifest.dataKey) is encrypted: give the age identity file (backups.encryption.identity_file or --identity)")
        }
        let state = StreamState(decryptor: manifest.isEncrypted ? AgeDecryptor(identities: identities) : nil, sink: sink)
        do {
            try await storage.client.get(key: manifest.dataKey) { bytes in
                state.digest.update(bytes)
                state.bytes += bytes.count
                do {
                    if state.decryptor != nil { try state.decryptor!.update(bytes, emit: state.sink) } else { try state.sink(bytes) }
                    return true
                } catch {
                    state.failure = error
                    return false
                }
            }
        } catch {
            if let failure = state.failure { throw BackupError("\(failure)") }
            throw BackupError(error.status == 404 ? "\(manifest.dataKey) is listed in its manifest but missing from the bucket" : "\(error)")
        }
        guard state.bytes == manifest.bytes else { throw BackupError("\(manifest.dataKey): read \(state.bytes) bytes, the manifest says \(manifest.bytes)") }
        let sha = Hex.encode(state.digest.finish())
        guard sha == manifest.sha256 else { throw BackupError("\(manifest.dataKey): SHA-256 \(sha) differs from the manifest's \(manifest.sha256)") }
        do {
            if state.decryptor != nil { try state.decryptor!.finish(emit: sink) }
        } catch {
            throw BackupError("\(manifest.dataKey): \(error)")
        }
    }
}

/// Verify, restore and restore drills of PostgreSQL backups, with the pg_restore that matches
/// the target server.
public struct PostgresRestore: Sendable {
    public var reader: BackupReader
    /// Any database on the server to restore into (to create, inspect and drop databases).
    public var conninfo: Secret
    public var toolsRoot = "/usr/lib/postgresql"

    public init(reader: BackupReader, conninfo: Secret) {
        self.reader = reader
        self.conninfo = conninfo
    }

    public struct VerifyReport: Sendable, Equatable {
        public var bytes: Int
        /// Entries pg_restore --list printed (tables, indexes, data, …).
        public var entries: Int
    }

    /// Streams the backup through the checks into `pg_restore --list`.
    public func verify(_ manifest: BackupManifest) async throws(BackupError) -> VerifyReport {
        let pgRestore = try await tool("pg_restore")
        var options = ChildProcess.Options()
        options.pipeStdin = true
        options.stdoutToCapture = true
        options.stderrLimit = 4 << 20
        // pg_restore --list prints its table of contents; what matters is that it can read the
        // whole archive header and list, and exits 0. Its output is counted, not kept.
        let child: ChildProcess
        do { child = try ChildProcess([pgRestore, "--list"], options: options) } catch { throw BackupError(error.description) }
        // pg_restore --list reads the table of contents and stops; the rest of the object is
        // still read to the end for its size and SHA-256.
        try await feed(manifest, to: child, tolerateEarlyExit: true)
        let code = await child.wait()
        guard code == 0 else { throw BackupError("pg_restore --list failed (status \(code)): \(child.stderrText.trimmingWhitespace.suffix(500))") }
        let entries = child.stderrText.split(separator: "\n").filter { !$0.hasPrefix(";") && !$0.isEmpty }.count
        var verified = manifest
        verified.verifiedAt = Double(time(nil))
        do { try await reader.storage.writeManifest(verified) } catch { throw BackupError("recording the verification: \(error)") }
        return VerifyReport(bytes: manifest.bytes, entries: entries)
    }

    /// Creates `database` (or, with `force`, reuses a non-empty one, cleaning what the dump
    /// holds) and restores the backup into it. `jobs` > 1 restores in parallel, which pg_restore
    /// can only do from a file: the backup is then spooled to `spoolDirectory` and removed after.
    public func restore(_ manifest: BackupManifest, into database: String, jobs: Int = 1, force: Bool = false,
                        spoolDirectory: String = "/var/tmp") async throws(BackupError) {
        guard manifest.target == "postgres" else { throw BackupError("\(manifest.dataKey) is a \(manifest.target) backup; only PostgreSQL backups restore with pg_restore") }
        let tables = try await prepare(database: database)
        if tables > 0 && !force {
            throw BackupError("database \(database) is not empty (\(tables) tables); restore into a new database, or pass --force to restore over it")
        }
        let pgRestore = try await tool("pg_restore")
        let (dsn, password) = ConnectionStringParts.splitPassword(ConnectionStringParts.replacingDatabase(conninfo.reveal(), with: database))
        var argv = [pgRestore, "--dbname=\(dsn)", "--exit-on-error"]
        if force && tables > 0 { argv += ["--clean", "--if-exists"] }
        var options = ChildProcess.Options()
        options.stdoutToCapture = true
        options.stderrLimit = 64 << 10
        if let password { options.environment["PGPASSWORD"] = password }
        if jobs > 1 {
            let path = "\(spoolDirectory)/mastiff-restore-\(getpid()).pgdump"
            defer { unlink(path) }
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw BackupError("cannot write \(path): \(String(cString: strerror(errno)))") }
            do {
                try await reader.stream(manifest) { bytes in try Self.writeAll(fd, bytes, what: path) }
            } catch {
                close(fd)
                throw error
            }
            close(fd)
            argv += ["--jobs=\(jobs)", path]
            let child: ChildProcess
            do { child = try ChildProcess(argv, options: options) } catch { throw BackupError(error.description) }
            let code = await child.wait()
            guard code == 0 else { throw BackupError("pg_restore failed (status \(code)): \(child.stderrText.trimmingWhitespace.suffix(1000))") }
            return
        }
        options.pipeStdin = true
        let child: ChildProcess
        do { child = try ChildProcess(argv, options: options) } catch { throw BackupError(error.description) }
        try await feed(manifest, to: child)
        let code = await child.wait()
        guard code == 0 else { throw BackupError("pg_restore failed (status \(code)): \(child.stderrText.trimmingWhitespace.suffix(1000))") }
    }

    public struct DrillReport: Sendable, Equatable {
        public var database: String
        public var compared: [(table: String, expected: Int, restored: Int)]
        public var seconds: Double
        public static func == (a: DrillReport, b: DrillReport) -> Bool {
            a.database == b.database && a.compared.map(\.table) == b.compared.map(\.table) && a.compared.map(\.restored) == b.compared.map(\.restored)
        }
    }

    /// Restores into a scratch database, compares the largest tables' row counts with those the
    /// manifest took in the dump's own snapshot, and drops the scratch database again.
    public func drill(_ manifest: BackupManifest, scratch: String) async throws(BackupError) -> DrillReport {
        let started = ContinuousClock.now
        try await dropDatabase(scratch)
        do {
            try await restore(manifest, into: scratch)
            var compared: [(table: String, expected: Int, restored: Int)] = []
            let connection = try await connect(database: scratch)
            for (table, expected) in manifest.rowCounts.sorted(by: { $0.key < $1.key }) {
                let restored = try await connection.query("SELECT count(*) FROM \(table)", timeout: .seconds(3600)).first?[0].flatMap { Int($0) } ?? -1
                compared.append((table, expected, restored))
            }
            try await dropDatabase(scratch)
            let mismatches = compared.filter { $0.expected != $0.restored }
            guard mismatches.isEmpty else {
                throw BackupError("restore drill: row counts differ: " + mismatches.map { "\($0.table) \($0.restored) restored, \($0.expected) dumped" }.joined(separator: "; "))
            }
            let elapsed = ContinuousClock.now - started
            return DrillReport(database: scratch, compared: compared,
                               seconds: elapsed.seconds)
        } catch {
            try? await dropDatabase(scratch)
            if let failure = error as? BackupError { throw failure }
            throw BackupError("restore drill: \(error)")
        }
    }

    // MARK: Helpers

    final class PipeState: @unchecked Sendable { var closed = false }

    func feed(_ manifest: BackupManifest, to child: ChildProcess, tolerateEarlyExit: Bool = false) async throws(BackupError) {
        // A pg_restore that stops reading early must be an error, not a SIGPIPE for mastiff.
        signal(SIGPIPE, SIG_IGN)
        let fd = child.stdin
        let pipe = PipeState()
        do {
            try await reader.stream(manifest) { bytes in
                if pipe.closed { return }
                do {
                    try Self.writeAll(fd, bytes, what: "pg_restore's input")
                } catch where tolerateEarlyExit && errno == EPIPE {
                    pipe.closed = true
                }
            }
        } catch {
            child.closeStdin()
            let code = await child.wait()
            let stderr = child.stderrText.trimmingWhitespace
            throw BackupError(error.description + (code != 0 && !stderr.isEmpty ? "; pg_restore: \(stderr.suffix(500))" : ""))
        }
        child.closeStdin()
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, what: String) throws {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw BackupError("writing \(what): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    func connect(database: String? = nil) async throws(BackupError) -> PostgresConnection {
        let target = database.map { Secret(ConnectionStringParts.replacingDatabase(conninfo.reveal(), with: $0)) } ?? conninfo
        do { return try await PostgresConnection.connect(target, timeoutSeconds: 10) } catch {
            throw BackupError("cannot connect to PostgreSQL\(database.map { " database \($0)" } ?? ""): \(error)")
        }
    }

    func tool(_ name: String) async throws(BackupError) -> String {
        let connection = try await connect()
        let major = try PostgresTools.choose(serverMajor: connection.serverVersion / 10000, installed: PostgresTools.installedMajors(root: toolsRoot)).get()
        return "\(toolsRoot)/\(major)/bin/\(name)"
    }

    static func literal(_ text: String) -> String { "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''") + "'" }
    static func identifier(_ text: String) -> String { "\"" + text.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\"" }

    /// Creates `database` when missing; returns how many user tables it holds.
    func prepare(database: String) async throws(BackupError) -> Int {
        let connection = try await connect()
        do {
            let exists = try await connection.query("SELECT 1 FROM pg_database WHERE datname = \(Self.literal(database))")
            if exists.isEmpty {
                _ = try await connection.query("CREATE DATABASE \(Self.identifier(database))", timeout: .seconds(120))
                return 0
            }
            let target = try await connect(database: database)
            let count = try await target.query("""
                SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
                """)
            return Int(count.first?[0] ?? "0") ?? 0
        } catch let error as BackupError {
            throw error
        } catch {
            throw BackupError("preparing database \(database): \(error)")
        }
    }

    func dropDatabase(_ database: String) async throws(BackupError) {
        let connection = try await connect()
        do {
            // No NOTICE on stderr when it does not exist (libpq prints notices there).
            // (Two statements: DROP DATABASE cannot run in the implicit transaction of one string.)
            _ = try await connection.query("SET client_min_messages = warning")
            _ = try await connection.query("DROP DATABASE IF EXISTS \(Self.identifier(database)) WITH (FORCE)", timeout: .seconds(120))
        } catch {
            throw BackupError("dropping database \(database): \(error)")
        }
    }
}
