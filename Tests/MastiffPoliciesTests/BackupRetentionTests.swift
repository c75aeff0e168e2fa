import MastiffCore
import MastiffPolicies
import Testing

/// GFS retention over manifests: fixed cases, then random manifest sets (a property test with a
/// seeded generator, so a failure reproduces).
@Suite struct BackupRetentionTests {
    static func manifest(_ finishedAt: Double, _ index: Int = 0) -> BackupManifest {
        BackupManifest(target: "postgres", dataKey: "p/postgres/\(Int(finishedAt))-\(index).pgdump", bytes: 100, sha256: "x", encryption: "none",
                       database: "db", serverVersion: "15", toolVersion: "15", format: "pg_dump-custom", startedAt: finishedAt - 60,
                       finishedAt: finishedAt, partSize: 1, parts: 1, host: "h", mastiffVersion: "t")
    }

    let day = 86400.0
    // 2026-12-04T00:00:00Z, a Friday.
    let base = 1_796_342_400.0

    @Test func dailyBackupsOverTwoMonths() {
        let manifests = (0..<60).map { Self.manifest(base - Double($0) * day + 3 * 3600) }
        let retention = BackupRetention(keepLast: 2, daily: 7, weekly: 4, monthly: 3, localTime: false)
        let decision = retention.decide(manifests)
        let kept = Set(decision.keep.map { CalendarTime.utc($0.manifest.finishedAt).date })
        // The last 7 days, then the newest of each of 4 weeks (Sundays, the week's newest day),
        // then the newest of 3 months (month ends).
        for offset in 0..<7 { #expect(kept.contains(CalendarTime.utc(base - Double(offset) * day).date)) }
        #expect(kept.contains("2026-11-22") && kept.contains("2026-11-15"))
        #expect(kept.contains("2026-10-31"))
        #expect(decision.keep.count + decision.delete.count == 60)
        #expect(decision.keep.count == 7 + 2 + 1)
        #expect(!decision.delete.contains { $0.finishedAt == manifests[0].finishedAt })
    }

    @Test func newestIsAlwaysKeptEvenWithNoBuckets() {
        let manifests = [Self.manifest(base), Self.manifest(base - day)]
        let decision = BackupRetention(keepLast: 0, daily: 0, weekly: 0, monthly: 0).decide(manifests)
        #expect(decision.keep.map(\.manifest.finishedAt) == [base])
        #expect(decision.delete.map(\.finishedAt) == [base - day])
    }

    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11 ^ state
        }
    }

    /// Random sets of up to 80 backups over a year: the newest always survives, every kept
    /// daily/weekly/monthly bucket keeps its newest backup, counts never exceed the settings,
    /// and nothing is both kept and deleted.
    @Test func propertiesHoldForRandomManifestSets() {
        var random = SeededGenerator(state: 42)
        for round in 0..<300 {
            let count = Int.random(in: 1...80, using: &random)
            let manifests = (0..<count).map { Self.manifest(base - Double.random(in: 0..<(365 * day), using: &random), $0) }
            let retention = BackupRetention(keepLast: Int.random(in: 0...4, using: &random), daily: Int.random(in: 0...10, using: &random),
                                            weekly: Int.random(in: 0...6, using: &random), monthly: Int.random(in: 0...12, using: &random),
                                            localTime: false)
            let decision = retention.decide(manifests)
            let newest = manifests.max { $0.finishedAt < $1.finishedAt }!
            #expect(decision.keep.contains { $0.manifest == newest }, "round \(round): the newest backup was deleted")
            #expect(decision.keep.count + decision.delete.count == count)
            #expect(Set(decision.keep.map(\.manifest.dataKey)).isDisjoint(with: decision.delete.map(\.dataKey)))
            for (name, limit, bucket) in [("daily", retention.daily, { (m: BackupManifest) in CalendarTime.utc(m.finishedAt).date }),
                                          ("monthly", retention.monthly, { (m: BackupManifest) in String(CalendarTime.utc(m.finishedAt).date.prefix(7)) })] {
                let reasons = decision.keep.filter { $0.reasons.contains { $0.hasPrefix(name) } }
                #expect(reasons.count <= limit)
                for kept in reasons {
                    let key = bucket(kept.manifest)
                    let newestInBucket = manifests.filter { bucket($0) == key }.max { $0.finishedAt < $1.finishedAt }!
                    #expect(newestInBucket == kept.manifest, "round \(round): \(name) bucket \(key) did not keep its newest")
                }
            }
            // Deleted backups are never newer than the oldest kept "last" one.
            let lastKept = decision.keep.filter { $0.reasons.contains("last") }.map(\.manifest.finishedAt)
            if let oldestLast = lastKept.min() {
                #expect(decision.delete.allSatisfy { $0.finishedAt <= oldestLast })
            }
        }
    }

    @Test func manifestRoundTripsThroughJSON() throws {
        var manifest = Self.manifest(base)
        manifest.sha256 = String(repeating: "ab", count: 32)
        manifest.rowCounts = ["public.statuses": 1_300_000]
        manifest.verifiedAt = base + 5
        #expect(try BackupManifest.parse(manifest.json(), key: manifest.manifestKey, now: base) == manifest)
        manifest.signature = String(repeating: "0", count: 64)
        #expect(try BackupManifest.parse(manifest.json(signature: manifest.signature), key: manifest.manifestKey, now: base).signature == manifest.signature)
        #expect(throws: BackupManifest.ParseError.self) { try BackupManifest.parse("{\"target\": \"postgres\"}", key: "k", now: base) }
    }

    /// What someone who can write to the bucket may put in a manifest (issue "Actions that trust
    /// nothing", items 2 and 3): each is a reported problem, never a trap or a trusted value.
    @Test(arguments: [
        (#""bytes": 100"#, #""bytes": 1e19"#, "'bytes' is not a whole number"),
        (#""finished_at": 1796342400"#, #""finished_at": 1e300"#, "'finished_at' is not a time"),
        (#""parts": 1"#, #""parts": -1e30"#, "'parts' is not a whole number"),
        (#""part_size": 1"#, #""part_size": 0.5"#, "'part_size' is not a whole number"),
        (#""finished_at": 1796342400"#, #""finished_at": 1896342400"#, "dated in the future"),
        (#""started_at": 1796342340"#, #""started_at": 1796342460"#, "finished before it started"),
        (#""version": 1"#, #""version": 1, "evil": "x""#, "unknown field 'evil'"),
        (#""target": "postgres""#, #""target": "../../etc""#, "'target' is '../../etc', not one of"),
    ])
    func hostileManifestFieldsAreProblems(_ replacing: String, _ with: String, _ expected: String) throws {
        var manifest = Self.manifest(base)
        manifest.sha256 = String(repeating: "ab", count: 32)
        let compact = manifest.signedText()
        let tampered = compact.replacing(replacing.replacing(": ", with: ":"), with: with)
        #expect(tampered != compact, "the fixture's field is there to tamper with")
        let error = #expect(throws: BackupManifest.ParseError.self) { try BackupManifest.parse(tampered, key: manifest.manifestKey, now: base) }
        #expect(error?.description.contains(expected) == true, "\(String(describing: error))")
    }

    /// A manifest that names another backup's data (to have it deleted along) is refused: the
    /// data belongs to the manifest's own key.
    @Test func aManifestNamingAnotherObjectsDataIsRefused() throws {
        var manifest = Self.manifest(base)
        manifest.sha256 = String(repeating: "ab", count: 32)
        let other = Self.manifest(base - 86400)
        let error = #expect(throws: BackupManifest.ParseError.self) { try BackupManifest.parse(manifest.json(), key: other.manifestKey, now: base) }
        #expect(error?.description.contains("data_key does not name this manifest's own data") == true)
    }

    /// Random JSON where a manifest's fields go (2,000 sets of changes): parsing never traps, and
    /// what parses is in range.
    @Test func randomManifestsNeverCrashTheParser() {
        var random = SeededGenerator(state: 7)
        let numbers: [JSONValue] = [.number(1e19), .number(-1e30), .number(1e300), .number(.greatestFiniteMagnitude), .number(0.5), .number(-1),
                                    .number(9.2e18), .number(1_796_342_400), .number(100), .string("1"), .null, .bool(false), .array([]), .object([:])]
        let names = ["version", "target", "data_key", "bytes", "sha256", "encryption", "database", "server_version", "tool_version", "format",
                     "started_at", "finished_at", "part_size", "parts", "host", "mastiff_version", "verified_at", "row_counts", "hmac"]
        var base = Self.manifest(self.base)
        base.sha256 = String(repeating: "ab", count: 32)
        guard case .object(let valid)? = JSONValue.parse(base.json()) else { Issue.record("fixture"); return }
        var parsed = 0
        for _ in 0..<2000 {
            var object = valid
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let name = names.randomElement(using: &random)!
                object[name] = Bool.random(using: &random) ? numbers.randomElement(using: &random)! : .object(["public.t": numbers.randomElement(using: &random)!])
            }
            if let manifest = try? BackupManifest.parse(JSONValue.object(object).serialized(), key: base.manifestKey, now: self.base) {
                parsed += 1
                #expect(manifest.bytes >= 0 && manifest.parts >= 0 && manifest.finishedAt.isFinite && manifest.rowCounts.values.allSatisfy { $0 >= 0 })
            }
        }
        #expect(parsed > 0, "some random changes leave a valid manifest")
    }

    @Test func scheduleRunsAMissedSlotOnceAtStartAndSpreadsWithFixedJitter() throws {
        let daily = try CronSchedule("0 3 * * *", utc: true)
        let schedule = WorkSchedule(name: "backup/postgres", cron: daily, jitter: .zero)
        let now = base + 10 * 3600 // 10:00
        // Last run yesterday 03:00: today's 03:00 was missed → now.
        #expect(schedule.nextRun(lastRun: base - day + 3 * 3600, now: now, atStart: true) == now)
        // Ran today at 03:00: next is tomorrow 03:00.
        #expect(schedule.nextRun(lastRun: base + 3 * 3600, now: now, atStart: true) == base + day + 3 * 3600)
        // Never ran: wait for the slot.
        #expect(schedule.nextRun(lastRun: nil, now: now, atStart: true) == base + day + 3 * 3600)
        #expect(schedule.interval(after: now) == day)
        let jittered = WorkSchedule(name: "backup/postgres", cron: daily, jitter: .seconds(600))
        #expect(jittered.offset == WorkSchedule(name: "backup/postgres", cron: daily, jitter: .seconds(600)).offset)
        #expect((0...600).contains(jittered.offset))
        #expect(jittered.nextRun(lastRun: nil, now: now, atStart: false) == base + day + 3 * 3600 + jittered.offset)
    }
}
