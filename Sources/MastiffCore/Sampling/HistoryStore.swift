import Synchronization

/// Which series a history consumer wants: a label name, an operator and a value, as in PromQL
/// (`=`, `!=`, `=~`, `!~`; regexes are anchored at both ends, as Prometheus anchors them).
public struct LabelMatcher: Sendable {
    public enum Operator: String, Sendable { case equal = "=", notEqual = "!=", matches = "=~", notMatches = "!~" }

    public let name: String
    public let op: Operator
    public let value: String
    private let regex: CapturingRegex?

    public init(_ name: String, _ op: Operator, _ value: String) throws(ConfigErrorReason) {
        self.name = name
        self.op = op
        self.value = value
        regex = op == .matches || op == .notMatches ? try CapturingRegex("^(?s:" + value + ")$") : nil
    }

    /// A missing label reads as "", as in PromQL.
    public func matches(_ labels: [Label]) -> Bool {
        let actual = labels.first { $0.name == name }?.value ?? ""
        switch op {
        case .equal: return actual == value
        case .notEqual: return actual != value
        case .matches: return regex!.firstMatch(in: actual) != nil
        case .notMatches: return regex!.firstMatch(in: actual) == nil
        }
    }
}

/// Recent values of the series that consumers (alert rules, the status page) register, kept
/// in memory in fixed-size rings: one point is 16 bytes (time and value). Each series reserves
/// its whole ring (retention / interval points) against `limitBytes` when it first appears, so
/// memory is bounded by the limit whatever arrives: a series that would pass it is not kept,
/// and counted (`mastiff_history_series_dropped_total`), as is one past its registration's
/// `maxSeries`. Registering costs nothing until series arrive.
///
/// A series that disappears from a sample (a process group emptied, a collector failing) gets
/// an end marker, Prometheus's staleness NaN, rather than keeping its last value; a series that
/// has shown only its end marker for a whole retention is dropped.
///
/// Time comes from the caller (each sample's time), so tests need no clock.
public final class HistoryStore: Sendable {
    /// Prometheus's staleness marker: a NaN with this exact bit pattern.
    public static let staleMarker = Double(bitPattern: 0x7FF0_0000_0000_0002)
    public static let bytesPerPoint = 16

    public static func isStale(_ value: Double) -> Bool { value.bitPattern == staleMarker.bitPattern }

    public struct RegistrationError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public struct Point: Sendable, Equatable {
        public var time: Double
        public var value: Double
        public init(time: Double, value: Double) {
            self.time = time
            self.value = value
        }
    }

    /// One series' points, oldest first, within the registration's retention.
    public struct Series: Sendable {
        public var name: String
        public var labels: [Label]
        public var points: [Point]

        public init(name: String, labels: [Label], points: [Point]) {
            self.name = name
            self.labels = labels
            self.points = points
        }
    }

    private struct Ring {
        var times: [Double]
        var values: [Double]
        var next = 0
        var count = 0
        var lastWasStale = false
        var lastTime = -Double.infinity
        /// Start of the step the newest point stands for (downsampled registrations only).
        var stepStart = -Double.infinity

        init(capacity: Int) {
            times = [Double](repeating: 0, count: capacity)
            values = [Double](repeating: 0, count: capacity)
        }

        mutating func append(_ time: Double, _ value: Double) {
            times[next] = time
            values[next] = value
            next = (next + 1) % times.count
            count = min(count + 1, times.count)
            lastWasStale = HistoryStore.isStale(value)
            lastTime = time
        }

        /// Downsampled recording: a value within `step` of the newest point's start is folded
        /// into that point (its maximum or minimum), so a short spike between points survives.
        /// An end marker always starts a new point, and so does the first value after one.
        mutating func fold(_ time: Double, _ value: Double, step: Double, keep: Downsampling) {
            let newest = (next - 1 + times.count) % times.count
            if count > 0, !lastWasStale, !HistoryStore.isStale(value), time - stepStart < step {
                values[newest] = keep == .maximum ? Swift.max(values[newest], value) : Swift.min(values[newest], value)
                lastTime = time
                return
            }
            append(time, value)
            stepStart = time
        }

        func points(since start: Double) -> [Point] {
            var result: [Point] = []
            result.reserveCapacity(count)
            for offset in 0..<count {
                let index = (next - count + offset + times.count) % times.count
                if times[index] >= start { result.append(Point(time: times[index], value: values[index])) }
            }
            return result
        }
    }

    private struct SeriesKey: Hashable {
        var name: String
        var labels: [Label]
    }

    /// Which value a downsampled point keeps of the samples in its step: the largest (queue
    /// latency, memory used: a spike must show) or the smallest (memory available: a dip must).
    public enum Downsampling: Sendable { case maximum, minimum }

    /// Where a registration's points come from: the sampler's collections, or what mastiff
    /// derives from them (recording rules' results, `ALERTS`), recorded separately so that one
    /// does not end the other's series.
    public enum Source: Sendable { case sample, derived }

    private struct Registration {
        let consumer: String
        let metric: String
        let matchers: [LabelMatcher]
        let retention: Double
        let maxSeries: Int
        let capacity: Int
        let source: Source
        /// One point per this many seconds, folded (nil: every sample is a point).
        let step: Double?
        let downsampling: Downsampling
        var series: [SeriesKey: Ring] = [:]
        /// Series this registration could not keep (its maxSeries, or the memory limit).
        var dropped = 0

        var ringBytes: Int { capacity * HistoryStore.bytesPerPoint }
    }

    private struct State {
        var registrations: [Int: Registration] = [:]
        var nextID = 0
        var reservedBytes = 0
        var dropped = 0
    }

    public let limitBytes: Int
    public let sampleInterval: Double
    private let state = Mutex(State())

    /// `sampleInterval`: how often points arrive, which sizes the rings (retention / interval).
    public init(limitBytes: Int, sampleInterval: Duration) {
        self.limitBytes = limitBytes
        self.sampleInterval = sampleInterval.seconds
    }

    /// Keeps `metric`'s series that match `matchers` for `retention`, at most `maxSeries` of
    /// them (more are not stored, and counted). Returns an id for `series(_:)`. Refused when a
    /// single series of it could not fit in the limit.
    ///
    /// With `resolution` (longer than the sampling interval), a series keeps one point per
    /// resolution step, folding the samples of a step as `downsampling` says: 24 hours at 2
    /// minutes is 721 points (11.5 KiB) where every 15 s sample would be 5,761 (90 KiB).
    @discardableResult
    public func register(consumer: String, metric: String, matching matchers: [LabelMatcher] = [], retention: Duration,
                         maxSeries: Int, source: Source = .sample, resolution: Duration? = nil,
                         downsampling: Downsampling = .maximum) throws(RegistrationError) -> Int {
        let step = resolution.map(\.seconds).flatMap { $0 > sampleInterval ? $0 : nil }
        let capacity = Int((retention.seconds / (step ?? sampleInterval)).rounded(.up)) + 1
        let registration = Registration(consumer: consumer, metric: metric, matchers: matchers, retention: retention.seconds,
                                        maxSeries: maxSeries, capacity: capacity, source: source, step: step, downsampling: downsampling)
        guard registration.ringBytes <= limitBytes else {
            throw RegistrationError(description:
                "history for \(metric.isEmpty ? "a selector without a metric name" : metric) (\(consumer)) needs \(ByteSize.format(UInt64(registration.ringBytes))) per series (\(capacity) points of \(Self.bytesPerPoint) B for \(DurationParser.format(retention))), more than sampling.history_limit (\(ByteSize.format(UInt64(limitBytes)))): shorten the range or raise the limit")
        }
        return state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.registrations[id] = registration
            return id
        }
    }

    /// Series a registration could not keep so far: past its `maxSeries` or the memory limit.
    public func droppedSeries(_ id: Int) -> Int {
        state.withLock { $0.registrations[id]?.dropped ?? 0 }
    }

    /// Forgets a registration and frees its series' memory.
    public func unregister(_ id: Int) {
        state.withLock { state in
            guard let registration = state.registrations.removeValue(forKey: id) else { return }
            state.reservedBytes -= registration.series.count * registration.ringBytes
        }
    }

    /// Records one sample's families at `time` into the registrations of `source` (only those
    /// of `onlyMetrics`, when given: derived series come from rule groups evaluated at
    /// different times, and a group's series must not end because another group ran).
    public func record(_ families: [MetricFamily], at time: Double, source: Source = .sample, onlyMetrics: Set<String>? = nil) {
        state.withLock { state in
            for id in state.registrations.keys where state.registrations[id]!.source == source
                && onlyMetrics.map({ $0.contains(state.registrations[id]!.metric) }) != false {
                var registration = state.registrations.removeValue(forKey: id)!
                record(families, at: time, into: &registration, state: &state)
                state.registrations[id] = registration
            }
        }
    }

    private func record(_ families: [MetricFamily], at time: Double, into registration: inout Registration, state: inout State) {
        var seen = Set<SeriesKey>()
        // A registration without a metric name (a selector like {__name__=~"a|b"}) looks at
        // every family; its matchers, and any on __name__, see the sample's full name.
        let nameless = registration.metric.isEmpty
        let matchesName = registration.matchers.contains { $0.name == "__name__" }
        for family in families where nameless || registration.metric.utf8.starts(with: family.name.utf8) {
            // The part of the name a histogram's or summary's samples add (`_count`), or "".
            let suffix = registration.metric.utf8.dropFirst(family.name.utf8.count)
            for sample in family.samples {
                guard nameless || sample.suffix.utf8.elementsEqual(suffix) else { continue }
                let name = nameless ? family.name + sample.suffix : registration.metric
                let labels = matchesName ? sample.labels + [Label("__name__", name)] : sample.labels
                guard registration.matchers.allSatisfy({ $0.matches(labels) }) else { continue }
                let key = SeriesKey(name: name, labels: sample.labels.sorted { $0.name < $1.name })
                guard seen.insert(key).inserted else { continue }
                if registration.series[key] == nil {
                    guard registration.series.count < registration.maxSeries,
                          state.reservedBytes + registration.ringBytes <= limitBytes else {
                        state.dropped += 1
                        registration.dropped += 1
                        continue
                    }
                    state.reservedBytes += registration.ringBytes
                    registration.series[key] = Ring(capacity: registration.capacity)
                }
                if let step = registration.step {
                    registration.series[key]!.fold(time, sample.value, step: step, keep: registration.downsampling)
                } else {
                    registration.series[key]!.append(time, sample.value)
                }
            }
        }
        // Series gone from this sample end with a staleness marker, once; those that have been
        // gone for a whole retention are forgotten.
        for (key, ring) in registration.series where !seen.contains(key) {
            if !ring.lastWasStale {
                registration.series[key]!.append(time, Self.staleMarker)
            } else if time - ring.lastTime > registration.retention {
                registration.series.removeValue(forKey: key)
                state.reservedBytes -= registration.ringBytes
            }
        }
    }

    /// The series of a registration, with their points in its retention before `now`.
    public func series(_ id: Int, now: Double) -> [Series] {
        state.withLock { state in
            guard let registration = state.registrations[id] else { return [] }
            return registration.series.map { key, ring in
                Series(name: key.name, labels: key.labels, points: ring.points(since: now - registration.retention))
            }.sorted { $0.labels.lexicographicallyPrecedes($1.labels) { ($0.name, $0.value) < ($1.name, $1.value) } }
        }
    }

    /// The most memory `consumer`'s registrations can reserve: each one's ring size times its
    /// maximum number of series (what the status page's bound is stated as).
    public func maximumBytes(consumer: String) -> Int {
        state.withLock { state in
            state.registrations.values.filter { $0.consumer == consumer }.reduce(0) { $0 + $1.maxSeries * $1.ringBytes }
        }
    }

    /// The memory `consumer`'s series hold now.
    public func reservedBytes(consumer: String) -> Int {
        state.withLock { state in
            state.registrations.values.filter { $0.consumer == consumer }.reduce(0) { $0 + $1.series.count * $1.ringBytes }
        }
    }

    /// `mastiff_history_*`: how many series are kept and the memory reserved for them.
    public func selfMetrics() -> [MetricFamily] {
        let (series, reserved, dropped) = state.withLock { state in
            (state.registrations.values.reduce(0) { $0 + $1.series.count }, state.reservedBytes, state.dropped)
        }
        return [
            MetricFamily(name: "mastiff_history_series", help: "Series kept in the in-memory history for rules and the status page.",
                         type: .gauge, samples: [Sample(labels: [], value: Double(series))]),
            MetricFamily(name: "mastiff_history_bytes", help: "Memory reserved by the history's series (bounded by sampling.history_limit).",
                         type: .gauge, samples: [Sample(labels: [], value: Double(reserved))]),
            MetricFamily(name: "mastiff_history_series_dropped_total",
                         help: "Series not kept because their registration held its maximum number of series or sampling.history_limit was reached.",
                         type: .counter, samples: [Sample(labels: [], value: Double(dropped))]),
        ]
    }
}
