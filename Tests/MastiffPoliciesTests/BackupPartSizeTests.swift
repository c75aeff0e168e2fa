import MastiffPolicies
import Testing

/// The part size of a backup's upload: the smallest whole-MiB size whose 10,000 parts hold twice
/// the estimate, never under S3's 5 MiB or over its 5 GiB; a configured size is a floor.
@Suite struct BackupPartSizeTests {
    static let mib = 1 << 20

    @Test(arguments: [
        (0, 5), (300_000_000, 5), (1_000_000_000, 5), (5_000_000_000, 5), (26_000_000_000, 5),
        (27_000_000_000, 6), (100_000_000_000, 20), (1_000_000_000_000, 191),
    ])
    func automaticSizeFollowsTheDatabase(estimate: Int, expectedMiB: Int) {
        let size = BackupPartSize.choose(estimatedBytes: estimate, configured: nil)
        #expect(size == expectedMiB * Self.mib)
    }

    /// Whatever the estimate, 10,000 parts hold twice it, and one MiB less would not.
    @Test func theChosenSizeIsTheSmallestThatHoldsTwiceTheEstimate() {
        var generator = BackupRetentionTests.SeededGenerator(state: 29)
        for _ in 0..<10_000 {
            let estimate = Int(generator.next() % 20_000_000_000_000)
            let size = BackupPartSize.choose(estimatedBytes: estimate, configured: nil)
            #expect(size % Self.mib == 0)
            #expect(size * BackupPartSize.maximumParts >= 2 * estimate)
            #expect(size == BackupPartSize.minimum || (size - Self.mib) * BackupPartSize.maximumParts < 2 * estimate)
        }
    }

    @Test func aConfiguredSizeIsKeptUnlessTheDatabaseNeedsMore() {
        #expect(BackupPartSize.choose(estimatedBytes: 1_000_000_000, configured: 64 * Self.mib) == 64 * Self.mib)
        #expect(BackupPartSize.choose(estimatedBytes: 100_000_000_000, configured: 8 * Self.mib) == 20 * Self.mib)
        #expect(BackupPartSize.choose(estimatedBytes: nil, configured: 8 * Self.mib) == 8 * Self.mib)
    }

    @Test func withoutAnEstimatePartsAreSixteenMiB() {
        #expect(BackupPartSize.choose(estimatedBytes: nil, configured: nil) == 16 * Self.mib)
    }

    /// A size PostgreSQL could never report still gives S3's largest part, not an overflow.
    @Test func absurdEstimatesStopAtFiveGiB() {
        #expect(BackupPartSize.choose(estimatedBytes: Int.max, configured: nil) == 5 << 30)
        #expect(BackupPartSize.choose(estimatedBytes: -1, configured: nil) == 5 * Self.mib)
    }
}

