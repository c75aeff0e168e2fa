import Foundation
import Logging
import MastiffAgent
import MastiffCore
@testable import MastiffExecutors
import MastiffPolicies
import MastiffTestSupport
import Testing

/// "Actions that trust nothing", jobs and tools: secrets never on a command line other users
/// can read, mastiff's own environment never passed on, and a job stopped whole (items 14–16).
@Suite(.serialized) struct UntrustedActionsTests {
    /// Every process's command line on this host, as any local user sees it in `ps`.
    static func commandLines() -> [String] {
        Harness.processes().compactMap { pid in
            (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))).map { String(decoding: $0, as: UTF8.self).replacingOccurrences(of: "\0", with: " ") }
        }
    }

    static func processes(containing marker: String) -> Int { commandLines().filter { $0.contains(marker) }.count }

    /// Item 14: with `user:`, environment values went onto setpriv's and env's command lines;
    /// without, a job inherited mastiff's whole environment (S3 secrets included).
    @Test func aJobsEnvironmentIsInExecveNotArgvAndMastiffsIsNotPassedOn() async throws {
        setenv("MASTIFF_FAKE_S3_SECRET", "s3-secret-4711", 1)
        defer { unsetenv("MASTIFF_FAKE_S3_SECRET") }
        var job = JobSpec(name: "env", schedule: "@daily", command: ["/usr/bin/env"])
        job.environment = ["JOB_TOKEN": "tok-123"]
        let own = try await JobRunner().run(job)
        #expect(own.output.contains("JOB_TOKEN=tok-123") && own.output.contains("PATH="), "\(own.output)")
        #expect(!own.output.contains("s3-secret-4711"), "mastiff's environment is not passed on")

        var asNobody = JobSpec(name: "nobody", schedule: "@daily", command: ["/bin/sh", "-c", "sleep 2; echo token=$JOB_TOKEN user=$USER"])
        asNobody.user = "nobody"
        asNobody.environment = ["JOB_TOKEN": "tok-789"]
        async let outcome = JobRunner().run(asNobody)
        try await Task.sleep(for: .milliseconds(800))
        var scan = SecretScan(["the job's variable": "tok-789", "mastiff's own S3 secret": "s3-secret-4711"])
        scan.addCommandLines()
        #expect(scan.leaks().isEmpty, "no command line holds the value: \(scan.leaks())")
        let result = try await outcome
        #expect(result.output.contains("token=tok-789 user=nobody"), "\(result.output)")
    }

    /// Item 15: `sslpassword=` stayed on pg_dump's and psql's command lines. Secrets go to
    /// PGPASSWORD and a private service file; a real backup with both still connects.
    @Test func noSecretOfADSNReachesAToolsCommandLine() async throws {
        let dsn = try Harness.environment("MASTIFF_TEST_PG_TCP_DSN") + " password=\(try Harness.environment("MASTIFF_TEST_PG_PASSWORD")) sslpassword=ssl-secret-5150"
        let credentials = try PostgresToolCredentials(Secret(dsn))
        #expect(!credentials.conninfo.contains("ssl-secret-5150") && !credentials.conninfo.contains("mastiff-test-password") && credentials.conninfo.contains("service="), "\(credentials.conninfo)")
        #expect(credentials.environment["PGPASSWORD"] == (try Harness.environment("MASTIFF_TEST_PG_PASSWORD")))
        let file = try #require(credentials.environment["PGSERVICEFILE"])
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let directoryMode = try FileManager.default.attributesOfItem(atPath: (file as NSString).deletingLastPathComponent)[.posixPermissions] as? Int
        #expect(directoryMode == 0o700)
        #expect(try String(contentsOfFile: file, encoding: .utf8).contains("sslpassword=ssl-secret-5150"))
        credentials.remove()
        #expect(!FileManager.default.fileExists(atPath: file))
        // pg_dump and psql connect through the service file (an unknown service would fail).
        _ = try BackupIntegrationTests.database("untrusted_ssl", "CREATE TABLE t AS SELECT 1 AS x")
        let storage = try BackupIntegrationTests.storage()
        let backup = PostgresBackup(storage: storage, conninfo: Secret(dsn.replacingOccurrences(of: "dbname=postgres", with: "dbname=untrusted_ssl")),
                                    partSize: 5 << 20, host: "test-host", mastiffVersion: "test")
        async let manifest = backup.run()
        var scan = SecretScan.ofTestServices()
        scan.add(secret: "ssl-secret-5150", as: "the sslpassword")
        for _ in 0..<40 {
            scan.addCommandLines()
            try await Task.sleep(for: .milliseconds(25))
        }
        #expect(try await manifest.bytes > 0)
        #expect(scan.leaks().isEmpty, "no command line held a secret of the DSN during the backup: \(scan.leaks())")
        _ = try Harness.psql(["-c", "DROP DATABASE untrusted_ssl WITH (FORCE)"])
    }

    /// Item 16: a job ignoring TERM kept mastiff spinning at shutdown, and a job's setsid child
    /// survived its timeout. Both the group and the strays are stopped, on timeout and on
    /// cancellation (shutdown), within the grace.
    @Test(arguments: ["timeout", "shutdown", "leader exits on TERM"])
    func aJobIgnoringTermAndItsSetsidChildAreStopped(_ how: String) async throws {
        let marker = "\(Int.random(in: 100_000...999_999))"
        // The setsid child ignores TERM; the leader does too, except in the last case, where it
        // exits at TERM and leaves its child to init.
        let leader = how == "leader exits on TERM" ? "" : "trap '' TERM; "
        var job = JobSpec(name: "stubborn", schedule: "@daily",
                          command: ["/bin/sh", "-c", leader + "setsid /bin/sh -c 'trap \"\" TERM; exec /bin/sleep 3\(marker)' & /bin/sleep 4\(marker); wait"])
        job.timeout = how == "shutdown" ? .seconds(60) : .seconds(1)
        job.killGrace = .seconds(1)
        let started = ContinuousClock.now
        let task = Task { try await JobRunner().run(job) }
        try await Task.sleep(for: .milliseconds(600))
        #expect(Self.commandLines().contains { $0.hasPrefix("/bin/sleep 3\(marker)") }, "the setsid child runs: \(Self.commandLines().filter { $0.contains(marker) })")
        if how == "shutdown" { task.cancel() }
        let outcome = try await task.value
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(outcome.timedOut)
        #expect(outcome.stoppedAtShutdown == (how == "shutdown"), "\(outcome.summary)")
        try await Task.sleep(for: .milliseconds(200))
        #expect(Self.processes(containing: marker) == 0, "nothing of the job is left: \(Self.commandLines().filter { $0.contains(marker) })")
    }

    /// A child inherited every descriptor of mastiff's without close-on-exec: SwiftNIO's
    /// listening socket among them (a job left running after mastiff died then held the /metrics
    /// port). A job now has its three standard descriptors and nothing else.
    @Test func aJobInheritsNoDescriptorOfMastiffs() async throws {
        // A listening socket without close-on-exec, as SwiftNIO's is.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(listener >= 3 && fcntl(listener, F_GETFD) & FD_CLOEXEC == 0)
        defer { close(listener) }
        // The shell's descriptors, listed by a child of it (`; true` keeps sh from exec'ing ls).
        let job = JobSpec(name: "fds", schedule: "@daily", command: ["/bin/sh", "-c", "ls -1 /proc/$$/fd; true"])
        let outcome = try await JobRunner().run(job)
        let descriptors = outcome.output.split(separator: "\n").map(String.init).sorted()
        #expect(descriptors == ["0", "1", "2"], "the job's descriptors: \(outcome.output)")
    }

    /// Item 18: doctor said nothing when the env file was unreadable, a FIFO, a directory, too
    /// large or binary. Each is a finding naming the file and why.
    @Test func doctorSaysWhyItCannotReadTheEnvFile() throws {
        let directory = try Harness.temporaryDirectory().path
        let fifo = directory + "/fifo.env"
        mkfifo(fifo, 0o600)
        let folder = directory + "/folder.env"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let large = directory + "/large.env"
        try Data(repeating: 0x41, count: 2 << 20).write(to: URL(fileURLWithPath: large))
        let binary = directory + "/binary.env"
        try Data([0x7F, 0x45, 0x4C, 0x46, 0, 0, 0xFF, 0xFE]).write(to: URL(fileURLWithPath: binary))
        let unreadable = directory + "/missing.env"
        for (path, expected) in [(fifo, "is a FIFO"), (folder, "is a directory"), (large, "larger than the limit"), (binary, "holds binary data"),
                                 (unreadable, "cannot read")] {
            let config = try Harness.writeConfig(collectors: [:], "statsd: {enabled: false}\ninstance: {env_file: \(path)}\n")
            let started = Date()
            let doctor = try Harness.run(Harness.binary, ["doctor", "--config", config])
            #expect(Date().timeIntervalSince(started) < 20, "a FIFO does not block doctor")
            let line = doctor.stdout.split(separator: "\n").first { $0.contains("env-file") }.map(String.init) ?? ""
            #expect(line.contains(path) && line.contains(expected), "\(path): \(doctor.stdout.prefix(600))")
        }
    }
}

/// "Actions that trust nothing", restarts (items 11–13).
@Suite(.serialized) struct UntrustedRestartTests {
    /// Item 11: an unrelated process that reused a chosen pid got SIGTERM. The start time is
    /// read again, through a pidfd, right before the signal.
    @Test func aSignalGoesOnlyToTheProcessThatWasChosen() async throws {
        let directory = try Harness.temporaryDirectory().path
        let pid = try Harness.spawn("/bin/sleep", ["30"], log: directory + "/sleep.log")
        defer {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        let startTime = try #require(ProcessSignal.startTime(of: Int(pid), procRoot: "/proc"))
        let reused = ProcessSignal.send(SIGTERM, to: Int(pid), startedAt: startTime - 120)
        guard case .failure(let failure) = reused else { Issue.record("a process with another start time was signalled"); return }
        #expect(failure.description.contains("now belongs to another process"), "\(failure)")
        #expect(kill(pid, 0) == 0, "the other process lives")
        let restarter = SignalRestarter(name: "TERM", number: SIGTERM)
        let result = await restarter.restart(RestartAction(target: "t", pid: Int(pid), startTime: startTime, reason: .memory, detail: "", memoryBefore: nil, dryRun: false))
        guard case .success = result else { Issue.record("\(result)"); return }
        var status: Int32 = 0
        #expect(waitpid(pid, &status, 0) == pid && status & 0x7F == SIGTERM, "the chosen process got it")
    }

    /// Item 10: a local user's process titled `sidekiq 7.2.4 mastodon [0 of 25 busy]` with more
    /// memory than the real Sidekiq was chosen and sent SIGTERM; when no replacement appeared the
    /// target stopped for good. Here the impostor runs as nobody, the real one as root (the
    /// account the target names): only the real one is restarted, and the impostor, still
    /// there, is not taken for its replacement.
    @Test func anotherAccountsProcessTitledLikeSidekiqIsNeverRestarted() async throws {
        let directory = try Harness.temporaryDirectory().path
        let marker = "impostor-test-\(UUID().uuidString.prefix(8))"
        // 150 MiB touched, then asleep; the title is what Sidekiq sets.
        let hold = "import time; held = b'x' * (150 << 20); time.sleep(300)"
        func titled(_ prefix: [String]) throws -> pid_t {
            try Harness.spawn("/usr/bin/setpriv", prefix + ["--", "/bin/bash", "-c",
                "exec -a 'sidekiq 7.2.4 mastodon [0 of 25 busy]' /usr/bin/python3 -c \"\(hold)\" \(marker)"], log: directory + "/\(prefix.count).log")
        }
        let impostor = try titled(["--reuid=65534", "--regid=65534", "--clear-groups"])
        let real = try titled([])
        func reap(_ pid: pid_t) -> Bool {
            var status: Int32 = 0
            return waitpid(pid, &status, WNOHANG) == pid
        }
        defer {
            for pid in [impostor, real] {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }
        }
        let config = try Harness.writeConfig(collectors: [
            "processes": "{default_groups: false, groups: [{name: sidekiq, cmdline: '^sidekiq 7\\.2\\.4 mastodon .* \(marker)$'}]}",
        ], """
        sampling: {interval: 1s}
        statsd: {enabled: false}
        restarts:
          - {name: sidekiq, group: sidekiq, user: root, max_memory: 100MiB, for_samples: 2, min_uptime: 0s, health_timeout: 5s, budget: 3, signal: TERM}
        """)
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        #expect(try await mastiff.reaches(#"process_group_processes{group="sidekiq"}"#, 2, within: 20), "both counted in the group: \(mastiff.log)")
        var realEnded = false
        for _ in 0..<60 where !realEnded {
            try await Task.sleep(for: .milliseconds(500))
            realEnded = reap(real)
        }
        #expect(realEnded, "the root-owned process was restarted: \(mastiff.log)")
        #expect(!reap(impostor) && kill(impostor, 0) == 0, "nobody's process was never signalled")
        #expect(mastiff.log.contains("pid=\(real)") && !mastiff.log.contains("pid=\(impostor)"), "\(mastiff.log)")
        // No process of root's appears again: the impostor, still titled and still large, is not
        // the replacement, so the target stops after health_timeout.
        #expect(try await mastiff.reaches(#"mastiff_restart_target_stopped{target="sidekiq"}"#, 1, within: 20), "\(mastiff.log)")
        let metrics = try await mastiff.metrics(sampledAfter: Date())
        #expect(sampleValue(metrics.text, #"mastiff_restarts_total{target="sidekiq",reason="max_memory",result="restarted"}"#) == 1)
        #expect(kill(impostor, 0) == 0)
    }

    /// Item 10, for a method that names what it restarts: supervisord restarts its program only
    /// for a process that is the program's (its pid, or under it). A larger process outside
    /// supervisord, in the same group and of the same account, restarts nothing.
    @Test func supervisordRestartsItsProgramOnlyForItsOwnProcess() async throws {
        let directory = try Harness.temporaryDirectory().path
        let leaker = Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/restarts/leaker.py"
        // The starts file exists: `once` does not leak. The stranger always does.
        FileManager.default.createFile(atPath: directory + "/member.starts", contents: nil)
        let supervisor = try SupervisordServer(directory: directory, programs: """
        [program:member]
        command=/usr/bin/python3 \(leaker) \(directory)/member.starts once
        startsecs=1
        """)
        defer { withExtendedLifetime(supervisor) {} }
        let stranger = try Harness.spawn("/usr/bin/python3", [leaker, directory + "/stranger.starts", "always"], log: directory + "/stranger.log")
        defer {
            kill(stranger, SIGKILL)
            var status: Int32 = 0
            waitpid(stranger, &status, 0)
        }
        let config = try Harness.writeConfig(collectors: [
            "processes": #"{default_groups: false, groups: [{name: members, cmdline: 'leaker\.py .*/(member|stranger)\.starts'}]}"#,
        ], """
        sampling: {interval: 1s}
        statsd: {enabled: false}
        restarts:
          - {name: member, group: members, max_memory: 100MiB, for_samples: 2, min_uptime: 0s, budget: 1,
             supervisord: {url: "unix://\(directory)/supervisor.sock", program: member}}
        """)
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        #expect(try await mastiff.reaches(#"mastiff_restarts_total{target="member",reason="max_memory",result="failed"}"#, 1, within: 40), "\(mastiff.log)")
        #expect(mastiff.log.contains("process \(stranger) is not member's (supervisord runs it as"), "\(mastiff.log)")
        let starts = try String(contentsOfFile: directory + "/member.starts", encoding: .utf8).split(separator: "\n")
        #expect(starts.count == 1, "the program was never restarted: \(starts)")
        #expect(kill(stranger, 0) == 0)
    }

    /// Item 13: a stopped target stayed stopped across SIGHUP although the docs say a reload
    /// clears it.
    @Test func aReloadResumesAStoppedTarget() throws {
        let directory = try Harness.temporaryDirectory().path
        let (logger, _) = RecordingLogHandler.logger()
        let store = StateStore(directory: directory, logger: logger)
        store.update("restarts", .object(["sidekiq": .object(["restarts": .array([]), "halted": .bool(true)])]))
        let targets = [RestartTargetSpec(name: "sidekiq", group: "sidekiq", method: .signal(name: "TERM", number: SIGTERM))]
        let service = RestartService(targets: targets, stateStore: store, logger: logger, startedAt: 1_800_000_000, restarters: { _ in [:] })
        func stopped() -> Double? { sampleValue(service.metrics(now: 1_800_000_000), "mastiff_restart_target_stopped", [Label("target", "sidekiq")]) }
        #expect(stopped() == 1)
        service.replaceTargets(targets, startedAt: 1_800_000_000)
        #expect(stopped() == 0)
    }
}
