/// What a section's keys may need besides their own node: where secrets come from, the host's
/// accounts, and values of other sections read before them (mastiff.yml is read top to bottom
/// in the order the sections declare their keys, so a later key sees an earlier one).
public struct ConfigContext {
    public var environment: (String) -> String?
    public var accounts: SystemAccounts
    /// The configuration file, against whose directory relative rule files are resolved.
    public var file: String
    /// `listen:`, which statsd's TCP listener must not share.
    public var httpListen = MastiffConfig().listen
    /// `collectors.timeout`, which bounds each probe's.
    public var collectorTimeout = CollectorSettings().timeout
    /// The process groups in matching order, which restart targets name.
    public var processGroups = ProcessCollectorSettings().effectiveGroups
    /// `collectors.postgres.dsn`, the database a backup dumps when it names none.
    public var collectorDSN: Secret?
    /// The receivers declared, which routes name.
    public var receiverNames: [String] = []

    public init(environment: @escaping (String) -> String?, accounts: SystemAccounts, file: String) {
        self.environment = environment
        self.accounts = accounts
        self.file = file
    }
}

/// One key of a mastiff.yml mapping, declared once: its name, whether it must be written, how
/// its node is read into the settings, and (for the docs check) the keys nested under it.
public struct ConfigKey<Settings>: Sendable {
    public typealias Read = @Sendable (inout Settings, ConfigNode, ConfigContext) throws(ConfigError) -> Void
    public let name: String
    let required: Bool
    let read: Read
    let nested: ConfigSchema?

    /// A key read by `read`; `nested` is the shape under it when it is a mapping or a list of them.
    public static func key(_ name: String, required: Bool = false, nested: ConfigSchema? = nil, _ read: @escaping Read) -> ConfigKey {
        ConfigKey(name: name, required: required, read: read, nested: nested)
    }

    /// A mapping read by its own section into `path`.
    public static func section<Child>(_ name: String, _ child: ConfigSection<Child>,
                                      at path: WritableKeyPath<Settings, Child> & Sendable) -> ConfigKey {
        .key(name, nested: child.schema) { settings, node, context throws(ConfigError) in
            try child.read(node, into: &settings[keyPath: path], context: context)
        }
    }
}

/// The keys of one mapping of mastiff.yml. Reading it refuses any key not declared here (at
/// that key's file:line:column, with the keys allowed), reads the declared ones in declaration
/// order, then runs `check` for rules that span keys. The same declaration gives the schema the
/// shipped-config test walks, so a key cannot be accepted and left undocumented.
public struct ConfigSection<Settings>: Sendable {
    public typealias Check = @Sendable (inout Settings, ConfigMapping, ConfigContext) throws(ConfigError) -> Void
    public let keys: [ConfigKey<Settings>]
    let before: Check?
    let check: Check?

    /// `before` runs on the mapping ahead of any key (e.g. "exactly one of"), `check` after all.
    public init(_ keys: [ConfigKey<Settings>], before: Check? = nil, check: Check? = nil) {
        self.keys = keys
        self.before = before
        self.check = check
    }

    public func read(_ node: ConfigNode, into settings: inout Settings, context: ConfigContext) throws(ConfigError) {
        let map = try node.mapping(allowing: keys.map(\.name))
        try before?(&settings, map, context)
        for key in keys {
            guard let child = map[key.name] else {
                if key.required { throw node.error("missing required key '\(key.name)'") }
                continue
            }
            try key.read(&settings, child, context)
        }
        try check?(&settings, map, context)
    }

    /// A fresh value read from `node`, starting from `initial`.
    public func value(_ node: ConfigNode, initial: Settings, context: ConfigContext) throws(ConfigError) -> Settings {
        var settings = initial
        try read(node, into: &settings, context: context)
        return settings
    }

    public var schema: ConfigSchema {
        ConfigSchema(keys: keys.map(\.name), children: keys.compactMap { key in key.nested.map { ConfigSchema.Child(key: key.name, schema: $0) } })
    }
}

/// The shape of a section: its keys and the sections nested under them. A key whose value is a
/// list of mappings has its item's shape (shown as `key[]`).
public struct ConfigSchema: Sendable {
    public struct Child: Sendable {
        public var key: String
        public var isList = false
        public var schema: ConfigSchema
    }

    public var keys: [String]
    public var children: [Child]

    public init(keys: [String], children: [Child] = []) {
        self.keys = keys
        self.children = children
    }

    /// The shape of a list whose items are this section.
    public var listItems: ConfigSchema { ConfigSchema(keys: [], children: [Child(key: "", isList: true, schema: self)]) }

    /// Every mapping's dotted path (`alerts.receivers[].webhook`) and its keys, this one first.
    public func sections(under path: String = "") -> [(section: String, keys: [String])] {
        var result: [(section: String, keys: [String])] = keys.isEmpty ? [] : [(path, keys)]
        for child in children {
            let childPath: String
            if child.key.isEmpty {
                childPath = path + "[]"
            } else {
                let dotted = path.isEmpty ? child.key : "\(path).\(child.key)"
                childPath = child.isList ? dotted + "[]" : dotted
            }
            for (section, keys) in child.schema.sections(under: childPath) { result.append((section, keys)) }
        }
        return result
    }
}

extension ConfigNode {
    /// Each item of a list of mappings read by `section` from `initial`; `name` gives an item's
    /// name, which must be unique (the error names `what`).
    public func items<Item>(_ section: ConfigSection<Item>, initial: Item, context: ConfigContext,
                            uniqueBy name: (Item) -> String, what: String) throws(ConfigError) -> [Item] {
        var result: [Item] = []
        var seen = Set<String>()
        for item in try list() {
            let value = try section.value(item, initial: initial, context: context)
            guard seen.insert(name(value)).inserted else { throw item.error("duplicate \(what) '\(name(value))'") }
            result.append(value)
        }
        return result
    }

    /// An absolute path; with `emptyMeans`, "" is allowed and read as nil.
    public func absolutePath(emptyMeans: String? = nil) throws(ConfigError) -> String? {
        let path = try string()
        if path.isEmpty, emptyMeans != nil { return nil }
        guard path.hasPrefix("/") else { throw error(emptyMeans.map { "must be an absolute path, or \"\" for \($0)" } ?? "must be an absolute path") }
        return path
    }

    /// One of `choices`, else an error listing them.
    public func choice(_ choices: [String], what: String = "value") throws(ConfigError) -> String {
        let text = try string()
        guard choices.contains(text) else { throw error("unknown \(what) '\(text)' (\(choices.joined(separator: ", ")))") }
        return text
    }

    /// The required `name` of a job, restart target or receiver: letters, digits, _ and - (it
    /// becomes a label value and a state-file key), at most `maxBytes` when given.
    public func identifierName(_ what: String, maxBytes: Int? = nil) throws(ConfigError) -> String {
        let name = try string()
        guard !name.isEmpty, name.utf8.count <= maxBytes ?? .max, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
            throw error("'\(name)' is not a usable \(what) name (letters, digits, _ and -)")
        }
        return name
    }

    /// A cron expression (or @daily, …), checked here so a typo is found at load.
    public func cron() throws(ConfigError) -> String {
        let text = try string()
        if let problem = CronSchedule.validate(text) { throw error(problem) }
        return text
    }

    /// A mapping whose keys are data (label names, header names, user names), each with its
    /// key's node (errors about the name) and its value's (errors about the value), in file
    /// order. Keys and values must be plain strings, and a key may appear once.
    public func stringPairs(_ expected: String) throws(ConfigError) -> [(keyNode: ConfigNode, valueNode: ConfigNode, name: String, value: String)] {
        if isNull { return [] }
        guard case .mapping(let entries) = node.content else { throw error("expected \(expected)") }
        var seen = Set<String>()
        var result: [(keyNode: ConfigNode, valueNode: ConfigNode, name: String, value: String)] = []
        for entry in entries {
            guard case .scalar(let name, _) = entry.key.content, case .scalar(let value, _) = entry.value.content else {
                throw error("expected \(expected)")
            }
            let childPath = keyPath.isEmpty ? name : "\(keyPath).\(name)"
            let keyNode = ConfigNode(node: entry.key, file: file, keyPath: childPath)
            guard seen.insert(name).inserted else { throw keyNode.error("duplicate key '\(name)'") }
            result.append((keyNode, ConfigNode(node: entry.value, file: file, keyPath: childPath), name, value))
        }
        return result
    }
}
