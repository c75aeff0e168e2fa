#if canImport(Glibc)
import Glibc
#endif

/// The host's user accounts, as the configuration needs them: a `user:` resolved to its uid when
/// the file is loaded, so that `check-config` names an account the host does not have. Injected
/// so that tests describe the accounts they need.
public struct SystemAccounts: Sendable {
    /// The uid of an account name (nil: no such account).
    public var uid: @Sendable (String) -> UInt32?
    /// The account mastiff runs as.
    public var effectiveUID: UInt32

    public init(effectiveUID: UInt32, uid: @escaping @Sendable (String) -> UInt32?) {
        self.uid = uid
        self.effectiveUID = effectiveUID
    }

    /// /etc/passwd (and whatever NSS adds) through getpwnam_r.
    public static let host = SystemAccounts(effectiveUID: geteuid()) { name in
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 << 10)
        guard getpwnam_r(name, &entry, &buffer, buffer.count, &found) == 0, found != nil else { return nil }
        return entry.pw_uid
    }

    /// `name` as an account: a name the host knows, or a numeric uid (containers' users often
    /// have no name on the host: Mastodon's images run as 991).
    public func owner(_ name: String) -> ProcessOwner? {
        if !name.isEmpty, name.allSatisfy({ $0.isASCII && $0.isNumber }), let number = UInt32(name) { return ProcessOwner(name: name, uid: number) }
        return uid(name).map { ProcessOwner(name: name, uid: $0) }
    }
}

/// The account a process runs as: its real and effective uid both equal `uid`.
public struct ProcessOwner: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var uid: UInt32
    public init(name: String, uid: UInt32) {
        self.name = name
        self.uid = uid
    }

    public var description: String { name == String(uid) ? "uid \(uid)" : "\(name) (uid \(uid))" }

    /// The account a process runs as, from its /proc/PID/status `Uid:` line (real, effective,
    /// saved, filesystem uid): the real uid when the effective one is the same, nil otherwise (a
    /// process between a setuid and its exec is nobody's yet) or when the line is missing.
    /// Not /proc/PID's owner, which any process makes root by clearing its dumpable flag.
    public static func uid(fromStatus bytes: [UInt8]) -> UInt32? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }) else { return nil }
        let ids = line.dropFirst(4).split(whereSeparator: { $0 == "\t" || $0 == " " }).prefix(2).map { UInt32($0) }
        guard ids.count == 2, let real = ids[0], real == ids[1] else { return nil }
        return real
    }
}
