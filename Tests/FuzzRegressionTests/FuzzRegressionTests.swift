import MastiffCore
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
