/// The functions of the subset, with their argument types. Prometheus functions outside this
/// table are refused when an expression is parsed, naming the function.
public struct Function: Sendable {
    public let name: String
    public let arguments: [ValueType]
    /// How many of the last `arguments` may be left out.
    public let optional: Int
    /// Whether the last argument repeats (label_join's source labels).
    public let variadic: Bool
    public let returns: ValueType

    init(_ name: String, _ arguments: [ValueType], optional: Int = 0, variadic: Bool = false, returns: ValueType = .vector) {
        self.name = name
        self.arguments = arguments
        self.optional = optional
        self.variadic = variadic
        self.returns = returns
    }

    public static let all: [String: Function] = {
        var table: [String: Function] = [:]
        func add(_ function: Function) { table[function.name] = function }
        for name in ["rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets",
                     "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
                     "last_over_time", "stddev_over_time", "stdvar_over_time", "present_over_time", "absent_over_time"] {
            add(Function(name, [.matrix]))
        }
        add(Function("quantile_over_time", [.scalar, .matrix]))
        add(Function("predict_linear", [.matrix, .scalar]))
        add(Function("absent", [.vector]))
        add(Function("time", [], returns: .scalar))
        add(Function("pi", [], returns: .scalar))
        add(Function("timestamp", [.vector]))
        add(Function("vector", [.scalar]))
        add(Function("scalar", [.vector], returns: .scalar))
        for name in ["abs", "ceil", "floor", "ln", "log2", "log10", "exp", "sqrt", "sgn", "sort", "sort_desc",
                     "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "deg", "rad"] {
            add(Function(name, [.vector]))
        }
        add(Function("round", [.vector, .scalar], optional: 1))
        add(Function("clamp", [.vector, .scalar, .scalar]))
        add(Function("clamp_min", [.vector, .scalar]))
        add(Function("clamp_max", [.vector, .scalar]))
        add(Function("histogram_quantile", [.scalar, .vector]))
        add(Function("label_replace", [.vector, .string, .string, .string, .string]))
        add(Function("label_join", [.vector, .string, .string, .string], optional: 1, variadic: true))
        // Calendar fields in UTC of each value (seconds since the epoch), or of the evaluation
        // time without an argument: what quiets an alert at night or on weekends.
        for name in ["day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year"] {
            add(Function(name, [.vector], optional: 1))
        }
        return table
    }()

    /// Prometheus functions that mastiff does not evaluate; named in the refusal.
    static let outsideSubset: Set<String> = [
        "holt_winters", "double_exponential_smoothing", "mad_over_time", "first_over_time", "ts_of_max_over_time",
        "ts_of_min_over_time", "ts_of_last_over_time", "ts_of_first_over_time", "histogram_count", "histogram_sum",
        "histogram_avg", "histogram_fraction", "histogram_stddev", "histogram_stdvar", "sort_by_label", "sort_by_label_desc",
        "info", "limitk", "limit_ratio", "start_timestamp",
    ]
}
