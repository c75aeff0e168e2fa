import MastiffCore
import Testing

@Suite struct ConfigLoaderTests {
    @Test func emptyFileGivesDefaults() throws {
        let config = try ConfigLoader.parse("", file: "empty.yml")
        #expect(config == MastiffConfig())
        #expect(config.listen.description == "127.0.0.1:9815")
        #expect(config.collectors.timeout == .seconds(5))
        #expect(config.collectors.processes.effectiveGroups.map(\.name).contains("sidekiq"))
    }

    @Test func fullFileIsRead() throws {
        let text = """
        listen: "[::1]:9900"
        state_dir: /srv/mastiff
        log: {level: debug, format: json}
        collectors:
          timeout: 2500ms
          system:
            filesystems: [/, /home/mastodon/live/public/system]
          processes:
            pss: false
            default_groups: false
            groups:
              - {name: sidekiq, cmdline: '^sidekiq '}
              - name: web
                comm: [puma, ruby]
                exe: ruby3.1
        """
        let config = try ConfigLoader.parse(text, file: "full.yml")
        #expect(config.listen == ListenAddress(host: "::1", port: 9900))
        #expect(config.stateDirectory == "/srv/mastiff")
        #expect(config.log.level == .debug)
        #expect(config.log.format == .json)
        #expect(config.collectors.timeout == .milliseconds(2500))
        #expect(config.collectors.system.filesystems == ["/", "/home/mastodon/live/public/system"])
        #expect(config.collectors.processes.pss == false)
        #expect(config.collectors.processes.effectiveGroups == [
            ProcessGroupSpec(name: "sidekiq", cmdline: "^sidekiq "),
            ProcessGroupSpec(name: "web", comm: ["puma", "ruby"], exe: ["ruby3.1"]),
        ])
    }

    @Test func configuredGroupsComeBeforeDefaultsAndReplaceSameName() throws {
        let config = try ConfigLoader.parse("collectors: {processes: {groups: [{name: redis, comm: keydb-server}]}}", file: "f.yml")
        let groups = config.collectors.processes.effectiveGroups
        #expect(groups.first == ProcessGroupSpec(name: "redis", comm: ["keydb-server"]))
        #expect(groups.filter { $0.name == "redis" }.count == 1)
        #expect(groups.count == ProcessGroupSpec.mastodonDefaults.count)
    }

    /// Each bad input names file:line:column, the key path and what is wrong.
    @Test(arguments: [
        ("listen: 127.0.0.1:9815\nlisten_addr: x\n", "bad.yml:2:1: listen_addr: unknown key 'listen_addr'"),
        ("collectors:\n  timeout: soon\n", "bad.yml:2:12: collectors.timeout: 'soon' is not a duration"),
        ("collectors:\n  system: {filesystems: [relative/path]}\n", "bad.yml:2:26: collectors.system.filesystems[0]: 'relative/path' is not an absolute path"),
        ("collectors:\n  processes:\n    pss: yes\n", "bad.yml:3:10: collectors.processes.pss: expected true or false, found 'yes'"),
        ("collectors:\n  processes:\n    groups:\n      - {name: x, cmdline: '(unclosed'}\n", "bad.yml:4:28: collectors.processes.groups[0].cmdline: '(unclosed' is not a valid POSIX extended regular expression ("),
        ("collectors:\n  processes:\n    groups:\n      - {name: x}\n", "bad.yml:4:9: collectors.processes.groups[0]: group 'x' needs at least one matcher"),
        ("collectors:\n  processes:\n    groups:\n      - {comm: x}\n", "bad.yml:4:9: collectors.processes.groups[0]: missing required key 'name'"),
        ("log: {level: loud}\n", "bad.yml:1:14: log.level: unknown level 'loud'"),
        ("listen: 9815\n", "bad.yml:1:9: listen: '9815' is not a listen address"),
        ("listen: 1.2.3.4:99999\n", "bad.yml:1:9: listen: '1.2.3.4:99999' is not a listen address"),
        ("collectors: [a, b]\n", "bad.yml:1:13: collectors: expected a mapping, found a list"),
        ("collectors:\n  timeout: 5s\n  timeout: 6s\n", "bad.yml:3:3: collectors.timeout: duplicate key 'timeout'"),
        ("state_dir: var/lib\n", "bad.yml:1:12: state_dir: must be an absolute path"),
        ("listen: [unclosed\n", "bad.yml:2:1: YAML syntax error"),
        ("statsd: {udp: 8125}\n", "bad.yml:1:15: statsd.udp: '8125' is not a listen address"),
        ("statsd: {unmapped: keep}\n", "bad.yml:1:20: statsd.unmapped: unknown value 'keep' (escape, escape_exact, drop)"),
        ("statsd:\n  counter_suffix: none\n", "bad.yml:2:19: statsd.counter_suffix: unknown value 'none' (total, as_mapped)"),
        ("statsd: {mapping: mapping.yml}\n", "bad.yml:1:19: statsd.mapping: must be an absolute path"),
        ("statsd: {mastodon_namespace: 'Mastodon production'}\n", "bad.yml:1:30: statsd.mastodon_namespace: 'Mastodon production' is not a statsd namespace"),
        ("statsd: {max_packet_size: 10GiB}\n", "bad.yml:1:27: statsd.max_packet_size: must be from 512 bytes to 1MiB"),
        ("collectors:\n  mastodon_endpoints: [{name: s, url: 'localhost:4000'}]\n", "bad.yml:2:39: collectors.mastodon_endpoints[0].url: 'localhost:4000' is not an http:// or https:// URL"),
    ])
    func badInputIsLocated(text: String, expectedPrefix: String) {
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(text, file: "bad.yml") }
        do {
            _ = try ConfigLoader.parse(text, file: "bad.yml")
        } catch {
            #expect(error.description.hasPrefix(expectedPrefix), "got: \(error.description)")
        }
    }

    @Test func statsdListenersCanBeTurnedOff() throws {
        let config = try ConfigLoader.parse("statsd: {udp: '', tcp: '127.0.0.1:9125', unixgram: /run/mastiff/statsd.sock}\n", file: "x.yml")
        #expect(config.statsd.udp == nil)
        #expect(config.statsd.tcp == ListenAddress(host: "127.0.0.1", port: 9125))
        #expect(config.statsd.unixgram == "/run/mastiff/statsd.sock")
    }

    @Test func missingFileIsAClearError() {
        do {
            _ = try ConfigLoader.load(.file("/nonexistent/mastiff.yml"))
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("/nonexistent/mastiff.yml"))
            #expect(error.description.contains("No such file"))
        }
    }

    @Test func sourceResolutionOrder() {
        #expect(ConfigLoader.Source.resolve(explicitPath: "/a.yml", environment: { _ in "/b.yml" }, fileExists: { _ in true }) == .file("/a.yml"))
        #expect(ConfigLoader.Source.resolve(explicitPath: nil, environment: { _ in "/b.yml" }, fileExists: { _ in true }) == .file("/b.yml"))
        #expect(ConfigLoader.Source.resolve(explicitPath: nil, environment: { _ in nil }, fileExists: { _ in true }) == .file("/etc/mastiff/mastiff.yml"))
        #expect(ConfigLoader.Source.resolve(explicitPath: nil, environment: { _ in nil }, fileExists: { _ in false }) == .embeddedDefaults)
    }
}
