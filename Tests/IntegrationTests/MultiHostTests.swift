import Foundation
import MastiffCore
import Testing

/// Several hosts (issue 28): a chaos.social-shaped cluster in network namespaces
/// (Fixtures/cluster/cluster.sh) — "db" with PostgreSQL, "app" with Redis, a Sidekiq and a web
/// stand-in, "worker" with a second Sidekiq, each with its own agent, and "mon" with one
/// Prometheus scraping every agent over the bridge and two Alertmanagers in one cluster that
/// every agent pushes to. Everything crosses a real (virtual) network; nothing leaves the
/// namespaces the test made. Root only (ip netns).
@Suite(.serialized) struct MultiHostTests {
    static let fixture = Harness.packageRoot + "/Tests/IntegrationTests/Fixtures/cluster/cluster.sh"

    final class Cluster {
        let directory: String
        let environment: [String: String]

        init() throws {
            directory = try Harness.temporaryDirectory().path + "/cluster"
            let status = try Harness.runLeavingServers("/bin/bash", [MultiHostTests.fixture, "start", directory], log: directory + ".log")
            guard status == 0 else {
                let log = (try? String(contentsOfFile: directory + ".log", encoding: .utf8)) ?? ""
                _ = try? Harness.runLeavingServers("/bin/bash", [MultiHostTests.fixture, "stop", directory], log: directory + ".stop.log")
                throw HarnessError("cluster.sh start failed: \(log)")
            }
            var environment: [String: String] = [:]
            for line in try String(contentsOfFile: directory + "/env", encoding: .utf8).split(separator: "\n") {
                guard let equals = line.firstIndex(of: "=") else { continue }
                environment[String(line[..<equals].dropFirst("export ".count))] = String(line[line.index(after: equals)...]).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
            }
            self.environment = environment
        }

        deinit { _ = try? Harness.runLeavingServers("/bin/bash", [MultiHostTests.fixture, "stop", directory], log: directory + ".stop.log") }

        subscript(name: String) -> String { environment[name] ?? "" }

        /// A command run on a host (in its namespace, under its name).
        func run(on host: String, _ arguments: [String]) throws -> Harness.Result {
            try Harness.run(directory + "/in-host", [host] + arguments)
        }

        /// An instant query to the cluster's Prometheus: each series' labels and value.
        func query(_ promql: String) throws -> [(labels: [String: String], value: Double)] {
            let result = try run(on: "mon", ["curl", "-s", "--max-time", "5", "-G", "--data-urlencode", "query=\(promql)", self["CLUSTER_PROMETHEUS"] + "/api/v1/query"])
            guard let answer = JSONValue.parse(result.stdout), case .array(let series)? = answer["data"]?["result"] else { return [] }
            return series.map { item in
                var labels: [String: String] = [:]
                if case .object(let members)? = item["metric"] { for (name, value) in members { labels[name] = value.string ?? "" } }
                return (labels, Double(item["value"]?.array?.last?.string ?? "") ?? .nan)
            }
        }

        /// Waits up to `seconds` for `condition` on a query's answer.
        func waitFor(_ promql: String, within seconds: Double, _ condition: ([(labels: [String: String], value: Double)]) -> Bool) async throws -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if condition(try query(promql)) { return true }
                try await Task.sleep(for: .milliseconds(500))
            }
            return false
        }

        /// One host's agent, with the collectors of its role (MultiHostTests.role): listening on
        /// every address of its namespace, pushing to both Alertmanagers, with the cluster's
        /// backup and a once-per-cluster job every minute.
        func agent(_ host: String) throws -> RunningMastiff {
            let (collectors, externalLabels) = MultiHostTests.role(host, self)
            let state = directory + "/agent-" + host
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            let alertmanagers = self["CLUSTER_ALERTMANAGERS"].split(separator: " ").map { "\"\($0)\"" }.joined(separator: ", ")
            let config = state + "/mastiff.yml"
            try """
            listen: 0.0.0.0:9815
            web_config: \(self["CLUSTER_WEB_CONFIG"])
            state_dir: \(state)/state
            control_socket: ""
            sampling: {interval: 1s}
            statsd: {enabled: false}
            collectors:
            \(collectors)
            alerts:
              receivers: [{name: am, alertmanager: {urls: [\(alertmanagers)]}}]
              heartbeat: {url: "\(self["CLUSTER_HEARTBEAT_URL"])/\(host)", interval: 5s}
              external_labels: \(externalLabels)
            backups:
              enabled: true
              time_zone: UTC
              manifest_key: cluster-manifest-key-0123456789abcdef
              storage:
                endpoint: \(self["MASTIFF_TEST_S3_ENDPOINT"])
                bucket: \(self["MASTIFF_TEST_S3_BUCKET"])
                prefix: cluster/
                access_key_id: \(self["MASTIFF_TEST_S3_ACCESS_KEY"])
                secret_access_key: "\(self["MASTIFF_TEST_S3_SECRET_KEY"])"
              postgres: {schedule: "* * * * *", nice: 0}
              redis: {enabled: false}
            jobs:
              - {name: cleanup, schedule: "* * * * *", once_per_cluster: true,
                 command: [/bin/sh, -c, "echo \\"$(hostname) $(date -u +%H%M)\\" >> \(directory)/job-runs; sleep 3"]}
            """.write(toFile: config, atomically: true, encoding: .utf8)
            return try RunningMastiff(arguments: ["--config", config], wrapper: [directory + "/in-host", host])
        }
    }

    /// Each host's collectors (and the worker's external labels): what its agent is started
    /// with, and restarted with.
    static func role(_ host: String, _ cluster: Cluster) -> (collectors: String, externalLabels: String) {
        let dsn = cluster["CLUSTER_PG_DSN"], redis = cluster["CLUSTER_REDIS_URL"]
        switch host {
        case "db":
            return ("""
                  postgres: {dsn: "\(dsn)"}
                  redis: {enabled: false}
                  sidekiq: {enabled: false}
                """, "{}")
        case "app":
            return ("""
                  postgres: {dsn: "\(dsn)"}
                  redis: {url: "\(redis)"}
                  probes: [{name: web, url: "\(cluster["CLUSTER_WEB_URL"])"}]
                """, "{}")
        default:
            return ("""
                  postgres: {enabled: false, dsn: "\(dsn)"}
                  redis: {enabled: false, url: "\(redis)"}
                  sidekiq: {redis_url: "\(redis)"}
                """, "{host: worker}")
        }
    }

    @Test func aClusterOfThreeHostsIsWatchedAsOne() async throws {
        let started = Date()
        func phase(_ name: String) { print("multi-host test: \(name) at \(Int(Date().timeIntervalSince(started))) s") }
        let cluster = try Cluster()
        phase("cluster up")
        // A long migration holds a table of the database (ACCESS EXCLUSIVE) from before the agents
        // start: the first slot's pg_dump waits behind it, so its agent is caught mid-backup.
        let sockets = try String(contentsOfFile: cluster.directory + "/pgsock-dir", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try Harness.psql(host: sockets, port: "5432", database: "mastodon_production", ["-c", "CREATE TABLE held_by_a_migration (id int)"])
        let migration = try await Harness.HeldSession(host: sockets, port: "5432", database: "mastodon_production",
                                                      statements: ["BEGIN", "LOCK TABLE held_by_a_migration IN ACCESS EXCLUSIVE MODE"],
                                                      log: cluster.directory + "/migration.log")
        defer { migration.release() }

        var agents: [String: RunningMastiff] = [:]
        for host in ["db", "app", "worker"] {
            agents[host] = try cluster.agent(host)
        }
        phase("agents started")

        // Prometheus scrapes every agent over the bridge (HTTPS, basic auth), and every collector
        // succeeds from its own host (the migration's lock fails only the table-size statement,
        // fast, not the scrape).
        #expect(try await cluster.waitFor("up", within: 20) { $0.count == 3 && $0.allSatisfy { $0.value == 1 } }, "\((try? cluster.query("up")) ?? [])")
        #expect(try await cluster.waitFor("mastiff_collector_success", within: 20) { series in
            Set(series.map { $0.labels["host"] ?? "" }) == ["db", "app", "worker"] && series.allSatisfy { $0.value == 1 }
        }, "\((try? cluster.query("mastiff_collector_success != 1")) ?? [])")
        #expect(try await cluster.waitFor("probe_success{host=\"app\"}", within: 10) { $0.first?.value == 1 })
        // The worker's agent sees both Sidekiq processes, the app's and its own, through Redis,
        // and the queue topology counts both as serving the push queue.
        #expect(try await cluster.waitFor("sidekiq_processes{host=\"worker\"}", within: 10) { series in
            Set(series.compactMap { $0.labels["hostname"] }) == ["app", "worker"] && series.allSatisfy { $0.value == 1 }
        }, "\((try? cluster.query("sidekiq_processes")) ?? [])")
        #expect(try await cluster.waitFor("sidekiq_queue_processes{host=\"worker\",queue=\"push\"}", within: 10) { $0.first?.value == 2 },
                "\((try? cluster.query("sidekiq_queue_processes")) ?? [])")

        // Alerts reach both Alertmanagers. The worker's carry its external label, as
        // Prometheus's alerts carry theirs, so its Watchdog stays apart from the one the db and
        // app agents (no external labels, the same labels) share.
        func watchdogHosts() throws -> [String] {
            let answer = try cluster.run(on: "mon", ["curl", "-s", "-G", "--data-urlencode", "filter=alertname=\"Watchdog\"",
                                                     "http://10.77.0.4:9095/api/v2/alerts"])
            return (JSONValue.parse(answer.stdout)?.array ?? []).map { $0["labels"]?["host"]?.string ?? "-" }.sorted()
        }
        var hosts = try watchdogHosts()
        for _ in 0..<30 where hosts != ["-", "worker"] {
            try await Task.sleep(for: .milliseconds(500))
            hosts = try watchdogHosts()
        }
        #expect(hosts == ["-", "worker"])
        phase("collectors, Sidekiq and Watchdog checked")

        // The first slot's backup: one agent takes the cluster lock (a PostgreSQL advisory lock
        // taken over the network) and its pg_dump waits behind the migration; the other two skip
        // and will look again 30 s after the slot. The holder is SIGKILLed mid-backup.
        var holder: String?
        let caught = Date().addingTimeInterval(75)
        while holder == nil, Date() < caught {
            holder = agents.first { $0.value.log.contains("starting manual=false task=backup/postgres") }?.key
            if holder == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        let slot = (Date().timeIntervalSince1970 / 60).rounded(.down) * 60
        guard let holder, let held = agents[holder] else {
            Issue.record("no agent started the slot's backup: \(agents.mapValues { $0.log.suffix(1500) })")
            return
        }
        phase("\(holder) holds the backup lock; SIGKILLed \(Int(Date().timeIntervalSince1970 - slot)) s into the slot")
        held.signal(SIGKILL)
        #expect(held.waitForExit(timeout: 10) != nil)
        migration.release()

        // A host's agent gone is `up 0` in Prometheus, and its heartbeats stop (what a dead man's
        // switch such as healthchecks.io then reports) while the other agents' go on.
        func heartbeats(_ host: String) -> Int {
            let text = (try? String(contentsOfFile: cluster["CLUSTER_HEARTBEAT_LOG"], encoding: .utf8)) ?? ""
            return text.split(separator: "\n").filter { $0.contains("\"path\": \"/\(host)\"") }.count
        }
        let other = holder == "app" ? "db" : "app"
        #expect(try await cluster.waitFor("up{host=\"\(holder)\"}", within: 10) { $0.first?.value == 0 })
        let (heldBefore, otherBefore) = (heartbeats(holder), heartbeats(other))
        try await Task.sleep(for: .seconds(7))
        #expect(heartbeats(holder) == heldBefore && heartbeats(other) > otherBefore,
                "\(holder) \(heldBefore) → \(heartbeats(holder)), \(other) \(otherBefore) → \(heartbeats(other))")
        // It comes back (no catch-up run: it never finished a run of its own, and the slot is
        // the others' to recheck).
        agents[holder] = try cluster.agent(holder)
        phase("\(holder) restarted")

        // The killed holder's lock went with its connection: an agent that skipped takes it at
        // its recheck (or one still busy with the job when the holder died takes it then), finds
        // no manifest for the slot and makes the backup. One manifest, from another host; the
        // job ran once per slot.
        let formatter = DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmm"
        let slotStamp = formatter.string(from: Date(timeIntervalSince1970: slot))
        func slotManifests() throws -> (manifests: [JSONValue], listing: String) {
            let listing = try cluster.run(on: "app", [Harness.binary, "backup", "list", "--json", "--config", cluster.directory + "/agent-app/mastiff.yml"])
            let manifests = (JSONValue.parse(listing.stdout)?.array ?? []).filter { ($0["data_key"]?.string ?? "").contains(slotStamp) }
            return (manifests, listing.stdout + listing.stderr)
        }
        let made = Date(timeIntervalSince1970: slot + 55)
        while Date() < made, try slotManifests().manifests.isEmpty { try await Task.sleep(for: .seconds(1)) }
        try await Task.sleep(for: .seconds(3))
        let (inSlot, listing) = try slotManifests()
        #expect(inSlot.count == 1, "one backup for the slot \(slotStamp): \(listing)")
        #expect(inSlot.allSatisfy { ($0["host"]?.string ?? holder) != holder }, "the backup was made by an agent that skipped: \(listing)")
        let runs = ((try? String(contentsOfFile: cluster.directory + "/job-runs", encoding: .utf8)) ?? "").split(separator: "\n")
        let runsPerSlot = Dictionary(grouping: runs) { $0.split(separator: " ").last ?? "" }
        #expect(!runs.isEmpty && runsPerSlot.values.allSatisfy { $0.count == 1 }, "the job ran once per slot: \(runs)")
        phase("the slot's backup made by \(inSlot.first?["host"]?.string ?? "none")")

        // PostgreSQL stops: the two agents that watch it fire PostgresDown (after its 1 m), both
        // Alertmanagers get both alerts, and the webhook behind them hears of it once.
        let stop = try Harness.run("/usr/sbin/runuser", ["-u", "postgres", "--", cluster["CLUSTER_PG_BIN"] + "/pg_ctl", "-D", cluster.directory + "/pg/data", "-m", "fast", "-w", "stop"])
        #expect(stop.status == 0, "\(stop.stderr)")
        let hook = NotificationIntegrationTests.RecordingServer.self
        func postgresDown() -> Int {
            let text = (try? String(contentsOfFile: cluster["CLUSTER_WEBHOOK_LOG"], encoding: .utf8)) ?? ""
            return text.split(separator: "\n").filter { line in
                guard let request = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return false }
                return ((hook.body(request)["alerts"] as? [[String: Any]]) ?? []).contains { ($0["labels"] as? [String: String])?["alertname"] == "PostgresDown" }
            }.count
        }
        let deadline = Date().addingTimeInterval(100)
        while postgresDown() == 0, Date() < deadline { try await Task.sleep(for: .seconds(1)) }
        phase("PostgresDown at the webhook")
        // Long enough for the second Alertmanager's turn (its peer position times the 3 s peer
        // timeout) to pass: a duplicate would have arrived by then.
        try await Task.sleep(for: .seconds(6))
        #expect(postgresDown() == 1, "PostgresDown reached the webhook once: \(postgresDown())")
        let seconds = Date().timeIntervalSince(started)
        print("multi-host test wall time: \(Int(seconds)) s (target <= 180 s)")
    }
}
