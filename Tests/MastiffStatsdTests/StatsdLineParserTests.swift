#if canImport(Glibc)
import Glibc
#endif
import MastiffCore
@testable import MastiffStatsd
import Testing

@Suite struct StatsdLineParserTests {
    private func events(_ packet: String) -> [StatsdEvent] { StatsdLineParser.parse(packet: packet).events }
    private func errors(_ packet: String) -> [StatsdParseError] { StatsdLineParser.parse(packet: packet).errors }

    @Test func typesAndSampleRates() {
        #expect(events("foo:1|c") == [StatsdEvent(name: "foo", kind: .counter(1))])
        #expect(events("foo:1|c|@0.1") == [StatsdEvent(name: "foo", kind: .counter(10))])
        #expect(events("foo:100|g") == [StatsdEvent(name: "foo", kind: .gauge(100, relative: false))])
        #expect(events("foo:-5|g") == [StatsdEvent(name: "foo", kind: .gauge(-5, relative: true))])
        #expect(events("foo:+5|g") == [StatsdEvent(name: "foo", kind: .gauge(5, relative: true))])
        #expect(events("foo:320|ms|@0.1") == [StatsdEvent(name: "foo", kind: .observation(320, type: .timer, weight: 10))])
        #expect(events("foo:0.5|h") == [StatsdEvent(name: "foo", kind: .observation(0.5, type: .histogram, weight: 1))])
        #expect(events("foo:7|d") == [StatsdEvent(name: "foo", kind: .observation(7, type: .distribution, weight: 1))])
    }

    /// The tag forms statsd_exporter documents, each giving the same event.
    @Test(arguments: [
        "foo:100|c|#tag1:bar,tag2:baz",
        "foo,tag1=bar,tag2=baz:100|c",
        "foo#tag1=bar,tag2=baz:100|c",
        "foo[tag1=bar,tag2=baz]:100|c",
    ])
    func tagFormats(line: String) {
        #expect(events(line) == [StatsdEvent(name: "foo", kind: .counter(100), tags: [Label("tag1", "bar"), Label("tag2", "baz")])])
    }

    /// DogStatsD 1.2/1.3 fields (container ID, timestamp) are skipped; the rate may come before
    /// or after the tags.
    @Test(arguments: [
        "foo:1|c|@0.5|#a:b",
        "foo:1|c|#a:b|@0.5",
        "foo:1|c|@0.5|#a:b|c:3f1e2d|T1700000000",
        "foo:1|c|c:3f1e2d|#a:b|@0.5",
    ])
    func dogStatsDExtensionFields(line: String) {
        #expect(events(line) == [StatsdEvent(name: "foo", kind: .counter(2), tags: [Label("a", "b")])])
    }

    @Test func signalFXTagsInTheMiddleOfTheName() {
        #expect(events("foo[tag1=bar].test:1|c") == [StatsdEvent(name: "foo.test", kind: .counter(1), tags: [Label("tag1", "bar")])])
    }

    @Test func severalSamplesAndPackedValues() {
        #expect(events("foo:100|c:200|c") == [StatsdEvent(name: "foo", kind: .counter(100)), StatsdEvent(name: "foo", kind: .counter(200))])
        #expect(events("lat:1:2:3|d|#env:prod") == [1.0, 2, 3].map {
            StatsdEvent(name: "lat", kind: .observation($0, type: .distribution, weight: 1), tags: [Label("env", "prod")])
        })
        #expect(events("a:1|c\nb:2|g\r\n\nc:3|ms").map(\.name) == ["a", "b", "c"])
    }

    /// Mastodon ≤ 4.2's names contain dots and, for Sidekiq workers, double dots.
    @Test func mastodonNames() {
        let parsed = events("Mastodon.production.sidekiq.ActivityPub..DeliveryWorker.processing_time:93|ms\nMastodon.production.web.api.v1.statuses.create.status.200:1|c")
        #expect(parsed.map(\.name) == ["Mastodon.production.sidekiq.ActivityPub..DeliveryWorker.processing_time",
                                       "Mastodon.production.web.api.v1.statuses.create.status.200"])
    }

    @Test(arguments: [
        ("foo", StatsdParseError.malformedLine),
        ("foo:1", .malformedLine),
        ("foo:1|c|@0.5|x", .malformedLine),
        (":1|c", .emptyName),
        ("foo:abc|c", .malformedValue),
        ("foo:nan|g", .malformedValue),
        ("foo:1|s", .unsupportedType),
        ("foo:1|x", .unsupportedType),
        ("foo:1|c|@2", .badSampleRate),
        ("foo:1|c|@0", .badSampleRate),
        ("foo:1|c|#tagwithoutvalue", .malformedTag),
        ("foo,novalue:1|c", .malformedTag),
    ])
    func badLinesAreCountedByReason(line: String, reason: StatsdParseError) {
        let result = StatsdLineParser.parse(packet: line)
        #expect(result.events.isEmpty)
        #expect(result.errors == [reason])
    }

    @Test func oneBadLineDoesNotSpoilThePacket() {
        let result = StatsdLineParser.parse(packet: "good:1|c\nbad\nalso.good:2|g")
        #expect(result.events.map(\.name) == ["good", "also.good"])
        #expect(result.errors == [.malformedLine])
    }

    /// Random bytes never crash the parser; whatever it accepts has a name and a finite value.
    @Test func seededRandomInput() {
        var generator = SplitMixRandom(seed: 0x6d61_7374_6966_66)
        let alphabet = Array("abc.:|@#,=[]+-0123456789eE\n\r csgmhd".utf8)
        for _ in 0..<20_000 {
            let length = Int(generator.next() % 40)
            let bytes = (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            let result = StatsdLineParser.parse(packet: String(decoding: bytes, as: UTF8.self))
            for event in result.events {
                #expect(!event.name.isEmpty)
                switch event.kind {
                case .counter(let value), .gauge(let value, _): #expect(value.isFinite)
                case .observation(let value, _, let weight): #expect(value.isFinite && weight >= 1)
                }
            }
        }
    }

    /// The fast decimal path gives exactly what the C library's strtod gives.
    @Test func fastNumbersAgreeWithStrtod() {
        var generator = SplitMixRandom(seed: 42)
        for _ in 0..<20_000 {
            let integer = generator.next() % 10_000_000
            let fraction = generator.next() % 1_000_000
            let sign = generator.next() % 3 == 0 ? "-" : ""
            let text = generator.next() % 2 == 0 ? "\(sign)\(integer)" : "\(sign)\(integer).\(fraction)"
            let parsed = Array(text.utf8).withUnsafeBufferPointer { StatsdLineParser.parseNumber($0, from: 0, to: $0.count) }
            #expect(parsed == strtod(text, nil), "\(text)")
        }
        for text in ["1e3", "2.5E-3", "0.1", ".5", "5.", "-0"] {
            let parsed = Array(text.utf8).withUnsafeBufferPointer { StatsdLineParser.parseNumber($0, from: 0, to: $0.count) }
            #expect(parsed == strtod(text, nil), "\(text)")
        }
        for text in ["", "-", ".", "1.2.3", "0x10", "inf", "1e999"] {
            let parsed = Array(text.utf8).withUnsafeBufferPointer { StatsdLineParser.parseNumber($0, from: 0, to: $0.count) }
            #expect(parsed == nil, "\(text)")
        }
    }
}
