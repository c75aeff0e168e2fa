import Glibc
import MastiffCore

extension AlertTemplate {
    /// The expanded text; an error becomes Prometheus's `<error expanding template: …>` text so
    /// that a notification still goes out.
    public func expand(_ context: TemplateContext) -> String {
        if isConstant { return text }
        var executor = TemplateExecutor(context: context)
        do {
            var output = ""
            try executor.run(nodes, dot: .data, into: &output)
            return output
        } catch {
            return "<error expanding template: \(error.description)>"
        }
    }
}

struct TemplateExecutor {
    let context: TemplateContext
    var scopes: [[String: TemplateValue]]
    /// Actions and range iterations so far: a template is bounded in work, in output and in
    /// time, so that no annotation can wedge the rule engine (`{{range 1000}}` three deep) or
    /// take gigabytes (`printf "%.999999999f"`). Past a bound the expansion fails with
    /// Prometheus's `<error expanding template: …>` text.
    var steps = 0
    static let maxSteps = 100_000
    static let maxOutputBytes = 64 << 10

    /// Counts one step; fails past `maxSteps`, past the context's deadline, or when `output`
    /// has grown past `maxOutputBytes`.
    mutating func step(_ output: String) throws(TemplateError) {
        steps += 1
        guard steps <= Self.maxSteps else { throw TemplateError("the template takes more than \(Self.maxSteps) steps") }
        guard output.utf8.count <= Self.maxOutputBytes else { throw TemplateError("the template's output is over \(Self.maxOutputBytes) bytes") }
        if steps & 255 == 0, context.pastDeadline?() == true {
            throw TemplateError(EvaluationError.deadlinePassed.description)
        }
    }

    init(context: TemplateContext) {
        self.context = context
        let labels = TemplateExecutor.pairs(context.labels)
        scopes = [[
            "$": .data,
            "$labels": .labels(labels),
            "$externalLabels": .labels(TemplateExecutor.pairs(context.externalLabels)),
            "$externalURL": .string(context.externalURL),
            "$value": .number(context.value),
        ]]
    }

    static func pairs(_ labels: Labels) -> [(String, String)] {
        labels.map { ($0.name, $0.value) }.sorted { $0.0 < $1.0 }
    }

    private func lookup(_ name: String) throws(TemplateError) -> TemplateValue {
        for scope in scopes.reversed() {
            if let value = scope[name] { return value }
        }
        throw TemplateError("undefined variable \"\(name)\"")
    }

    private mutating func assign(_ name: String, _ value: TemplateValue, declare: Bool) throws(TemplateError) {
        if declare {
            scopes[scopes.count - 1][name] = value
            return
        }
        for index in scopes.indices.reversed() where scopes[index][name] != nil {
            scopes[index][name] = value
            return
        }
        throw TemplateError("undefined variable \"\(name)\"")
    }

    mutating func run(_ nodes: [AlertTemplate.Node], dot: TemplateValue, into output: inout String) throws(TemplateError) {
        for node in nodes {
            try step(output)
            switch node {
            case .text(let text):
                output += text
            case .action(let pipeline):
                let value = try evaluate(pipeline, dot: dot)
                if pipeline.declarations.isEmpty { output += value.printed }
            case .ifNode(let pipeline, let body, let elseBody):
                let condition = try evaluate(pipeline, dot: dot)
                scopes.append([:])
                try run(condition.truth ? body : elseBody, dot: dot, into: &output)
                scopes.removeLast()
            case .withNode(let pipeline, let body, let elseBody):
                let value = try evaluate(pipeline, dot: dot)
                scopes.append([:])
                try run(value.truth ? body : elseBody, dot: value.truth ? value : dot, into: &output)
                scopes.removeLast()
            case .rangeNode(let pipeline, let key, let element, let body, let elseBody):
                let collection = try evaluate(pipeline, dot: dot)
                var items: [(TemplateValue, TemplateValue)] = []
                switch collection {
                case .samples(let samples): items = samples.enumerated().map { (.integer($0.offset), .sample($0.element)) }
                case .labels(let pairs): items = pairs.map { (.string($0.0), .string($0.1)) }
                case .null: items = []
                case .integer(let count):
                    // Counted, not built: `range 100000000` must not allocate its numbers.
                    guard count > 0 else { break }
                    for number in 0..<count {
                        try step(output)
                        var scope: [String: TemplateValue] = [:]
                        if let key { scope[key] = .integer(number) }
                        if let element { scope[element] = .integer(number) }
                        scopes.append(scope)
                        try run(body, dot: .integer(number), into: &output)
                        scopes.removeLast()
                    }
                    continue
                default: throw TemplateError("range can't iterate over \(collection.printed)")
                }
                if items.isEmpty {
                    scopes.append([:])
                    try run(elseBody, dot: dot, into: &output)
                    scopes.removeLast()
                    continue
                }
                for (itemKey, item) in items {
                    try step(output)
                    var scope: [String: TemplateValue] = [:]
                    if let key { scope[key] = itemKey }
                    if let element { scope[element] = item }
                    scopes.append(scope)
                    try run(body, dot: item, into: &output)
                    scopes.removeLast()
                }
            }
        }
    }

    mutating func evaluate(_ pipeline: AlertTemplate.Pipeline, dot: TemplateValue) throws(TemplateError) -> TemplateValue {
        var piped: TemplateValue?
        for command in pipeline.commands {
            piped = try evaluateCommand(command, dot: dot, piped: piped)
        }
        let value = piped ?? .null
        for name in pipeline.declarations { try assign(name, value, declare: !pipeline.assign) }
        return value
    }

    private mutating func evaluateCommand(_ command: [AlertTemplate.Argument], dot: TemplateValue, piped: TemplateValue?) throws(TemplateError) -> TemplateValue {
        if case .identifier(let name) = command[0] {
            var arguments: [TemplateValue] = []
            for argument in command.dropFirst() { arguments.append(try evaluateArgument(argument, dot: dot)) }
            if let piped { arguments.append(piped) }
            return try call(name, arguments, literal: command.count > 1 ? command[1] : nil)
        }
        guard command.count == 1 && piped == nil else {
            throw TemplateError("can't give argument to non-function \(command[0])")
        }
        return try evaluateArgument(command[0], dot: dot)
    }

    private mutating func evaluateArgument(_ argument: AlertTemplate.Argument, dot: TemplateValue) throws(TemplateError) -> TemplateValue {
        switch argument {
        case .string(let text): return .string(text)
        case .number(let value): return value == value.rounded() && Swift.abs(value) < 1e15 ? .integer(Int(value)) : .number(value)
        case .bool(let value): return .bool(value)
        case .null: return .null
        case .variable(let name, let fields): return try field(fields, of: try lookup(name))
        case .dot(let fields): return try field(fields, of: dot)
        case .identifier(let name): return try call(name, [], literal: nil)
        case .pipeline(let pipeline, let fields): return try field(fields, of: try evaluate(pipeline, dot: dot))
        }
    }

    private func field(_ fields: [String], of value: TemplateValue) throws(TemplateError) -> TemplateValue {
        var current = value
        for name in fields {
            switch current {
            case .data:
                switch name {
                case "Labels": current = .labels(Self.pairs(context.labels))
                case "ExternalLabels": current = .labels(Self.pairs(context.externalLabels))
                case "ExternalURL": current = .string(context.externalURL)
                case "Value": current = .number(context.value)
                case "CommonLabels" where context.notification != nil: current = .labels(Self.pairs(context.labels))
                case "Status" where context.notification != nil: current = .string(context.notification!.status)
                case "Receiver" where context.notification != nil: current = .string(context.notification!.receiver)
                case "GroupLabels" where context.notification != nil: current = .labels(Self.pairs(context.notification!.groupLabels))
                case "Alerts" where context.notification != nil:
                    current = .samples(context.notification!.alerts.map {
                        TemplateSample(labels: Self.pairs($0.labels), value: $0.value, annotations: Self.pairs($0.annotations), status: $0.status, startsAt: $0.startsAt)
                    })
                default: throw TemplateError("can't evaluate field \(name)")
                }
            case .labels(let pairs):
                // missingkey=zero: a label that is not there reads as "".
                current = .string(pairs.first { $0.0 == name }?.1 ?? "")
            case .sample(let sample):
                switch name {
                case "Labels": current = .labels(sample.labels)
                case "Value": current = .number(sample.value)
                case "Annotations": current = .labels(sample.annotations)
                case "Status": current = .string(sample.status)
                case "StartsAt": current = .number(sample.startsAt)
                default: throw TemplateError("can't evaluate field \(name) in a query result")
                }
            default:
                throw TemplateError("can't evaluate field \(name) in type \(current.printed)")
            }
        }
        return current
    }

    private func float(_ value: TemplateValue, _ function: String) throws(TemplateError) -> Double {
        guard let number = value.number else { throw TemplateError("\(function): can't convert \(value.printed) to a float") }
        return number
    }

    private mutating func call(_ name: String, _ arguments: [TemplateValue], literal: AlertTemplate.Argument?) throws(TemplateError) -> TemplateValue {
        func need(_ count: Int) throws(TemplateError) {
            guard arguments.count == count else { throw TemplateError("wrong number of args for \(name): want \(count) got \(arguments.count)") }
        }
        switch name {
        case "humanize":
            try need(1)
            var v = try float(arguments[0], name)
            if v == 0 || v.isNaN || v.isInfinite { return .string(GoFloat.cFormat(v, "g", 4)) }
            var prefix = ""
            if Swift.abs(v) >= 1 {
                for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
                    if Swift.abs(v) < 1000 { break }
                    prefix = p
                    v /= 1000
                }
            } else {
                for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
                    if Swift.abs(v) >= 1 { break }
                    prefix = p
                    v *= 1000
                }
            }
            return .string(GoFloat.cFormat(v, "g", 4) + prefix)
        case "humanize1024":
            try need(1)
            var v = try float(arguments[0], name)
            if Swift.abs(v) <= 1 || v.isNaN || v.isInfinite { return .string(GoFloat.cFormat(v, "g", 4)) }
            var prefix = ""
            for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
                if Swift.abs(v) < 1024 { break }
                prefix = p
                v /= 1024
            }
            return .string(GoFloat.cFormat(v, "g", 4) + prefix)
        case "humanizeDuration":
            try need(1)
            return .string(Self.humanizeDuration(try float(arguments[0], name)))
        case "humanizePercentage":
            try need(1)
            return .string(GoFloat.cFormat(try float(arguments[0], name) * 100, "g", 4) + "%")
        case "humanizeTimestamp":
            try need(1)
            return .string(try Self.humanizeTimestamp(try float(arguments[0], name)))
        case "toUpper", "toLower", "title", "stripPort":
            try need(1)
            guard case .string(let text) = arguments[0] else { throw TemplateError("\(name) takes a string, got \(arguments[0].printed)") }
            switch name {
            case "toUpper": return .string(text.uppercased())
            case "toLower": return .string(text.lowercased())
            case "stripPort":
                if let colon = text.lastIndex(of: ":"), !text.hasPrefix("[") || text[..<colon].hasSuffix("]") {
                    let host = text[..<colon]
                    return .string(host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : String(host))
                }
                return .string(text)
            default:
                var result = ""
                var previousIsLetter = false
                for character in text {
                    result += previousIsLetter ? String(character) : character.uppercased()
                    previousIsLetter = character.isLetter || character.isNumber || character == "'"
                }
                return .string(result)
            }
        case "reReplaceAll":
            try need(3)
            guard case .string(let pattern) = arguments[0], case .string(let replacement) = arguments[1],
                  case .string(let text) = arguments[2] else { throw TemplateError("reReplaceAll takes three strings") }
            return .string(try Self.replaceAll(pattern, replacement, text))
        case "match":
            try need(2)
            guard case .string(let pattern) = arguments[0], case .string(let text) = arguments[1] else { throw TemplateError("match takes two strings") }
            guard let regex = try? CapturingRegex(pattern) else { throw TemplateError("match: invalid pattern \(pattern)") }
            return .bool(regex.firstMatch(in: text) != nil)
        case "query":
            try need(1)
            guard case .string(let text) = arguments[0] else { throw TemplateError("query takes a string") }
            // Parsed when the template loaded; parsing again is cheap and needs no lookup table.
            guard let expr = try? PromQLParser.parse(text) else { throw TemplateError("query: cannot parse \(text)") }
            do {
                let samples = try context.query(expr)
                return .samples(samples.map { TemplateSample(labels: Self.pairs($0.labels), value: $0.value) })
            } catch {
                throw TemplateError("query \"\(text)\": \(error.description)")
            }
        case "first":
            try need(1)
            guard case .samples(let samples) = arguments[0] else { throw TemplateError("first takes a query result") }
            guard let first = samples.first else { throw TemplateError("first() called on vector with no elements") }
            return .sample(first)
        case "value":
            try need(1)
            guard case .sample(let sample) = arguments[0] else { throw TemplateError("value takes one query result sample") }
            return .number(sample.value)
        case "strvalue":
            try need(1)
            guard case .sample(let sample) = arguments[0] else { throw TemplateError("strvalue takes one query result sample") }
            return .string(sample.labels.first { $0.0 == "__value__" }?.1 ?? "")
        case "label":
            try need(2)
            guard case .string(let label) = arguments[0], case .sample(let sample) = arguments[1] else {
                throw TemplateError("label takes a label name and one query result sample")
            }
            return .string(sample.labels.first { $0.0 == label }?.1 ?? "")
        case "sortByLabel":
            try need(2)
            guard case .string(let label) = arguments[0], case .samples(let samples) = arguments[1] else {
                throw TemplateError("sortByLabel takes a label name and a query result")
            }
            let sorted = samples.enumerated().sorted { a, b in
                let (x, y) = (a.element.labels.first { $0.0 == label }?.1 ?? "", b.element.labels.first { $0.0 == label }?.1 ?? "")
                return x == y ? a.offset < b.offset : x < y
            }
            return .samples(sorted.map(\.element))
        case "printf":
            guard case .string(let format)? = arguments.first else { throw TemplateError("printf takes a format string first") }
            return .string(try Self.printf(format, Array(arguments.dropFirst())))
        case "print", "println":
            var result = ""
            for (index, argument) in arguments.enumerated() {
                if index > 0 {
                    let bothNonString: Bool
                    if case .string = argument { bothNonString = false } else if case .string = arguments[index - 1] { bothNonString = false } else { bothNonString = true }
                    if name == "println" || bothNonString { result += " " }
                }
                result += argument.printed
            }
            return .string(name == "println" ? result + "\n" : result)
        case "len":
            try need(1)
            switch arguments[0] {
            case .string(let text): return .integer(text.utf8.count)
            case .labels(let pairs): return .integer(pairs.count)
            case .samples(let samples): return .integer(samples.count)
            default: throw TemplateError("len of \(arguments[0].printed)")
            }
        case "index":
            try need(2)
            switch (arguments[0], arguments[1]) {
            case (.labels(let pairs), .string(let key)): return .string(pairs.first { $0.0 == key }?.1 ?? "")
            case (.samples(let samples), .integer(let index)):
                guard samples.indices.contains(index) else { throw TemplateError("index out of range: \(index)") }
                return .sample(samples[index])
            default: throw TemplateError("can't index \(arguments[0].printed) with \(arguments[1].printed)")
            }
        case "not":
            try need(1)
            return .bool(!arguments[0].truth)
        case "and":
            guard !arguments.isEmpty else { throw TemplateError("and takes at least one argument") }
            return arguments.first { !$0.truth } ?? arguments[arguments.count - 1]
        case "or":
            guard !arguments.isEmpty else { throw TemplateError("or takes at least one argument") }
            return arguments.first { $0.truth } ?? arguments[arguments.count - 1]
        case "eq", "ne", "lt", "le", "gt", "ge":
            try need(2)
            let order: Int
            switch (arguments[0], arguments[1]) {
            case (.string(let a), .string(let b)): order = a == b ? 0 : (a < b ? -1 : 1)
            case (.bool(let a), .bool(let b)):
                guard name == "eq" || name == "ne" else { throw TemplateError("invalid type for comparison") }
                order = a == b ? 0 : 1
            default:
                guard let a = arguments[0].number, let b = arguments[1].number,
                      !(arguments[0].isString || arguments[1].isString) else { throw TemplateError("incompatible types for comparison") }
                order = a == b ? 0 : (a < b ? -1 : 1)
            }
            switch name {
            case "eq": return .bool(order == 0)
            case "ne": return .bool(order != 0)
            case "lt": return .bool(order < 0)
            case "le": return .bool(order <= 0)
            case "gt": return .bool(order > 0)
            default: return .bool(order >= 0)
            }
        case "urlquery":
            let text = arguments.map(\.printed).joined()
            var result = ""
            for byte in text.utf8 {
                let character = Character(Unicode.Scalar(byte))
                if character.isASCII && (character.isLetter || character.isNumber || "-_.~".contains(character)) {
                    result.append(character)
                } else if byte == 0x20 {
                    result += "+"
                } else {
                    result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(2)
                }
            }
            return .string(result)
        default:
            throw TemplateError("function \"\(name)\" not defined")
        }
    }

    static func humanizeDuration(_ input: Double) -> String {
        var v = input
        if v.isNaN || v.isInfinite { return GoFloat.cFormat(v, "g", 4) }
        if v == 0 { return GoFloat.cFormat(v, "g", 4) + "s" }
        if Swift.abs(v) >= 1 {
            var sign = ""
            if v < 0 {
                sign = "-"
                v = -v
            }
            let duration = Int64(saturating: v)
            let seconds = duration % 60
            let minutes = (duration / 60) % 60
            let hours = (duration / 3600) % 24
            let days = duration / 86400
            if days != 0 { return "\(sign)\(days)d \(hours)h \(minutes)m \(seconds)s" }
            if hours != 0 { return "\(sign)\(hours)h \(minutes)m \(seconds)s" }
            if minutes != 0 { return "\(sign)\(minutes)m \(seconds)s" }
            return sign + GoFloat.cFormat(v, "g", 4) + "s"
        }
        var prefix = ""
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if Swift.abs(v) >= 1 { break }
            prefix = p
            v *= 1000
        }
        return GoFloat.cFormat(v, "g", 4) + prefix + "s"
    }

    /// Go's time.Time.String() in UTC: `2026-12-03 21:49:16.5 +0000 UTC`.
    static func humanizeTimestamp(_ value: Double) throws(TemplateError) -> String {
        guard value.isFinite, Swift.abs(value) < 9.2e9 else { throw TemplateError("humanizeTimestamp: \(GoFloat.v(value)) is not a time") }
        let nanoseconds = Int64(value * 1e9)
        var seconds = nanoseconds / 1_000_000_000
        var fraction = nanoseconds % 1_000_000_000
        if fraction < 0 {
            fraction += 1_000_000_000
            seconds -= 1
        }
        let time = CalendarTime.utc(Double(seconds))
        var text = "\(time.date) \(time.clock)"
        if fraction != 0 {
            var digits = String(fraction).leftPadded(9)
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text + " +0000 UTC"
    }

    /// Go's `Regexp.ReplaceAllString`: each leftmost-first match, searched from the end of the
    /// previous one; an empty match right after a match is not replaced; the search always moves
    /// on by at least one character.
    static func replaceAll(_ pattern: String, _ replacement: String, _ text: String) throws(TemplateError) -> String {
        guard let regex = try? CapturingRegex(pattern) else { throw TemplateError("reReplaceAll: invalid pattern \(pattern)") }
        let bytes = Array(text.utf8)
        var result: [UInt8] = []
        var searchFrom = 0
        var lastMatchEnd = 0
        while searchFrom <= bytes.count {
            guard let groups = regex.firstMatch(in: text, from: searchFrom), let whole = groups[0] else { break }
            result.append(contentsOf: bytes[lastMatchEnd..<whole.lowerBound])
            if whole.upperBound > lastMatchEnd || whole.lowerBound == 0 {
                result.append(contentsOf: Array(GoRegexpExpand.expand(replacement, value: text, groups: groups, names: regex.groupNumbers).utf8))
            }
            lastMatchEnd = whole.upperBound
            let width = searchFrom < bytes.count ? Self.utf8Width(bytes[searchFrom]) : 0
            if searchFrom + width > whole.upperBound {
                searchFrom += width
            } else if searchFrom + 1 > whole.upperBound {
                searchFrom += 1
            } else {
                searchFrom = whole.upperBound
            }
        }
        result.append(contentsOf: bytes[lastMatchEnd...])
        return String(decoding: result, as: UTF8.self)
    }

    /// The length of the UTF-8 sequence a lead byte starts (1 for a stray continuation byte).
    static func utf8Width(_ lead: UInt8) -> Int {
        switch lead {
        case 0xF0...: return 4
        case 0xE0...: return 3
        case 0xC0...: return 2
        default: return 1
        }
    }

    /// Go's fmt.Sprintf for the verbs templates use: %s %v %d %f %e %g %q %x %%, with flags,
    /// width and precision.
    static func printf(_ format: String, _ arguments: [TemplateValue]) throws(TemplateError) -> String {
        var result = ""
        var characters = Array(format)
        var index = 0
        var next = 0
        characters.append("\0")
        while index < characters.count - 1 {
            let character = characters[index]
            guard character == "%" else {
                result.append(character)
                index += 1
                continue
            }
            index += 1
            var flags = ""
            while "+-# 0".contains(characters[index]) && characters[index] != "\0" {
                flags.append(characters[index])
                index += 1
            }
            var width = ""
            while characters[index].isNumber {
                width.append(characters[index])
                index += 1
            }
            var precision: Int?
            if characters[index] == "." {
                index += 1
                var digits = ""
                while characters[index].isNumber {
                    digits.append(characters[index])
                    index += 1
                }
                precision = Int(digits) ?? Int.max
            }
            // Go would pad to any width; here a width or precision past the template's output
            // bound is an error, before anything is allocated for it.
            if (Int(width) ?? (width.isEmpty ? 0 : Int.max)) > maxOutputBytes || (precision ?? 0) > maxOutputBytes {
                throw TemplateError("printf: width or precision over \(maxOutputBytes) in \(quoteLabelValue(String(characters[..<index])))")
            }
            let verb = characters[index]
            index += 1
            if verb == "%" {
                result += "%"
                continue
            }
            guard next < arguments.count else {
                result += "%!\(verb)(MISSING)"
                continue
            }
            let argument = arguments[next]
            next += 1
            var text: String
            switch verb {
            case "d":
                if let number = argument.number, case .integer = argument {
                    text = String(Int(number))
                } else if let number = argument.number, number == number.rounded(), case .number = argument {
                    text = "%!d(float64=\(GoFloat.v(number)))"
                } else {
                    text = "%!d(\(argument.printed))"
                }
            case "f", "F", "e", "E", "g", "G":
                if let number = argument.number, !argument.isString {
                    let lower = Character(verb.lowercased())
                    text = precision == nil && lower == "g" ? GoFloat.v(number)
                        : GoFloat.cFormat(number, lower, precision ?? 6, flags: flags.filter { $0 == "+" })
                    if verb.isUppercase { text = text.uppercased() }
                } else {
                    text = "%!\(verb)(string=\(argument.printed))"
                }
            case "q":
                text = quoteLabelValue(argument.printed)
            case "x":
                text = argument.printed.utf8.map { String($0, radix: 16).leftPadded(2) }.joined()
            default:
                text = argument.printed
                if let precision, verb == "s" { text = String(text.prefix(precision)) }
            }
            if let width = Int(width), text.count < width {
                let padding = String(repeating: flags.contains("0") && verb != "s" ? "0" : " ", count: width - text.count)
                text = flags.contains("-") ? text + padding : padding + text
            }
            result += text
        }
        if next < arguments.count {
            result += "%!(EXTRA " + arguments[next...].map { "\($0.typeName)=\($0.printed)" }.joined(separator: ", ") + ")"
        }
        return result
    }
}

extension TemplateValue {
    var isString: Bool { if case .string = self { return true } else { return false } }
    var typeName: String {
        switch self {
        case .string: return "string"
        case .number: return "float64"
        case .integer: return "int"
        case .bool: return "bool"
        default: return "value"
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
