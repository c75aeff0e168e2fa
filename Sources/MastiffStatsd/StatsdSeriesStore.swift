import MastiffCore

/// What to do with a statsd name no mapping rule matched.
public enum UnmappedNames: String, Sendable, Equatable, CaseIterable {
    /// statsd_exporter's escaping, lower-cased so the output stays lint-clean.
    case escape
    /// statsd_exporter's escaping exactly (camelCase names then fail `promtool check metrics`).
    case escapeExact = "escape_exact"
    /// Dropped and counted.
    case drop
}

/// The live statsd series: counters, gauges, histograms and sliding-window summaries, grouped in
/// families with one type and one label-name set each. Bounded by `maxSeries`; series of rules
/// with a `ttl` expire. Time comes from the caller, so expiry and summary windows are tested
/// without waiting.
///
/// Not thread-safe: the bridge owns it behind a lock.
public final class StatsdSeriesStore {
    final class Series {
        var value = 0.0
        var lastUpdate: Double
        let ttl: Double
        var histogram: [Double]
        var count = 0.0
        var sum = 0.0
        var window: SummaryWindow?

        init(now: Double, ttl: Double, bucketCount: Int, window: SummaryWindow?) {
            lastUpdate = now
            self.ttl = ttl
            histogram = bucketCount > 0 ? [Double](repeating: 0, count: bucketCount + 1) : []
            self.window = window
        }
    }

    final class Family {
        let type: MetricType
        let help: String
        let labelNames: [String]
        let buckets: [Double]
        let summary: StatsdMapping.SummaryOptions?
        var series: [[String]: Series] = [:]

        init(type: MetricType, help: String, labelNames: [String], buckets: [Double], summary: StatsdMapping.SummaryOptions?) {
            self.type = type
            self.help = help
            self.labelNames = labelNames
            self.buckets = buckets
            self.summary = summary
        }
    }

    /// The bridge's own counters, exposed under `statsd_`.
    public struct Statistics: Sendable, Equatable {
        public var counterEvents = 0
        public var gaugeEvents = 0
        public var observerEvents = 0
        public var dropped: [String: Int] = [:]
        public var conflicts: [String: Int] = [:]
        public var unmapped = 0
        public var expired = 0
        public var cacheHits = 0
        public var cacheMisses = 0
        /// Tags named `le` on histograms or `quantile` on summaries, renamed `exported_…`.
        public var reservedLabels = 0

        public func events(_ type: StatsdMetricType) -> Int {
            switch type {
            case .counter: counterEvents
            case .gauge: gaugeEvents
            case .observer: observerEvents
            }
        }
    }

    /// What a rule (or the defaults, for unmapped names) says about the series it makes, for
    /// one event type: shared by every name the rule maps.
    final class Settings {
        let honorLabels: Bool
        let ttl: Double
        let scale: Double?
        let help: String?
        let metricType: MetricType
        let buckets: [Double]
        let summary: StatsdMapping.SummaryOptions?
        /// The rule's label names, sorted: every target of the rule lists its values in this order.
        let labelNames: [String]

        init(rule: StatsdMapping.Rule?, mapping: StatsdMapping, type: StatsdMetricType) {
            labelNames = (rule?.labels.map(\.name) ?? []).sorted()
            honorLabels = rule?.honorLabels ?? false
            ttl = (rule?.ttl ?? mapping.defaultTTL).seconds
            scale = rule?.scale
            help = rule?.help
            switch type {
            case .counter: metricType = .counter
            case .gauge: metricType = .gauge
            case .observer: metricType = (rule?.observerType ?? mapping.defaultObserverType) == .histogram ? .histogram : .summary
            }
            buckets = metricType == .histogram ? rule?.buckets ?? mapping.defaultBuckets : []
            summary = metricType == .summary ? rule?.summary ?? mapping.defaultSummary : nil
        }
    }

    /// What one statsd name and type resolve to, worked out once and cached: the final family
    /// name (mapped, escaped, `_total` added), the rule's label values (in the order of
    /// `settings.labelNames`; the same array is the untagged series' key, so it is stored once),
    /// and the family and untagged series while they live.
    final class Target {
        enum Disposition { case emit, unmapped, drop(String) }
        let disposition: Disposition
        let name: String
        let labelValues: [String]
        let settings: Settings?
        /// The family and the series of events without tags, valid while `generation` equals
        /// the store's generation.
        var family: Family?
        var untaggedSeries: Series?
        var generation = -1

        init(disposition: Disposition, name: String = "", labelValues: [String] = [], settings: Settings? = nil) {
            self.disposition = disposition
            self.name = name
            self.labelValues = labelValues
            self.settings = settings
        }
    }

    public private(set) var mapper: StatsdMapper
    public let maxSeries: Int
    public let unmapped: UnmappedNames
    public private(set) var statistics = Statistics()
    private var families: [String: Family] = [:]
    /// `_bucket`, `_count`, `_sum` names taken by histogram and summary families.
    private var derivedNames: Set<String> = []
    public private(set) var seriesCount = 0
    private var random = SplitMixRandom(seed: 0x7374_6174_7364)
    /// Keyed by the statsd name and type themselves: a key made of their hash alone would, on a
    /// collision, send one metric's samples into another's series. The name costs its bytes once
    /// per cached entry (bounded by `cacheCapacity`).
    private struct TargetKey: Hashable {
        var name: String
        var type: StatsdMetricType
    }
    private var targets: [TargetKey: Target] = [:]
    private var settingsByRule: [Int: Settings] = [:]
    /// One copy of each label value (a controller name appears in dozens of series); bounded,
    /// so a flood of unique values is simply not interned.
    private var internedValues: Set<String> = []
    private static let maxInternedValues = 20_000
    private let cacheCapacity: Int
    /// Bumped whenever a series or family is removed, so cached references are re-checked.
    private var generation = 0

    /// statsd.counter_suffix: total (true) or as_mapped (false).
    let appendTotalToCounters: Bool

    public init(mapper: StatsdMapper, maxSeries: Int = 10_000, unmapped: UnmappedNames = .escape, cacheCapacity: Int = 10_000,
                appendTotalToCounters: Bool = true) {
        self.mapper = mapper
        self.maxSeries = maxSeries
        self.unmapped = unmapped
        self.cacheCapacity = cacheCapacity
        self.appendTotalToCounters = appendTotalToCounters
    }

    public var cacheCount: Int { targets.count }

    /// A new mapping (SIGHUP). Existing series stay; the cache starts empty.
    public func replaceMapper(_ newMapper: StatsdMapper) {
        mapper = newMapper
        targets.removeAll()
        settingsByRule.removeAll()
    }

    public func apply(_ events: [StatsdEvent], now: Double) {
        for event in events { apply(event, now: now) }
    }

    private func target(for name: String, type: StatsdMetricType) -> Target {
        let key = TargetKey(name: name, type: type)
        if let cached = targets[key] {
            statistics.cacheHits += 1
            return cached
        }
        statistics.cacheMisses += 1
        let target = resolveTarget(name, type: type)
        if cacheCapacity > 0 {
            // Full: evict one entry (whichever the table yields first), so a flood of unique
            // names keeps the cache bounded without flushing the names that repeat.
            if targets.count >= cacheCapacity { targets.remove(at: targets.startIndex) }
            targets[key] = target
        }
        return target
    }

    private func resolveTarget(_ statsdName: String, type: StatsdMetricType) -> Target {
        let mapping = mapper.mapping
        var rule: StatsdMapping.Rule?
        var ruleIndex: Int?
        var name: String
        var labels: [Label] = []
        var disposition = Target.Disposition.emit
        switch mapper.resolve(statsdName, type: type) {
        case .dropped:
            return Target(disposition: .drop("drop_action"))
        case .unmatched:
            disposition = .unmapped
            switch unmapped {
            case .drop: return Target(disposition: .drop("unmapped"))
            case .escape: name = StatsdNames.escapeLowercased(statsdName)
            case .escapeExact: name = StatsdNames.escape(statsdName)
            }
        case .mapped(let index, let mappedName, let ruleLabels):
            rule = mapping.rules[index]
            ruleIndex = index
            name = StatsdNames.escape(mappedName)
            labels = ruleLabels
        }
        guard !name.isEmpty else { return Target(disposition: .drop("empty_name")) }
        // promtool wants counters to end in _total; statsd names rarely do. `as_mapped` keeps
        // statsd_exporter's names, so its dashboards move over unchanged.
        if type == .counter, appendTotalToCounters, !name.hasSuffix("_total") { name += "_total" }
        let ruleKey = (ruleIndex ?? -1) * 4 + StatsdMetricType.allCases.firstIndex(of: type)!
        let settings = settingsByRule[ruleKey] ?? Settings(rule: rule, mapping: mapping, type: type)
        settingsByRule[ruleKey] = settings
        let valuesByName = Dictionary(labels.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
        let values = settings.labelNames.map { name -> String in
            let value = valuesByName[name] ?? ""
            // Values of up to 15 UTF-8 bytes are stored inline in the String: nothing to share.
            guard value.utf8.count > 15, internedValues.count < Self.maxInternedValues || internedValues.contains(value) else { return value }
            return internedValues.insert(value).memberAfterInsert
        }
        return Target(disposition: disposition, name: name, labelValues: values, settings: settings)
    }

    public func apply(_ event: StatsdEvent, now: Double) {
        let type = event.metricType
        let target = target(for: event.name, type: type)
        switch target.disposition {
        case .drop(let reason):
            statistics.dropped[reason, default: 0] += 1
            return
        case .unmapped:
            statistics.unmapped += 1
        case .emit:
            break
        }
        // Only drop targets lack settings.
        guard let settings = target.settings else { return }
        var labelNames = settings.labelNames
        var labelValues = target.labelValues
        if !event.tags.isEmpty {
            var tags = event.tags
            for index in tags.indices { tags[index].name = StatsdNames.escape(tags[index].name) }
            // `le` on a histogram (or `quantile` on a summary) would be written twice on a bucket
            // line: promtool lets it pass, but Prometheus then rejects the whole scrape. Such a
            // tag is kept under Prometheus's own name for a clashing label.
            if let reserved = settings.metricType.reservedLabelName {
                for index in tags.indices where tags[index].name == reserved {
                    tags[index].name = "exported_" + reserved
                    statistics.reservedLabels += 1
                }
            }
            for (name, value) in zip(labelNames, labelValues) {
                if let existing = tags.firstIndex(where: { $0.name == name }) {
                    if !settings.honorLabels { tags[existing].value = value }
                } else {
                    tags.append(Label(name, value))
                }
            }
            // A repeated tag keeps its last value; label order is by name for a stable exposition.
            let labels = Self.normalized(tags)
            // Escaped tag names are valid label names except for the reserved `__` prefix.
            guard !labels.contains(where: { $0.name.hasPrefix("__") }) else {
                statistics.dropped["invalid_label", default: 0] += 1
                return
            }
            labelNames = labels.map(\.name)
            labelValues = labels.map(\.value)
        }
        let tagged = !event.tags.isEmpty

        switch event.kind {
        case .counter(let value):
            guard value >= 0 else {
                statistics.dropped["negative_counter", default: 0] += 1
                return
            }
            guard let series = series(target, names: labelNames, values: labelValues, tagged: tagged, now: now) else { return }
            series.value += value
            statistics.counterEvents += 1
        case .gauge(let value, let relative):
            guard let series = series(target, names: labelNames, values: labelValues, tagged: tagged, now: now) else { return }
            series.value = relative ? series.value + value : value
            statistics.gaugeEvents += 1
        case .observation(let raw, let observationType, let weight):
            // Timers arrive in milliseconds; Prometheus measures seconds.
            var value = observationType == .timer ? raw / 1000 : raw
            if let scale = settings.scale { value *= scale }
            guard let series = series(target, names: labelNames, values: labelValues, tagged: tagged, now: now) else { return }
            series.count += weight
            series.sum += value * weight
            if settings.metricType == .histogram, let family = target.family {
                // Buckets are stored per bucket (not cumulative); the last one is +Inf.
                let buckets = family.buckets
                var slot = buckets.count
                for index in buckets.indices where value <= buckets[index] {
                    slot = index
                    break
                }
                series.histogram[slot] += weight
            } else if let window = series.window {
                window.observe(value, weight: weight, now: now, random: &random)
            }
            statistics.observerEvents += 1
        }
    }

    private static func normalized(_ labels: [Label]) -> [Label] {
        guard labels.count > 1 else { return labels }
        var result: [Label] = []
        result.reserveCapacity(labels.count)
        for label in labels {
            if let existing = result.firstIndex(where: { $0.name == label.name }) {
                result[existing].value = label.value
            } else {
                result.append(label)
            }
        }
        result.sort { $0.name < $1.name }
        return result
    }

    /// The series for these labels in the target's family, created if new; nil (and counted) on
    /// a type or label-name conflict, or when the store is full.
    private func series(_ target: Target, names: [String], values: [String], tagged: Bool, now: Double) -> Series? {
        if !tagged, target.generation == generation, let cached = target.untaggedSeries {
            cached.lastUpdate = now
            return cached
        }
        let name = target.name
        guard let settings = target.settings else { return nil }
        // Prometheus writes these itself for every target: `up:0|g` would read as a target down.
        if name == "up" || name.hasPrefix("scrape_") {
            statistics.dropped["reserved_name", default: 0] += 1
            return nil
        }
        let type = settings.metricType
        let family: Family
        if target.generation == generation, let cached = target.family {
            family = cached
        } else if let existing = families[name] {
            guard existing.type == type else {
                statistics.conflicts["type", default: 0] += 1
                return nil
            }
            target.family = existing
            target.untaggedSeries = nil
            target.generation = generation
            family = existing
        } else {
            // A new family must not collide with a histogram's or summary's derived series, nor
            // claim the bridge's own namespace.
            let derived = type == .histogram || type == .summary ? ["_bucket", "_count", "_sum"].map { name + $0 } : []
            guard !derivedNames.contains(name), !derived.contains(where: { families[$0] != nil }),
                  !name.hasPrefix("statsd_"), !name.hasPrefix("mastiff_") else {
                statistics.conflicts["name", default: 0] += 1
                return nil
            }
            family = Family(type: type, help: settings.help ?? "Metric received over statsd (the mapping gives no help text).",
                            labelNames: names, buckets: settings.buckets, summary: settings.summary)
            families[name] = family
            derivedNames.formUnion(derived)
            target.family = family
            target.untaggedSeries = nil
            target.generation = generation
        }
        guard family.labelNames == names else {
            statistics.conflicts["labels", default: 0] += 1
            return nil
        }
        if let existing = family.series[values] {
            existing.lastUpdate = now
            if !tagged { target.untaggedSeries = existing }
            return existing
        }
        if seriesCount >= maxSeries {
            expire(now: now)
            guard seriesCount < maxSeries else {
                statistics.dropped["series_limit", default: 0] += 1
                if family.series.isEmpty { removeFamily(name) }
                return nil
            }
            // Expiry may have removed this very family.
            if families[name] !== family { return series(target, names: names, values: values, tagged: tagged, now: now) }
        }
        let window = family.summary.map { SummaryWindow(options: $0, now: now) }
        let series = Series(now: now, ttl: settings.ttl, bucketCount: family.buckets.count, window: window)
        family.series[values] = series
        seriesCount += 1
        if !tagged { target.untaggedSeries = series }
        return series
    }

    private func removeFamily(_ name: String) {
        guard let family = families.removeValue(forKey: name) else { return }
        generation += 1
        if family.type == .histogram || family.type == .summary {
            for suffix in ["_bucket", "_count", "_sum"] { derivedNames.remove(name + suffix) }
        }
    }

    /// Drops series whose rule's `ttl` passed without an update.
    public func expire(now: Double) {
        for (name, family) in families {
            let before = family.series.count
            family.series = family.series.filter { _, series in series.ttl <= 0 || now - series.lastUpdate < series.ttl }
            let removed = before - family.series.count
            if removed > 0 {
                generation += 1
                seriesCount -= removed
                statistics.expired += removed
                if family.series.isEmpty { removeFamily(name) }
            }
        }
    }

    /// Writes every family (sorted by name, series by label values) in the text format, except
    /// those named in `excluding`. Written straight from the store: with ten thousand series,
    /// building sample arrays first cost more memory than the series themselves.
    public func render(into out: inout String, now: Double, excluding: Set<String> = []) {
        expire(now: now)
        for name in families.keys.sorted() where !excluding.contains(name) {
            let family = families[name]!
            ExpositionRenderer.appendHeader(name, help: family.help, type: family.type, to: &out)
            let labelNames = family.labelNames
            // Bounds and quantiles print as sample values do (`0.005`, `1`, `2.5`).
            let bounds = family.buckets.map(ExpositionRenderer.formatValue)
            let quantiles = family.summary?.quantiles ?? []
            let quantileLabels = quantiles.map { ExpositionRenderer.formatValue($0.quantile) }
            for values in family.series.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                let series = family.series[values]!
                switch family.type {
                case .histogram:
                    var cumulative = 0.0
                    for index in bounds.indices {
                        cumulative += series.histogram[index]
                        ExpositionRenderer.appendSample(name, suffix: "_bucket", labelNames: labelNames, labelValues: values,
                                                        extra: ("le", bounds[index]), value: cumulative, to: &out)
                    }
                    ExpositionRenderer.appendSample(name, suffix: "_bucket", labelNames: labelNames, labelValues: values,
                                                    extra: ("le", "+Inf"), value: series.count, to: &out)
                    ExpositionRenderer.appendSample(name, suffix: "_sum", labelNames: labelNames, labelValues: values, value: series.sum, to: &out)
                    ExpositionRenderer.appendSample(name, suffix: "_count", labelNames: labelNames, labelValues: values, value: series.count, to: &out)
                case .summary:
                    let estimates = series.window?.quantiles(quantiles.map(\.quantile), now: now) ?? []
                    for (label, estimate) in zip(quantileLabels, estimates) {
                        ExpositionRenderer.appendSample(name, suffix: "", labelNames: labelNames, labelValues: values,
                                                        extra: ("quantile", label), value: estimate, to: &out)
                    }
                    ExpositionRenderer.appendSample(name, suffix: "_sum", labelNames: labelNames, labelValues: values, value: series.sum, to: &out)
                    ExpositionRenderer.appendSample(name, suffix: "_count", labelNames: labelNames, labelValues: values, value: series.count, to: &out)
                default:
                    ExpositionRenderer.appendSample(name, suffix: "", labelNames: labelNames, labelValues: values, value: series.value, to: &out)
                }
            }
        }
    }
}

/// A summary's sliding window: `ageBuckets` time slots covering `maxAge`, each keeping at most
/// `bufferCapacity` observations (a uniform sample once full, each kept value then standing for
/// `seen / kept` observations). Quantiles are read from the slots still inside the window.
final class SummaryWindow {
    private struct Slot {
        var start: Double
        var values: [Double] = []
        var seen = 0.0
    }

    private let slotWidth: Double
    private let capacity: Int
    private var slots: [Slot]

    init(options: StatsdMapping.SummaryOptions, now: Double) {
        slotWidth = options.maxAge.seconds / Double(options.ageBuckets)
        capacity = options.bufferCapacity
        slots = [Slot(start: now)]
        self.ageBuckets = options.ageBuckets
    }

    private let ageBuckets: Int

    func observe(_ value: Double, weight: Double, now: Double, random: inout SplitMixRandom) {
        if now - slots[slots.count - 1].start >= slotWidth {
            slots.append(Slot(start: now))
            if slots.count > ageBuckets { slots.removeFirst(slots.count - ageBuckets) }
        }
        var slot = slots[slots.count - 1]
        slots[slots.count - 1] = Slot(start: 0)  // keeps the values buffer uniquely referenced
        slot.seen += weight
        if slot.values.count < capacity {
            slot.values.append(value)
        } else {
            let index = Int(random.next() % UInt64(max(1, Int(slot.seen))))
            if index < capacity { slot.values[index] = value }
        }
        slots[slots.count - 1] = slot
    }

    /// The estimates for `quantiles`, NaN when the window holds nothing (as client_golang).
    func quantiles(_ quantiles: [Double], now: Double) -> [Double] {
        let horizon = now - slotWidth * Double(ageBuckets)
        var weighted: [(value: Double, weight: Double)] = []
        for slot in slots where slot.start + slotWidth > horizon && !slot.values.isEmpty {
            let weight = slot.seen / Double(slot.values.count)
            for value in slot.values { weighted.append((value, weight)) }
        }
        guard !weighted.isEmpty else { return quantiles.map { _ in .nan } }
        weighted.sort { $0.value < $1.value }
        let total = weighted.reduce(0) { $0 + $1.weight }
        return quantiles.map { quantile in
            let rank = quantile * total
            var cumulative = 0.0
            for entry in weighted {
                cumulative += entry.weight
                if cumulative >= rank { return entry.value }
            }
            return weighted[weighted.count - 1].value
        }
    }
}

/// A small deterministic generator for reservoir sampling (no global state, no locks).
struct SplitMixRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension MetricType {
    /// The label Prometheus's text format gives a meaning to for this type, which a series of
    /// this type must not carry itself.
    public var reservedLabelName: String? {
        switch self {
        case .histogram: "le"
        case .summary: "quantile"
        default: nil
        }
    }
}
