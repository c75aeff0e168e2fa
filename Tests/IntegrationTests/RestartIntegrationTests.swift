import Foundation
import MastiffTestSupport
import Testing

/// Restarts through a real supervisord (Debian's supervisor) over its XML-RPC unix socket: a
/// leaking program is restarted once when its PSS stays over the ceiling, and one that leaks
/// after every start is restarted until its budget is spent, then left alone while
/// RestartBudgetExhausted fires.
@Suite(.serialized) struct RestartIntegrationTests {
    @Test func supervisordProgramsAreRestartedOnceAndStopAtTheBudget() async throws {
        let supervisord = try Harness.which("supervisord")
        let directory = try Harness.temporaryDirectory().path
        let leaker = Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/restarts/leaker.py"
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
        [program:leaker]
        command=/usr/bin/python3 \(leaker) \(directory)/leaker.starts once
        startsecs=1
        [program:flapper]
        command=/usr/bin/python3 \(leaker) \(directory)/flapper.starts always
        startsecs=1
        """.write(toFile: directory + "/supervisord.conf", atomically: true, encoding: .utf8)
        let pid = try Harness.spawn(supervisord, ["-c", directory + "/supervisord.conf"], log: directory + "/supervisord.out")
        defer {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        let config = try Harness.writeConfig(collectors: [
            "processes": #"{groups: [{name: leaker, cmdline: 'leaker\.py .*leaker\.starts'}, {name: flapper, cmdline: 'leaker\.py .*flapper\.starts'}]}"#,
        ], """
        sampling: {interval: 1s}
        statsd: {enabled: false}
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
        #expect(try Harness.promtoolProblems(metrics.text) == "")
    }
}
