import MastiffCore
import Testing

/// "Actions that trust nothing", item 10: whose processes a restart target may restart, as the
/// configuration decides it. The host's accounts are described here, not read from this machine.
@Suite struct RestartOwnerConfigTests {
    static func accounts(_ known: [String: UInt32], effective: UInt32 = 0) -> SystemAccounts {
        SystemAccounts(effectiveUID: effective) { known[$0] }
    }

    static func owner(_ target: String, groups: String = "", accounts: SystemAccounts) throws -> ProcessOwner? {
        let text = (groups.isEmpty ? "" : "collectors: {processes: {groups: [\(groups)]}}\n") + "restarts:\n  - \(target)\n"
        return try ConfigLoader.parse(text, file: "m.yml", accounts: accounts).restarts.first?.owner
    }

    @Test func mastodonsGroupsRestartOnlyTheMastodonAccountsProcesses() throws {
        let host = Self.accounts(["mastodon": 991, "postgres": 105])
        for group in ["puma", "sidekiq", "streaming"] {
            let owner = try Self.owner("{name: t, group: \(group), max_age: 3h, signal: TERM}", accounts: host)
            #expect(owner == ProcessOwner(name: "mastodon", uid: 991), "\(group)")
            let unit = try Self.owner("{name: t, group: \(group), max_age: 3h, systemd: {unit: mastodon-\(group).service}}", accounts: host)
            #expect(unit?.uid == 991, "a unit does not lift the account check of Mastodon's own groups")
        }
        // In a container the engine's cgroup says whose the process is; its uid is the image's.
        #expect(try Self.owner("{name: t, group: sidekiq, max_age: 3h, docker: {}}", accounts: host) == nil)
        #expect(try Self.owner("{name: t, group: sidekiq, max_age: 3h, docker: {}, user: '991'}", accounts: host) == ProcessOwner(name: "991", uid: 991))
    }

    @Test func anExplicitUserWinsOverTheGroupsAndTheDefault() throws {
        let host = Self.accounts(["mastodon": 991, "live": 1500, "web": 1600])
        #expect(try Self.owner("{name: t, group: sidekiq, user: live, max_age: 3h, signal: TERM}", accounts: host)?.uid == 1500)
        let grouped = try Self.owner("{name: t, group: sidekiq, max_age: 3h, signal: TERM}",
                                     groups: "{name: sidekiq, cmdline: '^sidekiq ', user: web}", accounts: host)
        #expect(grouped?.uid == 1600)
        #expect(try Self.owner("{name: t, group: sidekiq, user: '0', max_age: 3h, signal: TERM}", accounts: host)?.uid == 0)
    }

    @Test func othersGroupsRestartMastiffsOwnAccountUnlessTheMethodNamesWhatItRestarts() throws {
        let host = Self.accounts([:], effective: 4242)
        let groups = "{name: workers, cmdline: 'worker\\.py'}"
        #expect(try Self.owner("{name: t, group: workers, max_age: 3h, signal: TERM}", groups: groups, accounts: host)?.uid == 4242)
        #expect(try Self.owner("{name: t, group: workers, max_age: 3h, command: [/bin/true]}", groups: groups, accounts: host)?.uid == 4242)
        #expect(try Self.owner("{name: t, group: workers, max_age: 3h, systemd: {}}", groups: groups, accounts: host)?.uid == 4242)
        #expect(try Self.owner("{name: t, group: workers, max_age: 3h, systemd: {unit: workers.service}}", groups: groups, accounts: host) == nil)
        #expect(try Self.owner("{name: t, group: workers, max_age: 3h, supervisord: {url: 'unix:///s.sock', program: w}}", groups: groups, accounts: host) == nil)
    }

    @Test(arguments: [
        ("restarts:\n  - {name: t, group: sidekiq, max_age: 3h, signal: TERM}\n",
         "m.yml:2:22: restarts[0].group: group 'sidekiq' is Mastodon's, whose processes run as the user 'mastodon', and this host has no such user"),
        ("restarts:\n  - {name: t, group: sidekiq, user: mastodn, max_age: 3h, signal: TERM}\n",
         "m.yml:2:37: restarts[0].user: this host has no user 'mastodn' (getent passwd mastodn finds nothing)"),
        ("collectors: {processes: {groups: [{name: w, comm: [w], user: \"ghost\\n\"}]}}\n",
         "m.yml:1:62: collectors.processes.groups[0].user: this host has no user 'ghost\\n'"),
    ])
    func anAccountTheHostDoesNotHaveIsALocatedError(text: String, expectedPrefix: String) {
        do {
            _ = try ConfigLoader.parse(text, file: "m.yml", accounts: Self.accounts(["postgres": 105]))
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.hasPrefix(expectedPrefix), "got: \(error.description)")
        }
    }

    @Test func aGroupsUserIsResolvedOnce() throws {
        let config = try ConfigLoader.parse("collectors: {processes: {groups: [{name: w, comm: [w], user: live}]}}\n", file: "m.yml",
                                            accounts: Self.accounts(["live": 1500]))
        #expect(config.collectors.processes.groups.first?.user == ProcessOwner(name: "live", uid: 1500))
    }

    @Test func theOwnerComesFromTheRealAndEffectiveUid() {
        #expect(ProcessOwner.uid(fromStatus: Array("Name:\tx\nUid:\t991\t991\t991\t991\nGid:\t0\t0\t0\t0\n".utf8)) == 991)
        #expect(ProcessOwner.uid(fromStatus: Array("Uid:\t1000\t0\t0\t0\n".utf8)) == nil, "a setuid in progress is nobody's")
        #expect(ProcessOwner.uid(fromStatus: Array("Name:\tx\n".utf8)) == nil)
        #expect(ProcessOwner.uid(fromStatus: Array("Uid:\t-1\t-1\n".utf8)) == nil)
        #expect(ProcessOwner.uid(fromStatus: Array("Uid:\t99999999999\t99999999999\n".utf8)) == nil)
    }
}
