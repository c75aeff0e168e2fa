import MastiffCore
import MastiffPolicies
import MastiffPromQL
import Testing

/// `for` and `keep_firing_for` as Prometheus's rules/alerting.go moves alerts, on the table
/// measured with promtool (../shared/notes/promql-parity.md): rule `probe_value > 0`,
/// `for: 2m`, one sample a minute, F = firing at minute 0…15.
@Suite struct RuleEngineTests {
    static func groups(keepFiringFor: String?) throws -> [RuleGroup] {
        try RuleFileLoader.load(text: """
        groups:
          - name: g
            rules:
              - alert: Up
                expr: probe_value > 0
                for: 2m
        \(keepFiringFor.map { "        keep_firing_for: \($0)" } ?? "")
                annotations:
                  summary: "{{ $value }} on {{ $labels.instance }}"
        """, file: "test.yml")
    }

    /// The firing pattern at minutes 0…15 of `values` (promtool's series notation).
    static func pattern(_ values: String, keepFiringFor: String? = nil) throws -> String {
        let storage = MemorySeriesStorage()
        let labels = [Label("__name__", "probe_value"), Label("instance", "a:1")]
        for (index, value) in (RuleUnitTests.expandValues(values) ?? []).enumerated() {
            if let value { storage.append(labels, time: Int64(index) * 60_000, value: value) }
        }
        var engine = RuleEngine(groups: try groups(keepFiringFor: keepFiringFor))
        var result = ""
        for minute in 0...15 {
            let evaluation = engine.evaluate(groupAt: 0, time: Int64(minute) * 60_000, storage: storage)
            for sample in evaluation.samples { storage.append(sample.labels, time: Int64(minute) * 60_000, value: sample.value) }
            result += engine.activeAlerts.contains { $0.state == .firing } ? "F" : "."
        }
        return result
    }

    @Test func forAndKeepFiringForMatchPrometheus() throws {
        // Prometheus 3's left-open lookback drops the 3m sample at 8m (promtool 2.42 keeps it
        // through 8m: "..FFFFFFF.......").
        #expect(try Self.pattern("1 1 1 1 _ _ _ _ _ _ _ _ _ _ _ _") == "..FFFFFF........")
        #expect(try Self.pattern("1 1 1 1 stale") == "..FF............")
        #expect(try Self.pattern("1 1 1 1 0 0 0 0 0 0 0 0 0 0 0 0") == "..FF............")
        #expect(try Self.pattern("1 1 1 1 stale", keepFiringFor: "3m") == "..FFFFF.........")
        #expect(try Self.pattern("1 1 1 1 0 0 0 0 0 0 0 0 0 0 0 0", keepFiringFor: "3m") == "..FFFFF.........")
        // Kept 3 more minutes after the lookback loses it at 8m (promtool 2.42: to 11m).
        #expect(try Self.pattern("1 1 1 1 _ _ _ _ _ _ _ _ _ _ _ _", keepFiringFor: "3m") == "..FFFFFFFFF.....")
    }

    /// A pending alert that misses one evaluation starts its `for` again.
    @Test func aGapResetsPending() throws {
        #expect(try Self.pattern("1 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1") == "....FFFFFFFFFFFF")
    }

    @Test func eventsAnnounceFiringAndResolvedOnceWithTheValue() throws {
        let storage = MemorySeriesStorage()
        let labels = [Label("__name__", "probe_value"), Label("instance", "a:1")]
        for (index, value) in [5.0, 5, 5, 0].enumerated() { storage.append(labels, time: Int64(index) * 60_000, value: value) }
        var engine = RuleEngine(groups: try Self.groups(keepFiringFor: nil))
        var events: [String] = []
        for minute in 0...3 {
            for event in engine.evaluate(groupAt: 0, time: Int64(minute) * 60_000, storage: storage).events {
                switch event {
                case .firing(let alert): events.append("firing \(alert.annotations.value(of: "summary") ?? "")")
                case .resolved(let alert): events.append("resolved \(GoFloat.v(alert.value))")
                }
            }
        }
        #expect(events == ["firing 5 on a:1", "resolved 5"])
    }

    /// Two samples that become one alert label set are an evaluation failure, as in Prometheus.
    @Test func duplicateAlertLabelSetsAreAFailure() throws {
        let storage = MemorySeriesStorage()
        storage.append([Label("__name__", "a"), Label("x", "1")], time: 0, value: 1)
        storage.append([Label("__name__", "a"), Label("x", "2")], time: 0, value: 1)
        let groups = try RuleFileLoader.load(text: """
        groups:
          - name: g
            rules:
              - alert: Both
                expr: a > 0
                labels: {x: "same"}
        """, file: "t.yml")
        var engine = RuleEngine(groups: groups)
        let result = engine.evaluate(groupAt: 0, time: 1000, storage: storage)
        #expect(result.failures.first?.reason.contains("same labelset after applying alert labels") == true)
    }

    /// A later rule sees an earlier rule's result at the same time; series that stop get a
    /// staleness marker.
    @Test func recordingRulesFeedLaterRulesAndEndWithStalenessMarkers() throws {
        let storage = MemorySeriesStorage()
        storage.append([Label("__name__", "x"), Label("job", "j")], time: 0, value: 2)
        let groups = try RuleFileLoader.load(text: """
        groups:
          - name: g
            rules:
              - record: job:x:doubled
                expr: x * 2
              - alert: Big
                expr: job:x:doubled > 3
        """, file: "t.yml")
        var engine = RuleEngine(groups: groups)
        let first = engine.evaluate(groupAt: 0, time: 0, storage: storage)
        #expect(first.samples.map { $0.labels.promQLText } == [#"job:x:doubled{job="j"}"#, #"ALERTS{alertname="Big", alertstate="firing", job="j"}"#])
        let later = engine.evaluate(groupAt: 0, time: 400_000, storage: storage)
        #expect(later.samples.count == 2)
        #expect(later.samples.allSatisfy { $0.value.bitPattern == staleMarkerBits })
    }

    @Test func stateSurvivesSaveAndRestoreWithinTheTolerance() throws {
        let storage = MemorySeriesStorage()
        storage.append([Label("__name__", "probe_value"), Label("instance", "a:1")], time: 0, value: 1)
        var engine = RuleEngine(groups: try Self.groups(keepFiringFor: nil))
        _ = engine.evaluate(groupAt: 0, time: 0, storage: storage)
        let saved = engine.savedState(now: 30_000)
        var restored = RuleEngine(groups: try Self.groups(keepFiringFor: nil))
        #expect(restored.restore(saved, now: 60_000) == 1)
        #expect(restored.activeAlerts.first?.activeAt == 0)
        var tooLate = RuleEngine(groups: try Self.groups(keepFiringFor: nil))
        #expect(tooLate.restore(saved, now: 30_000 + RuleEngine.restoreToleranceMs + 1) == 0, "a longer outage starts over, as Prometheus's for-outage-tolerance")
    }
}
