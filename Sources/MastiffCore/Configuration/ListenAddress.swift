/// `host:port` for a listening socket. `:9815` listens on every interface; IPv6 hosts are written
/// in brackets (`[::1]:9815`).
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Whether two TCP listeners on these addresses would claim the same port: the same port on
    /// the same host, or on a wildcard host, which takes the port on every address.
    public func sharesPort(with other: ListenAddress) -> Bool {
        guard port == other.port else { return false }
        let wildcards: Set<String> = ["0.0.0.0", "::", ""]
        return host == other.host || wildcards.contains(host) || wildcards.contains(other.host)
    }

    public init?(parsing text: String) {
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            guard after.hasPrefix(":") else { return nil }
            portPart = after.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") { return nil }
        }
        guard let port = Int(portPart), (0...65535).contains(port) else { return nil }
        self.host = hostPart.isEmpty ? "0.0.0.0" : String(hostPart)
        self.port = port
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
