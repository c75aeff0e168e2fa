import Foundation
import MastiffAgent
import MastiffClients
import MastiffCore
import MastiffExecutors
import MastiffTestSupport
import Testing

/// Scheduled work in running agents, against the shared PostgreSQL and moto (signature checks on).
@Suite(.serialized) struct BackupAgentTests {
    static func backupsSection(prefix: String, schedule: String, partSize: String = "5MiB", database: String = "backup_cluster") throws -> String {
        """
        backups:
          enabled: true
          manifest_key: \(BackupIntegrationTests.manifestKey)
          storage:
            endpoint: \(try Harness.environment("MASTIFF_TEST_S3_ENDPOINT"))
            bucket: \(try Harness.environment("MASTIFF_TEST_S3_BUCKET"))
            prefix: \(prefix)
            access_key_id: \(try Harness.environment("MASTIFF_TEST_S3_ACCESS_KEY"))
            secret_access_key: "\(try Harness.environment("MASTIFF_TEST_S3_SECRET_KEY"))"
            part_size: \(partSize)
          postgres:
            schedule: "\(schedule)"
            dsn: "\(try Harness.environment("MASTIFF_TEST_PG_DSN").replacingOccurrences(of: "dbname=postgres", with: "dbname=\(database)"))"

        """
    }

    /// Two agents with the same every-minute schedule against one PostgreSQL: the advisory lock
    /// lets exactly one back up, the other counts a skip. The first agent also runs a job that
    /// outlives its 2 s timeout: it is stopped and JobFailed fires.
    @Test func twoAgentsMakeExactlyOneBackupAndATimedOutJobFails() async throws {
        _ = try BackupIntegrationTests.database("backup_cluster", "CREATE TABLE t AS SELECT g FROM generate_series(1, 100000) g")
        let prefix = "cluster-\(UUID().uuidString.prefix(8))/"
        // One slot only: the next whole minute (UTC) at least 15 s away.
        let slot = CalendarTime.utc(((Date().timeIntervalSince1970 + 15) / 60).rounded(.up) * 60)
        let schedule = "\(slot.minute) \(slot.hour) * * *"
        let backups = try Self.backupsSection(prefix: prefix, schedule: schedule) + "  time_zone: UTC\n"
        let job = """
        jobs:
          - {name: slow, schedule: "\(schedule)", command: [/bin/sleep, "30"], timeout: 2s, kill_grace: 1s}

        """
        let first = try RunningMastiff(arguments: ["--config", try Harness.writeConfig(collectors: [:], "sampling: {interval: 1s}\nstatsd: {enabled: false}\n" + backups + job)])
        let second = try RunningMastiff(arguments: ["--config", try Harness.writeConfig(collectors: [:], "sampling: {interval: 1s}\nstatsd: {enabled: false}\n" + backups)])
        let storage = try BackupIntegrationTests.storage(prefix)
        // The next minute boundary, plus time for both runs.
        let deadline = Date().addingTimeInterval(100)
        var done = false
        var texts: [String] = []
        while Date() < deadline {
            texts = []
            for agent in [first, second] { texts.append(try await agent.metrics(sampledAfter: Date()).text) }
            let settled = texts.map { text in
                (sampleValue(text, "mastiff_backups_total{target=\"postgres\",result=\"success\"}") ?? 0)
                    + (sampleValue(text, "mastiff_backups_total{target=\"postgres\",result=\"skipped\"}") ?? 0)
            }
            let jobDone = sampleValue(texts[0], "mastiff_job_last_run_successful{job=\"slow\"}") != nil
            if settled.allSatisfy({ $0 >= 1 }) && jobDone { done = true; break }
            try await Task.sleep(for: .seconds(1))
        }
        #expect(done, "both agents did not settle within 100 s:\n\(first.log)\n\(second.log)")
        let successes = texts.map { sampleValue($0, "mastiff_backups_total{target=\"postgres\",result=\"success\"}") ?? 0 }
        let skips = texts.map { sampleValue($0, "mastiff_backups_total{target=\"postgres\",result=\"skipped\"}") ?? 0 }
        #expect(successes.reduce(0, +) == 1 && skips.reduce(0, +) == 1, "successes \(successes), skips \(skips)\n\(first.log)\n\(second.log)")
        let manifests = try await storage.manifests().manifests
        #expect(manifests.count == 1)
        #expect(first.log.contains("skipped") || second.log.contains("skipped"))
        // The job: stopped at its timeout, counted, and JobFailed fires.
        let after = try await first.metrics(sampledAfter: Date()).text
        #expect(sampleValue(after, "mastiff_job_last_run_successful{job=\"slow\"}") == 0)
        #expect(sampleValue(after, "mastiff_job_runs_total{job=\"slow\",result=\"timeout\"}") == 1)
        #expect(try await first.reaches("mastiff_alerts{alertname=\"JobFailed\",severity=\"warning\",state=\"firing\"}", 1))
        #expect(first.log.contains("timed out after"))
        #expect(try Harness.promtoolProblems(after).isEmpty)
    }

    /// mastiff killed (SIGKILL) in the middle of an upload leaves a multipart upload behind; the
    /// next agent start on this host aborts it, and the next backup succeeds. Nothing is written to
    /// TMPDIR or the state directory while the backup runs.
    @Test func orphanedUploadIsAbortedAtStartAndNextBackupSucceeds() async throws {
        _ = try BackupIntegrationTests.database("backup_cluster", """
            CREATE TABLE big AS SELECT g, md5(g::text) || md5((g * 3)::text) AS a, md5((g * 7)::text) AS b FROM generate_series(1, 600000) g
            """)
        let prefix = "orphan-\(UUID().uuidString.prefix(8))/"
        let directory = try Harness.temporaryDirectory().path
        let config = try Harness.writeConfig(collectors: [:], "statsd: {enabled: false}\n" + (try Self.backupsSection(prefix: prefix, schedule: "@yearly")))
        let storage = try BackupIntegrationTests.storage(prefix)
        let stateDirectory = try String(contentsOfFile: config, encoding: .utf8).split(separator: "\n")
            .first { $0.hasPrefix("state_dir: ") }.map { String($0.dropFirst("state_dir: ".count)) } ?? ""
        let pid = try Harness.spawn(Harness.binary, ["backup", "run", "--standalone", "--config", config], log: directory + "/run.log")
        // Kill it as soon as an upload is in progress.
        var killed = false
        for _ in 0..<300 {
            if try await !storage.client.listMultipartUploads(prefix: prefix).isEmpty {
                kill(pid, SIGKILL)
                killed = true
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        #expect(killed, "no multipart upload appeared: \((try? String(contentsOfFile: directory + "/run.log", encoding: .utf8)) ?? "")")
        #expect(try await storage.client.listMultipartUploads(prefix: prefix).count == 1)
        #expect(try await storage.manifests().manifests.isEmpty)

        // The agent's TMPDIR is a fresh empty directory: it must stay empty through the backup.
        let tmp = try Harness.temporaryDirectory().path
        let agent = try RunningMastiff(arguments: ["--config", config], environment: ["TMPDIR": tmp])
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, try await !storage.client.listMultipartUploads(prefix: prefix).isEmpty { try await Task.sleep(for: .milliseconds(200)) }
        #expect(try await storage.client.listMultipartUploads(prefix: prefix).isEmpty)
        #expect(agent.log.contains("aborted an unfinished backup upload"))

        // The next backup, through the running agent; TMPDIR and the state directory do not grow.
        func size(_ path: String) throws -> Int {
            Int(try Harness.run("/usr/bin/du", ["-sb", path]).stdout.split(separator: "\t").first ?? "0") ?? 0
        }
        let run = try Harness.run(Harness.binary, ["backup", "run", "--config", config])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("queued in the running agent"))
        let manifests = try await storage.manifests().manifests
        #expect(manifests.count == 1 && manifests[0].parts >= 2, "\(manifests)")
        #expect(try size(stateDirectory) < 1 << 20)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp).isEmpty)
        let stateFiles = try FileManager.default.contentsOfDirectory(atPath: stateDirectory)
        #expect(stateFiles.allSatisfy { $0.hasPrefix("state.json") || $0 == "lock" }, "\(stateFiles)")
        _ = agent
    }

    /// "Actions that trust nothing", item 8: when the agent holding the cluster lock died
    /// mid-backup, the other had already skipped the slot, and the slot's backup never
    /// happened. The skipped agent looks again (30 s at the least) and makes it. The dead
    /// holder is a psql session holding the task's advisory lock, killed after the slot.
    @Test func aSlotWhoseLockHolderDiedIsBackedUpByTheAgentThatSkipped() async throws {
        _ = try BackupIntegrationTests.database("backup_recheck", "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
        let prefix = "recheck-\(UUID().uuidString.prefix(8))/"
        let slot = CalendarTime.utc(((Date().timeIntervalSince1970 + 15) / 60).rounded(.up) * 60)
        let backups = try Self.backupsSection(prefix: prefix, schedule: "\(slot.minute) \(slot.hour) * * *", database: "backup_recheck") + "  time_zone: UTC\n"
        let directory = try Harness.temporaryDirectory().path
        let holder = try await Harness.HeldSession(database: "backup_recheck", statements: ["SELECT pg_advisory_lock(hashtext('mastiff:backup/postgres'))"],
                                                   log: directory + "/holder.log")
        defer { holder.release() }
        let agent = try RunningMastiff(arguments: ["--config", try Harness.writeConfig(collectors: [:], "sampling: {interval: 1s}\nstatsd: {enabled: false}\n" + backups)])
        let skipped = Date().addingTimeInterval(100)
        while Date() < skipped, !agent.log.contains("will check that the lock holder made this slot's backup") { try await Task.sleep(for: .seconds(1)) }
        #expect(agent.log.contains("skipped: another agent of the cluster holds the lock"), "\(agent.log)")
        // The holder dies without a backup.
        holder.release()
        let storage = try BackupIntegrationTests.storage(prefix)
        let made = Date().addingTimeInterval(60)
        while Date() < made, try await storage.manifests().manifests.isEmpty { try await Task.sleep(for: .seconds(1)) }
        let manifests = try await storage.manifests().manifests
        #expect(manifests.count == 1, "the slot's backup was made after the recheck: \(agent.log.suffix(1500))")
        _ = try Harness.psql(["-c", "DROP DATABASE backup_recheck WITH (FORCE)"])
    }

    /// An agent SIGKILLed mid-backup (the OOM killer) where nothing stops the service's whole
    /// cgroup (supervisor, a container without an init) leaves its pg_dump running. The pg_dump
    /// used to hold the agent's listening socket (every child inherited it), so the agent could
    /// not start again on its port until the dump ended. It now starts at once.
    @Test func anAgentKilledMidBackupStartsAgainOnItsPortWhileItsPgDumpLingers() async throws {
        _ = try BackupIntegrationTests.database("backup_orphan", "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
        defer { _ = try? Harness.psql(["-c", "DROP DATABASE backup_orphan WITH (FORCE)"]) }
        let directory = try Harness.temporaryDirectory().path
        // A migration holds the table, so the dump waits behind it.
        let migration = try await Harness.HeldSession(database: "backup_orphan", statements: ["BEGIN", "LOCK TABLE t IN ACCESS EXCLUSIVE MODE"],
                                                      log: directory + "/migration.log")
        var pgDump: pid_t?
        defer {
            migration.release()
            if let pgDump { kill(pgDump, SIGKILL) }
        }
        let port = try AlertingIntegrationTests.HealthServer.freePort()
        let prefix = "orphan-\(UUID().uuidString.prefix(8))/"
        let config = try Harness.writeConfig("""
            listen: 127.0.0.1:\(port)
            state_dir: \(directory)/state
            control_socket: \(directory)/control.sock
            collectors: {processes: {enabled: false}, postgres: {enabled: false}, redis: {enabled: false}, sidekiq: {enabled: false}}
            statsd: {enabled: false}

            """ + (try Self.backupsSection(prefix: prefix, schedule: "0 0 1 1 *", database: "backup_orphan")))
        let agent = try RunningMastiff(arguments: ["--config", config])
        let queued = try ControlClient.request(.object(["command": .string("backup_run"), "target": .string("postgres")]), socket: directory + "/control.sock")
        #expect(queued["ok"] != .bool(false), "\(queued)")
        // Its pg_dump, waiting for the table: a backend of pg_dump's waiting on a lock, so past
        // importing the agent's snapshot (a pg_dump killed with its agent before that exits on
        // its own, as the snapshot goes with the agent's session).
        var waiting = false
        for _ in 0..<100 where !waiting {
            try await Task.sleep(for: .milliseconds(100))
            waiting = (try? Harness.psql(["-c", "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'"])) == "1"
        }
        #expect(waiting, "the agent's pg_dump is not waiting for the table: \(agent.log)")
        pgDump = Harness.children(of: agent.process.processIdentifier).first { Harness.command(of: $0) == "pg_dump" }
        let dump = try #require(pgDump, "the agent's pg_dump did not start: \(agent.log)")
        agent.signal(SIGKILL)
        #expect(Harness.isRunning(dump), "the pg_dump outlives its agent")
        let again = try? RunningMastiff(arguments: ["--config", config])
        #expect(again?.port == port, "the agent is back on its port while the old pg_dump still waits")
        #expect(Harness.isRunning(dump))
        // The migration ends; the orphan finds its reader gone and exits, without a manifest.
        migration.release()
        let gone = Date().addingTimeInterval(20)
        while Harness.isRunning(dump), Date() < gone { try await Task.sleep(for: .milliseconds(200)) }
        #expect(!Harness.isRunning(dump), "the orphaned pg_dump exited once the table was free")
        #expect(try await BackupIntegrationTests.storage(prefix).manifests().manifests.isEmpty, "the orphan made no manifest")
        // Until here: releasing the first agent waits for its exit, which Foundation's Process
        // sees only once every holder of the descriptor it watches has gone.
        withExtendedLifetime(agent) {}
    }
}
