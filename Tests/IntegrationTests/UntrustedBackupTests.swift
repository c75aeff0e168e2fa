import Foundation
@testable import MastiffClients
import MastiffCore
import MastiffExecutors
import MastiffPolicies
import Testing

/// "Actions that trust nothing", backups: what mastiff reads back from a bucket is input from
/// whoever can write to it. Against the shared PostgreSQL and moto (signature checks on), with
/// manifests written by hand as such a person would.
@Suite(.serialized) struct UntrustedBackupTests {
    static func backup(_ database: String, rows: Int, storage: BackupStorage) async throws -> BackupManifest {
        let dsn = try BackupIntegrationTests.database(database, "CREATE TABLE accounts (id int PRIMARY KEY, name text); INSERT INTO accounts SELECT g, 'user ' || g FROM generate_series(1, \(rows)) g;")
        var backup = PostgresBackup(storage: storage, conninfo: Secret(dsn), partSize: 5 << 20, host: "test-host", mastiffVersion: "test")
        backup.countedTables = 5
        return try await backup.run()
    }

    static func restorer(_ storage: BackupStorage) throws -> PostgresRestore {
        PostgresRestore(reader: BackupReader(storage: storage, identities: []), conninfo: Secret(try Harness.environment("MASTIFF_TEST_PG_DSN")))
    }

    static func config(prefix: String, database: String, extra: String = "") throws -> String {
        try Harness.writeConfig(collectors: [:], "statsd: {enabled: false}\n"
            + BackupAgentTests.backupsSection(prefix: prefix, schedule: "@yearly", database: database) + extra)
    }

    /// Item 1: a manifest's row_counts key ran as SQL in the drill (a superuser was created, a
    /// shell command ran as postgres, and the drill said ok). Even a manifest signed with the
    /// cluster's key (a leaked key) cannot: tables come from the restored catalogue.
    @Test func aDrillNeverRunsSQLFromAManifest() async throws {
        let storage = try BackupIntegrationTests.storage()
        var manifest = try await Self.backup("untrusted_drill", rows: 100, storage: storage)
        #expect(manifest.rowCounts["public.accounts"] == 100)
        let marker = try Harness.temporaryDirectory().path + "/pwned"
        manifest.rowCounts["public.accounts; CREATE ROLE pwned SUPERUSER LOGIN; COPY (SELECT 1) TO PROGRAM 'touch \(marker)'; SELECT count(*) FROM public.accounts"] = 100
        try await storage.writeManifest(manifest)
        let signed = try await storage.find(manifest.dataKey)
        #expect(signed.authenticated)
        await #expect { _ = try await Self.restorer(storage).drill(signed, scratch: "untrusted_drill_scratch") } throws: { error in
            "\(error)".contains("is not in the restored database")
        }
        #expect(try Harness.psql(["-c", "SELECT count(*) FROM pg_roles WHERE rolname = 'pwned'"]) == "0")
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(try Harness.psql(["-c", "SELECT count(*) FROM pg_database WHERE datname = 'untrusted_drill_scratch' OR datname LIKE 'mastiff_restore_%'"]) == "0")
        _ = try Harness.psql(["-c", "DROP DATABASE untrusted_drill WITH (FORCE)"])
    }

    /// Items 2 and 3: someone who can write to the bucket but holds no manifest key forges
    /// manifests — one naming the newest real backup's data (to have it pruned), future-dated
    /// ones (to crowd out retention and make schedules skip), absurd numbers (to crash `list`,
    /// `prune` and doctor). None of them counts; nothing real is deleted; nothing crashes.
    @Test func forgedManifestsCountForNothingAndDeleteNothing() async throws {
        let prefix = "untrusted-\(UUID().uuidString.prefix(8))/"
        let storage = try BackupIntegrationTests.storage(prefix)
        let older = try await Self.backup("untrusted_forge", rows: 50, storage: storage)
        try await Task.sleep(for: .seconds(1.1))
        let newest = try await Self.backup("untrusted_forge", rows: 60, storage: storage)
        let client = storage.client
        func put(_ key: String, _ text: String) async throws { try await client.put(key: key, body: Array(text.utf8), contentType: "application/json") }
        // (a) A copy of the newest manifest, stored under another key: it names another's data.
        var stolen = newest
        stolen.sha256 = newest.sha256
        try await put(prefix + "postgres/29990101T000000Z-evil.pgdump" + BackupManifest.suffix, newest.json(signature: storage.signature(newest)))
        // (b) Future-dated, well-formed but unsigned manifests with data of their own.
        for year in [2030, 2031, 2032] {
            var forged = newest
            forged.dataKey = prefix + "postgres/\(year)0101T000000Z-evil.pgdump"
            forged.startedAt = Double(year - 1970) * 365.25 * 86400
            forged.finishedAt = forged.startedAt + 1
            try await put(forged.dataKey, "not a dump")
            try await put(forged.manifestKey, forged.json())
        }
        // (c) A well-formed unsigned manifest in the past, and numbers out of Int's range.
        var unsigned = older
        unsigned.dataKey = prefix + "postgres/20210101T000000Z-evil.pgdump"
        try await put(unsigned.dataKey, "not a dump")
        try await put(unsigned.manifestKey, unsigned.json())
        var huge = older
        huge.dataKey = prefix + "postgres/20200101T000000Z-evil.pgdump"
        try await put(huge.manifestKey, huge.signedText().replacing("\"bytes\":\(huge.bytes)", with: "\"bytes\":1e19"))
        let config = try Self.config(prefix: prefix, database: "untrusted_forge", extra: "  retention: {keep_last: 1, daily: 0, weekly: 0, monthly: 0}\n")

        let list = try Harness.run(Harness.binary, ["backup", "list", "--config", config])
        #expect(list.status == 0, "\(list.stdout)\(list.stderr)")
        #expect(list.stdout.contains(newest.dataKey) && list.stdout.contains(older.dataKey) && !list.stdout.contains("evil"), "\(list.stdout)")
        #expect(list.stderr.contains("data_key does not name this manifest's own data"), "\(list.stderr)")
        #expect(list.stderr.contains("2031") && list.stderr.contains("dated in the future"), "\(list.stderr)")
        #expect(list.stderr.contains("20210101T000000Z-evil.pgdump.manifest.json: not signed with this cluster's manifest key"), "\(list.stderr)")
        #expect(list.stderr.contains("'bytes' is not a whole number"), "\(list.stderr)")

        let prune = try Harness.run(Harness.binary, ["backup", "prune", "--config", config])
        #expect(prune.status == 0, "\(prune.stdout)\(prune.stderr)")
        let objects = try await client.list(prefix: prefix).map(\.key)
        #expect(objects.contains(newest.dataKey) && objects.contains(newest.manifestKey), "the newest real backup survives: \(objects)")
        #expect(!objects.contains(older.dataKey), "retention (keep_last 1) pruned the older real one")
        #expect(objects.filter { $0.contains("evil") }.count == 10, "nothing named by a forged manifest was touched: \(objects)")
        let verify = try Harness.run(Harness.binary, ["backup", "verify", "latest", "--config", config])
        #expect(verify.status == 0 && verify.stdout.contains(newest.dataKey), "\(verify.stdout)\(verify.stderr)")
        let doctor = try Harness.run(Harness.binary, ["doctor", "--config", config])
        #expect(doctor.status <= 1, "no crash: \(doctor.stderr.suffix(300))")
        let backupFinding = doctor.stdout.split(separator: "\n").filter { $0.contains("backup") }.joined(separator: "\n")
        #expect(backupFinding.contains("newest good backup 0 h old"), "the newest real backup's age, not a forged one's: \(backupFinding)")
        var scan = SecretScan.ofTestServices()
        for (name, result) in [("backup list", list), ("backup prune", prune), ("backup verify", verify), ("doctor", doctor)] { scan.add(name, result) }
        scan.addCommandLines()
        #expect(scan.leaks().isEmpty, "\(scan.leaks())")
        _ = try Harness.psql(["-c", "DROP DATABASE untrusted_forge WITH (FORCE)"])
    }

    /// Item 4: the SHA-256 was checked after the whole stream went into pg_restore, so a
    /// tampered backup with --force left the target half-replaced. Now the target changes only
    /// after a checked, complete restore; the fresh database of a failed one is dropped.
    @Test func aTamperedBackupLeavesTheTargetAsItWas() async throws {
        let storage = try BackupIntegrationTests.storage()
        let manifest = try await Self.backup("untrusted_restore_source", rows: 2000, storage: storage)
        // Same length, other bytes: only the SHA-256 can tell.
        var body = try await storage.client.get(key: manifest.dataKey)
        body[body.count / 2] ^= 0xFF
        try await storage.client.put(key: manifest.dataKey, body: body, contentType: "application/octet-stream")
        _ = try BackupIntegrationTests.database("untrusted_target", "CREATE TABLE precious (id int); INSERT INTO precious VALUES (42);")
        let restorer = try Self.restorer(storage)
        for jobs in [1, 2] {
            await #expect { try await restorer.restore(manifest, into: "untrusted_target", jobs: jobs, force: true) } throws: { error in
                "\(error)".contains("SHA-256") || "\(error)".contains("differs from the manifest")
            }
            #expect(try Harness.psql(database: "untrusted_target", ["-c", "SELECT id FROM precious"]) == "42", "the target is untouched (jobs \(jobs))")
        }
        #expect(try Harness.psql(["-c", "SELECT count(*) FROM pg_database WHERE datname LIKE 'mastiff_restore_%'"]) == "0")
        // The server's own databases and the backed-up one are refused without --force.
        for target in ["postgres", "template1", "untrusted_restore_source"] {
            await #expect { try await restorer.restore(manifest, into: target) } throws: { "\($0)".contains("refusing to restore into \(target)") }
        }
        _ = try Harness.psql(["-c", "DROP DATABASE untrusted_target WITH (FORCE)"])
        _ = try Harness.psql(["-c", "DROP DATABASE untrusted_restore_source WITH (FORCE)"])
    }

    /// A good backup restored with --force over a non-empty database replaces it whole; with
    /// --jobs the spool is in a private directory under TMPDIR, and gone afterwards.
    @Test func aForcedRestoreReplacesTheTargetAndLeavesNoSpool() async throws {
        let storage = try BackupIntegrationTests.storage()
        let manifest = try await Self.backup("untrusted_good_source", rows: 3000, storage: storage)
        _ = try BackupIntegrationTests.database("untrusted_good_target", "CREATE TABLE old (id int);")
        let spool = try Harness.temporaryDirectory().path
        try await Self.restorer(storage).restore(manifest, into: "untrusted_good_target", jobs: 2, force: true, spoolDirectory: spool)
        #expect(try Harness.psql(database: "untrusted_good_target", ["-c", "SELECT count(*) FROM accounts"]) == "3000")
        #expect(try Harness.psql(database: "untrusted_good_target", ["-c", "SELECT count(*) FROM pg_tables WHERE tablename = 'old'"]) == "0")
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool).isEmpty)
        _ = try Harness.psql(["-c", "DROP DATABASE untrusted_good_target WITH (FORCE)"])
        _ = try Harness.psql(["-c", "DROP DATABASE untrusted_good_source WITH (FORCE)"])
    }

    /// A restore with --jobs spooling to a full TMPDIR (a 64 KiB tmpfs, filled): it fails naming
    /// the spool file and the full disk, the target database is as it was, the fresh database is
    /// dropped and the spool removed.
    @Test func aRestoreSpoolingToAFullDiskLeavesTheTargetAsItWas() async throws {
        let storage = try BackupIntegrationTests.storage()
        let manifest = try await Self.backup("untrusted_full_source", rows: 3000, storage: storage)
        _ = try BackupIntegrationTests.database("untrusted_full_target", "CREATE TABLE old (id int); INSERT INTO old VALUES (42);")
        let spool = try Harness.temporaryDirectory().path
        try Harness.mountSmallDisk(at: spool, size: "64k")
        defer { umount2(spool, Int32(MNT_DETACH)) }
        Harness.fill(spool)
        await #expect { try await Self.restorer(storage).restore(manifest, into: "untrusted_full_target", jobs: 2, force: true, spoolDirectory: spool) } throws: {
            "\($0)".contains(spool) && "\($0)".contains("No space left on device")
        }
        #expect(try Harness.psql(database: "untrusted_full_target", ["-c", "SELECT id FROM old"]) == "42")
        #expect(try Harness.psql(["-c", "SELECT count(*) FROM pg_database WHERE datname LIKE 'mastiff_restore_%'"]) == "0")
        #expect(try FileManager.default.contentsOfDirectory(atPath: spool) == ["filler"])
        _ = try Harness.psql(["-c", "DROP DATABASE untrusted_full_target WITH (FORCE)"])
        _ = try Harness.psql(["-c", "DROP DATABASE untrusted_full_source WITH (FORCE)"])
    }

    /// Item 6: drill.scratch_database could name the live database, which the drill dropped.
    @Test func theDrillsScratchDatabaseIsNeverOneThatHoldsAnythingElse() async throws {
        let live = try Self.config(prefix: "x/", database: "mastodon_live", extra: "  drill: {scratch_database: mastodon_live}\n")
        let check = try Harness.run(Harness.binary, ["check-config", "--config", live])
        #expect(check.status == 1 && check.stderr.contains("backups.drill.scratch_database: 'mastodon_live' is the database that is backed up"), "\(check.stderr)")
        let storage = try BackupIntegrationTests.storage()
        let manifest = try await Self.backup("untrusted_scratch_source", rows: 10, storage: storage)
        _ = try BackupIntegrationTests.database("untrusted_precious", "CREATE TABLE keep (id int); INSERT INTO keep VALUES (7);")
        await #expect { _ = try await Self.restorer(storage).drill(manifest, scratch: "untrusted_precious") } throws: { "\($0)".contains("was not made by a drill") }
        #expect(try Harness.psql(database: "untrusted_precious", ["-c", "SELECT id FROM keep"]) == "7")
        // A drill's own scratch database is dropped and made again at the next drill.
        let report = try await Self.restorer(storage).drill(manifest, scratch: "untrusted_scratch")
        #expect(report.compared.first?.restored == 10)
        _ = try Harness.psql(["-c", "DROP DATABASE untrusted_precious WITH (FORCE)"])
        _ = try Harness.psql(["-c", "DROP DATABASE untrusted_scratch_source WITH (FORCE)"])
    }

    /// Without backups.manifest_key, the first backup command makes state_dir/backup-manifest.key:
    /// 0600, and owned by the state directory's owner (the agent's user) even when root made it.
    @Test func theLocalManifestKeyBelongsToTheAgentsUser() throws {
        let config = try Harness.writeConfig(collectors: [:], "statsd: {enabled: false}\n"
            + BackupAgentTests.backupsSection(prefix: "key-\(UUID().uuidString.prefix(8))/", schedule: "@yearly")
                .replacingOccurrences(of: "  manifest_key: \(BackupIntegrationTests.manifestKey)\n", with: ""))
        let stateDirectory = try HostileInputTests.stateDirectory(of: config)
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        #expect(chown(stateDirectory, 65534, 65534) == 0)
        let list = try Harness.run(Harness.binary, ["backup", "list", "--config", config])
        #expect(list.status == 0, "\(list.stdout)\(list.stderr)")
        let attributes = try FileManager.default.attributesOfItem(atPath: stateDirectory + "/backup-manifest.key")
        #expect(attributes[.posixPermissions] as? Int == 0o600)
        #expect((attributes[.ownerAccountID] as? NSNumber)?.intValue == 65534, "\(attributes)")
    }

    // MARK: A hostile or broken S3 (item 7)

    /// hostile_s3.py on a free port: listings that loop, never end, are garbage or drip.
    final class HostileS3 {
        let pid: pid_t
        let port: Int
        init(_ mode: String) throws {
            port = try AlertingIntegrationTests.HealthServer.freePort()
            pid = try Harness.spawn("/usr/bin/python3", [Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/backups/hostile_s3.py", String(port), mode],
                                    log: try Harness.temporaryDirectory().path + "/hostile.log")
            guard Harness.waitForListener(port: port) else { throw HarnessError("hostile_s3.py did not start") }
        }
        deinit {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        func client() -> S3Client {
            var client = S3Client(endpoint: S3Endpoint(url: "http://127.0.0.1:\(port)", region: "us-east-1", bucket: "b", pathStyle: true,
                                                       accessKeyID: "k", secretAccessKey: Secret("s")))
            client.attempts = 1
            return client
        }
    }

    @Test func listingsThatLoopNeverEndOrAreGarbageStopWithAnError() async throws {
        let loop = try HostileS3("loop")
        await #expect { _ = try await loop.client().list(prefix: "p/") } throws: { "\($0)".contains("repeats a continuation token") }
        await #expect { _ = try await loop.client().listMultipartUploads(prefix: "p/") } throws: { "\($0)".contains("repeats a continuation token") }
        let endless = try HostileS3("endless")
        let started = ContinuousClock.now
        await #expect { _ = try await endless.client().list(prefix: "p/") } throws: { "\($0)".contains("more than 200000 entries") }
        #expect(ContinuousClock.now - started < .seconds(120))
        let garbage = try HostileS3("garbage")
        await #expect { _ = try await garbage.client().list(prefix: "p/") } throws: { "\($0)".contains("not a ListBucketResult") }
        // Through the CLI, garbage is an error, not "no backups".
        let config = try Harness.writeConfig(collectors: [:], """
        statsd: {enabled: false}
        backups:
          enabled: true
          manifest_key: \(BackupIntegrationTests.manifestKey)
          storage: {endpoint: "http://127.0.0.1:\(garbage.port)", bucket: bucket, access_key_id: k, secret_access_key: s, attempts: 1}
        """)
        let list = try Harness.run(Harness.binary, ["backup", "list", "--config", config])
        #expect(list.status != 0 && list.stderr.contains("not a ListBucketResult") && !list.stdout.contains("no backups"), "\(list.stdout)\(list.stderr)")
    }

    @Test func aDrippingAnswerEndsAtTheRequestTimeout() async throws {
        let drip = try HostileS3("drip")
        var client = drip.client()
        client.requestTimeoutSeconds = 2
        let started = ContinuousClock.now
        await #expect { _ = try await client.list(prefix: "p/") } throws: { "\($0)".contains("imeout") || "\($0)".contains("timed out") }
        #expect(ContinuousClock.now - started < .seconds(10), "a 2 KB/s answer stays above the low-speed limit; the request timeout ends it")
    }

    /// Item 17: doctor's media-bucket probe followed any scheme from .env.production (gopher://
    /// wrote into Redis) and sent URL credentials. Only http(s), without credentials.
    @Test func doctorProbesOnlyPlainHTTPMediaBuckets() async throws {
        let directory = try Harness.temporaryDirectory().path
        let env = directory + "/.env.production"
        let redisPort = try Harness.environment("MASTIFF_TEST_REDIS_PORT")
        try "S3_ENABLED=true\nS3_BUCKET=media\nS3_ENDPOINT=gopher://127.0.0.1:\(redisPort)/_SET%20mastiff_pwned%201\n".write(toFile: env, atomically: true, encoding: .utf8)
        let config = try Harness.writeConfig(collectors: [:], "statsd: {enabled: false}\ninstance: {env_file: \(env)}\n")
        let doctor = try Harness.run(Harness.binary, ["doctor", "--config", config])
        #expect(doctor.stdout.contains("not a plain http(s) address"), "\(doctor.stdout)")
        let redis = try Harness.run("/usr/bin/redis-cli", ["-p", redisPort, "EXISTS", "mastiff_pwned"])
        #expect(redis.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        // Credentials in an http URL are not sent.
        let hook = try NotificationIntegrationTests.RecordingServer(statuses: "403")
        try "S3_ENABLED=true\nS3_BUCKET=media\nS3_ENDPOINT=http://user:s3cr3t-media@127.0.0.1:\(hook.port)\nAWS_SECRET_ACCESS_KEY=media-secret-2718\n"
            .write(toFile: env, atomically: true, encoding: .utf8)
        let withCredentials = try Harness.run(Harness.binary, ["doctor", "--config", config])
        let request = try #require(hook.requests().first)
        #expect((request["headers"] as? [String: String])?["authorization"] == nil)
        var scan = SecretScan(["the endpoint's password": "s3cr3t-media", "the media bucket's secret key": "media-secret-2718"])
        scan.add("doctor", withCredentials)
        scan.add("the request doctor sent", "\(request)")
        #expect(scan.leaks().isEmpty, "\(scan.leaks())")
    }
}
