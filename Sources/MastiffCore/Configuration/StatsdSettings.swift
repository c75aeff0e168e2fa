/// The statsd bridge (Mastodon ≤ 4.2 and any statsd client).
public struct StatsdSettings: Sendable, Equatable {
    public var enabled = true
    /// nil: that listener is off.
    public var udp: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 8125)
    public var tcp: ListenAddress?
    public var unixgram: String?
    public var maxPacketSize = 65_535
    public var receiveBuffer = 4 << 20
    /// A TCP connection silent for this long is closed.
    public var tcpIdleTimeout: Duration = .seconds(300)
    /// A statsd_exporter mapping file; nil: the built-in Mastodon mapping
    /// (etc/statsd-mapping-mastodon.yml) with `mastodonNamespace`.
    public var mappingFile: String?
    /// Mastodon's STATSD_NAMESPACE, substituted into the built-in mapping.
    public var mastodonNamespace = "Mastodon.production"
    public var maxSeries = 10_000
    /// escape, escape_exact or drop (see UnmappedNames).
    public var unmapped = "escape"
    public var mappingCacheSize = 10_000
    /// `total`: counters get `_total` appended when their name lacks it (promtool's rule);
    /// `as_mapped`: the name as the mapping gives it, as statsd_exporter exposes it.
    public var counterSuffix = "total"
    public init() {}
}

extension StatsdSettings {
    /// `statsd:`.
    public static let section = ConfigSection<StatsdSettings>([
        .key("enabled") { settings, node, _ throws(ConfigError) in settings.enabled = try node.bool() },
        .key("udp") { settings, node, _ throws(ConfigError) in settings.udp = try node.listenerAddress() },
        .key("tcp") { settings, node, context throws(ConfigError) in
            let tcp = try node.listenerAddress()
            // Both would be TCP listeners on one port: whichever bound second would fail.
            if let tcp, tcp.port != 0, tcp.sharesPort(with: context.httpListen) {
                throw node.error("\(tcp) is also the HTTP listen address (\(context.httpListen)); give statsd TCP another port")
            }
            settings.tcp = tcp
        },
        .key("unixgram") { settings, node, _ throws(ConfigError) in settings.unixgram = try node.absolutePath(emptyMeans: "off") },
        .key("max_packet_size") { settings, node, _ throws(ConfigError) in
            guard case .bytes(let bytes) = try node.byteSize(allowPercent: false), (512...(1 << 20)).contains(bytes) else {
                throw node.error("must be from 512 bytes to 1MiB")
            }
            settings.maxPacketSize = Int(bytes)
        },
        .key("receive_buffer") { settings, node, _ throws(ConfigError) in
            guard case .bytes(let bytes) = try node.byteSize(allowPercent: false), (4096...(256 << 20)).contains(bytes) else {
                throw node.error("must be from 4KiB to 256MiB")
            }
            settings.receiveBuffer = Int(bytes)
        },
        .key("tcp_idle_timeout") { settings, node, _ throws(ConfigError) in settings.tcpIdleTimeout = try node.duration(atLeast: .seconds(1)) },
        .key("mapping") { settings, node, _ throws(ConfigError) in settings.mappingFile = try node.absolutePath(emptyMeans: "the built-in Mastodon mapping") },
        .key("mastodon_namespace") { settings, node, _ throws(ConfigError) in
            let text = try node.string()
            let valid = !text.isEmpty && text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { field in
                (field.utf8.first?.isNameStartByte ?? false) && field.utf8.allSatisfy(\.isNameByte)
            }
            guard valid else { throw node.error("'\(text)' is not a statsd namespace (dot-separated names such as Mastodon.production)") }
            settings.mastodonNamespace = text
        },
        .key("max_series") { settings, node, _ throws(ConfigError) in settings.maxSeries = try node.int(in: 1...10_000_000) },
        .key("unmapped") { settings, node, _ throws(ConfigError) in settings.unmapped = try node.choice(["escape", "escape_exact", "drop"]) },
        .key("mapping_cache_size") { settings, node, _ throws(ConfigError) in settings.mappingCacheSize = try node.int(in: 0...10_000_000) },
        .key("counter_suffix") { settings, node, _ throws(ConfigError) in settings.counterSuffix = try node.choice(["total", "as_mapped"]) },
    ])
}

private extension ConfigNode {
    /// A listener's address; "" turns it off (nil).
    func listenerAddress() throws(ConfigError) -> ListenAddress? {
        try string().isEmpty ? nil : try listenAddress()
    }
}
