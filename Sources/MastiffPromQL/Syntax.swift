import MastiffCore

/// The parsed form of a PromQL expression, limited to the subset mastiff evaluates
/// (docs/alerting.md lists it). Anything outside the subset is refused by the parser, so a
/// loaded expression always evaluates.
public indirect enum Expr: Sendable {
    case number(Double)
    case string(String)
    case vector(VectorSelector)
    case matrix(VectorSelector, rangeMs: Int64)
    case negate(Expr)
    case binary(BinaryOperator, Expr, Expr, VectorMatching?, returnBool: Bool)
    case aggregate(Aggregation, Expr, parameter: Expr?, grouping: [String], without: Bool)
    case call(Function, [Expr])
    case paren(Expr)
    /// `expr[range:step]`: the instant-vector `expr` evaluated at every step in the range.
    case subquery(Subquery)

    public var type: ValueType {
        switch self {
        case .number: return .scalar
        case .string: return .string
        case .vector: return .vector
        case .matrix: return .matrix
        case .negate(let inner), .paren(let inner): return inner.type
        case .binary(_, let lhs, let rhs, _, _): return lhs.type == .scalar && rhs.type == .scalar ? .scalar : .vector
        case .aggregate: return .vector
        case .call(let function, _): return function.returns
        case .subquery: return .matrix
        }
    }

    /// Every selector in the expression, for the history registrations.
    public var selectors: [(VectorSelector, rangeMs: Int64)] {
        switch self {
        case .number, .string: return []
        case .vector(let selector): return [(selector, 0)]
        case .matrix(let selector, let range): return [(selector, range)]
        case .negate(let inner), .paren(let inner): return inner.selectors
        case .binary(_, let lhs, let rhs, _, _): return lhs.selectors + rhs.selectors
        case .aggregate(_, let inner, let parameter, _, _): return (parameter?.selectors ?? []) + inner.selectors
        case .call(_, let arguments): return arguments.flatMap(\.selectors)
        case .subquery(let subquery):
            // The first step looks back a whole inner window before the subquery's range.
            return subquery.expr.selectors.map { selector, range in
                (selector, Swift.max(range, Evaluator.lookbackMs) + subquery.rangeMs + Swift.max(0, subquery.offsetMs))
            }
        }
    }
}

/// `@ <timestamp>`, `@ start()`, `@ end()`: where a selector or subquery is evaluated, whatever
/// the evaluation time. In a rule (an instant query) `start()` and `end()` are the evaluation
/// time of the whole expression.
public enum AtModifier: Sendable, Equatable {
    case time(Int64)
    case start
    case end
}

/// `expr[range:step] offset d @ t`; without a step, the evaluation interval's.
public struct Subquery: Sendable {
    public var expr: Expr
    public var rangeMs: Int64
    public var stepMs: Int64?
    public var offsetMs: Int64 = 0
    public var at: AtModifier?
}

public enum ValueType: String, Sendable {
    case scalar, string, vector, matrix
    var article: String { self == .string ? "a string" : self == .matrix ? "a range vector" : self == .vector ? "an instant vector" : "a scalar" }
}

public struct VectorSelector: Sendable {
    /// The metric name; "" for a selector without one (`{__name__=~"a|b", job="x"}`), whose
    /// `__name__` matchers are among `matchers`.
    public var metric: String
    /// The matchers written in braces (the metric name is not among them).
    public var matchers: [LabelMatcher]
    public var offsetMs: Int64
    public var at: AtModifier?

    /// Identifies what a selector reads, so that two selectors with the same matchers share
    /// one history registration.
    public var key: String {
        metric + "{" + matchers.map { "\($0.name)\($0.op.rawValue)\(quoteLabelValue($0.value))" }.sorted().joined(separator: ",") + "}"
    }
}

public enum BinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", modulo = "%", power = "^", atan2
    case equal = "==", notEqual = "!=", greater = ">", less = "<", greaterOrEqual = ">=", lessOrEqual = "<="
    case and, or, unless

    var isComparison: Bool {
        switch self {
        case .equal, .notEqual, .greater, .less, .greaterOrEqual, .lessOrEqual: return true
        default: return false
        }
    }

    var isSetOperator: Bool { self == .and || self == .or || self == .unless }

    var precedence: Int {
        switch self {
        case .or: return 1
        case .and, .unless: return 2
        case .equal, .notEqual, .greater, .less, .greaterOrEqual, .lessOrEqual: return 3
        case .add, .subtract: return 4
        case .multiply, .divide, .modulo, .atan2: return 5
        case .power: return 6
        }
    }
}

public struct VectorMatching: Sendable {
    public enum Cardinality: Sendable { case oneToOne, manyToOne, oneToMany, manyToMany }
    public var cardinality: Cardinality
    /// `on(...)` when true, `ignoring(...)` otherwise.
    public var on: Bool
    public var labels: [String]
    /// `group_left(...)`/`group_right(...)`'s labels copied from the "one" side.
    public var include: [String]
}

public enum Aggregation: String, Sendable, CaseIterable {
    case sum, min, max, avg, count, stddev, stdvar, topk, bottomk, quantile, count_values = "count_values", group

    var takesParameter: Bool { self == .topk || self == .bottomk || self == .quantile || self == .count_values }
}

/// Puts a label value in double quotes with PromQL's escapes.
public func quoteLabelValue(_ value: String) -> String {
    var result = "\""
    for character in value.unicodeScalars {
        switch character {
        case "\\": result += "\\\\"
        case "\"": result += "\\\""
        case "\n": result += "\\n"
        default: result.unicodeScalars.append(character)
        }
    }
    return result + "\""
}

/// Where an expression went wrong: the byte offset into its text and a message that names
/// the construct.
public struct PromQLError: Error, Sendable, CustomStringConvertible {
    public var offset: Int
    public var message: String
    public init(offset: Int, _ message: String) {
        self.offset = offset
        self.message = message
    }
    public var description: String { "at character \(offset + 1): \(message)" }
}
