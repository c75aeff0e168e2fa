import Glibc
import MastiffCore

/// Prometheus's alert templates: the Go text/template subset that rule files use in labels and
/// annotations (docs/alerting.md lists it). Parsed when rules load, so a bad template is
/// refused with the rule's position; expanded at every evaluation.
public struct AlertTemplate: Sendable {
    indirect enum Node: Sendable {
        case text(String)
        case action(Pipeline)
        case ifNode(Pipeline, [Node], [Node])
        case rangeNode(Pipeline, key: String?, element: String?, [Node], [Node])
        case withNode(Pipeline, [Node], [Node])
    }

    struct Pipeline: Sendable {
        var declarations: [String] = []
        var assign = false
        var commands: [[Argument]]
    }

    indirect enum Argument: Sendable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case null
        case variable(String, fields: [String])
        case dot(fields: [String])
        case identifier(String)
        case pipeline(Pipeline, fields: [String])
    }

    let nodes: [Node]
    /// Every PromQL expression given to `query`, parsed when the template is.
    public let queries: [Expr]
    public let text: String

    /// A template without actions expands to its own text.
    public var isConstant: Bool { nodes.allSatisfy { if case .text = $0 { return true } else { return false } } }

    static let functions: Set<String> = [
        "printf", "print", "println", "len", "index", "not", "and", "or", "eq", "ne", "lt", "le", "gt", "ge",
        "humanize", "humanize1024", "humanizeDuration", "humanizePercentage", "humanizeTimestamp",
        "title", "toUpper", "toLower", "reReplaceAll", "match", "query", "first", "value", "label", "sortByLabel",
        "strvalue", "stripPort", "urlquery",
    ]

    /// Text used as it is, without actions (recording rules' labels).
    public init(literal text: String) {
        self.text = text
        nodes = [.text(text)]
        queries = []
    }

    public init(_ text: String) throws(PromQLError) {
        self.text = text
        var parser = TemplateParser(bytes: Array(text.utf8))
        let (nodes, terminator) = try parser.parseList()
        if terminator != nil { throw PromQLError(offset: parser.lastActionStart, "unexpected {{end}} or {{else}} without a matching {{if}}, {{range}} or {{with}}") }
        self.nodes = nodes
        queries = parser.queries
    }
}

/// What a template sees and calls back into.
public struct TemplateContext {
    public var labels: Labels
    public var externalLabels: Labels
    public var externalURL: String
    public var value: Double
    /// For notification text: the notification's alerts (`.Alerts`), status (`.Status`),
    /// group labels (`.GroupLabels`) and receiver (`.Receiver`); `.CommonLabels` is `labels`.
    public var notification: TemplateNotification?
    /// Evaluates a `query` (parsed at load) at the evaluation time.
    public var query: (Expr) throws(EvaluationError) -> [VectorSample]
    /// Whether the rule group's evaluation deadline has passed (nil: no deadline); a template
    /// still running then fails.
    public var pastDeadline: DeadlineCheck?

    public init(labels: Labels, externalLabels: Labels = [], externalURL: String = "", value: Double,
                query: @escaping (Expr) throws(EvaluationError) -> [VectorSample]) {
        self.labels = labels
        self.externalLabels = externalLabels
        self.externalURL = externalURL
        self.value = value
        self.query = query
        notification = nil
    }
}

/// What a notification template sees besides `$labels` and `$value`.
public struct TemplateNotification: Sendable {
    public struct Alert: Sendable {
        public var labels: Labels
        public var annotations: Labels
        public var value: Double
        public var status: String
        public var startsAt: Double
        public init(labels: Labels, annotations: Labels, value: Double, status: String, startsAt: Double) {
            self.labels = labels
            self.annotations = annotations
            self.value = value
            self.status = status
            self.startsAt = startsAt
        }
    }
    public var status: String
    public var receiver: String
    public var groupLabels: Labels
    public var alerts: [Alert]
    public init(status: String, receiver: String, groupLabels: Labels, alerts: [Alert]) {
        self.status = status
        self.receiver = receiver
        self.groupLabels = groupLabels
        self.alerts = alerts
    }
}

public struct TemplateError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Values

enum TemplateValue {
    case string(String)
    case number(Double)
    case integer(Int)
    case bool(Bool)
    case null
    case labels([(String, String)])
    case samples([TemplateSample])
    case sample(TemplateSample)
    case data

    var truth: Bool {
        switch self {
        case .string(let text): return !text.isEmpty
        case .number(let value): return value != 0
        case .integer(let value): return value != 0
        case .bool(let value): return value
        case .null: return false
        case .labels(let pairs): return !pairs.isEmpty
        case .samples(let list): return !list.isEmpty
        case .sample, .data: return true
        }
    }

    /// How Go's fmt prints the value with %v.
    var printed: String {
        switch self {
        case .string(let text): return text
        case .number(let value): return GoFloat.v(value)
        case .integer(let value): return String(value)
        case .bool(let value): return value ? "true" : "false"
        case .null: return "<no value>"
        case .labels(let pairs): return "map[" + pairs.map { "\($0.0):\($0.1)" }.joined(separator: " ") + "]"
        case .samples(let list): return "[" + list.map(\.printed).joined(separator: " ") + "]"
        case .sample(let sample): return sample.printed
        case .data: return "{}"
        }
    }

    var number: Double? {
        switch self {
        case .number(let value): return value
        case .integer(let value): return Double(value)
        case .string(let text): return Double(text.trimmingCharacters(in: " "))
        default: return nil
        }
    }
}

struct TemplateSample {
    var labels: [(String, String)]
    var value: Double
    var annotations: [(String, String)] = []
    var status = ""
    var startsAt = 0.0
    var printed: String { "{map[" + labels.map { "\($0.0):\($0.1)" }.joined(separator: " ") + "] \(GoFloat.v(value))}" }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var scalars = Substring(self)
        while let first = scalars.first, set.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, set.contains(last) { scalars.removeLast() }
        return String(scalars)
    }
}

// MARK: - Parser

struct TemplateParser {
    let bytes: [UInt8]
    var position = 0
    var queries: [Expr] = []
    var lastActionStart = 0
    private var trimNextText = false

    init(bytes: [UInt8]) { self.bytes = bytes }

    enum Terminator: Equatable {
        case end, elseBranch
        /// `{{else if …}}` / `{{else with …}}`: the keyword and the tokens after it.
        case elseChain(String, [ActionToken])
    }

    /// Nodes up to `{{end}}` or `{{else…}}` (returned as the terminator) or the end of the text.
    mutating func parseList() throws(PromQLError) -> ([AlertTemplate.Node], Terminator?) {
        var nodes: [AlertTemplate.Node] = []
        while position < bytes.count {
            let open = findOpen(from: position)
            var text = Array(bytes[position..<(open ?? bytes.count)])
            if trimNextText {
                while let first = text.first, isSpace(first) { text.removeFirst() }
                trimNextText = false
            }
            guard let open else {
                if !text.isEmpty { nodes.append(.text(String(decoding: text, as: UTF8.self))) }
                position = bytes.count
                break
            }
            var contentStart = open + 2
            if contentStart + 1 < bytes.count && bytes[contentStart] == UInt8(ascii: "-") && isSpace(bytes[contentStart + 1]) {
                while let last = text.last, isSpace(last) { text.removeLast() }
                contentStart += 2
            }
            if !text.isEmpty { nodes.append(.text(String(decoding: text, as: UTF8.self))) }
            lastActionStart = open
            guard let close = findClose(from: contentStart) else { throw PromQLError(offset: open, "unclosed action: '{{' without '}}'") }
            var contentEnd = close
            if close >= 2 && bytes[close - 1] == UInt8(ascii: "-") && isSpace(bytes[close - 2]) {
                contentEnd = close - 2
                trimNextText = true
            }
            position = close + 2
            let content = String(decoding: bytes[contentStart..<max(contentStart, contentEnd)], as: UTF8.self).trimmingCharacters(in: " \t\n\r")
            if content.hasPrefix("/*") {
                guard content.hasSuffix("*/") else { throw PromQLError(offset: open, "unclosed comment") }
                continue
            }
            var lexer = ActionLexer(text: content, base: contentStart)
            let words = try lexer.tokens()
            guard let keyword = words.first else { throw PromQLError(offset: open, "missing value for command") }
            switch keyword {
            case .word("end"):
                return (nodes, .end)
            case .word("else"):
                if words.count == 1 { return (nodes, .elseBranch) }
                guard case .word(let chained) = words[1], chained == "if" || chained == "with" else {
                    throw PromQLError(offset: open, "unexpected tokens after else")
                }
                return (nodes, .elseChain(chained, Array(words.dropFirst(2))))
            case .word("if"), .word("with"), .word("range"):
                nodes.append(try parseBlock(keywordName(keyword), Array(words.dropFirst()), at: open))
            default:
                nodes.append(.action(try parsePipeline(words, at: open)))
            }
        }
        return (nodes, nil)
    }

    /// An if/with/range block after its opening action, through its {{end}}.
    private mutating func parseBlock(_ keyword: String, _ tokens: [ActionToken], at open: Int) throws(PromQLError) -> AlertTemplate.Node {
        var rest = tokens
        var key: String?
        var element: String?
        if keyword == "range", let declare = rest.firstIndex(of: .symbol(":=")) {
            let names = rest[..<declare].compactMap { token -> String? in if case .variable(let name) = token { return name } else { return nil } }
            guard names.count == 1 || names.count == 2 else { throw PromQLError(offset: open, "range can declare one or two variables") }
            if names.count == 2 { (key, element) = (names[0], names[1]) } else { element = names[0] }
            rest = Array(rest[(declare + 1)...])
        }
        let pipeline = try parsePipeline(rest, at: open)
        if keyword == "range", pipeline.commands.count == 1, pipeline.commands[0].count == 1, case .number(let count) = pipeline.commands[0][0],
           count > Double(TemplateExecutor.maxSteps) {
            throw PromQLError(offset: open, "range over \(GoFloat.v(count)) numbers: more than the \(TemplateExecutor.maxSteps) steps a template may take")
        }
        blocks += 1
        defer { blocks -= 1 }
        guard blocks <= Self.maxNesting else { throw PromQLError(offset: open, "{{\(keyword)}} nested deeper than \(Self.maxNesting) blocks") }
        let (body, terminator) = try parseList()
        var elseBody: [AlertTemplate.Node] = []
        switch terminator {
        case .end: break
        case .elseBranch:
            let (tail, end) = try parseList()
            guard end == .end else { throw PromQLError(offset: open, "missing {{end}} for this {{\(keyword)}}") }
            elseBody = tail
        case .elseChain(let chained, let chainedTokens):
            // The chained block consumes the shared {{end}}.
            elseBody = [try parseBlock(chained, chainedTokens, at: open)]
        case nil:
            throw PromQLError(offset: open, "missing {{end}} for this {{\(keyword)}}")
        }
        switch keyword {
        case "if": return .ifNode(pipeline, body, elseBody)
        case "with": return .withNode(pipeline, body, elseBody)
        default: return .rangeNode(pipeline, key: key, element: element, body, elseBody)
        }
    }

    private func keywordName(_ token: ActionToken) -> String { if case .word(let word) = token { return word } else { return "" } }

    private func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    private func findOpen(from start: Int) -> Int? {
        var index = start
        while index + 1 < bytes.count {
            if bytes[index] == UInt8(ascii: "{") && bytes[index + 1] == UInt8(ascii: "{") { return index }
            index += 1
        }
        return nil
    }

    /// The `}}` closing an action, skipping quoted strings.
    private func findClose(from start: Int) -> Int? {
        var index = start
        var quote: UInt8?
        while index + 1 < bytes.count || (quote == nil && index + 1 < bytes.count) {
            let byte = bytes[index]
            if let open = quote {
                if byte == UInt8(ascii: "\\") && open == UInt8(ascii: "\"") { index += 2; continue }
                if byte == open { quote = nil }
            } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "`") {
                quote = byte
            } else if byte == UInt8(ascii: "}") && bytes[index + 1] == UInt8(ascii: "}") {
                return index
            }
            index += 1
        }
        return nil
    }

    /// Blocks ({{if}}, {{range}}, {{with}}) and parenthesised pipelines nest at most this deep:
    /// parsing and expanding recurse once per level.
    static let maxNesting = 100
    var blocks = 0
    var parentheses = 0

    mutating func parsePipeline(_ tokens: [ActionToken], at offset: Int) throws(PromQLError) -> AlertTemplate.Pipeline {
        parentheses += 1
        defer { parentheses -= 1 }
        guard parentheses <= Self.maxNesting else { throw PromQLError(offset: offset, "parentheses nested deeper than \(Self.maxNesting)") }
        let pipeline = try parsePipelineTokens(tokens, at: offset)
        // A literal format's width or precision is known now: refused at load, not at every evaluation.
        for command in pipeline.commands where command.count >= 2 {
            if case .identifier("printf") = command[0], case .string(let format) = command[1] {
                do { _ = try TemplateExecutor.printf(format, []) } catch { throw PromQLError(offset: offset, error.description) }
            }
        }
        return pipeline
    }

    private mutating func parsePipelineTokens(_ tokens: [ActionToken], at offset: Int) throws(PromQLError) -> AlertTemplate.Pipeline {
        var tokens = tokens
        var pipeline = AlertTemplate.Pipeline(commands: [])
        if let declare = tokens.firstIndex(where: { $0 == .symbol(":=") || $0 == .symbol("=") }) {
            for token in tokens[..<declare] {
                guard case .variable(let name) = token else { throw PromQLError(offset: offset, "expected a variable before \(tokens[declare])") }
                pipeline.declarations.append(name)
            }
            pipeline.assign = tokens[declare] == .symbol("=")
            tokens = Array(tokens[(declare + 1)...])
        }
        var command: [AlertTemplate.Argument] = []
        var index = 0
        while index < tokens.count {
            let token = tokens[index]
            switch token {
            case .symbol("|"):
                guard !command.isEmpty else { throw PromQLError(offset: offset, "missing command before '|'") }
                pipeline.commands.append(command)
                command = []
            case .symbol("("):
                var depth = 1
                var end = index + 1
                while end < tokens.count {
                    if tokens[end] == .symbol("(") { depth += 1 }
                    if tokens[end] == .symbol(")") { depth -= 1; if depth == 0 { break } }
                    end += 1
                }
                guard end < tokens.count else { throw PromQLError(offset: offset, "unclosed '(' in the action") }
                let inner = try parsePipeline(Array(tokens[(index + 1)..<end]), at: offset)
                var fields: [String] = []
                if end + 1 < tokens.count, case .fields(let chain) = tokens[end + 1] {
                    fields = chain
                    index += 1
                }
                command.append(.pipeline(inner, fields: fields))
                index = end
            case .symbol(let symbol):
                throw PromQLError(offset: offset, "unexpected '\(symbol)' in the action")
            case .string(let text): command.append(.string(text))
            case .number(let value): command.append(.number(value))
            case .variable(let name):
                var fields: [String] = []
                if index + 1 < tokens.count, case .fields(let chain) = tokens[index + 1] {
                    fields = chain
                    index += 1
                }
                command.append(.variable(name, fields: fields))
            case .fields(let chain): command.append(.dot(fields: chain))
            case .word("true"), .word("false"): command.append(.bool(token == .word("true")))
            case .word("nil"): command.append(.null)
            case .word(let name):
                guard AlertTemplate.functions.contains(name) else {
                    throw PromQLError(offset: offset, "function \"\(name)\" not defined (mastiff's template functions are listed in docs/alerting.md)")
                }
                command.append(.identifier(name))
            }
            index += 1
        }
        guard !command.isEmpty else { throw PromQLError(offset: offset, "missing value for command") }
        pipeline.commands.append(command)
        // `query` needs its expression known when the rules load (history registrations).
        for (position, command) in pipeline.commands.enumerated() {
            for (argumentIndex, argument) in command.enumerated() {
                guard case .identifier("query") = argument else { continue }
                let literal: String?
                if argumentIndex + 1 < command.count, case .string(let text) = command[argumentIndex + 1] {
                    literal = text
                } else {
                    literal = nil
                }
                guard let literal else {
                    throw PromQLError(offset: offset, "query takes a literal string in mastiff (its selectors must be known when the rules load)\(position > 0 ? "; it cannot take a piped value" : "")")
                }
                do {
                    queries.append(try PromQLParser.parse(literal))
                } catch {
                    throw PromQLError(offset: offset, "in query \"\(literal)\": \(error.message)")
                }
            }
        }
        return pipeline
    }
}

enum ActionToken: Equatable, CustomStringConvertible {
    case word(String)
    case variable(String)
    case fields([String])
    case string(String)
    case number(Double)
    case symbol(String)

    var description: String {
        switch self {
        case .word(let word): return word
        case .variable(let name): return name
        case .fields(let fields): return "." + fields.joined(separator: ".")
        case .string(let text): return "\"\(text)\""
        case .number(let value): return GoFloat.v(value)
        case .symbol(let symbol): return symbol
        }
    }
}

struct ActionLexer {
    let bytes: [UInt8]
    let base: Int
    var position = 0

    init(text: String, base: Int) {
        bytes = Array(text.utf8)
        self.base = base
    }

    private func isName(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
    }

    private mutating func name() -> String {
        let start = position
        while position < bytes.count && isName(bytes[position]) { position += 1 }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    private mutating func fieldChain() -> [String] {
        var fields: [String] = []
        while position < bytes.count && bytes[position] == UInt8(ascii: ".") {
            position += 1
            let field = name()
            if field.isEmpty { break }
            fields.append(field)
        }
        return fields
    }

    mutating func tokens() throws(PromQLError) -> [ActionToken] {
        var result: [ActionToken] = []
        while position < bytes.count {
            let byte = bytes[position]
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D:
                position += 1
            case UInt8(ascii: "$"):
                position += 1
                result.append(.variable("$" + name()))
                if position < bytes.count && bytes[position] == UInt8(ascii: ".") { result.append(.fields(fieldChain())) }
            case UInt8(ascii: "."):
                if position + 1 < bytes.count && isName(bytes[position + 1]) && !(bytes[position + 1] >= 0x30 && bytes[position + 1] <= 0x39) {
                    result.append(.fields(fieldChain()))
                } else if position + 1 < bytes.count && bytes[position + 1] >= 0x30 && bytes[position + 1] <= 0x39 {
                    result.append(.number(try number()))
                } else {
                    position += 1
                    result.append(.fields([]))
                }
            case UInt8(ascii: "\""), UInt8(ascii: "`"):
                result.append(.string(try string(quote: byte)))
            case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "|"):
                position += 1
                result.append(.symbol(String(decoding: [byte], as: UTF8.self)))
                if byte == UInt8(ascii: ")") && position < bytes.count && bytes[position] == UInt8(ascii: ".") {
                    result.append(.fields(fieldChain()))
                }
            case UInt8(ascii: ":"):
                guard position + 1 < bytes.count && bytes[position + 1] == UInt8(ascii: "=") else {
                    throw PromQLError(offset: base + position, "unexpected ':' in the action")
                }
                position += 2
                result.append(.symbol(":="))
            case UInt8(ascii: "="):
                position += 1
                result.append(.symbol("="))
            case UInt8(ascii: "-"), UInt8(ascii: "+"), 0x30...0x39:
                result.append(.number(try number()))
            case UInt8(ascii: ","):
                position += 1 // range $i, $e := …
            default:
                guard isName(byte) else {
                    throw PromQLError(offset: base + position, "unexpected '\(String(decoding: [byte], as: UTF8.self))' in the action")
                }
                result.append(.word(name()))
            }
        }
        return result
    }

    private mutating func number() throws(PromQLError) -> Double {
        let start = position
        position += 1
        while position < bytes.count, isName(bytes[position]) || bytes[position] == UInt8(ascii: ".")
                || ((bytes[position] == UInt8(ascii: "-") || bytes[position] == UInt8(ascii: "+")) && (bytes[position - 1] | 0x20) == UInt8(ascii: "e")) {
            position += 1
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        guard let value = Double(text) else { throw PromQLError(offset: base + start, "bad number syntax: \(text)") }
        return value
    }

    private mutating func string(quote: UInt8) throws(PromQLError) -> String {
        let start = position
        position += 1
        var result: [UInt8] = []
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if byte == quote { return String(decoding: result, as: UTF8.self) }
            if byte == UInt8(ascii: "\\") && quote == UInt8(ascii: "\"") && position < bytes.count {
                let escaped = bytes[position]
                position += 1
                switch escaped {
                case UInt8(ascii: "n"): result.append(0x0A)
                case UInt8(ascii: "t"): result.append(0x09)
                case UInt8(ascii: "r"): result.append(0x0D)
                default: result.append(escaped)
                }
            } else {
                result.append(byte)
            }
        }
        throw PromQLError(offset: base + start, "unterminated quoted string")
    }
}
