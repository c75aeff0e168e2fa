import MastiffCore
import MastiffPolicies
import Testing

/// What `mastiff init` writes for an installation described here (the integration tests read
/// real fixture trees): the written file loads, its values are the installation's, and no value
/// from the environment file can change the file's structure.
@Suite struct InitialConfigurationTests {
    static let sidekiqUnit = "[Service]\nUser=mastodon\nExecStart=/home/mastodon/.rbenv/shims/bundle exec sidekiq -c 25\n"
    static let webUnit = "[Service]\nUser=mastodon\nExecStart=/home/mastodon/.rbenv/shims/bundle exec puma -C config/puma.rb\n"
    static let accounts = SystemAccounts(effectiveUID: 0) { ["mastodon": 991][$0] }

    static func installation(_ env: [String: String], units: [String: String] = [:]) -> MastodonInstallation {
        var installation = MastodonInstallation(envFile: "/home/mastodon/live/.env.production", systemdDirectory: "/etc/systemd/system")
        installation.env = env
        installation.units = units
        installation.existingAccounts = ["mastodon"]
        return installation
    }

    static func load(_ plan: InitialConfiguration) throws -> MastiffConfig {
        try ConfigLoader.parse(plan.text, file: "init.yml", environment: { _ in nil }, accounts: accounts)
    }

    @Test func aStockInstallationGivesActiveTargetsInDryRunForTheMastodonAccount() throws {
        let plan = InitialConfiguration.plan(Self.installation(["LOCAL_DOMAIN": "social.example", "DB_PASS": "s3cret"],
                                                               units: ["mastodon-sidekiq.service": Self.sidekiqUnit, "mastodon-web.service": Self.webUnit]),
                                             secretsDirectory: "/etc/mastiff/secrets", writtenAt: "now")
        let config = try Self.load(plan)
        #expect(config.restarts.map(\.name) == ["sidekiq", "puma-workers"])
        #expect(config.restarts.allSatisfy { $0.dryRun && $0.owner?.uid == 991 })
        #expect(config.restarts.first?.method == .systemd(unit: "mastodon-sidekiq.service"))
        #expect(config.restarts.first?.gracefulSidekiq == true && config.restarts.first?.maxAge == .seconds(3 * 3600))
        #expect(config.collectors.processes.groups.first?.user == ProcessOwner(name: "mastodon", uid: 991))
        #expect(config.instance.url == "https://social.example")
        #expect(config.collectors.postgres.dsn.reveal() == "host='localhost' port='5432' dbname='mastodon_production' user='mastodon' passfile='/etc/mastiff/secrets/pgpass'")
        #expect(!plan.text.contains("s3cret"))
        #expect(plan.secretFiles.map(\.path) == ["/etc/mastiff/secrets/pgpass"])
        #expect(plan.secretFiles.first?.contents.reveal() == "*:*:*:*:s3cret\n")
        #expect(!config.statsd.enabled)
    }

    /// Values from .env.production are data: quotes, newlines, `#` and YAML syntax in them
    /// arrive as written (or are refused with a note) and never become keys.
    @Test(arguments: ["mastodon\" \n  redis: {url: x}", "db'name # not a comment", "x\u{0}y", "tab\there", "{[&*!|>%@`]}", "ünï©ødé\u{2028}"])
    func hostileValuesStayValues(_ hostile: String) throws {
        let plan = InitialConfiguration.plan(Self.installation(["DB_NAME": hostile, "DB_USER": hostile, "REDIS_NAMESPACE": hostile, "LOCAL_DOMAIN": hostile,
                                                                "STATSD_ADDR": hostile, "PROMETHEUS_EXPORTER_HOST": hostile,
                                                                "MASTODON_PROMETHEUS_EXPORTER_ENABLED": "true", "SMTP_SERVER": hostile]),
                                             secretsDirectory: "/etc/mastiff/secrets", writtenAt: "now")
        let config = try Self.load(plan)
        #expect(ConnectionStringParts.database(config.collectors.postgres.dsn.reveal()) == hostile)
        #expect(config.collectors.sidekiq.namespace == hostile)
        #expect(config.instance.url == nil, "not a host name: not probed")
        #expect(plan.notes.contains { $0.contains("LOCAL_DOMAIN is not a host name") })
        #expect(config.collectors.mastodonEndpoints.map(\.url) == ["http://127.0.0.1:9394/metrics", "http://127.0.0.1:4000/metrics"])
        #expect(!config.statsd.enabled)
        #expect(config.restarts.isEmpty)
    }

    @Test func severalSidekiqUnitsAreOneTargetThroughTheirOwnUnits() throws {
        let plan = InitialConfiguration.plan(Self.installation([:], units: ["mastodon-sidekiq.service": Self.sidekiqUnit,
                                                                            "mastodon-sidekiq-pull.service": Self.sidekiqUnit]),
                                             secretsDirectory: "/s", writtenAt: "now")
        let config = try Self.load(plan)
        #expect(config.restarts.map(\.method) == [.systemd(unit: nil)])
    }

    @Test func aRedisPasswordGoesToAFileAndTheURLSaysFile() throws {
        let plan = InitialConfiguration.plan(Self.installation(["REDIS_HOST": "10.0.0.5", "REDIS_PASSWORD": "p@ss:w/rd"]), secretsDirectory: "/s", writtenAt: "now")
        #expect(plan.text.contains("url: \"file:/s/redis-url\""))
        #expect(plan.secretFiles.first { $0.path == "/s/redis-url" }?.contents.reveal() == "redis://:p%40ss%3Aw%2Frd@10.0.0.5:6379/0")
        #expect(!plan.text.contains("p@ss") && !plan.notes.joined().contains("p@ss"))
        if case .success(let url) = RedisURL.parse("redis://:p%40ss%3Aw%2Frd@10.0.0.5:6379/0") {
            #expect(url.location == .tcp(host: "10.0.0.5", port: 6379))
        }
    }

    @Test func theVersionComesFromVersionRb() {
        let text = "module Mastodon\n  module Version\n    module_function\n\n    def major\n      4\n    end\n\n    def minor\n      5\n    end\n\n    def patch\n      12\n    end\n"
        #expect(MastodonInstallation.version(fromVersionFile: text) == "4.5.12")
        #expect(MastodonInstallation.version(fromVersionFile: "nothing here") == nil)
    }
}
