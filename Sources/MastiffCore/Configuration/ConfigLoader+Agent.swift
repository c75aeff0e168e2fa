import Logging

/// The agent's own sections: `log:` and `sampling:`.
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
}
