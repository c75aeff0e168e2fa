import Glibc
import MastiffCore

extension Evaluator {
    func call(_ function: Function, _ arguments: [Expr]) throws(EvaluationError) -> Value {
        func vectorArgument(_ index: Int) throws(EvaluationError) -> [VectorSample] {
            guard case .vector(let samples) = try evaluate(arguments[index]) else { throw EvaluationError("\(function.name) expects a vector") }
            return samples
        }
        func scalarArgument(_ index: Int) throws(EvaluationError) -> Double {
            guard case .scalar(let value) = try evaluate(arguments[index]) else { throw EvaluationError("\(function.name) expects a scalar") }
            return value
        }
        func stringArgument(_ index: Int) throws(EvaluationError) -> String {
            guard case .string(let value) = try evaluate(arguments[index]) else { throw EvaluationError("\(function.name) expects a string") }
            return value
        }
        func map(_ transform: (Double) -> Double) throws(EvaluationError) -> Value {
            .vector(try unique(try vectorArgument(0).map { VectorSample(labels: $0.labels.withoutName, value: transform($0.value), timestamp: time) }))
        }

        switch function.name {
        case "time": return .scalar(Double(time) / 1000)
        case "vector": return .vector([VectorSample(labels: [], value: try scalarArgument(0), timestamp: time)])
        case "scalar":
            let samples = try vectorArgument(0)
            return .scalar(samples.count == 1 ? samples[0].value : .nan)
        case "timestamp":
            return .vector(try unique(try vectorArgument(0).map { VectorSample(labels: $0.labels.withoutName, value: Double($0.timestamp) / 1000, timestamp: time) }))
        case "abs": return try map { Swift.abs($0) }
        case "ceil": return try map { $0.rounded(.up) }
        case "floor": return try map { $0.rounded(.down) }
        case "ln": return try map { GoMath.log($0) }
        case "log2": return try map { GoMath.log2($0) }
        case "log10": return try map { GoMath.log10($0) }
        case "exp": return try map { GoMath.exp($0) }
        case "sqrt": return try map { $0.squareRoot() }
        case "sgn": return try map { $0 < 0 ? -1 : $0 > 0 ? 1 : $0 }
        case "pi": return .scalar(Double.pi)
        // Go's algorithms, so that values equal Prometheus's to the last bit (GoMath).
        case "sin": return try map(GoMath.sin)
        case "cos": return try map(GoMath.cos)
        case "tan": return try map(GoMath.tan)
        case "asin": return try map(GoMath.asin)
        case "acos": return try map(GoMath.acos)
        case "atan": return try map(GoMath.atan)
        case "sinh": return try map(GoMath.sinh)
        case "cosh": return try map(GoMath.cosh)
        case "tanh": return try map(GoMath.tanh)
        case "asinh": return try map(GoMath.asinh)
        case "acosh": return try map(GoMath.acosh)
        case "atanh": return try map(GoMath.atanh)
        // Left to right, as Prometheus writes them: (v·180)/π and (v·π)/180.
        case "deg": return try map { $0 * 180 / Double.pi }
        case "rad": return try map { $0 * Double.pi / 180 }
        case "day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year":
            let field = Self.calendarField(function.name)
            guard !arguments.isEmpty else {
                // Whole seconds of the evaluation time, as Prometheus truncates it.
                return .vector([VectorSample(labels: [], value: field(CalendarTime.utc(Double(time / 1000))), timestamp: time)])
            }
            // Each value as seconds since the epoch, truncated toward zero as Go's int64() does.
            return try map { field(CalendarTime.utc($0.rounded(.towardZero))) }
        case "round":
            let inverse = 1 / (arguments.count > 1 ? try scalarArgument(1) : 1)
            return try map { ($0 * inverse + 0.5).rounded(.down) / inverse }
        case "clamp":
            let (low, high) = (try scalarArgument(1), try scalarArgument(2))
            if low > high { return .vector([]) }
            return try map { Swift.max(low, Swift.min(high, $0)) }
        case "clamp_min":
            let low = try scalarArgument(1)
            return try map { Swift.max(low, $0) }
        case "clamp_max":
            let high = try scalarArgument(1)
            return try map { Swift.min(high, $0) }
        case "sort", "sort_desc":
            let descending = function.name == "sort_desc"
            // NaN last in both orders, as Prometheus sorts.
            return .vector(try vectorArgument(0).enumerated().sorted { a, b in
                let (x, y) = (a.element.value, b.element.value)
                if x.isNaN != y.isNaN { return y.isNaN }
                if x == y || (x.isNaN && y.isNaN) { return a.offset < b.offset }
                return descending ? x > y : x < y
            }.map(\.element))
        case "absent":
            guard try vectorArgument(0).isEmpty else { return .vector([]) }
            return .vector([VectorSample(labels: Self.absentLabels(arguments[0]), value: 1, timestamp: time)])
        case "absent_over_time":
            guard case .matrix(let series) = try evaluate(arguments[0]), series.isEmpty else { return .vector([]) }
            return .vector([VectorSample(labels: Self.absentLabels(arguments[0]), value: 1, timestamp: time)])
        case "histogram_quantile":
            return .vector(try histogramQuantile(try scalarArgument(0), try vectorArgument(1)))
        case "label_replace":
            return .vector(try labelReplace(try vectorArgument(0), destination: try stringArgument(1), replacement: try stringArgument(2),
                                            source: try stringArgument(3), pattern: try stringArgument(4)))
        case "label_join":
            var sources: [String] = []
            for index in 3..<arguments.count { sources.append(try stringArgument(index)) }
            let destination = try stringArgument(1)
            guard Self.isValidLabelName(destination) else { throw EvaluationError("invalid destination label name in label_join(): \(destination)") }
            let separator = try stringArgument(2)
            var result: [VectorSample] = []
            for sample in try vectorArgument(0) {
                var labels = sample.labels
                labels.set(destination, sources.map { sample.labels.value(of: $0) ?? "" }.joined(separator: separator))
                result.append(VectorSample(labels: labels, value: sample.value, timestamp: time))
            }
            return .vector(try unique(result))
        default:
            return try rangeFunction(function, arguments)
        }
    }

    static func isValidLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    /// A calendar field of a UTC time, as Go's time package gives it (day_of_week: 0 is Sunday;
    /// day_of_year: 1 to 366).
    static func calendarField(_ name: String) -> (CalendarTime) -> Double {
        switch name {
        case "day_of_month": return { Double($0.day) }
        case "day_of_week": return { Double($0.weekday) }
        case "day_of_year":
            return { time in Double(time.daysSinceEpoch - CalendarTime.daysSinceEpoch(year: time.year, month: 1, day: 1) + 1) }
        case "days_in_month":
            return { time in
                let next = time.month == 12 ? (time.year + 1, 1) : (time.year, time.month + 1)
                return Double(CalendarTime.daysSinceEpoch(year: next.0, month: next.1, day: 1) - CalendarTime.daysSinceEpoch(year: time.year, month: time.month, day: 1))
            }
        case "hour": return { Double($0.hour) }
        case "minute": return { Double($0.minute) }
        case "month": return { Double($0.month) }
        default: return { Double($0.year) }
        }
    }

    /// The labels `absent` reports, as Prometheus builds them (createLabelsForAbsentFunction), in
    /// the matchers' order: an equality matcher sets its label the first time its name appears;
    /// any other matcher on that name, or a second one, removes it. So `x{job="a",job=~"b"}`
    /// reports no `job`, while `x{job=~"b",job="a"}` reports `job="a"`.
    static func absentLabels(_ expr: Expr) -> Labels {
        let selector: VectorSelector
        switch expr {
        case .vector(let vector): selector = vector
        case .matrix(let vector, _): selector = vector
        default: return []
        }
        var values: [String: String] = [:]
        var seen = Set<String>()
        for matcher in selector.matchers where matcher.name != "__name__" {
            if matcher.op == .equal && !seen.contains(matcher.name) {
                values[matcher.name] = matcher.value
                seen.insert(matcher.name)
            } else {
                values[matcher.name] = nil
            }
        }
        return values.map { Label($0.key, $0.value) }.sortedByName()
    }

    private func labelReplace(_ samples: [VectorSample], destination: String, replacement: String, source: String,
                              pattern: String) throws(EvaluationError) -> [VectorSample] {
        let regex: CapturingRegex
        // Anchored and dot-all, as Prometheus compiles it: ^(?s:…)$.
        do { regex = try CapturingRegex("^(?s:" + pattern + ")$") } catch { throw EvaluationError("invalid regular expression in label_replace(): \(pattern)") }
        guard Self.isValidLabelName(destination) else { throw EvaluationError("invalid destination label name in label_replace(): \(destination)") }
        var result: [VectorSample] = []
        for sample in samples {
            var labels = sample.labels
            let value = sample.labels.value(of: source) ?? ""
            if let groups = regex.firstMatch(in: value) {
                let expanded = GoRegexpExpand.expand(replacement, value: value, groups: groups, names: regex.groupNumbers)
                labels.set(destination, expanded)
            }
            result.append(VectorSample(labels: labels, value: sample.value, timestamp: time))
        }
        return try unique(result)
    }

    private func histogramQuantile(_ q: Double, _ samples: [VectorSample]) throws(EvaluationError) -> [VectorSample] {
        var order: [String] = []
        var buckets: [String: (Labels, [(upper: Double, count: Double)])] = [:]
        for sample in samples {
            guard let le = sample.labels.value(of: "le"), let upper = Self.parseBound(le) else { continue }
            let labels = sample.labels.filter { $0.name != "le" && $0.name != "__name__" }
            let key = labels.key
            if buckets[key] == nil {
                order.append(key)
                buckets[key] = (labels, [])
            }
            buckets[key]!.1.append((upper, sample.value))
        }
        return order.map { key in
            let (labels, list) = buckets[key]!
            return VectorSample(labels: labels, value: Self.bucketQuantile(q, list), timestamp: time)
        }
    }

    static func parseBound(_ text: String) -> Double? {
        switch text.lowercased() {
        case "+inf", "inf": return .infinity
        case "-inf": return -.infinity
        case "nan": return .nan
        default: return Double(text)
        }
    }

    /// Prometheus's `BucketQuantile` for classic histograms.
    static func bucketQuantile(_ q: Double, _ input: [(upper: Double, count: Double)]) -> Double {
        if q.isNaN { return .nan }
        if q < 0 { return -.infinity }
        if q > 1 { return .infinity }
        var buckets = input.sorted { $0.upper < $1.upper }
        guard let last = buckets.last, last.upper == .infinity else { return .nan }
        // Coalesce equal bounds.
        var merged: [(upper: Double, count: Double)] = []
        for bucket in buckets {
            if let previous = merged.last, previous.upper == bucket.upper {
                merged[merged.count - 1].count += bucket.count
            } else {
                merged.append(bucket)
            }
        }
        buckets = merged
        // Force monotonic counts, ignoring tiny float differences.
        var previous = buckets[0].count
        for index in 1..<buckets.count {
            let current = buckets[index].count
            if current == previous { continue }
            if almostEqual(previous, current, tolerance: 1e-12) || current < previous {
                buckets[index].count = previous
                continue
            }
            previous = current
        }
        guard buckets.count >= 2 else { return .nan }
        let observations = buckets[buckets.count - 1].count
        guard observations != 0 else { return .nan }
        var rank = q * observations
        var b = 0
        while b < buckets.count - 1 && !(buckets[b].count >= rank) { b += 1 }
        if b == buckets.count - 1 { return buckets[buckets.count - 2].upper }
        if b == 0 && buckets[0].upper <= 0 { return buckets[0].upper }
        var start = 0.0
        let end = buckets[b].upper
        var count = buckets[b].count
        if b > 0 {
            start = buckets[b - 1].upper
            count -= buckets[b - 1].count
            rank -= buckets[b - 1].count
        }
        return start + (end - start) * (rank / count)
    }

    /// Prometheus's util/almost.Equal.
    static func almostEqual(_ a: Double, _ b: Double, tolerance: Double) -> Bool {
        if a.isNaN && b.isNaN { return true }
        if a == b { return true }
        let absSum = Swift.abs(a) + Swift.abs(b)
        if a == 0 || b == 0 || absSum < Double.leastNormalMagnitude {
            return Swift.abs(a - b) < tolerance * Double.leastNormalMagnitude
        }
        return Swift.abs(a - b) / Swift.min(absSum, .greatestFiniteMagnitude) < tolerance
    }

    // MARK: - Functions over ranges

    private func rangeFunction(_ function: Function, _ arguments: [Expr]) throws(EvaluationError) -> Value {
        guard let matrixIndex = function.arguments.firstIndex(of: .matrix),
              case .matrix(let series) = try evaluate(arguments[matrixIndex]) else {
            throw EvaluationError("\(function.name) expects a range vector")
        }
        // The window the range covers: its length, and how far its end lies before the
        // evaluation time (the offset, plus the distance to an `@` time), as Prometheus
        // rewrites an @ into the offset.
        let rangeMs: Int64
        let offsetMs: Int64
        switch arguments[matrixIndex] {
        case .matrix(let selector, let range):
            rangeMs = range
            offsetMs = selector.offsetMs + (time - evaluationTime(selector.at))
        case .subquery(let subquery):
            rangeMs = subquery.rangeMs
            offsetMs = subquery.offsetMs + (time - evaluationTime(subquery.at))
        default:
            throw EvaluationError("\(function.name) expects a range vector")
        }
        var scalar = 0.0
        if arguments.count > 1 {
            let scalarIndex = matrixIndex == 0 ? 1 : 0
            guard case .scalar(let value) = try evaluate(arguments[scalarIndex]) else { throw EvaluationError("\(function.name) expects a scalar") }
            scalar = value
        }
        let keepName = function.name == "last_over_time"
        var result: [VectorSample] = []
        for entry in series {
            guard let value = rangeValue(function.name, entry, scalar: scalar, rangeMs: rangeMs, offsetMs: offsetMs) else { continue }
            result.append(VectorSample(labels: keepName ? entry.labels : entry.labels.withoutName, value: value, timestamp: time))
        }
        return .vector(try unique(result))
    }

    private func rangeValue(_ name: String, _ series: RangeSeries, scalar: Double, rangeMs: Int64, offsetMs: Int64) -> Double? {
        let values = series.values
        switch name {
        case "rate": return extrapolatedRate(series, rangeMs: rangeMs, offsetMs: offsetMs, isCounter: true, isRate: true)
        case "increase": return extrapolatedRate(series, rangeMs: rangeMs, offsetMs: offsetMs, isCounter: true, isRate: false)
        case "delta": return extrapolatedRate(series, rangeMs: rangeMs, offsetMs: offsetMs, isCounter: false, isRate: false)
        case "irate", "idelta":
            guard values.count >= 2 else { return nil }
            let (previous, last) = (values[values.count - 2], values[values.count - 1])
            var result = last - previous
            if name == "irate" {
                if last < previous { result = last }
                let interval = series.times[values.count - 1] - series.times[values.count - 2]
                if interval == 0 { return nil }
                result /= Double(interval) / 1000
            }
            return result
        case "deriv":
            guard values.count >= 2 else { return nil }
            return Self.linearRegression(series, interceptTime: series.times[0]).slope
        case "predict_linear":
            guard values.count >= 2 else { return nil }
            let (slope, intercept) = Self.linearRegression(series, interceptTime: time)
            return slope * scalar + intercept
        case "changes":
            var changes = 0.0
            for index in values.indices.dropFirst() {
                let (previous, current) = (values[index - 1], values[index])
                if current != previous && !(current.isNaN && previous.isNaN) { changes += 1 }
            }
            return changes
        case "resets":
            var resets = 0.0
            for index in values.indices.dropFirst() where values[index] < values[index - 1] { resets += 1 }
            return resets
        case "avg_over_time":
            var (sum, count, mean, compensation, incremental) = (values[0], 1.0, 0.0, 0.0, false)
            for (index, value) in values.enumerated().dropFirst() {
                count = Double(index + 1)
                if !incremental {
                    let (newSum, newCompensation) = kahanInc(value, sum, compensation)
                    if !newSum.isInfinite {
                        (sum, compensation) = (newSum, newCompensation)
                        continue
                    }
                    incremental = true
                    mean = sum / (count - 1)
                    compensation /= count - 1
                }
                let q = (count - 1) / count
                (mean, compensation) = kahanInc(value / count, q * mean, q * compensation)
            }
            return incremental ? mean + compensation : sum / count + compensation / count
        case "sum_over_time":
            var (sum, compensation) = (0.0, 0.0)
            for value in values { (sum, compensation) = kahanInc(value, sum, compensation) }
            return sum.isInfinite ? sum : sum + compensation
        case "min_over_time":
            var result = values[0]
            for value in values where value < result || result.isNaN { result = value }
            return result
        case "max_over_time":
            var result = values[0]
            for value in values where value > result || result.isNaN { result = value }
            return result
        case "count_over_time": return Double(values.count)
        case "last_over_time": return values[values.count - 1]
        case "present_over_time": return 1
        case "quantile_over_time": return Self.quantile(scalar, values)
        case "stddev_over_time", "stdvar_over_time":
            var (count, mean, meanCompensation, aux, auxCompensation) = (0.0, 0.0, 0.0, 0.0, 0.0)
            for value in values {
                count += 1
                let delta = value - (mean + meanCompensation)
                (mean, meanCompensation) = kahanInc(delta / count, mean, meanCompensation)
                (aux, auxCompensation) = kahanInc(delta * (value - (mean + meanCompensation)), aux, auxCompensation)
            }
            let variance = (aux + auxCompensation) / count
            return name == "stddev_over_time" ? variance.squareRoot() : variance
        default:
            return nil
        }
    }

    /// Prometheus's `extrapolatedRate` (rate, increase, delta) for float samples.
    private func extrapolatedRate(_ series: RangeSeries, rangeMs: Int64, offsetMs: Int64, isCounter: Bool, isRate: Bool) -> Double? {
        let values = series.values
        guard values.count >= 2 else { return nil }
        let rangeStart = time - (rangeMs + offsetMs)
        let rangeEnd = time - offsetMs
        let (firstT, lastT) = (series.times[0], series.times[values.count - 1])
        var result = values[values.count - 1] - values[0]
        if isCounter {
            for index in values.indices.dropFirst() where values[index] < values[index - 1] { result += values[index - 1] }
        }
        var durationToStart = Double(firstT - rangeStart) / 1000
        var durationToEnd = Double(rangeEnd - lastT) / 1000
        let sampledInterval = Double(lastT - firstT) / 1000
        let averageDurationBetweenSamples = sampledInterval / Double(values.count - 1)
        let extrapolationThreshold = averageDurationBetweenSamples * 1.1
        if durationToStart >= extrapolationThreshold { durationToStart = averageDurationBetweenSamples / 2 }
        if isCounter {
            var durationToZero = durationToStart
            if result > 0 && values[0] >= 0 { durationToZero = sampledInterval * (values[0] / result) }
            if durationToZero < durationToStart { durationToStart = durationToZero }
        }
        if durationToEnd >= extrapolationThreshold { durationToEnd = averageDurationBetweenSamples / 2 }
        var factor = 1.0
        if sampledInterval != 0 { factor = (sampledInterval + durationToStart + durationToEnd) / sampledInterval }
        if isRate { factor /= Double(rangeMs) / 1000 }
        return result * factor
    }

    /// Least squares with Kahan sums, intercept at `interceptTime`, as Prometheus computes it.
    static func linearRegression(_ series: RangeSeries, interceptTime: Int64) -> (slope: Double, intercept: Double) {
        var (n, sumX, cX, sumY, cY, sumXY, cXY, sumX2, cX2) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        let initialY = series.values[0]
        var constantY = true
        for index in series.values.indices {
            let y = series.values[index]
            if constantY && index > 0 && y != initialY { constantY = false }
            n += 1
            let x = Double(series.times[index] - interceptTime) / 1e3
            (sumX, cX) = kahanInc(x, sumX, cX)
            (sumY, cY) = kahanInc(y, sumY, cY)
            (sumXY, cXY) = kahanInc(x * y, sumXY, cXY)
            (sumX2, cX2) = kahanInc(x * x, sumX2, cX2)
        }
        if constantY {
            if initialY.isInfinite { return (.nan, .nan) }
            return (0, initialY)
        }
        sumX += cX
        sumY += cY
        sumXY += cXY
        sumX2 += cX2
        let covXY = sumXY - sumX * sumY / n
        let varX = sumX2 - sumX * sumX / n
        let slope = covXY / varX
        return (slope, sumY / n - slope * sumX / n)
    }
}
