/// The `statsd:` section.
extension ConfigLoader {
    static func parseStatsd(_ node: ConfigNode, httpListen: ListenAddress) throws(ConfigError) -> StatsdSettings {
        let map = try node.mapping(allowing: ConfigKeys.statsd)
        var settings = StatsdSettings()
        if let enabled = map["enabled"] { settings.enabled = try enabled.bool() }
        // An empty string turns a listener off.
        func address(_ key: String) throws(ConfigError) -> ListenAddress?? {
            guard let node = map[key] else { return .none }
            if try node.string().isEmpty { return .some(nil) }
            return .some(try node.listenAddress())
        }
        if let udp = try address("udp") { settings.udp = udp }
        if let tcp = try address("tcp") {
            // Both would be TCP listeners on one port: whichever bound second would fail.
            if let tcp, tcp.port != 0, tcp.sharesPort(with: httpListen) {
                throw map["tcp"]!.error("\(tcp) is also the HTTP listen address (\(httpListen)); give statsd TCP another port")
            }
            settings.tcp = tcp
        }
        if let path = map["unixgram"] {
            let text = try path.string()
            guard text.isEmpty || text.hasPrefix("/") else { throw path.error("must be an absolute path, or \"\" for off") }
            settings.unixgram = text.isEmpty ? nil : text
        }
        if let size = map["max_packet_size"] {
            guard case .bytes(let bytes) = try size.byteSize(allowPercent: false), (512...(1 << 20)).contains(bytes) else {
                throw size.error("must be from 512 bytes to 1MiB")
            }
            settings.maxPacketSize = Int(bytes)
        }
        if let size = map["receive_buffer"] {
            guard case .bytes(let bytes) = try size.byteSize(allowPercent: false), (4096...(256 << 20)).contains(bytes) else {
                throw size.error("must be from 4KiB to 256MiB")
            }
            settings.receiveBuffer = Int(bytes)
        }
        if let timeout = map["tcp_idle_timeout"] { settings.tcpIdleTimeout = try timeout.duration(atLeast: .seconds(1)) }
        if let mapping = map["mapping"] {
            let text = try mapping.string()
            guard text.isEmpty || text.hasPrefix("/") else { throw mapping.error("must be an absolute path, or \"\" for the built-in Mastodon mapping") }
            settings.mappingFile = text.isEmpty ? nil : text
        }
        if let namespace = map["mastodon_namespace"] {
            let text = try namespace.string()
            let valid = !text.isEmpty && text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { field in
                (field.utf8.first?.isNameStartByte ?? false) && field.utf8.allSatisfy(\.isNameByte)
            }
            guard valid else { throw namespace.error("'\(text)' is not a statsd namespace (dot-separated names such as Mastodon.production)") }
            settings.mastodonNamespace = text
        }
        if let series = map["max_series"] { settings.maxSeries = try series.int(in: 1...10_000_000) }
        if let unmapped = map["unmapped"] {
            let text = try unmapped.string()
            guard ["escape", "escape_exact", "drop"].contains(text) else { throw unmapped.error("unknown value '\(text)' (escape, escape_exact, drop)") }
            settings.unmapped = text
        }
        if let size = map["mapping_cache_size"] { settings.mappingCacheSize = try size.int(in: 0...10_000_000) }
        if let suffix = map["counter_suffix"] {
            let text = try suffix.string()
            guard ["total", "as_mapped"].contains(text) else { throw suffix.error("unknown value '\(text)' (total, as_mapped)") }
            settings.counterSuffix = text
        }
        return settings
    }
}
