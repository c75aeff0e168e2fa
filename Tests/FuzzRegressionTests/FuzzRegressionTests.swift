import MastiffClients
import MastiffCore
import MastiffPolicies
import MastiffFuzzEntries
import MastiffTestSupport
import Testing

/// Every input fuzzing ever crashed or hung on, checked in under Fuzz/Regressions/<target>/,
/// and every seed of Fuzz/Corpus/<target>/, fed through the same entry the fuzzer drives: they
/// must return (a crash here is the bug come back).
@Suite struct FuzzRegressionTests {
    static let root = RepositoryPaths.root + "/Fuzz"

    static func inputs(_ directory: String) -> [(target: String, file: String)] {
        var result: [(String, String)] = []
        for target in ((try? FileSystemAccess.listDirectory(root + "/" + directory)) ?? []).sorted() where FuzzEntries.targets[target] != nil {
            for file in ((try? FileSystemAccess.listDirectory(root + "/\(directory)/\(target)")) ?? []).sorted() {
                result.append((target, root + "/\(directory)/\(target)/\(file)"))
            }
        }
        return result
    }

    @Test func everyTargetHasSeeds() {
        let seeded = Set(Self.inputs("Corpus").map(\.target))
        #expect(seeded == Set(FuzzEntries.targets.keys), "targets without seeds: \(Set(FuzzEntries.targets.keys).subtracting(seeded).sorted())")
    }

    @Test func seedsAndRegressionsReturn() throws {
        for (target, file) in Self.inputs("Corpus") + Self.inputs("Regressions") {
            let bytes = try FileSystemAccess.readBytes(file, maxBytes: 1 << 20)
            bytes.withUnsafeBytes { FuzzEntries.targets[target]!($0) }
        }
    }
}

/// The seeds of the targets that read answers go past the first check: a seed the parser
/// refuses outright would leave the fuzzer to find the format by chance.
@Suite struct FuzzSeedTests {
    static func seed(_ target: String, _ name: String) throws -> String {
        try FileSystemAccess.readRegularFile(FuzzRegressionTests.root + "/Corpus/\(target)/\(name)", limit: 1 << 20)
    }

    @Test func s3SeedsAreAPageOfEachListingAndAnError() throws {
        let objects = S3Client.objectsPage(try Self.seed("s3-answer", "list-objects.xml"), prefix: "mastiff/")
        #expect(objects.objects.map(\.key) == ["mastiff/postgres/20261205T030000Z.dump", "mastiff/postgres/20261205T030000Z.dump.manifest.json"])
        #expect(objects.continuation == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
        let uploads = S3Client.uploadsPage(try Self.seed("s3-answer", "list-uploads.xml"), prefix: "mastiff/")
        #expect(uploads.uploads.count == 1 && uploads.next?.key == "mastiff/redis/20261205T030000Z.rdb")
        #expect(S3Client.error(in: try Self.seed("s3-answer", "error.xml"), status: 403, operation: "PutObject").code == "SignatureDoesNotMatch")
    }

    @Test func manifestSeedsParse() throws {
        for name in ["signed.json", "plain.json"] {
            let manifest = try BackupManifest.parse(try Self.seed("manifest", name), key: "mastiff/postgres/20261205T030000Z.dump.manifest.json", now: 1_796_458_420)
            #expect(manifest.parts == 7)
        }
    }

    @Test func theAgeSeedOpensWithTheFuzzIdentityAndTheOtherDoesNot() throws {
        let identity = try AgeIdentity(FuzzEntries.ageIdentityText)
        func open(_ name: String) throws -> String {
            let bytes = try FileSystemAccess.readBytes(FuzzRegressionTests.root + "/Corpus/age-file/\(name)", maxBytes: 1 << 20)
            var decryptor = AgeDecryptor(identities: [identity])
            var out: [UInt8] = []
            try bytes.withUnsafeBytes { try decryptor.update($0) { out += $0 } }
            try decryptor.finish { out += $0 }
            return String(decoding: out, as: UTF8.self)
        }
        #expect(try open("small.age") == "hello, restore\n")
        #expect(throws: (any Error).self) { try open("other-recipient.age") }
    }

    @Test func theStateSeedRestoresAlertsAndRestarts() throws {
        let document = try #require(JSONValue.parse(try Self.seed("state-file", "alerts-and-restarts.json")))
        var engine = RuleEngine(groups: try RuleFileLoader.load(text: "groups: [{name: g, rules: [{alert: Down, expr: up == 0, for: 1m}]}]", file: "t.yml"))
        #expect(engine.restore(document["sections"]!["alerts"]!, now: 1_796_458_420_000) >= 1)
    }
}
