import Glibc
import MastiffCore

extension Evaluator {
    private struct Group {
        var labels: Labels
        var value: Double
        var mean: Double
        var compensation = 0.0
        var count = 1.0
        var incrementalMean = false
        var values: [Double] = []
        var members: [VectorSample] = []
    }

    private func groupingLabels(_ labels: Labels, _ grouping: [String], without: Bool) -> Labels {
        if without { return labels.filter { $0.name != "__name__" && !grouping.contains($0.name) } }
        return labels.filter { grouping.contains($0.name) }
    }

    func aggregate(_ aggregation: Aggregation, _ samples: [VectorSample], parameter: Value?, grouping: [String],
                   without: Bool) throws(EvaluationError) -> [VectorSample] {
        switch aggregation {
        case .topk, .bottomk: return try selectK(aggregation, samples, parameter: parameter, grouping: grouping, without: without)
        case .count_values: return try countValues(samples, parameter: parameter, grouping: grouping, without: without)
        default: break
        }
        var order: [String] = []
        var groups: [String: Group] = [:]
        for sample in samples {
            let labels = groupingLabels(sample.labels, grouping, without: without)
            let key = labels.key
            let value = sample.value
            guard var group = groups[key] else {
                order.append(key)
                var group = Group(labels: labels, value: value, mean: value)
                switch aggregation {
                case .stddev, .stdvar: group.value = value.isNaN || value.isInfinite ? .nan : 0
                case .quantile: group.values = [value]
                case .group: group.value = 1
                default: break
                }
                groups[key] = group
                continue
            }
            switch aggregation {
            case .sum:
                (group.value, group.compensation) = kahanInc(value, group.value, group.compensation)
            case .avg:
                group.count += 1
                if !group.incrementalMean {
                    let (sum, compensation) = kahanInc(value, group.value, group.compensation)
                    if !sum.isInfinite {
                        (group.value, group.compensation) = (sum, compensation)
                        break
                    }
                    group.incrementalMean = true
                    group.mean = group.value / (group.count - 1)
                    group.compensation /= group.count - 1
                }
                let q = (group.count - 1) / group.count
                (group.mean, group.compensation) = kahanInc(value / group.count, q * group.mean, q * group.compensation)
            case .max:
                if group.value < value || group.value.isNaN { group.value = value }
            case .min:
                if group.value > value || group.value.isNaN { group.value = value }
            case .count:
                group.count += 1
            case .stddev, .stdvar:
                if !group.value.isNaN {
                    group.count += 1
                    let delta = value - group.mean
                    group.mean += delta / group.count
                    group.value += delta * (value - group.mean)
                }
            case .quantile:
                group.values.append(value)
            case .group, .topk, .bottomk, .count_values:
                break
            }
            groups[key] = group
        }
        var result: [VectorSample] = []
        for key in order {
            let group = groups[key]!
            var value: Double
            switch aggregation {
            case .sum: value = group.value.isInfinite ? group.value : group.value + group.compensation
            case .avg:
                value = group.incrementalMean ? group.mean + group.compensation
                    : group.value / group.count + group.compensation / group.count
            case .count: value = group.count
            case .stdvar: value = group.value / group.count
            case .stddev: value = (group.value / group.count).squareRoot()
            case .quantile:
                guard case .scalar(let q) = parameter else { throw EvaluationError("quantile needs a scalar parameter") }
                value = Self.quantile(q, group.values)
            default: value = group.value
            }
            result.append(VectorSample(labels: group.labels, value: value, timestamp: time))
        }
        return result
    }

    /// Prometheus's `quantile`: linear interpolation between the closest ranks.
    static func quantile(_ q: Double, _ input: [Double]) -> Double {
        if input.isEmpty || q.isNaN { return .nan }
        if q < 0 { return -.infinity }
        if q > 1 { return .infinity }
        // Go's sort.Sort on vectorByValueHeap orders NaN first.
        let values = input.sorted { ($0.isNaN && !$1.isNaN) || $0 < $1 }
        let n = Double(values.count)
        let rank = q * (n - 1)
        let lower = Swift.max(0, rank.rounded(.down))
        let upper = Swift.min(n - 1, lower + 1)
        let weight = rank - rank.rounded(.down)
        return values[Int(lower)] * (1 - weight) + values[Int(upper)] * weight
    }

    private func selectK(_ aggregation: Aggregation, _ samples: [VectorSample], parameter: Value?, grouping: [String],
                         without: Bool) throws(EvaluationError) -> [VectorSample] {
        guard case .scalar(let kValue) = parameter else { throw EvaluationError("\(aggregation.rawValue) needs a scalar parameter") }
        guard !kValue.isNaN else { throw EvaluationError("Parameter value is NaN") }
        // Prometheus 3 refuses what does not fit an int64 (also when computed from data).
        guard kValue > -9.223372036854775808e18, kValue < 9.223372036854775807e18 else {
            throw EvaluationError("Scalar value \(GoFloat.v(kValue)) overflows int64")
        }
        let k = Int(kValue.rounded(.towardZero))
        guard k >= 1 else { return [] }
        var order: [String] = []
        var groups: [String: [VectorSample]] = [:]
        for sample in samples {
            let key = groupingLabels(sample.labels, grouping, without: without).key
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(sample)
        }
        // NaN sorts last in both directions, as in Prometheus.
        func before(_ a: VectorSample, _ b: VectorSample) -> Bool {
            if a.value.isNaN { return false }
            if b.value.isNaN { return true }
            return aggregation == .topk ? a.value > b.value : a.value < b.value
        }
        var result: [VectorSample] = []
        for key in order {
            let members = groups[key]!.enumerated().sorted { before($0.element, $1.element) || (!before($1.element, $0.element) && $0.offset < $1.offset) }
            result.append(contentsOf: members.prefix(k).map { VectorSample(labels: $0.element.labels, value: $0.element.value, timestamp: time) })
        }
        return result
    }

    private func countValues(_ samples: [VectorSample], parameter: Value?, grouping: [String], without: Bool) throws(EvaluationError) -> [VectorSample] {
        guard case .string(let label) = parameter, !label.isEmpty,
              label.first.map({ $0.isLetter || $0 == "_" }) == true,
              label.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw EvaluationError("invalid label name for count_values")
        }
        var order: [String] = []
        var counts: [String: (Labels, Double)] = [:]
        for sample in samples {
            var labels = groupingLabels(sample.labels, grouping, without: without)
            labels.set(label, GoFloat.format(sample.value, "f", -1))
            let key = labels.key
            if counts[key] == nil {
                order.append(key)
                counts[key] = (labels, 0)
            }
            counts[key]!.1 += 1
        }
        return order.map { VectorSample(labels: counts[$0]!.0, value: counts[$0]!.1, timestamp: time) }
    }
}
