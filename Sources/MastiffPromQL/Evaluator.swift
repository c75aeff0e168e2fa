import Glibc
import MastiffCore

/// Evaluates an expression as an instant query at one time, with Prometheus 3's semantics:
/// 5-minute lookback, left-open windows `(t-range, t]`, staleness markers ending a series at
/// once, rate extrapolation, and Kahan summation where Prometheus uses it.
public struct Evaluator {
    public static let lookbackMs: Int64 = 300_000

    /// The most steps one subquery evaluation may take (`[1y:1s]` would be 31 million): past
    /// it the evaluation fails with a message saying so, instead of holding the rules.
    public static let maxSubquerySteps: Int64 = 100_000

    let storage: any SeriesStorage
    /// The evaluation time, in milliseconds since the epoch (a subquery's step, inside it).
    public let time: Int64
    /// The whole query's evaluation time: what `@ start()` and `@ end()` name (an instant
    /// query starts and ends there).
    let queryTime: Int64
    /// A subquery's step when it has none (`x[1h:]`): the evaluation interval, as Prometheus
    /// takes its global evaluation_interval.
    public var defaultSubqueryStepMs: Int64
    /// Checked before each node: past it, the evaluation stops with `deadlinePassed`.
    public var pastDeadline: DeadlineCheck?

    public init(storage: any SeriesStorage, time: Int64, pastDeadline: DeadlineCheck? = nil, defaultSubqueryStepMs: Int64 = 60_000) {
        self.storage = storage
        self.time = time
        queryTime = time
        self.pastDeadline = pastDeadline
        self.defaultSubqueryStepMs = defaultSubqueryStepMs
    }

    /// The same query, evaluated at one step of a subquery, reading through `storage`.
    private init(_ outer: Evaluator, at step: Int64, storage: any SeriesStorage) {
        self.storage = storage
        time = step
        queryTime = outer.queryTime
        pastDeadline = outer.pastDeadline
        defaultSubqueryStepMs = outer.defaultSubqueryStepMs
    }

    /// Where a selector or subquery with this `@` is evaluated.
    func evaluationTime(_ at: AtModifier?) -> Int64 {
        switch at {
        case nil: return time
        case .time(let fixed): return fixed
        case .start, .end: return queryTime
        }
    }

    public func evaluate(_ expr: Expr) throws(EvaluationError) -> Value {
        if let pastDeadline, pastDeadline() { throw .deadlinePassed }
        switch expr {
        case .number(let value): return .scalar(value)
        case .string(let text): return .string(text)
        case .paren(let inner): return try evaluate(inner)
        case .vector(let selector): return .vector(instant(selector))
        case .matrix(let selector, let range): return .matrix(ranged(selector, rangeMs: range))
        case .negate(let inner):
            switch try evaluate(inner) {
            case .scalar(let value): return .scalar(-value)
            case .vector(let samples):
                return .vector(try unique(samples.map { VectorSample(labels: $0.labels.withoutName, value: -$0.value, timestamp: time) }))
            default: throw EvaluationError("unary minus on a non-numeric value")
            }
        case .binary(let op, let lhs, let rhs, let matching, let returnBool):
            return try binary(op, try evaluate(lhs), try evaluate(rhs), matching: matching, returnBool: returnBool)
        case .aggregate(let aggregation, let inner, let parameter, let grouping, let without):
            guard case .vector(let samples) = try evaluate(inner) else { throw EvaluationError("aggregation over a non-vector") }
            var parameterValue: Value?
            if let parameter { parameterValue = try evaluate(parameter) }
            return .vector(try aggregate(aggregation, samples, parameter: parameterValue, grouping: grouping, without: without))
        case .call(let function, let arguments):
            return try call(function, arguments)
        case .subquery(let subquery):
            return .matrix(try evaluate(subquery))
        }
    }

    /// The inner expression at each step of the subquery's range, as Prometheus 3 aligns them:
    /// steps are multiples of the step (from the Unix epoch), the range is left-open `(end -
    /// range, end]`, and each point carries its step's time.
    func evaluate(_ subquery: Subquery) throws(EvaluationError) -> [RangeSeries] {
        let step = subquery.stepMs ?? defaultSubqueryStepMs
        let end = evaluationTime(subquery.at) - subquery.offsetMs
        let (low, lowOverflow) = end.subtractingReportingOverflow(subquery.rangeMs)
        guard !lowOverflow, step > 0 else { throw EvaluationError("subquery range out of bounds") }
        var start = step * (low / step)
        if start <= low { start += step }
        guard start <= end else { return [] }
        let steps = (end - start) / step + 1
        guard steps <= Self.maxSubquerySteps else {
            throw EvaluationError("subquery of \(steps) steps: at most \(Self.maxSubquerySteps) (write a longer step or a shorter range)")
        }
        var order: [String] = []
        var series: [String: RangeSeries] = [:]
        let cached = SubqueryStorage(base: storage, span: end - start)
        var at = start
        while at <= end {
            guard case .vector(let samples) = try Evaluator(self, at: at, storage: cached).evaluate(subquery.expr) else {
                throw EvaluationError("subquery is only allowed on instant vector")
            }
            for sample in samples {
                let key = sample.labels.key
                if series[key] == nil {
                    order.append(key)
                    series[key] = RangeSeries(labels: sample.labels, times: [], values: [])
                }
                series[key]!.times.append(at)
                series[key]!.values.append(sample.value)
            }
            at += step
        }
        return order.map { series[$0]! }
    }

    /// A vector: the newest sample of each series within the lookback, unless it is a
    /// staleness marker.
    func instant(_ selector: VectorSelector) -> [VectorSample] {
        let end = evaluationTime(selector.at) - selector.offsetMs
        var result: [VectorSample] = []
        for series in storage.select(selector, after: end - Self.lookbackMs, through: end) {
            guard let last = series.times.indices.last(where: { series.times[$0] <= end && series.times[$0] > end - Self.lookbackMs }),
                  !isStale(series.values[last]) else { continue }
            result.append(VectorSample(labels: series.labels, value: series.values[last], timestamp: series.times[last]))
        }
        return result
    }

    func ranged(_ selector: VectorSelector, rangeMs: Int64) -> [RangeSeries] {
        let end = evaluationTime(selector.at) - selector.offsetMs
        var result: [RangeSeries] = []
        for series in storage.select(selector, after: end - rangeMs, through: end) {
            var times: [Int64] = []
            var values: [Double] = []
            for index in series.times.indices where series.times[index] > end - rangeMs && series.times[index] <= end
                && !isStale(series.values[index]) {
                times.append(series.times[index])
                values.append(series.values[index])
            }
            if !times.isEmpty { result.append(RangeSeries(labels: series.labels, times: times, values: values)) }
        }
        return result
    }

    /// Two samples with one label set after a name was dropped make the result invalid, as in
    /// Prometheus.
    func unique(_ samples: [VectorSample]) throws(EvaluationError) -> [VectorSample] {
        var seen = Set<String>()
        for sample in samples where !seen.insert(sample.labels.key).inserted {
            throw EvaluationError("vector cannot contain metrics with the same labelset (\(sample.labels.promQLText))")
        }
        return samples
    }

    // MARK: - Binary operators

    static func arithmetic(_ op: BinaryOperator, _ lhs: Double, _ rhs: Double) -> (value: Double, keep: Bool) {
        switch op {
        case .add: return (lhs + rhs, true)
        case .subtract: return (lhs - rhs, true)
        case .multiply: return (lhs * rhs, true)
        case .divide: return (lhs / rhs, true)
        case .power: return (GoMath.pow(lhs, rhs), true)
        case .modulo: return (fmod(lhs, rhs), true)
        case .atan2: return (GoMath.atan2(lhs, rhs), true)
        case .equal: return (lhs, lhs == rhs)
        case .notEqual: return (lhs, lhs != rhs)
        case .greater: return (lhs, lhs > rhs)
        case .less: return (lhs, lhs < rhs)
        case .greaterOrEqual: return (lhs, lhs >= rhs)
        case .lessOrEqual: return (lhs, lhs <= rhs)
        case .and, .or, .unless: return (.nan, false)
        }
    }

    func binary(_ op: BinaryOperator, _ lhs: Value, _ rhs: Value, matching: VectorMatching?, returnBool: Bool) throws(EvaluationError) -> Value {
        switch (lhs, rhs) {
        case (.scalar(let left), .scalar(let right)):
            let (value, keep) = Self.arithmetic(op, left, right)
            return .scalar(op.isComparison ? (keep ? 1 : 0) : value)
        case (.vector(let samples), .scalar(let scalar)):
            return .vector(try vectorScalar(op, samples, scalar, swapped: false, returnBool: returnBool))
        case (.scalar(let scalar), .vector(let samples)):
            return .vector(try vectorScalar(op, samples, scalar, swapped: true, returnBool: returnBool))
        case (.vector(let left), .vector(let right)):
            let matching = matching ?? VectorMatching(cardinality: op.isSetOperator ? .manyToMany : .oneToOne, on: false, labels: [], include: [])
            switch op {
            case .and: return .vector(setAnd(left, right, matching))
            case .or: return .vector(setOr(left, right, matching))
            case .unless: return .vector(setUnless(left, right, matching))
            default: return .vector(try vectorVector(op, left, right, matching, returnBool: returnBool))
            }
        default:
            throw EvaluationError("operator \(op.rawValue) on incompatible values")
        }
    }

    private func vectorScalar(_ op: BinaryOperator, _ samples: [VectorSample], _ scalar: Double, swapped: Bool,
                              returnBool: Bool) throws(EvaluationError) -> [VectorSample] {
        var result: [VectorSample] = []
        for sample in samples {
            let (left, right) = swapped ? (scalar, sample.value) : (sample.value, scalar)
            var (value, keep) = Self.arithmetic(op, left, right)
            // A filter keeps the vector's own value, whichever side it is on.
            if op.isComparison && swapped { value = right }
            if returnBool {
                value = keep ? 1 : 0
                keep = true
            }
            guard keep else { continue }
            let dropName = !op.isComparison || returnBool
            result.append(VectorSample(labels: dropName ? sample.labels.withoutName : sample.labels, value: value, timestamp: time))
        }
        return try unique(result)
    }

    private func signature(_ labels: Labels, _ matching: VectorMatching) -> String {
        if matching.on {
            return labels.filter { matching.labels.contains($0.name) }.key
        }
        return labels.filter { $0.name != "__name__" && !matching.labels.contains($0.name) }.key
    }

    private func vectorVector(_ op: BinaryOperator, _ lhsIn: [VectorSample], _ rhsIn: [VectorSample], _ matching: VectorMatching,
                              returnBool: Bool) throws(EvaluationError) -> [VectorSample] {
        var (lhs, rhs) = (lhsIn, rhsIn)
        if matching.cardinality == .oneToMany { swap(&lhs, &rhs) }
        var rightBySignature: [String: VectorSample] = [:]
        for sample in rhs {
            let signature = signature(sample.labels, matching)
            if let existing = rightBySignature[signature] {
                let side = matching.cardinality == .oneToMany ? "left" : "right"
                let pair = [sample.labels.promQLText, existing.labels.promQLText].sorted()
                throw EvaluationError("found duplicate series for the match group on the \(side) hand-side of the operation: [\(pair[0]), \(pair[1])]; many-to-many matching not allowed: matching labels must be unique on one side")
            }
            rightBySignature[signature] = sample
        }
        var matchedOneToOne = Set<String>()
        var matchedMany: [String: Set<String>] = [:]
        var result: [VectorSample] = []
        for sample in lhs {
            let signature = signature(sample.labels, matching)
            guard let other = rightBySignature[signature] else { continue }
            var (left, right) = (sample, other)
            if matching.cardinality == .oneToMany { swap(&left, &right) }
            var (value, keep) = Self.arithmetic(op, left.value, right.value)
            if returnBool {
                value = keep ? 1 : 0
            }
            // The result's labels come from the "many" side (the left one unless group_right).
            var labels = sample.labels
            if returnBool || !op.isComparison { labels = labels.withoutName }
            if matching.cardinality == .oneToOne {
                labels = matching.on ? labels.filter { matching.labels.contains($0.name) } : labels.filter { !matching.labels.contains($0.name) }
                guard matchedOneToOne.insert(signature).inserted else {
                    throw EvaluationError("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")
                }
            } else {
                for name in matching.include { labels.set(name, other.labels.value(of: name) ?? "") }
                guard matchedMany[signature, default: []].insert(labels.key).inserted else {
                    throw EvaluationError("multiple matches for labels: grouping labels must ensure unique matches")
                }
            }
            guard keep || returnBool else { continue }
            result.append(VectorSample(labels: labels, value: value, timestamp: time))
        }
        return result
    }

    private func setAnd(_ lhs: [VectorSample], _ rhs: [VectorSample], _ matching: VectorMatching) -> [VectorSample] {
        let right = Set(rhs.map { signature($0.labels, matching) })
        return lhs.filter { right.contains(signature($0.labels, matching)) }
    }

    private func setOr(_ lhs: [VectorSample], _ rhs: [VectorSample], _ matching: VectorMatching) -> [VectorSample] {
        let left = Set(lhs.map { signature($0.labels, matching) })
        return lhs + rhs.filter { !left.contains(signature($0.labels, matching)) }
    }

    private func setUnless(_ lhs: [VectorSample], _ rhs: [VectorSample], _ matching: VectorMatching) -> [VectorSample] {
        let right = Set(rhs.map { signature($0.labels, matching) })
        return lhs.filter { !right.contains(signature($0.labels, matching)) }
    }
}
