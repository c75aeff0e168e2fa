import Foundation
@testable import MastiffClients
import MastiffCore
import MastiffExecutors
import MastiffPolicies
import Testing

/// Backups against real peers: moto's S3 server with signature checks enforced (scripts/moto-s3.py),
/// the shared PostgreSQL, awscli, Debian's age and pg_restore.
@Suite(.serialized) struct BackupIntegrationTests {
    static func endpoint(secret: String? = nil) throws -> S3Endpoint {
        S3Endpoint(url: try Harness.environment("MASTIFF_TEST_S3_ENDPOINT"), region: try Harness.environment("MASTIFF_TEST_S3_REGION"),
                   bucket: try Harness.environment("MASTIFF_TEST_S3_BUCKET"), pathStyle: true,
                   accessKeyID: try Harness.environment("MASTIFF_TEST_S3_ACCESS_KEY"),
                   secretAccessKey: Secret(try secret ?? Harness.environment("MASTIFF_TEST_S3_SECRET_KEY")))
    }

    /// The manifest key the tests' agents are configured with (backups.manifest_key), so that
    /// a test's own BackupStorage reads their manifests as signed.
    static let manifestKey = "mastiff-test-manifest-key-0123456789abcdef"

    static func storage(_ prefix: String = "test-\(UUID().uuidString.prefix(8))/") throws -> BackupStorage {
        var client = S3Client(endpoint: try endpoint())
        client.backoff = .milliseconds(100)
        return BackupStorage(client: client, prefix: prefix, manifestKey: Array(manifestKey.utf8))
    }

    /// awscli against the same moto, with the same key.
    static func aws(_ arguments: [String]) throws -> Harness.Result {
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_ACCESS_KEY_ID"] = try Harness.environment("MASTIFF_TEST_S3_ACCESS_KEY")
        environment["AWS_SECRET_ACCESS_KEY"] = try Harness.environment("MASTIFF_TEST_S3_SECRET_KEY")
        environment["AWS_DEFAULT_REGION"] = "us-east-1"
        let aws = ["/usr/local/bin/aws", "/usr/bin/aws", (environment["HOME"] ?? "/root") + "/.pyenv/shims/aws"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "aws"
        return try Harness.run(aws, ["--endpoint-url", try Harness.environment("MASTIFF_TEST_S3_ENDPOINT")] + arguments, environment: environment)
    }

    static func sha256(ofFile path: String) throws -> String {
        try Harness.run("/usr/bin/sha256sum", [path]).stdout.split(separator: " ").first.map(String.init) ?? ""
    }

    /// A database of its own on the shared server, filled by `sql`.
    static func database(_ name: String, _ sql: String) throws -> String {
        _ = try Harness.psql(["-c", "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"])
        _ = try Harness.psql(["-c", "CREATE DATABASE \(name)"])
        _ = try Harness.psql(database: name, ["-c", sql])
        return try Harness.environment("MASTIFF_TEST_PG_DSN").replacingOccurrences(of: "dbname=postgres", with: "dbname=\(name)")
    }

    /// Row counts and an order-independent checksum of every table's rows.
    static func fingerprint(_ database: String, tables: [String]) throws -> [String: String] {
        var result: [String: String] = [:]
        for table in tables {
            result[table] = try Harness.psql(database: database, ["-c", "SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM \(table) t"])
        }
        return result
    }

    @Test func wrongSecretIsRefusedBySignatureCheck() async throws {
        let client = S3Client(endpoint: try Self.endpoint(secret: "not-the-secret"))
        await #expect {
            try await client.put(key: "refused", body: Array("x".utf8))
        } throws: { error in
            (error as? S3Error)?.code == "SignatureDoesNotMatch" && !"\(error)".contains("not-the-secret")
        }
    }

    @Test func clientOperationsRoundTrip() async throws {
        let storage = try Self.storage()
        let client = storage.client
        let key = storage.prefix + "dir/a b+c.txt"
        try await client.put(key: key, body: Array("hello".utf8))
        #expect(try await client.head(key: key) == 5)
        #expect(String(decoding: try await client.get(key: key), as: UTF8.self) == "hello")
        // Listing pages: 1100 keys need two pages of ListObjectsV2.
        for index in 0..<3 { try await client.put(key: storage.prefix + "many/\(index)", body: [UInt8(index)]) }
        #expect(try await client.list(prefix: storage.prefix + "many/").map(\.key).count == 3)
        try await client.delete(key: key)
        #expect(try await client.head(key: key) == nil)
    }

    /// 12 MiB + 3 bytes with 5 MiB parts: three parts, the first two exactly 5 MiB; awscli reads
    /// back the same bytes; an abort leaves no upload behind.
    @Test func multipartUploadHasEqualPartsAndReadsBackWithAwscli() async throws {
        let storage = try Self.storage()
        let size = 12 * 1024 * 1024 + 3
        let data = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 12) }
        let source = MemorySource(data)
        let upload = StreamUpload(client: storage.client, key: storage.prefix + "big.bin", partSize: 5 * 1024 * 1024)
        let result = try await upload.run(read: { try source.read(into: $0) })
        #expect(result.parts == 3)
        #expect(result.bytes == size)
        let directory = try Harness.temporaryDirectory()
        let path = directory.appendingPathComponent("big.bin").path
        let copied = try Self.aws(["s3", "cp", "s3://mastiff-backups/\(storage.prefix)big.bin", path])
        #expect(copied.status == 0, "\(copied.stderr)")
        #expect(try Self.sha256(ofFile: path) == result.sha256)
        let parts = try Self.aws(["s3api", "head-object", "--bucket", "mastiff-backups", "--key", storage.prefix + "big.bin", "--part-number", "2"])
        #expect(parts.stdout.contains("\"ContentLength\": 5242880"), "\(parts.stdout)")
        #expect(try await storage.client.listMultipartUploads(prefix: storage.prefix).isEmpty)
    }

    @Test func failingSourceAbortsTheUpload() async throws {
        let storage = try Self.storage()
        let source = MemorySource([UInt8](repeating: 1, count: 11 * 1024 * 1024), failAfter: 8 * 1024 * 1024)
        let upload = StreamUpload(client: storage.client, key: storage.prefix + "broken.bin", partSize: 5 * 1024 * 1024)
        await #expect(throws: BackupError.self) { try await upload.run(read: { try source.read(into: $0) }) }
        #expect(try await storage.client.listMultipartUploads(prefix: storage.prefix).isEmpty)
        #expect(try await storage.client.list(prefix: storage.prefix).isEmpty)
    }

    /// The third buffer (a second part in flight) is taken only when the store is slower than the
    /// source: a source producing a part a second against moto, which stores one in well under
    /// that, holds two buffers; a source as fast as memory, three.
    @Test func aSecondPartGoesInFlightOnlyWhenTheStoreIsSlowerThanTheDump() async throws {
        let storage = try Self.storage()
        let data = [UInt8](repeating: 3, count: 15 * 1024 * 1024 + 1)
        let paced = MemorySource(data, secondsPerMiB: 0.2)
        let slowDump = try await StreamUpload(client: storage.client, key: storage.prefix + "paced.bin", partSize: 5 << 20)
            .run(read: { try paced.read(into: $0) })
        #expect(slowDump.parts == 4 && slowDump.buffers == 2, "\(slowDump)")
        let instant = MemorySource(data)
        let fastDump = try await StreamUpload(client: storage.client, key: storage.prefix + "instant.bin", partSize: 5 << 20)
            .run(read: { try instant.read(into: $0) })
        #expect(fastDump.parts == 4 && fastDump.buffers == 3, "\(fastDump)")
        #expect(fastDump.sha256 == slowDump.sha256)
    }

    /// A source longer than S3's part limit allows (lowered to 2 here, 10,000 in life) stops
    /// with an error that names the limit and the setting, and leaves nothing behind.
    @Test func aSourceBeyondThePartLimitFailsByNameAndLeavesNothing() async throws {
        let storage = try Self.storage()
        let source = MemorySource([UInt8](repeating: 2, count: 12 * 1024 * 1024))
        let upload = StreamUpload(client: storage.client, key: storage.prefix + "too-long.bin", partSize: 5 * 1024 * 1024, maximumParts: 2)
        do {
            _ = try await upload.run(read: { try source.read(into: $0) })
            Issue.record("a third part was accepted")
        } catch {
            #expect("\(error)".contains("outgrew the 2 parts S3 allows, at 5MiB each"), "\(error)")
            #expect("\(error)".contains("backups.storage.part_size"), "\(error)")
        }
        #expect(try await storage.client.listMultipartUploads(prefix: storage.prefix).isEmpty)
        #expect(try await storage.client.list(prefix: storage.prefix).isEmpty)
    }

    /// The issue's main check: a PostgreSQL database of more than 200 MB backed up, listed and
    /// downloaded by awscli (SHA-256 equal to the manifest's), restored into a new database:
    /// equal row counts and per-table checksums. Its parts are sized from the database: S3's
    /// smallest, 5 MiB, as 10,000 of them hold far more than twice it.
    @Test func largeDatabaseBackupAndRestore() async throws {
        let dsn = try Self.database("backup_source", """
            CREATE TABLE accounts (id bigint PRIMARY KEY, username text, created_at timestamptz);
            INSERT INTO accounts SELECT g, 'user' || g, '2020-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 50000) g;
            CREATE TABLE statuses (id bigint PRIMARY KEY, account_id bigint, text text, payload text);
            INSERT INTO statuses SELECT g, g % 50000 + 1, md5(g::text) || ' toot ' || g, repeat(md5((g * 7)::text), 2)
              FROM generate_series(1, 1300000) g;
            CREATE INDEX ON statuses (account_id);
            """)
        let size = Int(try Harness.psql(database: "backup_source", ["-c", "SELECT pg_database_size('backup_source')"])) ?? 0
        #expect(size > 200_000_000, "the source database is only \(size) bytes")
        let storage = try Self.storage()
        let backup = PostgresBackup(storage: storage, conninfo: Secret(dsn), partSize: nil, host: "test-host", mastiffVersion: "test")
        let manifest = try await backup.run()
        #expect(manifest.rowCounts["public.statuses"] == 1_300_000)
        #expect(manifest.rowCounts["public.accounts"] == 50000)
        #expect(manifest.partSize == 5 << 20)
        #expect(manifest.parts == (manifest.bytes + (5 << 20) - 1) / (5 << 20))
        #expect(manifest.toolVersion.hasPrefix("15."))

        let listed = try Self.aws(["s3", "ls", "--recursive", "s3://mastiff-backups/\(storage.prefix)"])
        #expect(listed.stdout.contains(manifest.dataKey) && listed.stdout.contains(manifest.manifestKey), "\(listed.stdout)")
        let path = try Harness.temporaryDirectory().appendingPathComponent("dump").path
        #expect(try Self.aws(["s3", "cp", "s3://mastiff-backups/\(manifest.dataKey)", path]).status == 0)
        #expect(try Self.sha256(ofFile: path) == manifest.sha256)
        try? FileManager.default.removeItem(atPath: path)

        let restore = PostgresRestore(reader: BackupReader(storage: storage, identities: []), conninfo: Secret(try Harness.environment("MASTIFF_TEST_PG_DSN")))
        let report = try await restore.verify(try await storage.find("latest"))
        #expect(report.entries > 5)
        _ = try Harness.psql(["-c", "DROP DATABASE IF EXISTS backup_restored WITH (FORCE)"])
        try await restore.restore(try await storage.find(manifest.dataKey), into: "backup_restored")
        #expect(try Self.fingerprint("backup_restored", tables: ["accounts", "statuses"]) == Self.fingerprint("backup_source", tables: ["accounts", "statuses"]))
        // A non-empty target is refused without --force.
        await #expect { try await restore.restore(manifest, into: "backup_restored") } throws: { "\($0)".contains("not empty") }
        let drill = try await restore.drill(manifest, scratch: "backup_drill")
        #expect(drill.compared.count == 2 && drill.compared.allSatisfy { $0.expected == $0.restored })
        #expect(try Harness.psql(["-c", "SELECT count(*) FROM pg_database WHERE datname = 'backup_drill'"]) == "0")
        _ = try Harness.psql(["-c", "DROP DATABASE backup_restored WITH (FORCE)"])
        _ = try Harness.psql(["-c", "DROP DATABASE backup_source WITH (FORCE)"])
    }

    /// Encrypted with age: Debian's age decrypts what is in the bucket and pg_restore restores it.
    @Test func encryptedBackupRestoresWithAgeAndPgRestore() async throws {
        let dsn = try Self.database("backup_encrypted", "CREATE TABLE notes (id int, body text); INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 5000) g;")
        let directory = try Harness.temporaryDirectory()
        let keyFile = directory.appendingPathComponent("key.txt").path
        #expect(try Harness.run(try Harness.which("age-keygen"), ["-o", keyFile]).status == 0)
        let identities = try AgeIdentity.parseFile(try String(contentsOfFile: keyFile, encoding: .utf8))
        let storage = try Self.storage()
        var backup = PostgresBackup(storage: storage, conninfo: Secret(dsn), partSize: 5 << 20, host: "test-host", mastiffVersion: "test")
        backup.recipients = [identities[0].recipient]
        let manifest = try await backup.run()
        #expect(manifest.encryption == "age-x25519" && manifest.dataKey.hasSuffix(".pgdump.age"))
        let sealed = directory.appendingPathComponent("dump.age").path
        #expect(try Self.aws(["s3", "cp", "s3://mastiff-backups/\(manifest.dataKey)", sealed]).status == 0)
        let plain = directory.appendingPathComponent("dump").path
        let decrypted = try Harness.run(try Harness.which("age"), ["-d", "-i", keyFile, "-o", plain, sealed])
        #expect(decrypted.status == 0, "\(decrypted.stderr)")
        _ = try Harness.psql(["-c", "DROP DATABASE IF EXISTS backup_decrypted WITH (FORCE)"])
        _ = try Harness.psql(["-c", "CREATE DATABASE backup_decrypted"])
        let restored = try Harness.run(try Harness.environment("MASTIFF_TEST_PG_BIN") + "/pg_restore",
                                       ["-h", try Harness.environment("MASTIFF_TEST_PG_SOCKET_DIR"), "-p", try Harness.environment("MASTIFF_TEST_PG_PORT"),
                                        "-U", "postgres", "-d", "backup_decrypted", plain])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try Harness.psql(database: "backup_decrypted", ["-c", "SELECT count(*) FROM notes"]) == "5000")
        // mastiff's own verify needs the identity, and refuses plainly without it.
        let verifier = PostgresRestore(reader: BackupReader(storage: storage, identities: identities), conninfo: Secret(dsn))
        #expect(try await verifier.verify(manifest).bytes == manifest.bytes)
        let blind = PostgresRestore(reader: BackupReader(storage: storage, identities: []), conninfo: Secret(dsn))
        await #expect { try await blind.verify(manifest) } throws: { "\($0)".contains("encrypted") }
        _ = try Harness.psql(["-c", "DROP DATABASE backup_decrypted WITH (FORCE)"])
        _ = try Harness.psql(["-c", "DROP DATABASE backup_encrypted WITH (FORCE)"])
    }

    /// pg_dump that cannot log in: the backup fails with pg_dump's own message, without the
    /// password, and leaves neither an upload nor an object behind.
    @Test func badPasswordFailsCleanly() async throws {
        let storage = try Self.storage()
        let dsn = try Harness.environment("MASTIFF_TEST_PG_TCP_DSN") + " password=wrong-secret-xyzzy"
        let backup = PostgresBackup(storage: storage, conninfo: Secret(dsn), partSize: 5 << 20, host: "test-host", mastiffVersion: "test")
        await #expect {
            try await backup.run()
        } throws: { error in
            let text = "\(error)"
            return text.contains("password authentication failed") && !text.contains("wrong-secret-xyzzy")
        }
        #expect(try await storage.client.list(prefix: storage.prefix).isEmpty)
        #expect(try await storage.client.listMultipartUploads(prefix: storage.prefix).isEmpty)
    }

    /// Redis: BGSAVE, wait, the RDB file streamed up with a manifest; an unreadable file is a
    /// clear error naming it.
    @Test func redisBackupAndUnreadableFile() async throws {
        let storage = try Self.storage()
        let url = try RedisURL.parse("redis://127.0.0.1:\(try Harness.environment("MASTIFF_TEST_REDIS_PORT"))").get()
        _ = try Harness.run("/usr/bin/redis-cli", ["-p", try Harness.environment("MASTIFF_TEST_REDIS_PORT"), "SET", "mastiff:backup:test", "1"])
        let manifest = try await RedisBackup(storage: storage, url: url, partSize: 5 << 20, host: "test-host", mastiffVersion: "test").run()
        #expect(manifest.target == "redis" && manifest.format == "rdb" && manifest.dataKey.hasSuffix(".rdb"))
        let path = try Harness.temporaryDirectory().appendingPathComponent("dump.rdb").path
        #expect(try Self.aws(["s3", "cp", "s3://mastiff-backups/\(manifest.dataKey)", path]).status == 0)
        #expect(try Self.sha256(ofFile: path) == manifest.sha256)
        #expect(try String(decoding: Data(contentsOf: URL(fileURLWithPath: path)).prefix(5), as: UTF8.self) == "REDIS")
        var unreadable = RedisBackup(storage: storage, url: url, rdbPath: "/nonexistent/dump.rdb", partSize: 5 << 20, host: "test-host", mastiffVersion: "test")
        unreadable.bgsaveTimeout = .seconds(30)
        await #expect { try await unreadable.run() } throws: { "\($0)".contains("cannot read Redis's RDB file /nonexistent/dump.rdb") }
    }

    @Test func virtualHostAddressingPutsTheBucketInTheHost() {
        let endpoint = S3Endpoint(url: "https://s3.eu-central-1.amazonaws.com", region: "eu-central-1", bucket: "my-backups", pathStyle: false,
                                  accessKeyID: "k", secretAccessKey: Secret("s"))
        #expect(endpoint.hostAndPath(key: "mastiff/x.pgdump") == ("https", "my-backups.s3.eu-central-1.amazonaws.com", "/mastiff/x.pgdump"))
        var path = endpoint
        path.pathStyle = true
        #expect(path.hostAndPath(key: "mastiff/x.pgdump") == ("https", "s3.eu-central-1.amazonaws.com", "/my-backups/mastiff/x.pgdump"))
        #expect(path.hostAndPath(key: nil) == ("https", "s3.eu-central-1.amazonaws.com", "/my-backups"))
    }

    @Test func pgDumpVersionChoice() throws {
        #expect(try PostgresTools.choose(serverMajor: 15, installed: [13, 15, 16]).get() == 15)
        #expect(try PostgresTools.choose(serverMajor: 14, installed: [13, 15, 16]).get() == 15)
        #expect(throws: BackupError.self) { try PostgresTools.choose(serverMajor: 16, installed: [13, 15]).get() }
        if case .failure(let error) = PostgresTools.choose(serverMajor: 16, installed: [15]) {
            #expect(error.description.contains("PostgreSQL 16") && error.description.contains("only 15 installed"))
        }
    }
}

/// Bytes from memory, optionally failing part-way like a broken pipe.
final class MemorySource: ByteSource, @unchecked Sendable {
    let data: [UInt8]
    let failAfter: Int?
    /// A dump's pace: each MiB read takes this long (0: as fast as memory).
    let secondsPerMiB: Double
    var offset = 0
    init(_ data: [UInt8], failAfter: Int? = nil, secondsPerMiB: Double = 0) {
        self.data = data
        self.failAfter = failAfter
        self.secondsPerMiB = secondsPerMiB
    }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if let failAfter, offset >= failAfter { throw BackupError("the source broke") }
        if secondsPerMiB > 0 { usleep(useconds_t(secondsPerMiB * 1_000_000)) }
        let count = min(buffer.count, data.count - offset, 1 << 20)
        data.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
        offset += count
        return count
    }
}
