import MastiffCore
import Testing

/// The sections under alerts, restarts, backups and jobs: each key declared once is what the
/// strict loader accepts, what the docs check walks, and where an error points.
@Suite struct ConfigSectionTests {
    static let accounts = SystemAccounts(effectiveUID: 0) { name in name == "mastodon" ? 991 : nil }

    static func parse(_ text: String, environment: @escaping (String) -> String? = { _ in nil }) throws(ConfigError) -> MastiffConfig {
        try ConfigLoader.parse(text, file: "m.yml", environment: environment, accounts: accounts)
    }

    @Test func theSchemaReachesEveryNestedSection() {
        let sections = Set(ConfigLoader.schema.map(\.section))
        let expected: Set<String> = ["", "log", "sampling", "instance", "statsd", "collectors", "collectors.processes.groups[]", "collectors.probes[]",
                                     "collectors.mastodon_endpoints[]", "alerts", "alerts.receivers[]", "alerts.receivers[].email",
                                     "alerts.receivers[].alertmanager", "alerts.routes[]", "alerts.heartbeat", "alerts.maintenance_windows[]",
                                     "restarts[]", "restarts[].supervisord", "restarts[].systemd", "restarts[].docker", "backups",
                                     "backups.storage", "backups.encryption", "backups.drill", "jobs[]"]
        #expect(sections.isSuperset(of: expected), "missing: \(expected.subtracting(sections).sorted())")
        #expect(ConfigLoader.schema.first { $0.section == "alerts.receivers[].webhook" }?.keys == ["url", "bearer_token"])
    }

    @Test func receiversReadEachChannelAndRoutesNameThem() throws {
        let config = try Self.parse("""
            alerts:
              receivers:
                - {name: ops, webhook: {url: 'https://127.0.0.1:9/hook', bearer_token: t}}
                - {name: am, alertmanager: {urls: ['http://127.0.0.1:9093/', 'http://127.0.0.1:9094']}}
                - {name: chat, matrix: {homeserver: 'https://127.0.0.1:8448/', room_id: '!r:x', access_token: a}}
                - {name: phone, ntfy: {url: 'https://127.0.0.1:2586/alerts', priority: high, tags: [a, b]}}
              routes:
                - {match: {severity: page}, match_re: {job: 'web|api'}, receivers: [phone], continue: true}
              default_receivers: [ops]
            """)
        let receivers = config.alerts.receivers
        #expect(receivers.map(\.name) == ["ops", "am", "chat", "phone"])
        #expect(receivers[0].kind == .webhook(.init(url: Secret("https://127.0.0.1:9/hook"), bearerToken: Secret("t"))))
        #expect(receivers[1].kind == .alertmanager(.init(urls: ["http://127.0.0.1:9093", "http://127.0.0.1:9094"])))
        guard case .matrix(let matrix) = receivers[2].kind, case .ntfy(let ntfy) = receivers[3].kind else {
            Issue.record("kinds: \(receivers.map(\.kind.typeName))")
            return
        }
        #expect(matrix.homeserver == "https://127.0.0.1:8448" && matrix.roomID == "!r:x")
        #expect(ntfy.priority == "high" && ntfy.tags == ["a", "b"] && ntfy.token == nil)
        #expect(config.alerts.routes == [{
            var route = RouteSpec(matchers: [RouteMatcher(name: "severity", value: "page", regex: false), RouteMatcher(name: "job", value: "web|api", regex: true)],
                                  receivers: ["phone"])
            route.continue = true
            return route
        }()])
        #expect(config.alerts.defaultReceivers == ["ops"])
    }

    /// Secrets under alerts come from the environment the loader is given, like every other
    /// section's (they used to read the process environment whatever the caller passed).
    /// Parts are sized from the database unless a size is given; `auto` says so explicitly.
    @Test func partSizeIsAutomaticUnlessGiven() throws {
        let storage = "backups:\n  storage: {endpoint: 'http://127.0.0.1:9', bucket: backups, access_key_id: a, secret_access_key: s"
        #expect(try Self.parse(storage + "}\n").backups.storage.partSize == nil)
        #expect(try Self.parse(storage + ", part_size: auto}\n").backups.storage.partSize == nil)
        #expect(try Self.parse(storage + ", part_size: 64MiB}\n").backups.storage.partSize == 64 << 20)
    }

    @Test func alertSecretsComeFromTheGivenEnvironment() throws {
        let environment: (String) -> String? = { ["HOOK": "https://127.0.0.1:9/from-env", "BEAT": "http://127.0.0.1:9/beat"][$0] }
        let config = try Self.parse("""
            alerts:
              receivers: [{name: ops, slack: {webhook_url: '${HOOK}'}}]
              heartbeat: {url: '${BEAT}'}
            """, environment: environment)
        #expect(config.alerts.receivers.first?.kind == .slack(.init(webhookURL: Secret("https://127.0.0.1:9/from-env"))))
        #expect(config.alerts.heartbeat?.url == Secret("http://127.0.0.1:9/beat"))
    }

    @Test(arguments: [
        ("alerts:\n  receivers:\n    - {name: a}\n", "m.yml:3:7: alerts.receivers[0]: a receiver needs exactly one of alertmanager, discord, email"),
        ("alerts:\n  receivers:\n    - {name: a, slack: {webhook_url: 'https://x'}, discord: {webhook_url: 'https://x'}}\n",
         "m.yml:3:7: alerts.receivers[0]: a receiver needs exactly one of alertmanager, discord, email, gotify, mastodon, matrix, ntfy, slack, telegram, webhook (found discord, slack)"),
        ("alerts:\n  receivers:\n    - {name: a, email: {to: a@b, from: c@d}}\n", "m.yml:3:24: alerts.receivers[0].email: missing required key 'smarthost'"),
        ("alerts:\n  receivers:\n    - {name: a, webhook: {url: 'https://x', token: t}}\n", "m.yml:3:45: alerts.receivers[0].webhook.token: unknown key 'token' (allowed here: url, bearer_token)"),
        ("alerts:\n  receivers:\n    - {name: a, slack: {webhook_url: x}}\n    - {name: a, slack: {webhook_url: 'https://y'}}\n",
         "m.yml:3:38: alerts.receivers[0].slack.webhook_url: not an http:// or https:// URL"),
        ("alerts:\n  receivers:\n    - {name: a, gotify: {url: 'https://g', token: t}}\n    - {name: a, gotify: {url: 'https://g', token: t}}\n",
         "m.yml:4:7: alerts.receivers[1]: duplicate receiver name 'a'"),
        ("alerts:\n  receivers: [{name: a, gotify: {url: 'https://g', token: t}}]\n  routes: [{match: {x: y}, receivers: [b]}]\n",
         "m.yml:3:40: alerts.routes[0].receivers[0]: no receiver is named 'b' (receivers: a)"),
        ("alerts:\n  receivers: [{name: a, gotify: {url: 'https://g', token: t}}]\n  routes: [{match_re: {job: '(web'}, receivers: [a]}]\n",
         "m.yml:3:29: alerts.routes[0].match_re.job: invalid regular expression"),
        ("alerts:\n  external_labels: {'1x': y}\n", "m.yml:2:21: alerts.external_labels.1x: '1x' is not a label name"),
        ("alerts:\n  external_labels: {a: x, a: y}\n", "m.yml:2:27: alerts.external_labels.a: duplicate key 'a'"),
        ("alerts:\n  maintenance_windows: [{cron: '0 3 * * *'}]\n", "m.yml:2:25: alerts.maintenance_windows[0]: missing required key 'duration'"),
        ("restarts:\n  - {name: t, group: sidekiq, max_age: 3h, signal: TERM, command_timeout: 5s}\n",
         "m.yml:2:75: restarts[0].command_timeout: command_timeout applies to a command: method only"),
        ("restarts:\n  - {name: t, group: sidekiq, max_age: 3h, signal: TERM, systemd: {}}\n",
         "m.yml:2:5: restarts[0]: a restart target needs exactly one method: signal, command, supervisord, systemd or docker (found signal, systemd)"),
        ("restarts:\n  - {name: t, group: sidekiq, max_age: 3h, supervisord: {url: 'http://127.0.0.1:9001'}}\n",
         "m.yml:2:57: restarts[0].supervisord: missing required key 'program'"),
        ("restarts:\n  - {name: t, group: nope, max_age: 3h, signal: TERM}\n", "m.yml:2:22: restarts[0].group: no process group is named 'nope'"),
        ("restarts:\n  - {name: t, group: sidekiq, signal: TERM}\n", "m.yml:2:5: restarts[0]: a restart target needs a trigger: max_age, max_memory or on_alert"),
        ("backups: {enabled: true}\n", "m.yml:1:10: backups: backups are enabled but have no storage: section"),
        ("backups:\n  encryption: {recipients: [age1short]}\n", "m.yml:2:28: backups.encryption.recipients: recipient 1 'age1short…' is not an age X25519 recipient"),
        ("backups:\n  storage: {endpoint: 'http://127.0.0.1:9', bucket: backups, access_key_id: a, secret_access_key: s, part_size: 4MiB}\n",
         "m.yml:2:113: backups.storage.part_size: a part is auto, or 5MiB to 5GiB (S3's limits)"),
        ("backups:\n  drill: {scratch_database: mastodon_production}\n",
         "m.yml:2:29: backups.drill.scratch_database: 'mastodon_production' is the database that is backed up"),
        ("jobs:\n  - {name: j, schedule: '@daily', command: [/bin/true], environment: {A: [1]}}\n",
         "m.yml:2:70: jobs[0].environment: expected NAME: value pairs (plain strings)"),
        ("jobs:\n  - {name: j, schedule: 'at noon', command: [/bin/true]}\n", "m.yml:2:25: jobs[0].schedule: "),
        ("jobs:\n  - {name: j, schedule: '@daily', command: [/bin/true]}\n  - {name: j, schedule: '@daily', command: [/bin/true]}\n",
         "m.yml:3:5: jobs[1]: duplicate job 'j'"),
    ])
    func badSectionsAreLocated(text: String, expectedPrefix: String) {
        do {
            _ = try Self.parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.hasPrefix(expectedPrefix), "got: \(error.description)")
        }
    }
}
