import MastiffCore

extension StatsdMapping {
    /// The mapping `settings` name: the file in `statsd.mapping`, else the built-in Mastodon
    /// mapping with `statsd.mastodon_namespace`.
    public static func load(_ settings: StatsdSettings) throws(ConfigError) -> StatsdMapping {
        if let path = settings.mappingFile { return try load(path: path) }
        return try parse(MastodonStatsdMapping.text(namespace: settings.mastodonNamespace), file: "(built-in Mastodon statsd mapping)")
    }
}

extension StatsdBridge {
    public convenience init(settings: StatsdSettings, mapping: StatsdMapping, clock: any WallClock = SystemWallClock()) {
        self.init(mapping: mapping, maxSeries: settings.maxSeries, unmapped: UnmappedNames(rawValue: settings.unmapped) ?? .escape,
                  cacheCapacity: settings.mappingCacheSize, appendTotalToCounters: settings.counterSuffix != "as_mapped", clock: clock)
    }
}
