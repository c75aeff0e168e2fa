#if canImport(Glibc)
import Glibc
#endif
import MastiffCore
@testable import MastiffStatsd
import Testing

/// Mutation fuzzing of the parser and the store from a checked-in corpus (Fixtures/fuzz-corpus),
/// seeded so a failure reproduces, and bounded in time so CI stays fast. Each input is a corpus
/// entry with random byte flips, insertions, deletions, truncation or a splice of two entries.
/// Whatever comes out must hold: events have a name and finite values, the store never exposes
/// an invalid exposition, nothing crashes.
@Suite struct StatsdFuzzTests {
    static let corpusDirectory: String = {
        let file = #filePath
        return String(file[..<file.lastIndex(of: "/")!]) + "/Fixtures/fuzz-corpus"
    }()

    static func corpus() throws -> [[UInt8]] {
        var entries: [[UInt8]] = []
        guard let directory = opendir(corpusDirectory) else { throw FuzzError("no corpus at \(corpusDirectory)") }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasSuffix(".txt") else { continue }
            entries.append(Array(try FileSystemAccess.readFile(corpusDirectory + "/" + name).utf8))
        }
        return entries.sorted { $0.lexicographicallyPrecedes($1) }
    }

    struct FuzzError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static let interesting = Array(":|@#,=[]+-.eE\n\r 0123456789cgmshdT".utf8)

    static func mutate(_ input: [UInt8], other: [UInt8], random: inout SplitMixRandom) -> [UInt8] {
        var bytes = input
        for _ in 0..<(1 + Int(random.next() % 4)) {
            let position = bytes.isEmpty ? 0 : Int(random.next() % UInt64(bytes.count))
            switch random.next() % 6 {
            case 0 where !bytes.isEmpty: bytes[position] = interesting[Int(random.next() % UInt64(interesting.count))]
            case 1: bytes.insert(interesting[Int(random.next() % UInt64(interesting.count))], at: position)
            case 2 where !bytes.isEmpty: bytes.remove(at: position)
            case 3: bytes = Array(bytes.prefix(position))
            case 4: bytes = Array(bytes.prefix(position)) + other.suffix(max(0, other.count - position))
            default: if !bytes.isEmpty { bytes[position] = UInt8(truncatingIfNeeded: random.next()) }
            }
        }
        return bytes
    }

    @Test func mutatedCorpusNeverBreaksTheParserOrTheExposition() throws {
        let corpus = try Self.corpus()
        #expect(corpus.count >= 7)
        var random = SplitMixRandom(seed: 0x6675_7a7a)
        let store = StatsdSeriesStore(mapper: StatsdMapper(mapping: try StatsdMapping.parse(MastodonStatsdMapping.shipped, file: "built-in")),
                                      maxSeries: 2_000)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(3)
        var inputs = 0
        var result = StatsdLineParser.Result()
        while clock.now < deadline {
            for _ in 0..<500 {
                let base = corpus[Int(random.next() % UInt64(corpus.count))]
                let other = corpus[Int(random.next() % UInt64(corpus.count))]
                let input = Self.mutate(base, other: other, random: &random)
                result.removeAll()
                input.withUnsafeBytes { StatsdLineParser.parse(packet: $0, into: &result) }
                for event in result.events {
                    #expect(!event.name.isEmpty)
                    switch event.kind {
                    case .counter(let value), .gauge(let value, _): #expect(value.isFinite)
                    case .observation(let value, _, let weight): #expect(value.isFinite && weight.isFinite && weight >= 1)
                    }
                }
                store.apply(result.events, now: Double(inputs))
                inputs += 1
            }
        }
        var exposition = ""
        store.render(into: &exposition, now: Double(inputs))
        let families = try PrometheusTextParser.parse(exposition)
        #expect(Set(families.map(\.name)).count == families.count)
        #expect(inputs > 10_000, "only \(inputs) inputs in 3 s")
    }
}
