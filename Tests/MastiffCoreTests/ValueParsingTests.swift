import MastiffCore
import Testing

@Suite struct ValueParsingTests {
    @Test(arguments: [
        ("90s", 90_000), ("3h", 10_800_000), ("1h30m", 5_400_000), ("500ms", 500), ("1y", 31_536_000_000),
        ("2d", 172_800_000), ("1w", 604_800_000), ("0", 0), ("1d12h", 129_600_000), ("1m500ms", 60_500), (" 5m ", 300_000),
    ])
    func durations(text: String, milliseconds: Int64) {
        #expect(DurationParser.parse(text) == .milliseconds(milliseconds))
    }

    /// Prometheus's grammar (model.ParseDuration), the same as in rule files and PromQL: no
    /// fractions, units from largest to smallest, each once (issue 23: `1.5h` and `1y` meant
    /// different things in the configuration and in a rule).
    @Test(arguments: ["", "5", "5x", "s", "1h-5m", "abc", "1e3s", "-5s", "1.5h", "30m1h", "1h1h", "1H", "5 m", "99999999999999999999y"])
    func badDurations(text: String) {
        #expect(DurationParser.parse(text) == nil)
    }

    @Test func durationFormatting() {
        #expect(DurationParser.format(.seconds(10_800)) == "3h")
        #expect(DurationParser.format(.seconds(90)) == "90s")
        #expect(DurationParser.format(.milliseconds(2500)) == "2500ms")
    }

    @Test(arguments: [
        ("512MiB", ByteSize.bytes(536_870_912)), ("1.5GiB", .bytes(1_610_612_736)), ("100MB", .bytes(100_000_000)),
        ("4096", .bytes(4096)), ("1 KiB", .bytes(1024)), ("10%", .percentOfMemory(10)),
    ])
    func sizes(text: String, expected: ByteSize) {
        #expect(ByteSize.parse(text) == expected)
    }

    @Test(arguments: ["", "MiB", "12XB", "0%", "101%", "-5MiB", "1.2.3GiB"])
    func badSizes(text: String) {
        #expect(ByteSize.parse(text) == nil)
    }

    @Test func percentResolvesAgainstMemory() {
        #expect(ByteSize.percentOfMemory(10).bytes(totalMemory: 1_000_000_000) == 100_000_000)
    }

    @Test func listenAddresses() {
        #expect(ListenAddress(parsing: "127.0.0.1:9815") == ListenAddress(host: "127.0.0.1", port: 9815))
        #expect(ListenAddress(parsing: ":9815") == ListenAddress(host: "0.0.0.0", port: 9815))
        #expect(ListenAddress(parsing: "[::1]:9815") == ListenAddress(host: "::1", port: 9815))
        #expect(ListenAddress(parsing: "::1:9815") == nil)
        #expect(ListenAddress(parsing: "localhost") == nil)
        #expect(ListenAddress(host: "::1", port: 1).description == "[::1]:1")
    }
}
