import MastiffCore

/// Parses PromQL text into an `Expr`, refusing with a position whatever lies outside the
/// evaluated subset (subqueries, `@`, native-histogram functions, …) so that an expression that
/// loads always evaluates.
public struct PromQLParser {
    private enum Token: Equatable {
        case identifier(String)
        /// A number or a duration; the parser decides which from where it stands.
        case numberLike(String)
        case string(String)
        case symbol(String)
        case end

        /// Whether this is the keyword `word` (lower case), in any case as Prometheus's lexer
        /// takes keywords: `BY`, `Or`, `GROUP_LEFT`. The text is kept: a keyword may be a label
        /// name in a grouping list.
        func isKeyword(_ word: String) -> Bool {
            guard case .identifier(let name) = self, name.utf8.count == word.utf8.count else { return false }
            return name.lowercased() == word
        }
    }

    private let bytes: [UInt8]
    private var position = 0
    private var token: Token = .end
    private var tokenStart = 0
    /// How deep the parser has recursed, and how deep the expression just built is: both are
    /// bounded, so that no expression can exhaust the stack of the parser, the evaluator or the
    /// release of the tree (2,000 nested parentheses or a 50,000-term sum did).
    private var nesting = 0
    private var builtDepth = 0

    /// The deepest expression tree mastiff loads: parentheses, calls, aggregations and unary
    /// minus add a level each, and so does each operator of a chain (`a + b + c` is 3 deep).
    public static let maxDepth = 256
    /// The longest a range or an offset may be: Go's time.Duration, as Prometheus's own
    /// parser ("duration out of range"), about 292 years.
    public static let maxDurationMs: Int64 = Int64.max / 1_000_000

    private mutating func deeper(_ depth: Int, at offset: Int) throws(PromQLError) {
        builtDepth = depth
        guard depth <= Self.maxDepth else {
            throw PromQLError(offset: offset, "expression nested deeper than \(Self.maxDepth) levels (each parenthesis, call and operator of a chain is one)")
        }
    }

    public static func parse(_ text: String) throws(PromQLError) -> Expr {
        var parser = PromQLParser(bytes: Array(text.utf8))
        try parser.advance()
        let expr = try parser.parseExpression(minimumPrecedence: 1)
        guard parser.token == .end else { throw parser.error("unexpected \(parser.describe(parser.token)) after the expression") }
        return expr
    }

    /// A series as promtool's test files write it: `name{label="value", …}` or `{…}`.
    public static func parseSeriesDescription(_ text: String) throws(PromQLError) -> [Label] {
        var parser = PromQLParser(bytes: Array(text.utf8))
        try parser.advance()
        var labels: [Label] = []
        if case .identifier(let name) = parser.token {
            labels.append(Label("__name__", name))
            try parser.advance()
        }
        if parser.token == .symbol("{") {
            for (name, op, value, _) in try parser.parseMatcherList() {
                guard op == .equal else { throw PromQLError(offset: 0, "a series description takes only '=' labels") }
                labels.append(Label(name, value))
            }
        }
        guard parser.token == .end else { throw parser.error("unexpected \(parser.describe(parser.token)) in a series description") }
        return labels.sorted { $0.name < $1.name }
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private func error(_ message: String) -> PromQLError { PromQLError(offset: tokenStart, message) }

    private func describe(_ token: Token) -> String {
        switch token {
        case .identifier(let name): return "'\(name)'"
        case .numberLike(let text): return "'\(text)'"
        case .string: return "a string"
        case .symbol(let symbol): return "'\(symbol)'"
        case .end: return "the end of the expression"
        }
    }

    // MARK: - Lexer

    private static func isIdentifierStart(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F || byte == 0x3A
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private mutating func advance() throws(PromQLError) {
        while position < bytes.count {
            let byte = bytes[position]
            if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                position += 1
            } else if byte == 0x23 { // '#' comment to the end of the line
                while position < bytes.count && bytes[position] != 0x0A { position += 1 }
            } else {
                break
            }
        }
        tokenStart = position
        guard position < bytes.count else {
            token = .end
            return
        }
        let byte = bytes[position]
        if Self.isIdentifierStart(byte) {
            let start = position
            while position < bytes.count && (Self.isIdentifierStart(bytes[position]) || Self.isDigit(bytes[position])) { position += 1 }
            token = .identifier(String(decoding: bytes[start..<position], as: UTF8.self))
            return
        }
        if Self.isDigit(byte) || (byte == 0x2E && position + 1 < bytes.count && Self.isDigit(bytes[position + 1])) {
            let start = position
            while position < bytes.count {
                let current = bytes[position]
                if Self.isDigit(current) || (Self.isIdentifierStart(current) && current != 0x3A) || current == 0x2E {
                    position += 1
                } else if (current == 0x2B || current == 0x2D), position > start, bytes[position - 1] | 0x20 == 0x65,
                          bytes[start] != 0x30 || position - start < 2 || bytes[start + 1] | 0x20 != 0x78 {
                    position += 1 // the sign of an exponent: 1e+3
                } else {
                    break
                }
            }
            token = .numberLike(String(decoding: bytes[start..<position], as: UTF8.self))
            return
        }
        if byte == 0x22 || byte == 0x27 || byte == 0x60 {
            token = .string(try lexString(quote: byte))
            return
        }
        let two = position + 1 < bytes.count ? String(decoding: bytes[position...position + 1], as: UTF8.self) : ""
        if ["==", "!=", "=~", "!~", "<=", ">="].contains(two) {
            position += 2
            token = .symbol(two)
            return
        }
        let one = String(decoding: [byte], as: UTF8.self)
        guard "(){}[],=<>+-*/%^@:".contains(one) else { throw error("unexpected character '\(one)'") }
        position += 1
        token = .symbol(one)
    }

    private mutating func lexString(quote: UInt8) throws(PromQLError) -> String {
        position += 1
        var result: [UInt8] = []
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if byte == quote { return String(decoding: result, as: UTF8.self) }
            if byte == 0x5C && quote != 0x60 {
                guard position < bytes.count else { break }
                let escaped = bytes[position]
                position += 1
                switch escaped {
                case UInt8(ascii: "n"): result.append(0x0A)
                case UInt8(ascii: "t"): result.append(0x09)
                case UInt8(ascii: "r"): result.append(0x0D)
                case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "'"): result.append(escaped)
                case UInt8(ascii: "a"): result.append(0x07)
                case UInt8(ascii: "b"): result.append(0x08)
                case UInt8(ascii: "f"): result.append(0x0C)
                case UInt8(ascii: "v"): result.append(0x0B)
                case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let digits = escaped == UInt8(ascii: "x") ? 2 : escaped == UInt8(ascii: "u") ? 4 : 8
                    guard position + digits <= bytes.count,
                          let code = UInt32(String(decoding: bytes[position..<position + digits], as: UTF8.self), radix: 16),
                          let scalar = Unicode.Scalar(code) else {
                        throw PromQLError(offset: position - 2, "invalid escape in a string")
                    }
                    position += digits
                    if digits == 2 { result.append(UInt8(code)) } else { result.append(contentsOf: Array(String(Character(scalar)).utf8)) }
                default:
                    throw PromQLError(offset: position - 2, "unknown escape '\\\(String(decoding: [escaped], as: UTF8.self))' in a string")
                }
            } else {
                if byte == 0x0A && quote != 0x60 { break }
                result.append(byte)
            }
        }
        throw PromQLError(offset: tokenStart, "unterminated string")
    }

    // MARK: - Expressions

    private func binaryOperator(_ token: Token) -> BinaryOperator? {
        if case .symbol(let symbol) = token { return BinaryOperator(rawValue: symbol) }
        if token.isKeyword("and") { return .and }
        if token.isKeyword("or") { return .or }
        if token.isKeyword("unless") { return .unless }
        if token.isKeyword("atan2") { return .atan2 }
        return nil
    }

    private mutating func parseExpression(minimumPrecedence: Int) throws(PromQLError) -> Expr {
        nesting += 1
        defer { nesting -= 1 }
        guard nesting <= Self.maxDepth else {
            throw error("expression nested deeper than \(Self.maxDepth) levels (each parenthesis, call and operator of a chain is one)")
        }
        var lhs = try parseUnary()
        var depth = builtDepth
        while let op = binaryOperator(token), op.precedence >= minimumPrecedence {
            let operatorStart = tokenStart
            try advance()
            var returnBool = false
            if token.isKeyword("bool") {
                guard op.isComparison else { throw error("'bool' applies only to comparison operators") }
                returnBool = true
                try advance()
            }
            var matching: VectorMatching?
            if token.isKeyword("on") || token.isKeyword("ignoring") {
                let on = token.isKeyword("on")
                try advance()
                matching = VectorMatching(cardinality: op.isSetOperator ? .manyToMany : .oneToOne, on: on,
                                          labels: try parseLabelList(), include: [])
                if token.isKeyword("group_left") || token.isKeyword("group_right") {
                    guard !op.isSetOperator else { throw error("no grouping allowed for '\(op.rawValue)' operations") }
                    matching!.cardinality = token.isKeyword("group_left") ? .manyToOne : .oneToMany
                    try advance()
                    if token == .symbol("(") { matching!.include = try parseLabelList() }
                }
            }
            if token.isKeyword("group_left") || token.isKeyword("group_right") {
                throw error("group_left/group_right need on(…) or ignoring(…) before them")
            }
            // `^` is right-associative; the others are left-associative.
            let rhs = try parseExpression(minimumPrecedence: op == .power ? op.precedence : op.precedence + 1)
            try deeper(max(depth, builtDepth) + 1, at: operatorStart)
            depth = builtDepth
            lhs = try makeBinary(op, lhs, rhs, matching: matching, returnBool: returnBool, at: operatorStart)
        }
        builtDepth = depth
        return lhs
    }

    private func makeBinary(_ op: BinaryOperator, _ lhs: Expr, _ rhs: Expr, matching: VectorMatching?, returnBool: Bool,
                            at offset: Int) throws(PromQLError) -> Expr {
        for side in [lhs, rhs] where side.type != .scalar && side.type != .vector {
            throw PromQLError(offset: offset, "binary expression must contain only scalar and instant vector types, found \(side.type.article)")
        }
        let bothVectors = lhs.type == .vector && rhs.type == .vector
        if op.isSetOperator && !bothVectors {
            throw PromQLError(offset: offset, "set operator '\(op.rawValue)' not allowed in binary scalar expression")
        }
        if op.isComparison && lhs.type == .scalar && rhs.type == .scalar && !returnBool {
            throw PromQLError(offset: offset, "comparisons between scalars must use the bool modifier")
        }
        if matching != nil && !bothVectors {
            throw PromQLError(offset: offset, "vector matching only allowed between instant vectors")
        }
        var effective = matching
        if bothVectors && effective == nil {
            effective = VectorMatching(cardinality: op.isSetOperator ? .manyToMany : .oneToOne, on: false, labels: [], include: [])
        }
        if let effective, effective.cardinality == .manyToOne || effective.cardinality == .oneToMany {
            for label in effective.include where effective.on && effective.labels.contains(label) {
                throw PromQLError(offset: offset, "label '\(label)' must not occur in on() and group clause at once")
            }
        }
        return .binary(op, lhs, rhs, effective, returnBool: returnBool)
    }

    private mutating func parseUnary() throws(PromQLError) -> Expr {
        if token == .symbol("-") || token == .symbol("+") {
            let negative = token == .symbol("-")
            let start = tokenStart
            try advance()
            // Unary minus binds like `*`: tighter than everything but `^`.
            let operand = try parseExpression(minimumPrecedence: BinaryOperator.power.precedence)
            guard operand.type == .scalar || operand.type == .vector else {
                throw PromQLError(offset: start, "unary expression only allowed on expressions of type scalar or instant vector")
            }
            guard negative else { return operand }
            if case .number(let value) = operand { return .number(-value) }
            try deeper(builtDepth + 1, at: start)
            return .negate(operand)
        }
        return try parsePostfix(try parsePrimary())
    }

    private mutating func parsePostfix(_ primary: Expr) throws(PromQLError) -> Expr {
        var expr = primary
        while true {
            if token == .symbol("[") {
                let start = tokenStart
                try advance()
                let range = try parseDuration()
                guard range > 0 else { throw PromQLError(offset: start, "range must be greater than 0") }
                // `[1h:5m]` lexes as `1h` then the identifier `:5m`; `[1h:]` and `[1h: 5m]` as
                // `1h` then `:` (alone).
                var step: Int64?
                var isSubquery = false
                if case .identifier(let name) = token, name.hasPrefix(":") {
                    isSubquery = true
                    let rest = name.dropFirst()
                    try advance()
                    if !rest.isEmpty {
                        step = try Self.durationMs(String(rest)) { message throws(PromQLError) in throw PromQLError(offset: start, message) }
                    } else if token != .symbol("]") {
                        step = try parseDuration()
                    }
                } else if token == .symbol(":") {
                    isSubquery = true
                    try advance()
                    if token != .symbol("]") { step = try parseDuration() }
                }
                guard token == .symbol("]") else { throw error("expected ']' after the range, found \(describe(token))") }
                try advance()
                if isSubquery {
                    guard expr.type == .vector else {
                        throw PromQLError(offset: start, "subquery is only allowed on instant vector, got \(expr.type.rawValue) instead")
                    }
                    if let step, step <= 0 { throw PromQLError(offset: start, "step must be greater than 0") }
                    expr = .subquery(Subquery(expr: expr, rangeMs: range, stepMs: step))
                    continue
                }
                guard case .vector(let selector) = expr else {
                    throw PromQLError(offset: start, "ranges only allowed for vector selectors")
                }
                guard selector.offsetMs == 0, selector.at == nil else { throw PromQLError(offset: start, "no offset or @ modifiers allowed before range") }
                expr = .matrix(selector, rangeMs: range)
            } else if token.isKeyword("offset") {
                let start = tokenStart
                try advance()
                var sign: Int64 = 1
                if token == .symbol("-") {
                    sign = -1
                    try advance()
                }
                let offset = try parseDuration() * sign
                switch expr {
                case .vector(var selector):
                    guard selector.offsetMs == 0 else { throw PromQLError(offset: start, "offset may not be set multiple times") }
                    selector.offsetMs = offset
                    expr = .vector(selector)
                case .matrix(var selector, let range):
                    guard selector.offsetMs == 0 else { throw PromQLError(offset: start, "offset may not be set multiple times") }
                    selector.offsetMs = offset
                    expr = .matrix(selector, rangeMs: range)
                case .subquery(var subquery):
                    guard subquery.offsetMs == 0 else { throw PromQLError(offset: start, "offset may not be set multiple times") }
                    subquery.offsetMs = offset
                    expr = .subquery(subquery)
                default:
                    throw PromQLError(offset: start, "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery")
                }
            } else if token == .symbol("@") {
                let start = tokenStart
                try advance()
                let at = try parseAtModifier(start: start)
                switch expr {
                case .vector(var selector):
                    guard selector.at == nil else { throw PromQLError(offset: start, "@ <timestamp> may not be set multiple times") }
                    selector.at = at
                    expr = .vector(selector)
                case .matrix(var selector, let range):
                    guard selector.at == nil else { throw PromQLError(offset: start, "@ <timestamp> may not be set multiple times") }
                    selector.at = at
                    expr = .matrix(selector, rangeMs: range)
                case .subquery(var subquery):
                    guard subquery.at == nil else { throw PromQLError(offset: start, "@ <timestamp> may not be set multiple times") }
                    subquery.at = at
                    expr = .subquery(subquery)
                default:
                    throw PromQLError(offset: start, "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery")
                }
            } else {
                return expr
            }
        }
    }

    /// After `@`: a Unix time in seconds (a number, signed), or `start()` or `end()`.
    private mutating func parseAtModifier(start: Int) throws(PromQLError) -> AtModifier {
        if case .identifier(let name) = token, name == "start" || name == "end" {
            try advance()
            guard token == .symbol("(") else { throw error("expected '(' after \(name), found \(describe(token))") }
            try advance()
            guard token == .symbol(")") else { throw error("expected ')' after \(name)(, found \(describe(token))") }
            try advance()
            return name == "start" ? .start : .end
        }
        var sign = 1.0
        if token == .symbol("-") || token == .symbol("+") {
            sign = token == .symbol("-") ? -1 : 1
            try advance()
        }
        guard case .numberLike(let text) = token, let seconds = Self.number(text), text.first?.isNumber == true || text.first == "." else {
            throw error("unexpected \(describe(token)) in @, expected number or start() or end()")
        }
        let milliseconds = (sign * seconds * 1000).rounded()
        // Go's int64 range, as Prometheus checks it.
        guard milliseconds.isFinite, milliseconds > -9.2e18, milliseconds < 9.2e18 else {
            throw PromQLError(offset: start, "timestamp out of bounds for @ modifier: \(sign * seconds)")
        }
        try advance()
        return .time(Int64(milliseconds))
    }

    private mutating func parseDuration() throws(PromQLError) -> Int64 {
        guard case .numberLike(let text) = token else { throw error("expected a duration such as 5m, found \(describe(token))") }
        let milliseconds = try Self.durationMs(text) { message throws(PromQLError) in throw error(message) }
        try advance()
        if case .symbol(let symbol) = token, ["+", "-", "*", "/", "%", "^"].contains(symbol) {
            throw error("duration arithmetic (`[5m * 2]`, an experimental Prometheus feature) is outside mastiff's PromQL subset")
        }
        return milliseconds
    }

    /// A duration in milliseconds: `1h30m`, or — as Prometheus reads them since 2.54 — a plain
    /// number of seconds (`[600]`, `offset 1.5`).
    static func durationMs(_ text: String, fail: (String) throws(PromQLError) -> Never) throws(PromQLError) -> Int64 {
        if let seconds = number(text), text.first?.isNumber == true || text.first == "." {
            guard seconds.isFinite, seconds >= 0, seconds * 1000 <= Double(maxDurationMs) else {
                try fail("duration out of range: '\(text)' (at most 292 years)")
            }
            return Int64(seconds * 1000)
        }
        do {
            return try DurationParser.milliseconds(text)
        } catch .outOfRange {
            try fail("duration out of range: '\(text)' (at most 292 years)")
        } catch {
            try fail("'\(text)' is not a duration (examples: 30s, 5m, 1h30m)")
        }
    }

    private mutating func parsePrimary() throws(PromQLError) -> Expr {
        let start = tokenStart
        switch token {
        case .numberLike(let text):
            // A duration where a number stands is its seconds (`time() - ts > 10m`), as in
            // Prometheus 3.
            let value: Double
            if let number = Self.number(text) {
                value = number
            } else {
                value = Double(try Self.durationMs(text) { message throws(PromQLError) in throw error(message) }) / 1000
            }
            try advance()
            builtDepth = 1
            return .number(value)
        case .string(let text):
            try advance()
            builtDepth = 1
            return .string(text)
        case .symbol("("):
            try advance()
            let inner = try parseExpression(minimumPrecedence: 1)
            guard token == .symbol(")") else { throw error("expected ')', found \(describe(token))") }
            try advance()
            try deeper(builtDepth + 1, at: start)
            // A parenthesised range vector is that range vector: `rate((x[5m]))` takes it as
            // Prometheus does (functions read their range argument's selector directly).
            if case .matrix = inner { return inner }
            return .paren(inner)
        case .symbol("{"):
            let matchers = try parseMatcherList()
            builtDepth = 1
            if let nameIndex = matchers.firstIndex(where: { $0.0 == "__name__" && $0.1 == .equal }) {
                var rest = matchers
                let name = rest.remove(at: nameIndex).2
                return .vector(try makeSelector(name, rest))
            }
            // A selector without a metric name reads every metric its `__name__` and other
            // matchers accept; as in Prometheus, one of them must not match the empty string
            // (`{job=~".*"}` would select everything).
            let selector = try makeSelector("", matchers)
            guard selector.matchers.contains(where: { !$0.matches([]) }) else {
                throw PromQLError(offset: start, "vector selector must contain at least one non-empty matcher")
            }
            return .vector(selector)
        case .identifier(let name):
            let lower = name.lowercased()
            if lower == "inf" || lower == "nan" {
                try advance()
                builtDepth = 1
                return .number(lower == "inf" ? .infinity : .nan)
            }
            try advance()
            // Keywords, aggregations among them, are case-insensitive (SUM, By); function names are not.
            if let aggregation = Aggregation(rawValue: name.lowercased()), token == .symbol("(") || token.isKeyword("by") || token.isKeyword("without") {
                return try parseAggregation(aggregation, at: start)
            }
            if ["limitk", "limit_ratio"].contains(name.lowercased()) {
                throw PromQLError(offset: start, "aggregation '\(name)' is outside mastiff's PromQL subset")
            }
            if token == .symbol("(") {
                if let function = Function.all[name] { return try parseCall(function, at: start) }
                if Function.outsideSubset.contains(name) {
                    throw PromQLError(offset: start, "function '\(name)' is outside mastiff's PromQL subset (docs/alerting.md lists it)")
                }
                throw PromQLError(offset: start, "unknown function '\(name)'")
            }
            if ["by", "without", "bool", "on", "ignoring", "group_left", "group_right", "offset", "and", "or", "unless"].contains(name.lowercased()) {
                throw PromQLError(offset: start, "unexpected keyword '\(name)'")
            }
            var matchers: [(String, LabelMatcher.Operator, String, Int)] = []
            if token == .symbol("{") { matchers = try parseMatcherList() }
            if matchers.contains(where: { $0.0 == "__name__" }) {
                throw PromQLError(offset: start, "metric name must not be set twice")
            }
            builtDepth = 1
            return .vector(try makeSelector(name, matchers))
        default:
            throw error("unexpected \(describe(token))")
        }
    }

    private static func number(_ text: String) -> Double? {
        let lower = text.lowercased()
        if lower.hasPrefix("0x"), let value = UInt64(lower.dropFirst(2), radix: 16) { return Double(value) }
        guard lower.allSatisfy({ $0.isNumber || $0 == "." || $0 == "e" || $0 == "+" || $0 == "-" }) else { return nil }
        return Double(lower)
    }

    private func makeSelector(_ name: String, _ matchers: [(String, LabelMatcher.Operator, String, Int)]) throws(PromQLError) -> VectorSelector {
        var built: [LabelMatcher] = []
        for (label, op, value, offset) in matchers {
            do {
                built.append(try LabelMatcher(label, op, value))
            } catch {
                throw PromQLError(offset: offset, "invalid regular expression for label '\(label)': \(error.description)")
            }
        }
        return VectorSelector(metric: name, matchers: built, offsetMs: 0)
    }

    private mutating func parseMatcherList() throws(PromQLError) -> [(String, LabelMatcher.Operator, String, Int)] {
        try advance() // '{'
        var result: [(String, LabelMatcher.Operator, String, Int)] = []
        while token != .symbol("}") {
            let start = tokenStart
            guard case .identifier(let name) = token else { throw error("expected a label name, found \(describe(token))") }
            try advance()
            guard case .symbol(let symbol) = token, let op = LabelMatcher.Operator(rawValue: symbol) else {
                throw error("expected a label matching operator (=, !=, =~, !~), found \(describe(token))")
            }
            try advance()
            guard case .string(let value) = token else { throw error("expected a quoted label value, found \(describe(token))") }
            try advance()
            result.append((name, op, value, start))
            if token == .symbol(",") {
                try advance()
            } else if token != .symbol("}") {
                throw error("expected ',' or '}' in the label matchers, found \(describe(token))")
            }
        }
        try advance()
        return result
    }

    private mutating func parseLabelList() throws(PromQLError) -> [String] {
        guard token == .symbol("(") else { throw error("expected '(' and a list of labels, found \(describe(token))") }
        try advance()
        var labels: [String] = []
        while token != .symbol(")") {
            guard case .identifier(let name) = token else { throw error("expected a label name, found \(describe(token))") }
            labels.append(name)
            try advance()
            if token == .symbol(",") {
                try advance()
            } else if token != .symbol(")") {
                throw error("expected ',' or ')' in the label list, found \(describe(token))")
            }
        }
        try advance()
        return labels
    }

    private mutating func parseAggregation(_ aggregation: Aggregation, at start: Int) throws(PromQLError) -> Expr {
        var grouping: [String] = []
        var without = false
        var sawGrouping = false
        if token.isKeyword("by") || token.isKeyword("without") {
            without = token.isKeyword("without")
            try advance()
            grouping = try parseLabelList()
            sawGrouping = true
        }
        guard token == .symbol("(") else { throw error("expected '(' after '\(aggregation.rawValue)', found \(describe(token))") }
        try advance()
        var arguments: [Expr] = []
        var deepest = 0
        while token != .symbol(")") {
            arguments.append(try parseExpression(minimumPrecedence: 1))
            deepest = max(deepest, builtDepth)
            if token == .symbol(",") {
                try advance()
            } else if token != .symbol(")") {
                throw error("expected ',' or ')' in the arguments of '\(aggregation.rawValue)', found \(describe(token))")
            }
        }
        try advance()
        try deeper(deepest + 1, at: start)
        if !sawGrouping && (token.isKeyword("by") || token.isKeyword("without")) {
            without = token.isKeyword("without")
            try advance()
            grouping = try parseLabelList()
        }
        let expected = aggregation.takesParameter ? 2 : 1
        guard arguments.count == expected else {
            throw PromQLError(offset: start, "wrong number of arguments for aggregate expression provided, expected \(expected), got \(arguments.count)")
        }
        let inner = arguments[arguments.count - 1]
        guard inner.type == .vector else {
            throw PromQLError(offset: start, "expected type instant vector in aggregation expression, got \(inner.type.article)")
        }
        var parameter: Expr?
        if aggregation.takesParameter {
            let wanted: ValueType = aggregation == .count_values ? .string : .scalar
            guard arguments[0].type == wanted else {
                throw PromQLError(offset: start, "expected \(wanted.article) as the parameter of '\(aggregation.rawValue)', got \(arguments[0].type.article)")
            }
            parameter = arguments[0]
        }
        return .aggregate(aggregation, inner, parameter: parameter, grouping: grouping, without: without)
    }

    private mutating func parseCall(_ function: Function, at start: Int) throws(PromQLError) -> Expr {
        try advance() // '('
        var arguments: [Expr] = []
        var deepest = 0
        while token != .symbol(")") {
            arguments.append(try parseExpression(minimumPrecedence: 1))
            deepest = max(deepest, builtDepth)
            if token == .symbol(",") {
                try advance()
            } else if token != .symbol(")") {
                throw error("expected ',' or ')' in the arguments of '\(function.name)', found \(describe(token))")
            }
        }
        try advance()
        try deeper(deepest + 1, at: start)
        let minimum = function.arguments.count - function.optional
        let maximum = function.variadic ? Int.max : function.arguments.count
        guard arguments.count >= minimum && arguments.count <= maximum else {
            throw PromQLError(offset: start, "function '\(function.name)' takes \(minimum == function.arguments.count || function.variadic ? "\(minimum)\(function.variadic ? " or more" : "")" : "\(minimum) to \(maximum)") argument(s), got \(arguments.count)")
        }
        for (index, argument) in arguments.enumerated() {
            let wanted = function.arguments[min(index, function.arguments.count - 1)]
            guard argument.type == wanted else {
                throw PromQLError(offset: start, "expected \(wanted.article) in argument \(index + 1) of '\(function.name)', got \(argument.type.article)")
            }
        }
        return .call(function, arguments)
    }
}
