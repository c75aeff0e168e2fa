import MastiffCore
import Testing

/// The regex engine is RE2, as Go's regexp (Prometheus, Alertmanager, statsd_exporter): the
/// syntax they accept, the matches they find, and linear time on what makes a backtracking
/// engine hang.
@Suite struct CapturingRegexTests {
    static func anchored(_ pattern: String) throws -> CapturingRegex { try CapturingRegex("^(?s:" + pattern + ")$") }

    /// Patterns from real rule files that POSIX ERE refused.
    @Test(arguments: [
        ("(?:5..)", "503", true), ("(?i).*tail.*", "/api/v1/TIMELINES/tail", true), ("\\d{3}", "404", true), ("\\d{3}", "40x", false),
        ("\\w+", "sidekiq_default", true), ("\\s", " ", true), ("\\pL+", "ÉcoleΩ", true), ("[[:alpha:]]+", "abc", true),
        ("a+?", "aaa", true), ("(?P<code>5)..", "500", true), ("\\Qa.b\\E", "a.b", true), ("\\Qa.b\\E", "axb", false),
        ("[^\\d]+", "abc", true), ("(?s:.)", "\n", true), (".", "\n", true), ("é", "é", true),
    ])
    func goSyntaxIsAccepted(pattern: String, text: String, matches: Bool) throws {
        let found = try Self.anchored(pattern).firstMatch(in: text) != nil
        #expect(found == matches)
    }

    /// What Go refuses is refused, with RE2's reason.
    @Test(arguments: [
        ("(a)\\1", "invalid escape sequence"), ("(?=a)", "invalid perl operator"), ("a{1001}", "invalid repetition size"),
        ("(a", "missing )"), ("a)", "unexpected )"), ("[z-a]", "invalid character class range"), ("*a", "no argument for repetition operator"),
        ("((a{1,100}){1,100}){1,100}", "invalid repetition size"),
    ])
    func whatGoRefusesIsRefused(pattern: String, reason: String) {
        #expect(throws: ConfigErrorReason.self) { try CapturingRegex(pattern) }
        #expect(CapturingRegex.problem(pattern)?.contains(reason) == true, "\(CapturingRegex.problem(pattern) ?? "accepted")")
    }

    /// Leftmost-first, as Go: the first alternative that leads to a match wins, not the longest.
    @Test func alternationIsLeftmostFirst() throws {
        let regex = try CapturingRegex("(a|ab)(c|bcd)")
        let groups = try #require(regex.firstMatch(in: "abcd"))
        #expect(groups.map { $0.map { Array($0) } } == [Array(0..<4), Array(0..<1), Array(1..<4)])
    }

    /// Group offsets are UTF-8 byte offsets; a group that took no part is nil.
    @Test func groupsAreByteRanges() throws {
        let regex = try CapturingRegex("(x)?(é+)")
        let groups = try #require(regex.firstMatch(in: "aéé"))
        #expect(groups.count == 3)
        #expect(groups[0] == 1..<5 && groups[1] == nil && groups[2] == 1..<5)
        #expect(try CapturingRegex("^$").firstMatch(in: "") == [0..<0], "an empty text has a position")
    }

    /// A search from an offset still sees the text before it: `^` does not match there.
    @Test func aSearchFromAnOffsetKeepsTheContext() throws {
        let regex = try CapturingRegex("^a")
        #expect(regex.firstMatch(in: "aa", from: 1) == nil)
        #expect(try CapturingRegex("\\ba").firstMatch(in: "ba a", from: 1)?.first == 3..<4)
    }

    /// Patterns that take exponential time in a backtracking engine, against long label values:
    /// RE2 is linear, so each finishes in milliseconds (bounded here at 2 s for a loaded CI host).
    @Test(arguments: ["(a+)+b", "(a|a)*b", "(a*)*b", "(.*a){20}", "(x+x+)+y"])
    func pathologicalPatternsFinishInLinearTime(pattern: String) throws {
        let regex = try Self.anchored(pattern)
        let text = String(repeating: "a", count: 100_000) + (pattern.hasSuffix("y") ? "x" : "")
        let clock = ContinuousClock()
        let started = clock.now
        #expect(regex.firstMatch(in: text) == nil || pattern == "(.*a){20}")
        #expect(clock.now - started < .seconds(2))
    }

    /// A compiled regex is shared by every thread that matches (the history's matchers, the
    /// statsd listeners).
    @Test func oneRegexServesManyThreads() async throws {
        let regex = try Self.anchored("sidekiq_(\\w+)_queue")
        await withTaskGroup(of: Bool.self) { group in
            for index in 0..<64 {
                group.addTask { regex.firstMatch(in: "sidekiq_q\(index)_queue")?[1] == 8..<(10 + (index >= 10 ? 1 : 0)) }
            }
            for await ok in group { #expect(ok) }
        }
    }
}
