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
        // Only a manifest this cluster signed is signed again with the verification: verifying an
        // unsigned one (named by its key) must not turn it into a trusted one.
        if manifest.authenticated {
            var verified = manifest
            verified.verifiedAt = reader.storage.wallClock.now()
            do { try await reader.storage.writeManifest(verified) } catch { throw BackupError("recording the verification: \(error)") }
        }
        return VerifyReport(bytes: manifest.bytes, entries: entries)
    }

    /// Databases a restore replaces only with `force`: the server's own and the one the backup
    /// was taken from (restoring over the live database is a decision, never a typo).
    public static func isProtectedTarget(_ database: String, of manifest: BackupManifest) -> Bool {
        ["postgres", "template0", "template1"].contains(database) || database == manifest.database
    }

    /// Restores the backup into `database`, which must be new or empty unless `force`.
    ///
    /// The backup goes into a fresh database first and takes `database`'s name only once
    /// pg_restore succeeded and the object's size and SHA-256 matched the manifest: a corrupt,
    /// truncated or tampered backup leaves the target as it was, and the fresh database is
    /// dropped. `jobs` > 1 restores in parallel, which pg_restore can only do from a file: the
    /// backup is then spooled (and checked) first, in a private directory (mkdtemp, 0700)
    /// under `spoolDirectory`, and removed after.
    public func restore(_ manifest: BackupManifest, into database: String, jobs: Int = 1, force: Bool = false,
                        spoolDirectory: String = FileSystemAccess.environment("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/var/tmp") async throws(BackupError) {
        guard manifest.target == "postgres" else { throw BackupError("\(manifest.dataKey) is a \(manifest.target) backup; only PostgreSQL backups restore with pg_restore") }
        if Self.isProtectedTarget(database, of: manifest) && !force {
            throw BackupError("refusing to restore into \(database): it is \(database == manifest.database ? "the database this backup was taken from" : "one of the server's own databases"); "
                + "restore into a new database, or pass --force to replace \(database)")
        }
        let tables = try await existingTables(database)
        if let tables, tables > 0 && !force {
            throw BackupError("database \(database) is not empty (\(tables) tables); restore into a new database, or pass --force to replace it")
        }
        let pgRestore = try await tool("pg_restore")
        let fresh = "mastiff_restore_" + Hex.encode((try? Crypto.randomBytes(6)) ?? Array("\(getpid())".utf8.prefix(6)))
        try await createDatabase(fresh)
        do {
            let credentials = try PostgresToolCredentials(Secret(ConnectionStringParts.replacingDatabase(conninfo.reveal(), with: fresh)))
            defer { credentials.remove() }
            var argv = [pgRestore, "--dbname=\(credentials.conninfo)", "--exit-on-error"]
            var options = ChildProcess.Options()
            options.stdoutToCapture = true
            options.stderrLimit = 64 << 10
            options.environment = credentials.environment
            if jobs > 1 {
                let spool = try Self.privateFile(in: spoolDirectory, prefix: "mastiff-restore", name: "backup.pgdump")
                defer {
                    unlink(spool.file)
                    rmdir(spool.directory)
                }
                do {
                    try await reader.stream(manifest) { bytes in try Self.writeAll(spool.fd, bytes, what: spool.file) }
                } catch {
                    close(spool.fd)
                    throw error
                }
                close(spool.fd)
                argv += ["--jobs=\(jobs)", spool.file]
                let child: ChildProcess
                do { child = try ChildProcess(argv, options: options) } catch { throw BackupError(error.description) }
                let code = await child.wait()
                guard code == 0 else { throw BackupError("pg_restore \(ChildProcess.describe(exitCode: code)): \(child.stderrText.trimmingWhitespace.suffix(1000))") }
            } else {
                options.pipeStdin = true
                let child: ChildProcess
                do { child = try ChildProcess(argv, options: options) } catch { throw BackupError(error.description) }
                // Throws when the object differs from the manifest, after pg_restore saw all of it.
                try await feed(manifest, to: child)
                let code = await child.wait()
                guard code == 0 else { throw BackupError("pg_restore \(ChildProcess.describe(exitCode: code)): \(child.stderrText.trimmingWhitespace.suffix(1000))") }
            }
            // Checked and complete: the fresh database takes the target's place.
            if tables != nil { try await dropDatabase(database) }
            try await renameDatabase(fresh, to: database)
        } catch {
            try? await dropDatabase(fresh)
            throw (error as? BackupError) ?? BackupError("restore: \(error)")
        }
    }

    /// A file nobody else can open or plant: a fresh directory (mkdtemp, 0700) under `parent`
    /// and `name` created in it with O_EXCL|O_NOFOLLOW, 0600 (the restore spool, a connection
    /// service file). The caller removes both.
    static func privateFile(in parent: String, prefix: String, name: String) throws(BackupError) -> (directory: String, file: String, fd: Int32) {
        var template = Array((parent + "/" + prefix + "-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw BackupError("cannot make a private directory under \(parent): \(String(cString: strerror(errno)))")
        }
        let directory = String(cString: made)
        let file = directory + "/" + name
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            rmdir(directory)
            throw BackupError("cannot create \(file): \(reason)")
        }
        return (directory, file, fd)
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
        guard !Self.isProtectedTarget(scratch, of: manifest) else {
            throw BackupError("restore drill: the scratch database \(scratch) is \(scratch == manifest.database ? "the backed-up database" : "one of the server's own"); set backups.drill.scratch_database")
        }
        try await dropScratch(scratch)
        do {
            try await restore(manifest, into: scratch)
            try await markScratch(scratch)
            var compared: [(table: String, expected: Int, restored: Int)] = []
            let connection = try await connect(database: scratch)
            // Nothing from the manifest reaches SQL text: the tables are the restored catalogue's
            // own, quoted by the server (format %I.%I), and a manifest's name only selects among
            // them. Each count is one statement through the extended protocol.
            let catalogue = try await connection.query("""
                SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
                """, parameters: [], timeout: .seconds(120))
            let tables = Set(catalogue.compactMap { $0.first ?? nil })
            for (name, expected) in manifest.rowCounts.sorted(by: { $0.key < $1.key }) {
                guard let table = tables.first(where: { $0 == name }) else {
                    compared.append((name, expected, -1))
                    continue
                }
                let restored = try await connection.query("SELECT count(*) FROM \(table)", parameters: [], timeout: .seconds(3600))
                    .first?[0].flatMap { Int($0) } ?? -1
                compared.append((table, expected, restored))
            }
            try await dropScratch(scratch)
            let mismatches = compared.filter { $0.expected != $0.restored }
            guard mismatches.isEmpty else {
                throw BackupError("restore drill: row counts differ: " + mismatches.map {
                    $0.restored < 0 ? "\($0.table.escapingControlCharacters) is not in the restored database" : "\($0.table) \($0.restored) restored, \($0.expected) dumped"
                }.joined(separator: "; "))
            }
            let elapsed = ContinuousClock.now - started
            return DrillReport(database: scratch, compared: compared,
                               seconds: elapsed.seconds)
        } catch {
            try? await dropScratch(scratch)
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

    /// How many user tables `database` holds; nil when it does not exist.
    func existingTables(_ database: String) async throws(BackupError) -> Int? {
        let connection = try await connect()
        do {
            let exists = try await connection.query("SELECT 1 FROM pg_database WHERE datname = $1", parameters: [database])
            if exists.isEmpty { return nil }
            let target = try await connect(database: database)
            let count = try await target.query("""
                SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
                """, parameters: [])
            return Int(count.first?[0] ?? "0") ?? 0
        } catch let error as BackupError {
            throw error
        } catch {
            throw BackupError("inspecting database \(database): \(error)")
        }
    }

    func createDatabase(_ database: String) async throws(BackupError) {
        let connection = try await connect()
        do { _ = try await connection.query("CREATE DATABASE \(Self.identifier(database))", parameters: [], timeout: .seconds(120)) } catch {
            throw BackupError("creating database \(database): \(error)")
        }
    }

    func renameDatabase(_ database: String, to name: String) async throws(BackupError) {
        let connection = try await connect()
        do { _ = try await connection.query("ALTER DATABASE \(Self.identifier(database)) RENAME TO \(Self.identifier(name))", parameters: [], timeout: .seconds(120)) } catch {
            throw BackupError("renaming the restored database \(database) to \(name): \(error)")
        }
    }

    /// What a drill writes on its scratch database, and checks before it drops one: a database
    /// of that name that lacks it was not made by a drill, and is never dropped.
    static let scratchMarker = "mastiff restore drill scratch database: dropped after each drill"

    func markScratch(_ database: String) async throws(BackupError) {
        let connection = try await connect()
        do {
            _ = try await connection.query("COMMENT ON DATABASE \(Self.identifier(database)) IS \(Self.literal(Self.scratchMarker))", parameters: [])
        } catch {
            throw BackupError("marking the scratch database \(database): \(error)")
        }
    }

    func dropScratch(_ database: String) async throws(BackupError) {
        let connection = try await connect()
        let rows: [[String?]]
        do {
            rows = try await connection.query("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", parameters: [database])
        } catch {
            throw BackupError("inspecting the scratch database \(database): \(error)")
        }
        guard let row = rows.first else { return }
        guard row.first == Self.scratchMarker else {
            throw BackupError("restore drill: database \(database) exists and was not made by a drill; it is left alone (set backups.drill.scratch_database to a name of its own)")
        }
        try await dropDatabase(database)
    }

    func dropDatabase(_ database: String) async throws(BackupError) {
        let connection = try await connect()
        do {
            // No NOTICE on stderr when it does not exist (libpq prints notices there).
            // (Two statements: DROP DATABASE cannot run in the implicit transaction of one string.)
            _ = try await connection.query("SET client_min_messages = warning", parameters: [])
            _ = try await connection.query("DROP DATABASE IF EXISTS \(Self.identifier(database)) WITH (FORCE)", parameters: [], timeout: .seconds(120))
        } catch {
            throw BackupError("dropping database \(database): \(error)")
        }
    }
}
