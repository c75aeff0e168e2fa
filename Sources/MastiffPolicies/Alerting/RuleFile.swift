import MastiffCore
import MastiffPromQL

/// One alerting or recording rule as loaded from a Prometheus rule file.
public struct Rule: Sendable {
    public enum Kind: Sendable {
        case alert(String)
        case record(String)
    }

    public var kind: Kind
    public var expr: Expr
    public var exprText: String
    public var forMs: Int64
    public var keepFiringForMs: Int64
    /// Alert labels are templates; recording rule labels are literal (as in Prometheus 3).
    public var labels: [(String, AlertTemplate)]
    public var annotations: [(String, AlertTemplate)]
    /// Where the rule is written, for messages.
    public var location: String

    public var name: String {
        switch kind {
        case .alert(let name), .record(let name): return name
        }
    }

    public var isAlert: Bool { if case .alert = kind { return true } else { return false } }

    /// Every PromQL expression the rule evaluates: its own and its templates' queries.
    public var expressions: [Expr] {
        [expr] + labels.flatMap(\.1.queries) + annotations.flatMap(\.1.queries)
    }
}

public struct RuleGroup: Sendable {
    public var name: String
    public var file: String
    /// The group's `interval`, when written (milliseconds).
    public var intervalMs: Int64?
    public var rules: [Rule]
}

/// Prometheus rule files, loaded strictly: a YAML error, an unknown key, an unparsable
/// expression or template, or a construct outside mastiff's PromQL subset is refused here, at
/// its file:line:column, never at evaluation time.
public enum RuleFileLoader {
    public static func load(text: String, file: String) throws(ConfigError) -> [RuleGroup] {
        let root = try ConfigNode.parse(text, file: file)
        let top = try root.mapping(allowing: ["groups"])
        var groups: [RuleGroup] = []
        var names = Set<String>()
        for groupNode in try top["groups"]?.list() ?? [] {
            let group = try groupNode.mapping(allowing: ["name", "interval", "rules", "limit", "query_offset", "labels"])
            let name = try group.required("name").string()
            guard names.insert(name).inserted else { throw groupNode.error("duplicate rule group name '\(name)' in this file") }
            for unsupported in ["limit", "query_offset", "labels"] {
                if let node = group[unsupported] { throw node.error("'\(unsupported)' in a rule group is not supported by mastiff") }
            }
            var interval: Int64?
            if let node = group["interval"] { interval = Int64(try node.duration(atLeast: .seconds(1)).seconds * 1000) }
            var rules: [Rule] = []
            for ruleNode in try group["rules"]?.list() ?? [] {
                rules.append(try loadRule(ruleNode, text: text))
            }
            groups.append(RuleGroup(name: name, file: file, intervalMs: interval, rules: rules))
        }
        return groups
    }

    private static func loadRule(_ node: ConfigNode, text: String) throws(ConfigError) -> Rule {
        let rule = try node.mapping(allowing: ["alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"])
        let kind: Rule.Kind
        switch (rule["alert"], rule["record"]) {
        case (let alert?, nil):
            let name = try alert.string()
            guard !name.isEmpty else { throw alert.error("alert name must not be empty") }
            kind = .alert(name)
        case (nil, let record?):
            let name = try record.string()
            guard isMetricName(name) else { throw record.error("invalid recording rule name '\(name)' (a metric name: [a-zA-Z_:][a-zA-Z0-9_:]*)") }
            kind = .record(name)
        case (.some, .some): throw node.error("a rule has either 'alert' or 'record', not both")
        case (nil, nil): throw node.error("a rule needs 'alert' or 'record'")
        }
        let exprNode = try rule.required("expr")
        let exprText = try exprNode.string()
        let expr: Expr
        do {
            expr = try PromQLParser.parse(exprText)
        } catch {
            let mark = locate(offset: error.offset, in: exprNode, text: text)
            throw ConfigError(file: exprNode.file, mark: mark, keyPath: exprNode.keyPath, message: "\(error.message) (in expression \(exprText.debugDescription))")
        }
        guard expr.type == .vector || expr.type == .scalar else {
            throw exprNode.error("the expression must be an instant vector or a scalar, not \(expr.type.rawValue)")
        }
        var forMs: Int64 = 0
        var keepMs: Int64 = 0
        if let node = rule["for"] { forMs = Int64(try node.duration().seconds * 1000) }
        if let node = rule["keep_firing_for"] { keepMs = Int64(try node.duration().seconds * 1000) }
        if case .record = kind {
            for key in ["for", "keep_firing_for", "annotations"] {
                if let node = rule[key] { throw node.error("'\(key)' is only for alerting rules") }
            }
        }
        var labels: [(String, AlertTemplate)] = []
        if let labelsNode = rule["labels"] {
            for (key, value) in try stringMap(labelsNode) {
                guard isLabelName(key.0) else { throw ConfigError(file: labelsNode.file, mark: key.1, keyPath: labelsNode.keyPath, message: "invalid label name '\(key.0)'") }
                if key.0 == "__name__" || key.0 == "alertname" && rule["alert"] != nil {
                    throw ConfigError(file: labelsNode.file, mark: key.1, keyPath: labelsNode.keyPath, message: "label '\(key.0)' cannot be set by a rule")
                }
                labels.append((key.0, try template(value, isAlert: rule["alert"] != nil)))
            }
        }
        var annotations: [(String, AlertTemplate)] = []
        if let annotationsNode = rule["annotations"] {
            for (key, value) in try stringMap(annotationsNode) {
                annotations.append((key.0, try template(value, isAlert: true)))
            }
        }
        return Rule(kind: kind, expr: expr, exprText: exprText, forMs: forMs, keepFiringForMs: keepMs, labels: labels,
                    annotations: annotations, location: "\(node.file):\(node.mark)")
    }

    private static func template(_ node: ConfigNode, isAlert: Bool) throws(ConfigError) -> AlertTemplate {
        let text = try node.string()
        guard isAlert else {
            // Recording rules' labels are not templates; keep them as their text.
            return AlertTemplate(literal: text)
        }
        do {
            return try AlertTemplate(text)
        } catch {
            throw node.error("template: \(error.message) (at character \(error.offset + 1) of \(text.debugDescription))")
        }
    }

    private static func stringMap(_ node: ConfigNode) throws(ConfigError) -> [((String, SourceMark), ConfigNode)] {
        guard case .mapping(let entries) = node.node.content else { throw node.error("expected a mapping") }
        var result: [((String, SourceMark), ConfigNode)] = []
        var seen = Set<String>()
        for entry in entries {
            guard case .scalar(let key, _) = entry.key.content else { throw node.error("keys must be strings") }
            guard seen.insert(key).inserted else {
                throw ConfigError(file: node.file, mark: entry.key.mark, keyPath: node.keyPath, message: "duplicate key '\(key)'")
            }
            result.append(((key, entry.key.mark), ConfigNode(node: entry.value, file: node.file, keyPath: "\(node.keyPath).\(key)")))
        }
        return result
    }

    static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first == ":" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || $0 == ":" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    static func isLabelName(_ name: String) -> Bool {
        isMetricName(name) && !name.contains(":")
    }

    /// The file position of character `offset` of an expression: on the same line for a plain
    /// or quoted scalar, on the following lines for a block scalar (`|` or `>`).
    static func locate(offset: Int, in node: ConfigNode, text: String) -> SourceMark {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let mark = node.mark
        guard mark.line >= 1, mark.line <= lines.count else { return mark }
        let line = Array(lines[mark.line - 1].utf8)
        let indicator = mark.column - 1 < line.count ? line[mark.column - 1] : 0
        if indicator == UInt8(ascii: "|") || indicator == UInt8(ascii: ">") {
            guard let exprText = try? node.string() else { return mark }
            let before = Array(exprText.utf8.prefix(offset))
            let lineIndex = before.filter { $0 == 0x0A }.count
            let column = before.count - ((before.lastIndex(of: 0x0A)).map { $0 + 1 } ?? 0)
            let fileLine = mark.line + 1 + lineIndex
            guard fileLine <= lines.count else { return mark }
            // The block's indentation is its first content line's; deeper lines keep the rest.
            let firstContent = lines[(mark.line)...].first { !$0.allSatisfy { $0 == " " } } ?? lines[fileLine - 1]
            let indent = firstContent.prefix { $0 == " " }.count
            return SourceMark(line: fileLine, column: indent + column + 1)
        }
        let quoted = indicator == UInt8(ascii: "\"") || indicator == UInt8(ascii: "'")
        return SourceMark(line: mark.line, column: mark.column + offset + (quoted ? 1 : 0))
    }
}

