/// A YAML node together with the file it came from and its key path: every accessor that can
/// fail throws a `ConfigError` pointing at this node.
public struct ConfigNode: Sendable {
    public let node: YAMLNode
    public let file: String
    public let keyPath: String

    public init(node: YAMLNode, file: String, keyPath: String = "") {
        self.node = node
        self.file = file
        self.keyPath = keyPath
    }

    public static func parse(_ text: String, file: String) throws(ConfigError) -> ConfigNode {
        do {
            return ConfigNode(node: try YAMLNode.parse(text), file: file)
        } catch {
            throw ConfigError(file: file, mark: error.mark, keyPath: "", message: "YAML syntax error: \(error.message)")
        }
    }

    public var mark: SourceMark { node.mark }
    public var isNull: Bool { node.isNull }

    public func error(_ message: String) -> ConfigError {
        ConfigError(file: file, mark: node.mark, keyPath: keyPath, message: message)
    }

    private var kindName: String {
        if isNull { return "null" }
        switch node.content {
        case .scalar: return "a scalar"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }

    /// The node as a mapping whose keys must all be in `allowed`. An unknown key is an error at
    /// that key's position, with the keys that are allowed.
    public func mapping(allowing allowed: [String]) throws(ConfigError) -> ConfigMapping {
        if isNull { return ConfigMapping(owner: self, entries: [:]) }
        guard case .mapping(let entries) = node.content else {
            throw error("expected a mapping, found \(kindName)")
        }
        var result: [String: ConfigNode] = [:]
        for entry in entries {
            guard case .scalar(let key, _) = entry.key.content else {
                throw ConfigError(file: file, mark: entry.key.mark, keyPath: keyPath, message: "mapping keys must be plain strings")
            }
            let childPath = keyPath.isEmpty ? key : "\(keyPath).\(key)"
            guard allowed.contains(key) else {
                throw ConfigError(
                    file: file, mark: entry.key.mark, keyPath: childPath,
                    message: "unknown key '\(key)' (allowed here: \(allowed.joined(separator: ", ")))")
            }
            guard result[key] == nil else {
                throw ConfigError(file: file, mark: entry.key.mark, keyPath: childPath, message: "duplicate key '\(key)'")
            }
            result[key] = ConfigNode(node: entry.value, file: file, keyPath: childPath)
        }
        return ConfigMapping(owner: self, entries: result)
    }

    public func list() throws(ConfigError) -> [ConfigNode] {
        if isNull { return [] }
        guard case .sequence(let items) = node.content else {
            throw error("expected a list, found \(kindName)")
        }
        return items.enumerated().map { ConfigNode(node: $1, file: file, keyPath: "\(keyPath)[\($0)]") }
    }

    public func string() throws(ConfigError) -> String {
        guard case .scalar(let text, _) = node.content, !isNull else {
            throw error("expected a string, found \(kindName)")
        }
        return text
    }

    /// A string or a list of strings (`comm: nginx` or `comm: [nginx, openresty]`).
    public func stringList() throws(ConfigError) -> [String] {
        if case .scalar = node.content, !isNull { return [try string()] }
        var result: [String] = []
        for item in try list() { result.append(try item.string()) }
        return result
    }

    public func bool() throws(ConfigError) -> Bool {
        switch try string() {
        case "true": return true
        case "false": return false
        case let other: throw error("expected true or false, found '\(other)'")
        }
    }

    public func int(in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let text = try string()
        guard let value = Int(text) else { throw error("expected an integer, found '\(text)'") }
        guard range.contains(value) else {
            throw error("\(value) is out of range (\(range.lowerBound)…\(range.upperBound))")
        }
        return value
    }

    public func duration(atLeast minimum: Duration = .zero) throws(ConfigError) -> Duration {
        let text = try string()
        let value: Duration
        do {
            value = .milliseconds(try DurationParser.milliseconds(text.trimmingWhitespace))
        } catch .outOfRange {
            throw self.error("'\(text)' is out of range (at most 292 years)")
        } catch {
            throw self.error("'\(text)' is not a duration (\(DurationParser.examples))")
        }
        guard value >= minimum else { throw error("'\(text)' is shorter than the minimum \(DurationParser.format(minimum))") }
        return value
    }

    public func byteSize(allowPercent: Bool) throws(ConfigError) -> ByteSize {
        let text = try string()
        guard let value = ByteSize.parse(text) else {
            throw error("'\(text)' is not a size (examples: 512MiB, 1.5GiB, 100MB\(allowPercent ? ", 10%" : ""))")
        }
        if case .percentOfMemory = value, !allowPercent {
            throw error("a percentage is not allowed here; give an absolute size such as 512MiB")
        }
        return value
    }

    /// A secret: a literal, `${ENV_VAR}` references, or `file:/path`. The resolved value is never
    /// put into an error message.
    public func secret(environment: (String) -> String? = FileSystemAccess.environment) throws(ConfigError) -> Secret {
        let text = try string()
        do {
            return try Secret.resolve(text, environment: environment)
        } catch {
            throw self.error(error.message)
        }
    }

    /// A Redis URL whose password may come from `${ENV}` or `file:` like any secret.
    public func redisURL(environment: (String) -> String? = FileSystemAccess.environment) throws(ConfigError) -> RedisURL {
        let resolved = try secret(environment: environment).reveal()
        switch RedisURL.parse(resolved) {
        case .success(let url): return url
        case .failure(let failure): throw error("not a usable Redis URL: \(failure.message)")
        }
    }

    public func listenAddress() throws(ConfigError) -> ListenAddress {
        let text = try string()
        guard let address = ListenAddress(parsing: text) else {
            throw error("'\(text)' is not a listen address (examples: 127.0.0.1:9815, [::1]:9815, :9815)")
        }
        return address
    }
}

/// A validated mapping: look up known keys, each as a `ConfigNode` with its own path.
public struct ConfigMapping: Sendable {
    public let owner: ConfigNode
    let entries: [String: ConfigNode]

    public subscript(_ key: String) -> ConfigNode? {
        guard let node = entries[key], !node.isNull else { return nil }
        return node
    }

    public func required(_ key: String) throws(ConfigError) -> ConfigNode {
        guard let node = self[key] else { throw owner.error("missing required key '\(key)'") }
        return node
    }
}
