import Foundation
import MastiffClients
import MastiffCore
import MastiffExecutors
import MastiffTestSupport
import Testing

/// Backups through a fault-injecting TCP proxy in front of moto (Fixtures/backups/fault_proxy.py):
/// connections reset or stalled in the middle of a part.
@Suite(.serialized) struct BackupFaultTests {
    final class FaultProxy {
        let process = Process()
        let port: Int
        let errors = Pipe()

        init(mode: String, faults: Int, stallSeconds: Int = 30) throws {
            let moto = URL(string: try Harness.environment("MASTIFF_TEST_S3_ENDPOINT"))!
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = [Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/backups/fault_proxy.py", String(moto.port!), mode,
                                 String(faults), String(256 * 1024), String(stallSeconds)]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = errors
            try process.run()
            var line = Data()
            while !line.contains(UInt8(ascii: "\n")) {
                let byte = output.fileHandleForReading.readData(ofLength: 1)
                guard !byte.isEmpty else { throw HarnessError("the fault proxy did not start") }
                line.append(byte)
            }
            port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }

        var endpoint: String { "http://127.0.0.1:\(port)" }

        /// SIGKILL: the test runner's threads block SIGTERM, and children inherit that mask.
        func stop() {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }

        deinit { stop() }
    }

    static func dsn() throws -> String {
        try BackupIntegrationTests.database("backup_faults", """
            CREATE TABLE big AS SELECT g, md5(g::text) || md5((g * 3)::text) AS a, md5((g * 7)::text) AS b FROM generate_series(1, 250000) g
            """)
    }

    static func storage(through proxy: FaultProxy, lowSpeedSeconds: Int = 30) throws -> BackupStorage {
        var endpoint = try BackupIntegrationTests.endpoint()
        endpoint.url = proxy.endpoint
        var client = S3Client(endpoint: endpoint)
        client.backoff = .milliseconds(200)
        client.lowSpeedSeconds = lowSpeedSeconds
        return BackupStorage(client: client, prefix: "faults-\(UUID().uuidString.prefix(8))/", manifestKey: Array(BackupIntegrationTests.manifestKey.utf8))
    }

    /// Two parts reset mid-body: each is retried and the backup completes, byte for byte.
    @Test func resetPartsAreRetried() async throws {
        let dsn = try Self.dsn()
        let proxy = try FaultProxy(mode: "reset", faults: 2)
        let storage = try Self.storage(through: proxy)
        let manifest = try await PostgresBackup(storage: storage, conninfo: Secret(dsn), partSize: 5 << 20, host: "test-host", mastiffVersion: "test").run()
        #expect(manifest.parts >= 2)
        let path = try Harness.temporaryDirectory().appendingPathComponent("dump").path
        #expect(try BackupIntegrationTests.aws(["s3", "cp", "s3://mastiff-backups/\(manifest.dataKey)", path]).status == 0)
        #expect(try BackupIntegrationTests.sha256(ofFile: path) == manifest.sha256)
        proxy.stop()
        let log = String(decoding: proxy.errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(log.contains("faulting request 2"), "\(log)")
    }

    /// A part stalled mid-body: after low_speed_timeout (3 s here) the transfer is abandoned and
    /// retried; no upload hangs.
    @Test func stalledPartIsAbandonedAndRetried() async throws {
        let dsn = try Self.dsn()
        let proxy = try FaultProxy(mode: "stall", faults: 1, stallSeconds: 60)
        let storage = try Self.storage(through: proxy, lowSpeedSeconds: 3)
        let started = Date()
        let manifest = try await PostgresBackup(storage: storage, conninfo: Secret(dsn), partSize: 5 << 20, host: "test-host", mastiffVersion: "test").run()
        let elapsed = Date().timeIntervalSince(started)
        #expect(manifest.bytes > 0)
        #expect(elapsed >= 3 && elapsed < 30, "took \(elapsed) s")
    }

    /// pg_dump SIGKILLed mid-dump (what the OOM killer does): with a part stalled in flight so
    /// that the dump is surely mid-way, pg_dump is killed. The backup fails naming the signal and
    /// its likely sender, the multipart upload is aborted, and no manifest is written.
    @Test func pgDumpKilledMidDumpFailsNamingTheSignalAndAbortsTheUpload() async throws {
        let dsn = try Self.dsn()
        let proxy = try FaultProxy(mode: "stall", faults: 1, stallSeconds: 60)
        let storage = try Self.storage(through: proxy, lowSpeedSeconds: 3)
        let backup = Task { try await PostgresBackup(storage: storage, conninfo: Secret(dsn), partSize: 5 << 20, host: "test-host", mastiffVersion: "test").run() }
        // pg_dump, a child of this test process, once it has written more than a part.
        var pgDump: pid_t?
        for _ in 0..<200 where pgDump == nil {
            try await Task.sleep(for: .milliseconds(50))
            pgDump = Self.child(named: "pg_dump", writtenAtLeast: 6 << 20)
        }
        let pid = try #require(pgDump, "pg_dump did not start or write a part")
        kill(pid, SIGKILL)
        let result = await backup.result
        guard case .failure(let error) = result else { Issue.record("the backup succeeded with pg_dump killed"); return }
        #expect("\(error)".contains("pg_dump was killed by signal 9 (SIGKILL: the kernel's OOM killer"), "\(error)")
        #expect(try await storage.client.listMultipartUploads(prefix: storage.prefix).isEmpty, "the upload is aborted")
        #expect(try await storage.manifests().manifests.isEmpty)
    }

    /// A process this test started (directly or through nice/ionice) whose name is `name` and
    /// that has written at least `bytes`.
    static func child(named name: String, writtenAtLeast bytes: Int) -> pid_t? {
        for pid in Harness.children(of: getpid()) where Harness.command(of: pid) == name {
            let io = (try? String(contentsOfFile: "/proc/\(pid)/io", encoding: .utf8)) ?? ""
            let written = io.split(separator: "\n").first { $0.hasPrefix("wchar:") }.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
            if written >= bytes { return pid }
        }
        return nil
    }

    /// Every part reset: the agent gives up after its attempts, aborts the upload, writes no
    /// manifest, and BackupFailed fires; the error names the cause and no secret.
    @Test func givingUpAbortsAndBackupFailedFires() async throws {
        let dsn = try Self.dsn()
        let proxy = try FaultProxy(mode: "reset", faults: -1)
        let prefix = "faults-\(UUID().uuidString.prefix(8))/"
        let secret = try Harness.environment("MASTIFF_TEST_S3_SECRET_KEY")
        let config = try Harness.writeConfig(collectors: [:], """
            sampling: {interval: 1s}
            statsd: {enabled: false}
            backups:
              enabled: true
              manifest_key: \(BackupIntegrationTests.manifestKey)
              storage:
                endpoint: \(proxy.endpoint)
                bucket: mastiff-backups
                prefix: \(prefix)
                access_key_id: \(try Harness.environment("MASTIFF_TEST_S3_ACCESS_KEY"))
                secret_access_key: "\(secret)"
                part_size: 5MiB
                attempts: 2
              postgres:
                schedule: "@yearly"
                dsn: "\(dsn)"

            """)
        let agent = try RunningMastiff(arguments: ["--config", config])
        let run = try Harness.run(Harness.binary, ["backup", "run", "--config", config])
        #expect(run.status == 1)
        #expect(run.stdout.contains("failure"), "\(run.stdout)\(run.stderr)")
        #expect(!run.stdout.contains(secret) && !agent.log.contains(secret))
        let storage = try BackupIntegrationTests.storage(prefix)
        #expect(try await storage.manifests().manifests.isEmpty)
        #expect(try await storage.client.listMultipartUploads(prefix: prefix).isEmpty)
        let text = try await agent.metrics(sampledAfter: Date()).text
        #expect(sampleValue(text, "mastiff_backup_last_run_successful{target=\"postgres\"}") == 0)
        #expect(try await agent.reaches("mastiff_alerts{alertname=\"BackupFailed\",severity=\"critical\",state=\"firing\"}", 1))
    }
}
