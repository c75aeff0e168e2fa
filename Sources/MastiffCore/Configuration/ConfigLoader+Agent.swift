import Logging

/// The agent's own sections: `log:`, `sampling:` and `alerts:`.
extension ConfigLoader {
    static func parseLog(_ node: ConfigNode) throws(ConfigError) -> LogSettings {
        let map = try node.mapping(allowing: ConfigKeys.log)
        var log = LogSettings()
        if let level = map["level"] {
            let text = try level.string()
            guard let parsed = Logger.Level(rawValue: text) else {
                throw level.error("unknown level '\(text)' (trace, debug, info, notice, warning, error, critical)")
            }
            log.level = parsed
        }
        if let format = map["format"] {
            let text = try format.string()
            guard let parsed = LogSettings.Format(rawValue: text) else { throw format.error("unknown format '\(text)' (text, json)") }
            log.format = parsed
        }
        return log
    }

    static func parseSampling(_ node: ConfigNode) throws(ConfigError) -> SamplingSettings {
        let map = try node.mapping(allowing: ConfigKeys.sampling)
        var settings = SamplingSettings()
        if let interval = map["interval"] { settings.interval = try interval.duration(atLeast: .seconds(1)) }
        if let limit = map["history_limit"] {
            guard case .bytes(let bytes) = try limit.byteSize(allowPercent: false), bytes <= 1 << 30 else {
                throw limit.error("must be a size up to 1GiB (0 keeps no history)")
            }
            settings.historyLimit = Int(bytes)
        }
        return settings
    }

    static func parseAlerts(_ node: ConfigNode) throws(ConfigError) -> AlertSettings {
        let map = try node.mapping(allowing: ConfigKeys.alerts)
        var settings = AlertSettings()
        if let interval = map["interval"] { settings.interval = try interval.duration(atLeast: .seconds(1)) }
        if let builtin = map["builtin"] { settings.builtin = try builtin.bool() }
        if let files = map["rule_files"] {
            for item in try files.list() {
                let pattern = try item.string()
                guard !pattern.isEmpty else { throw item.error("a rule file pattern must not be empty") }
                settings.ruleFiles.append(pattern)
            }
        }
        if let disable = map["disable"] {
            for item in try disable.list() {
                let name = try item.string()
                settings.disable.append(name)
                settings.disableLocations[name] = "\(item.file):\(item.mark): \(item.keyPath)"
            }
        }
        if let labels = map["external_labels"] {
            guard case .mapping(let entries) = labels.node.content else { throw labels.error("expected a mapping of label names to values") }
            for entry in entries {
                guard case .scalar(let name, _) = entry.key.content, case .scalar(let value, _) = entry.value.content else {
                    throw labels.error("expected label names and string values")
                }
                guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic),
                      name.unicodeScalars.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }) else {
                    throw ConfigError(file: labels.file, mark: entry.key.mark, keyPath: labels.keyPath, message: "'\(name)' is not a label name")
                }
                settings.externalLabels.append(Label(name, value))
            }
            settings.externalLabels.sort { $0.name < $1.name }
        }
        if let node = map["max_series"] { settings.maxSeries = try node.int(in: 1...1_000_000) }
        try parseNotifications(map, into: &settings)
        return settings
    }
}
