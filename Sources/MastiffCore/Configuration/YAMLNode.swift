import CYAML

/// A position in a source file, 1-based, as editors show it.
public struct SourceMark: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
    public var description: String { "\(line):\(column)" }
}

/// A YAML node that remembers where it was written, so configuration errors can name
/// file:line:column. Composed from libyaml's event stream (see docs/adr/0003-yaml-via-libyaml.md).
public struct YAMLNode: Sendable, Equatable {
    public enum Content: Sendable, Equatable {
        /// `quoted` is true for single- or double-quoted scalars: `"null"` is a string, `null` is not.
        case scalar(String, quoted: Bool)
        case mapping([Entry])
        case sequence([YAMLNode])
    }

    public struct Entry: Sendable, Equatable {
        public var key: YAMLNode
        public var value: YAMLNode
    }

    public var content: Content
    public var mark: SourceMark

    public var isNull: Bool {
        if case .scalar(let text, quoted: false) = content {
            return text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL"
        }
        return false
    }

    /// Parses the first document of `text`. An empty document is an empty mapping.
    public static func parse(_ text: String) throws(YAMLSyntaxError) -> YAMLNode {
        var composer = Composer()
        return try composer.compose(text)
    }
}

public struct YAMLSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var mark: SourceMark
    public var message: String
    public var description: String { "\(mark): \(message)" }
}

private struct Composer {
    private var parser = yaml_parser_t()

    mutating func compose(_ text: String) throws(YAMLSyntaxError) -> YAMLNode {
        guard yaml_parser_initialize(&parser) == 1 else {
            throw YAMLSyntaxError(mark: SourceMark(line: 1, column: 1), message: "cannot initialise the YAML parser")
        }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buffer throws(YAMLSyntaxError) -> YAMLNode in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var root: YAMLNode?
            // Containers under construction: (node with partial children, pending mapping key).
            var stack: [(node: YAMLNode, pendingKey: YAMLNode?)] = []
            var done = false
            var sawDocument = false
            while !done {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { throw syntaxError(in: buffer) }
                defer { yaml_event_delete(&event) }
                let mark = SourceMark(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
                var completed: YAMLNode?
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    done = true
                case YAML_DOCUMENT_START_EVENT:
                    // A second document would be ignored by a reader that takes the first only:
                    // keys written below a stray `---` must not vanish silently.
                    if sawDocument {
                        throw YAMLSyntaxError(mark: mark, message: "a second YAML document ('---') is not allowed: the file holds one document")
                    }
                    sawDocument = true
                case YAML_SCALAR_EVENT:
                    let scalar = event.data.scalar
                    let value = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                    let quoted = scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE || scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE
                        || scalar.style == YAML_LITERAL_SCALAR_STYLE || scalar.style == YAML_FOLDED_SCALAR_STYLE
                    completed = YAMLNode(content: .scalar(value, quoted: quoted), mark: mark)
                case YAML_MAPPING_START_EVENT:
                    stack.append((YAMLNode(content: .mapping([]), mark: mark), nil))
                case YAML_SEQUENCE_START_EVENT:
                    stack.append((YAMLNode(content: .sequence([]), mark: mark), nil))
                case YAML_MAPPING_END_EVENT, YAML_SEQUENCE_END_EVENT:
                    completed = stack.removeLast().node
                case YAML_ALIAS_EVENT:
                    throw YAMLSyntaxError(mark: mark, message: "YAML aliases are not supported in mastiff's configuration")
                default:
                    break
                }
                guard let node = completed else { continue }
                if stack.isEmpty {
                    root = node
                    continue
                }
                let top = stack.count - 1
                switch stack[top].node.content {
                case .sequence(var items):
                    items.append(node)
                    stack[top].node.content = .sequence(items)
                case .mapping(var entries):
                    if let key = stack[top].pendingKey {
                        entries.append(YAMLNode.Entry(key: key, value: node))
                        stack[top].node.content = .mapping(entries)
                        stack[top].pendingKey = nil
                    } else {
                        stack[top].pendingKey = node
                    }
                case .scalar:
                    break
                }
            }
            return root ?? YAMLNode(content: .mapping([]), mark: SourceMark(line: 1, column: 1))
        }
    }

    private func syntaxError(in bytes: UnsafeBufferPointer<UInt8>) -> YAMLSyntaxError {
        let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        let context = parser.context.map { String(cString: $0) + ": " } ?? ""
        let mark = SourceMark(line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1)
        // libyaml says "found character that cannot start any token" for a tab where YAML wants
        // indentation: name the tab, the usual cause in a hand-edited file.
        let offset = Int(parser.problem_mark.index)
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "\t") {
            return YAMLSyntaxError(mark: mark, message: "a tab character: YAML is indented with spaces, not tabs")
        }
        return YAMLSyntaxError(mark: mark, message: context + problem)
    }
}
