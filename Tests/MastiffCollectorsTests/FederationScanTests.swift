import MastiffCollectors
import MastiffCore
import Testing

/// The federation scan's state between collections: the cursor carried, hosts counted once per
/// pass, the cap, a failed step starting over, and what the last complete pass exports.
@Suite struct FederationScanTests {
    @Test func aPassSpansStepsAndOnlyACompletePassIsExported() {
        var scan = FederationScan(namespace: "")
        #expect(scan.nextCommand == ["SCAN", "0", "MATCH", "exhausted_deliveries:*", "COUNT", "1000"])
        scan.record(nextCursor: "1234", counts: [("exhausted_deliveries:a.example", 3), ("exhausted_deliveries:b.example", 7)], now: 10)
        #expect(scan.lastPass == nil, "a pass in progress exports nothing")
        #expect(scan.nextCommand[1] == "1234")
        scan.record(nextCursor: "0", counts: [("exhausted_deliveries:c.example", 12), ("exhausted_deliveries:gone.example", nil),
                                               ("exhausted_deliveries:", 2), ("other:key", 4)], now: 20)
        let pass = try! #require(scan.lastPass)
        #expect(pass.days == ["a.example": 3, "b.example": 7, "c.example": 12])
        #expect(pass.histogram == [1: 0, 2: 0, 3: 1, 4: 0, 5: 0, 6: 0, 7: 2])
        #expect(pass.worst(2).map(\.host) == ["c.example", "b.example"])
        #expect(pass.completedAt == 20 && !pass.capped)
        // The next pass starts from the beginning and keeps the last one until it ends.
        #expect(scan.nextCommand[1] == "0")
        scan.record(nextCursor: "77", counts: [("exhausted_deliveries:d.example", 1)], now: 30)
        #expect(scan.lastPass == pass)
    }

    @Test func theNamespaceOfMastodon43PrefixesTheKeys() {
        let scan = FederationScan(namespace: "mastodon")
        #expect(scan.nextCommand[3] == "mastodon:exhausted_deliveries:*")
        #expect(scan.host(ofKey: "mastodon:exhausted_deliveries:x.example") == "x.example")
        #expect(scan.host(ofKey: "exhausted_deliveries:x.example") == nil)
    }

    @Test func moreHostsThanTheCapAreNotCountedAndSaidSo() {
        var scan = FederationScan(namespace: "", maxHosts: 2)
        scan.record(nextCursor: "0", counts: (1...5).map { ("exhausted_deliveries:h\($0).example", $0) }, now: 1)
        #expect(scan.lastPass?.days.count == 2)
        #expect(scan.lastPass?.capped == true)
        let sink = MetricSink()
        FederationScan.emit(scan.lastPass, maxHosts: 2, into: sink)
        let families = Dictionary(uniqueKeysWithValues: sink.families.map { ($0.name, $0) })
        #expect(families["mastodon_federation_scan_capped"]?.samples.first?.value == 1)
        #expect(families["mastodon_federation_failing_hosts"]?.samples.count == 7)
    }

    @Test func aFailedStepStartsThePassOverAndKeepsTheLastOne() {
        var scan = FederationScan(namespace: "")
        scan.record(nextCursor: "0", counts: [("exhausted_deliveries:a.example", 2)], now: 1)
        scan.record(nextCursor: "99", counts: [("exhausted_deliveries:b.example", 5)], now: 2)
        scan.restart()
        #expect(scan.nextCommand[1] == "0")
        scan.record(nextCursor: "0", counts: [], now: 3)
        #expect(scan.lastPass?.days.isEmpty == true, "b.example, found before the failure, is not carried into the new pass")
    }
}
