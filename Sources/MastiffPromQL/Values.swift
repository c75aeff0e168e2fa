import MastiffCore

/// Sorted label sets and the values PromQL computes with. Timestamps are milliseconds, as in
/// Prometheus, so that window arithmetic (and therefore rate extrapolation) is bit-equal.
public typealias Labels = [Label]

extension Array where Element == Label {
    /// Sorted by name, as Prometheus sorts them.
    public func sortedByName() -> Labels { sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) } }

    public func value(of name: String) -> String? { first { $0.name == name }?.value }

    public var withoutName: Labels { filter { $0.name != "__name__" } }

    public mutating func set(_ name: String, _ value: String) {
        removeAll { $0.name == name }
        if !value.isEmpty {
            append(Label(name, value))
            self = sortedByName()
        }
    }

    /// Prometheus's text form: `name{a="b"}` or `{a="b"}`.
    public var promQLText: String {
        let name = value(of: "__name__") ?? ""
        let rest = withoutName
        if !name.isEmpty && rest.isEmpty { return name }
        return name + "{" + rest.map { "\($0.name)=\(quoteLabelValue($0.value))" }.joined(separator: ", ") + "}"
    }

    /// A key identifying the label set (names and values cannot contain the separators used).
    public var key: String {
        var key = ""
        for label in self {
            key += label.name
            key += "\u{1}"
            key += label.value
            key += "\u{2}"
        }
        return key
    }
}

public struct VectorSample: Sendable, Equatable {
    public var labels: Labels
    public var value: Double
    /// When the sample was taken (ms); what `timestamp()` returns.
    public var timestamp: Int64

    public init(labels: Labels, value: Double, timestamp: Int64) {
        self.labels = labels
        self.value = value
        self.timestamp = timestamp
    }
}

public struct RangeSeries: Sendable {
    public var labels: Labels
    public var times: [Int64]
    public var values: [Double]
}

public enum Value: Sendable {
    case scalar(Double)
    case string(String)
    case vector([VectorSample])
    case matrix([RangeSeries])
}

/// A series as the storage returns it: all its points between the bounds asked for, oldest
/// first, staleness markers included.
public struct StoredSeries: Sendable {
    public var labels: Labels
    public var times: [Int64]
    public var values: [Double]

    public init(labels: Labels, times: [Int64], values: [Double]) {
        self.labels = labels
        self.times = times
        self.values = values
    }
}

/// Where selectors read from: the agent's history, or a promtool test's input series.
public protocol SeriesStorage {
    /// The series `selector` matches (name and matchers; its offset is already applied to the
    /// bounds) with their points in (`after`, `through`].
    func select(_ selector: VectorSelector, after: Int64, through: Int64) -> [StoredSeries]
}

public struct EvaluationError: Error, Sendable, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }

    /// The evaluation went past its rule group's deadline and was stopped.
    public static let deadlinePassed = EvaluationError("the rule group's evaluation deadline passed")
}

/// Says whether an evaluation's time is up: checked between steps of the evaluator and of
/// templates, so that no expression or template can hold the rule engine past its deadline.
public typealias DeadlineCheck = @Sendable () -> Bool

/// Prometheus's staleness marker: a NaN with this bit pattern.
public let staleMarkerBits: UInt64 = 0x7FF0_0000_0000_0002
@inline(__always) func isStale(_ value: Double) -> Bool { value.bitPattern == staleMarkerBits }

/// Kahan–Neumaier summation step, as Prometheus's util/kahansum.Inc.
@inline(never)
func kahanInc(_ increment: Double, _ sum: Double, _ compensation: Double) -> (Double, Double) {
    let total = sum + increment
    var c = compensation
    if total.isInfinite {
        c = 0
    } else if abs(sum) >= abs(increment) {
        c += (sum - total) + increment
    } else {
        c += (increment - total) + sum
    }
    return (total, c)
}
