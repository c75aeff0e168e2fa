import Glibc
import MastiffCore
import Testing

/// The guards every value from outside passes through: numbers that would trap, control
/// characters that would forge a header or act on a terminal, URLs with credentials in errors,
/// regular expressions that would take unbounded memory.
@Suite struct HostileValueTests {
    @Test func saturatingConversionsNeverTrap() {
        #expect(Int(saturating: .infinity) == .max)
        #expect(Int(saturating: -.infinity) == .min)
        #expect(Int(saturating: .nan) == 0)
        #expect(Int(saturating: 1e300) == .max)
        #expect(Int(saturating: 9.3e18) == .max)
        #expect(Int(saturating: -9.3e18) == .min)
        #expect(Int(saturating: 12.9) == 12)
        #expect(Int64(saturating: -1e300) == .min)
        #expect(Int(exactWhole: 1e19) == nil)
        #expect(Int(exactWhole: 0.5) == nil)
        #expect(Int(exactWhole: 42) == 42)
    }

    @Test func jsonTimesAndCountsAreCheckedLikeInput() {
        #expect(JSONValue.number(1e300).timestamp == nil)
        #expect(JSONValue.number(-1).timestamp == nil)
        #expect(JSONValue.number(1_700_000_000).timestamp == 1_700_000_000)
        #expect(JSONValue.number(1e19).integer == nil)
        #expect(JSONValue.string("5").integer == nil)
        #expect(CalendarTime.utc(1e300).year == 5000, "a corrupt time shows as a strange date, never a trap")
        #expect(CalendarTime.utc(.nan).year == 1970)
    }

    @Test(arguments: ["a\rb", "a\nb", "a\r\nb", "a\u{0}b", "a\u{1b}[31mb", "a\u{85}b", "a\u{2028}b"])
    func controlCharactersNeverReachAHeaderOrATerminal(_ value: String) {
        let header = value.replacingControlCharacters
        #expect(!header.unicodeScalars.contains { $0.isControlCharacter })
        #expect(header.hasPrefix("a") && header.hasSuffix("b"))
        let shown = value.escapingControlCharacters
        #expect(!shown.unicodeScalars.contains { $0.isControlCharacter })
        #expect(shown.contains("\\"))
    }

    @Test func urlsInMessagesShowTheHostOnly() {
        #expect(URLText.redacted("https://user:s3cret@ntfy.example:8443/topic?auth=tok") == "https://ntfy.example:8443…")
        #expect(URLText.redacted("ftp://alice:pw@files.example/") == "ftp://files.example…")
        #expect(URLText.host("https://user:secret@social.example:8443/path") == "social.example:8443")
        #expect(!URLText.isHTTP("http://host/a b"))
        #expect(!URLText.isHTTP("http://host/\r\nX: y"))
        #expect(URLText.isHTTP("https://host:9093"))
    }

    /// RE2 refuses these (Prometheus and statsd_exporter are Go); glibc would backtrack on the
    /// backreference and build an automaton of 1.8 GB for the nested counts.
    @Test(arguments: ["((a{1,100}){1,100}){1,100}", "(a)\\1", "x{1001}", "(a{2}){501}", "(b{10,}){101}"])
    func patternsRE2RefusesAreRefused(_ pattern: String) {
        #expect(POSIXRegex.refusal(pattern) != nil)
        #expect(throws: ConfigErrorReason.self) { try CapturingRegex(pattern) }
        #expect(POSIXRegex.compile(pattern) == nil)
    }

    @Test(arguments: ["a{1000}", "(a{10}){100}", "[{}]{2}", "a{", "(a|b)+c*", "[\\1]", "x{,5}"])
    func patternsRE2AcceptsPassTheCheck(_ pattern: String) {
        #expect(POSIXRegex.refusal(pattern) == nil, "\(pattern)")
    }

    @Test func aBadRegexInARouteIsRefusedQuickly() throws {
        let started = ContinuousClock.now
        #expect(throws: ConfigErrorReason.self) { try CapturingRegex("^(((a{1,100}){1,100}){1,100})$") }
        #expect(ContinuousClock.now - started < .seconds(1))
    }
}
