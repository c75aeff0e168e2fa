import Foundation
import MastiffTestSupport
import Testing

/// Restarts through a real supervisord (Debian's supervisor) over its XML-RPC unix socket: a
/// leaking program is restarted once when its PSS stays over the ceiling, and one that leaks
/// after every start is restarted until its budget is spent, then left alone while
/// RestartBudgetExhausted fires.
@Suite(.serialized) struct RestartIntegrationTests {
    @Test func supervisordProgramsAreRestartedOnceAndStopAtTheBudget() async throws {
        let directory = try Harness.temporaryDirectory().path
        let leaker = Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/restarts/leaker.py"
        let supervisor = try SupervisordServer(directory: directory, programs: """
        [program:leaker]
        command=/usr/bin/python3 \(leaker) \(directory)/leaker.starts once
        startsecs=1
        [program:flapper]
        command=/usr/bin/python3 \(leaker) \(directory)/flapper.starts always
        startsecs=1
        """)
        defer { withExtendedLifetime(supervisor) {} }  // runs until the test ends
        let hook = try NotificationIntegrationTests.RecordingServer()
        let config = try Harness.writeConfig(collectors: [
            "processes": #"{groups: [{name: leaker, cmdline: 'leaker\.py .*leaker\.starts'}, {name: flapper, cmdline: 'leaker\.py .*flapper\.starts'}]}"#,
        ], """
        sampling: {interval: 1s}
        statsd: {enabled: false}
        alerts:
          receivers: [{name: hook, webhook: {url: "\(hook.url)/hook"}}]
          routes: [{match: {alertname: MastiffRestart}, receivers: [hook]}]
          default_receivers: []
        restarts:
          - {name: leaker, group: leaker, max_memory: 100MiB, for_samples: 3, min_uptime: 0s,
             supervisord: {url: "unix://\(directory)/supervisor.sock", program: leaker}}
          - {name: flapper, group: flapper, max_memory: 100MiB, for_samples: 2, min_uptime: 0s, budget: 3,
             supervisord: {url: "unix://\(directory)/supervisor.sock", program: flapper}}
        """)
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        func starts(_ name: String) -> [String] {
            ((try? String(contentsOfFile: "\(directory)/\(name).starts", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && (starts("leaker").count < 2 || starts("flapper").count < 4) {
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(starts("leaker").count == 2, "started, restarted once: \(starts("leaker"))\n\(mastiff.log)")
        #expect(starts("flapper").count == 4, "started and restarted three times (the budget): \(starts("flapper"))")
        try await Task.sleep(for: .seconds(8))
        #expect(starts("leaker").count == 2, "the restarted leaker no longer leaks: no second restart")
        #expect(starts("flapper").count == 4, "no restart past the budget")
        let metrics = try await mastiff.metrics(sampledAfter: Date())
        #expect(sampleValue(metrics.text, #"mastiff_restarts_total{target="leaker",reason="max_memory",result="restarted"}"#) == 1)
        #expect(sampleValue(metrics.text, #"mastiff_restarts_total{target="flapper",reason="max_memory",result="restarted"}"#) == 3)
        #expect(sampleValue(metrics.text, #"mastiff_restart_budget_remaining{target="flapper"}"#) == 0)
        #expect(sampleValue(metrics.text, #"mastiff_alerts{alertname="RestartBudgetExhausted",severity="warning",state="firing"}"#) == 1)
        #expect(mastiff.log.contains("restart budget spent"))
        // Each restart is a notice through the receivers.
        let notices = hook.requests().compactMap { request -> [String: String]? in
            ((NotificationIntegrationTests.RecordingServer.body(request)["alerts"] as? [[String: Any]])?.first?["labels"]) as? [String: String]
        }
        #expect(notices.filter { $0["alertname"] == "MastiffRestart" && $0["target"] == "leaker" && $0["reason"] == "max_memory" }.count == 1)
        #expect(notices.filter { $0["target"] == "flapper" }.count == 3)
        #expect(try Harness.promtoolProblems(metrics.text) == "")
    }

    /// A Puma-like master/worker cluster: TERM to one worker at a time (the master forks a new
    /// one); the next only after the replacement appeared, so never all workers at once.
    @Test func workersOfAPumaLikeClusterAreRecycledOneAtATime() async throws {
        let directory = try Harness.temporaryDirectory().path
        let events = directory + "/events"
        let master = try Harness.spawn("/usr/bin/python3", [Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/restarts/pumalike.py", events, "3"],
                                       log: directory + "/pumalike.log")
        defer {
            kill(master, SIGTERM)
            var status: Int32 = 0
            waitpid(master, &status, 0)
        }
        let config = try Harness.writeConfig(collectors: [
            "processes": #"{groups: [{name: pumalike, cmdline: 'pumalike\.py'}]}"#,
        ], """
        sampling: {interval: 1s}
        statsd: {enabled: false}
        restarts:
          - {name: workers, group: pumalike, max_memory: 100MiB, for_samples: 2, min_uptime: 0s, budget: 4, signal: TERM}
        """)
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        func lines() -> [[String]] {
            ((try? String(contentsOfFile: events, encoding: .utf8)) ?? "").split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && lines().filter({ $0.first == "exit" }).count < 4 {
            try await Task.sleep(for: .milliseconds(500))
        }
        let timeline = lines()
        #expect(timeline.filter { $0.first == "exit" }.count == 4, "four workers recycled (the budget): \(timeline)\n\(mastiff.log)")
        // Live workers after each event: never fewer than two of three.
        var live = 0
        var started = 0
        var fewest = Int.max
        for event in timeline {
            live += event.first == "start" ? 1 : -1
            if event.first == "start" { started += 1 }
            // From the moment the three first workers are up.
            if started >= 3 { fewest = min(fewest, live) }
        }
        #expect(fewest >= 2, "one worker at a time: \(timeline)")
        let metrics = try await mastiff.metrics(sampledAfter: Date())
        #expect(sampleValue(metrics.text, #"mastiff_restarts_total{target="workers",reason="max_memory",result="restarted"}"#) == 4)
        let list = try Harness.run(Harness.binary, ["restarts", "list", "--config", config])
        #expect(list.status == 0 && list.stdout.contains("workers (group pumalike): 0 of 4 restarts left"), "\(list.stdout)\(list.stderr)")
    }

    /// A real Sidekiq (Debian's ruby-sidekiq) under supervisord with 100 two-second jobs: restarted
    /// gracefully (quiet, drained, restarted), every job starts and completes exactly once.
    @Test func sidekiqIsRestartedGracefullyAndEveryJobRunsExactlyOnce() async throws {
        let sidekiq = try Harness.which("sidekiq")
        let (redisCLI, port, redisURL, jobs) = try Self.enqueueCountingJobs(100, database: 9)
        let directory = try Harness.temporaryDirectory().path
        let supervisor = try SupervisordServer(directory: directory, programs: """
        [program:sidekiq]
        command=\(sidekiq) -r \(jobs) -c 10 -q default -t 25
        environment=REDIS_URL="\(redisURL)"
        stopwaitsecs=30
        startsecs=1
        """)
        defer { withExtendedLifetime(supervisor) {} }  // runs until the test ends
        let config = try Harness.writeConfig(collectors: [
            "processes": "{}", "redis": "{url: \"\(redisURL)\"}", "sidekiq": "{}",
        ], """
        sampling: {interval: 1s}
        statsd: {enabled: false}
        restarts:
          - {name: sidekiq, group: sidekiq, user: root, max_memory: 1MiB, for_samples: 1, min_uptime: 0s, budget: 1, graceful: sidekiq, drain_timeout: 30s,
             supervisord: {url: "unix://\(directory)/supervisor.sock", program: sidekiq}}
        """)
        let mastiff = try RunningMastiff(arguments: ["--config", config])
        func counts(_ key: String) throws -> [String: Int] {
            let lines = try Harness.run(redisCLI, ["-p", port, "-n", "9", "hgetall", key]).stdout.split(separator: "\n").map(String.init)
            var result: [String: Int] = [:]
            for index in stride(from: 0, to: lines.count - 1, by: 2) { result[lines[index]] = Int(lines[index + 1]) }
            return result
        }
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, try counts("mastiff-test:done").count < 100 { try await Task.sleep(for: .seconds(1)) }
        let started = try counts("mastiff-test:started")
        let done = try counts("mastiff-test:done")
        #expect(done.count == 100 && done.values.allSatisfy { $0 == 1 }, "every job completed once: \(done.count) ids, \(done.filter { $0.value != 1 })")
        #expect(started.count == 100 && started.values.allSatisfy { $0 == 1 }, "none was interrupted and run again: \(started.filter { $0.value != 1 })")
        #expect(mastiff.log.contains("Sidekiq process quiet and drained"), "\(mastiff.log)")
        #expect(mastiff.log.contains("restart carried out"))
        #expect(mastiff.log.contains("restarted process is back"))
        let list = try Harness.run(Harness.binary, ["restarts", "list", "--config", config])
        #expect(list.stdout.contains("max_memory  restarted") && list.stdout.contains("drained in") && list.stdout.contains("back after"),
                "\(list.stdout)\(list.stderr)")
        // The figures (docs/benchmarks.md): drain time and restart-to-healthy time.
        for line in mastiff.log.split(separator: "\n") where line.contains("drained") || line.contains("is back") { print("figure: \(line)") }
    }
}

extension RestartIntegrationTests {
    /// An emptied Redis database `database` on the shared Redis with `count` CountingJobs
    /// (Fixtures/restarts/counting_jobs.rb) enqueued by real Sidekiq client code.
    static func enqueueCountingJobs(_ count: Int, database: Int) throws -> (redisCLI: String, port: String, redisURL: String, jobs: String) {
        let redisCLI = try Harness.which("redis-cli")
        let port = try Harness.environment("MASTIFF_TEST_REDIS_PORT")
        let redisURL = "redis://127.0.0.1:\(port)/\(database)"
        _ = try Harness.run(redisCLI, ["-p", port, "-n", String(database), "flushdb"])
        let jobs = Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/restarts/counting_jobs.rb"
        let enqueue = try Harness.run(try Harness.which("ruby"), ["-r", jobs, "-e", "\(count).times { |i| CountingJob.perform_async(i.to_s) }"],
                                      environment: ProcessInfo.processInfo.environment.merging(["REDIS_URL": redisURL]) { $1 })
        #expect(enqueue.status == 0, "\(enqueue.stderr)")
        return (redisCLI, port, redisURL, jobs)
    }

    /// "Actions that trust nothing", item 12: SIGTERM or a crash during a graceful drain left
    /// Sidekiq quiet forever (TSTP has no undo). The quieted process is in the state file, and
    /// the next start restarts it first, whatever the policy says then. On SIGTERM the drain is
    /// a child task of the restart service: it ends with mastiff, at once, restarting nothing.
    @Test(arguments: [SIGKILL, SIGTERM])
    func aDrainInterruptedByAStopIsFinishedAtTheNextStart(_ stop: Int32) async throws {
        let sidekiq = try Harness.which("sidekiq")
        let (redisCLI, port, redisURL, jobs) = try Self.enqueueCountingJobs(20, database: 10)
        let directory = try Harness.temporaryDirectory().path
        let supervisor = try SupervisordServer(directory: directory, programs: """
        [program:sidekiq]
        command=\(sidekiq) -r \(jobs) -c 5 -q default -t 3
        environment=REDIS_URL="\(redisURL)",JOB_SECONDS="30"
        stopwaitsecs=20
        startsecs=1
        """)
        defer { withExtendedLifetime(supervisor) {} }
        let restart = """
        sampling: {interval: 1s}
        statsd: {enabled: false}
        restarts:
          - {name: sidekiq, group: sidekiq, user: root, max_memory: MEMORY, for_samples: 1, min_uptime: 0s, budget: 1, graceful: sidekiq, drain_timeout: 120s,
             supervisord: {url: "unix://\(directory)/supervisor.sock", program: sidekiq}}
        """
        let collectors: KeyValuePairs<String, String> = ["processes": "{}", "redis": "{url: \"\(redisURL)\"}", "sidekiq": "{}"]
        let config = try Harness.writeConfig(collectors: collectors, restart.replacingOccurrences(of: "MEMORY", with: "1MiB"))
        func sidekiqPID() throws -> String {
            try Harness.run(try Harness.which("supervisorctl"), ["-s", "unix://\(directory)/supervisor.sock", "pid", "sidekiq"]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // Mastiff starts once Sidekiq's heartbeat reports it busy (every 10 s), so that there is
        // a drain to interrupt.
        func reportedBusy() throws -> Int {
            let identities = try Harness.run(redisCLI, ["-p", port, "-n", "10", "smembers", "processes"]).stdout.split(separator: "\n").map(String.init)
            return try identities.reduce(0) { total, identity in
                total + (Int(try Harness.run(redisCLI, ["-p", port, "-n", "10", "hget", identity, "busy"]).stdout
                    .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0)
            }
        }
        let busy = Date().addingTimeInterval(60)
        while Date() < busy, try reportedBusy() < 5 { try await Task.sleep(for: .milliseconds(300)) }
        var quietPID = ""
        do {
            let first = try RunningMastiff(arguments: ["--config", config])
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline, !first.log.contains("restarting") { try await Task.sleep(for: .milliseconds(200)) }
            try await Task.sleep(for: .seconds(2))
            quietPID = try sidekiqPID()
            #expect(!first.log.contains("drained"), "still draining: 30 s jobs")
            first.signal(stop)
            let status = first.waitForExit(timeout: 5)
            if stop == SIGTERM {
                #expect(status == 0, "stopped within 5 s, mid-drain: \(first.log.suffix(1500))")
                #expect(first.log.contains("mastiff is stopping mid-drain") && !first.log.contains("restart carried out"), "\(first.log.suffix(1500))")
                #expect(try sidekiqPID() == quietPID, "nothing restarted on the way out")
            }
        }
        // The policy no longer wants a restart (the limit is high now): only the interrupted
        // drain makes one.
        let relaxed = config.replacingOccurrences(of: "mastiff.yml", with: "relaxed.yml")
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "max_memory: 1MiB", with: "max_memory: 100GiB")
            .write(toFile: relaxed, atomically: true, encoding: .utf8)
        let second = try RunningMastiff(arguments: ["--config", relaxed])
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline, !second.log.contains("restart carried out") { try await Task.sleep(for: .milliseconds(500)) }
        #expect(second.log.contains("reason=interrupted_drain") && second.log.contains("restart carried out"), "\(second.log.suffix(2000))")
        let now = try sidekiqPID()
        #expect(now != quietPID && !now.isEmpty, "a new Sidekiq runs: \(now), the quiet one was \(quietPID)")
    }
}

/// Debian's supervisord in `directory`, serving the given `[program:…]` sections over
/// `directory/supervisor.sock`; stopped when released.
final class SupervisordServer {
    let pid: pid_t

    init(directory: String, programs: String) throws {
        try """
        [unix_http_server]
        file=\(directory)/supervisor.sock
        [supervisord]
        logfile=\(directory)/supervisord.log
        pidfile=\(directory)/supervisord.pid
        childlogdir=\(directory)
        nodaemon=true
        [rpcinterface:supervisor]
        supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
        \(programs)
        """.write(toFile: directory + "/supervisord.conf", atomically: true, encoding: .utf8)
        pid = try Harness.spawn(try Harness.which("supervisord"), ["-c", directory + "/supervisord.conf"], log: directory + "/supervisord.out")
    }

    deinit {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
}
