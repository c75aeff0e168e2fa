import MastiffCollectors
import Testing

@Suite struct ProcessParsersTests {
    @Test func statWithSpacesAndParenthesesInComm() throws {
        let line = "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 1000 0 7 0 250 50 0 0 20 0 12 0 123456 100000000 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
        let stat = try #require(ProcessParsers.stat(Array(line.utf8)))
        #expect(stat.comm == "my (odd) prog")
        #expect(stat.state == UInt8(ascii: "S"))
        #expect(stat.parentPID == 1)
        #expect(stat.majorFaults == 7)
        #expect(stat.userTicks == 250)
        #expect(stat.systemTicks == 50)
        #expect(stat.threads == 12)
        #expect(stat.startTicks == 123_456)
        #expect(stat.residentPages == 2560)
    }

    @Test(arguments: ["", "4242 (x) S 1 2 3", "4242 x S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22",
                      "4242 (x) S 1 2 3 4 5 6 7 8 nine 10 11 12 13 14 15 16 17 18 19 20 21 22 23"])
    func malformedStat(line: String) {
        #expect(ProcessParsers.stat(Array(line.utf8)) == nil)
    }

    @Test func cmdlineJoinsArguments() {
        #expect(ProcessParsers.cmdline(Array("sidekiq 6.5.12 live [0 of 25 busy]\0".utf8)) == "sidekiq 6.5.12 live [0 of 25 busy]")
        #expect(ProcessParsers.cmdline(Array("node\0./streaming/index.js\0\0".utf8)) == "node ./streaming/index.js")
        #expect(ProcessParsers.cmdline([]) == "")
    }

    @Test func smapsRollupAndStatus() throws {
        let rollup = "00400000-7ffc00000000 ---p 00000000 00:00 0 [rollup]\nRss:    24452 kB\nPss:    16658 kB\nPss_Anon:   568 kB\nSwap:   12 kB\nSwapPss:  6 kB\n"
        let parsed = try #require(ProcessParsers.smapsRollup(Array(rollup.utf8)))
        #expect(parsed.rss == 24452 * 1024)
        #expect(parsed.pss == 16658 * 1024)
        #expect(parsed.swap == 12 * 1024)
        #expect(ProcessParsers.smapsRollup(Array("Rss: 1 kB\n".utf8)) == nil)
        let status = ProcessParsers.status(Array("Name:\tx\nVmRSS:\t  100 kB\nVmSwap:\t  42 kB\n".utf8))
        #expect(status.rss == 100 * 1024)
        #expect(status.swap == 42 * 1024)
        let kernelThread = ProcessParsers.status(Array("Name:\tkthreadd\nUid:\t0\t0\t0\t0\n".utf8))
        #expect(kernelThread.rss == nil)
        #expect(kernelThread.swap == 0)
        #expect(kernelThread.ownerUID == 0)
    }

    @Test func openFilesSoftLimit() {
        let limits = """
        Limit                     Soft Limit           Hard Limit           Units
        Max processes             63704                63704                processes
        Max open files            1024                 524288               files
        """
        #expect(ProcessParsers.openFilesSoftLimit(Array(limits.utf8)) == 1024)
        #expect(ProcessParsers.openFilesSoftLimit(Array("Max open files            unlimited            unlimited            files\n".utf8)) == nil)
    }

    @Test func groupMatching() {
        let matcher = ProcessGroupMatcher(groups: [
            .init(name: "custom", exe: ["ruby3.1"]),
        ] + MastiffCore.ProcessGroupSpec.mastodonDefaults)
        #expect(matcher.group(comm: "ruby3.1", executableBasename: "bundle", cmdline: "puma 6.4.2 (tcp://127.0.0.1:3000) [live]") == "puma")
        #expect(matcher.group(comm: "ruby3.1", executableBasename: "ruby3.1", cmdline: "puma 6.4.2 (tcp://127.0.0.1:3000) [live]") == "custom")
        #expect(matcher.group(comm: "ruby3.1", executableBasename: nil, cmdline: "puma: cluster worker 1: 99 [live]") == "puma")
        #expect(matcher.group(comm: "ruby3.1", executableBasename: nil, cmdline: "sidekiq 7.2.4 live [3 of 25 busy]") == "sidekiq")
        #expect(matcher.group(comm: "node", executableBasename: nil, cmdline: "/usr/bin/node ./streaming") == nil)
        #expect(matcher.group(comm: "node", executableBasename: nil, cmdline: "node ./streaming/index.js") == "streaming")
        #expect(matcher.group(comm: "postgres", executableBasename: nil, cmdline: "postgres: 15/main: checkpointer") == "postgres")
        #expect(matcher.group(comm: "bash", executableBasename: nil, cmdline: "-bash") == nil)
        #expect(matcher.needsExecutable)
        #expect(!matcher.needsOwner)
    }

    /// A group with a `user` takes only that account's processes; the next group may take the
    /// rest.
    @Test func groupMatchingOnTheOwner() {
        let matcher = ProcessGroupMatcher(groups: [
            .init(name: "sidekiq", cmdline: "^sidekiq ", user: ProcessOwner(name: "mastodon", uid: 991)),
            .init(name: "other-sidekiq", cmdline: "^sidekiq "),
        ])
        let title = "sidekiq 7.2.4 mastodon [0 of 25 busy]"
        #expect(matcher.needsOwner)
        #expect(matcher.group(comm: "ruby", executableBasename: nil, cmdline: title, ownerUID: 991) == "sidekiq")
        #expect(matcher.group(comm: "ruby", executableBasename: nil, cmdline: title, ownerUID: 1001) == "other-sidekiq")
        #expect(matcher.group(comm: "ruby", executableBasename: nil, cmdline: title, ownerUID: nil) == "other-sidekiq")
    }
}

import MastiffCore
