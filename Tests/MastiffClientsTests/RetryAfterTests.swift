import MastiffClients
import Testing

/// Retry-After as RFC 9110 defines it; anything else is no hint.
@Suite struct RetryAfterTests {
    static let now = 784_111_777.0   // Sun, 06 Nov 1994 08:49:37 GMT

    @Test func deltaSecondsAndTheThreeDateForms() {
        #expect(RetryAfter.seconds("120", now: Self.now) == 120)
        #expect(RetryAfter.seconds(" 0 ", now: Self.now) == 0)
        #expect(RetryAfter.seconds("Sun, 06 Nov 1994 08:50:37 GMT", now: Self.now) == 60)
        #expect(RetryAfter.seconds("Sunday, 06-Nov-94 08:50:37 GMT", now: Self.now) == 60)
        #expect(RetryAfter.seconds("Sun Nov  6 08:50:37 1994", now: Self.now) == 60)
        #expect(RetryAfter.seconds("Sun, 06 Nov 1994 08:00:00 GMT", now: Self.now) == 0, "a date in the past: retry now")
    }

    @Test(arguments: ["inf", "Inf", "1e300", "-5", "1.5", "NaN", "soon", "", "0x10", "Sun, 06 Nov 1994 25:00:00 GMT", "Sun, 32 Nov 1994 08:49:37 GMT"])
    func whatIsNoHint(_ value: String) {
        #expect(RetryAfter.seconds(value, now: Self.now) == nil)
    }

    @Test func aHugeDeltaIsAHugeNumberNotATrap() {
        #expect(RetryAfter.seconds("999999999", now: Self.now) == 999_999_999)
        #expect(RetryAfter.seconds(String(repeating: "9", count: 400), now: Self.now) == 1e15)
    }
}
