import MastiffCore

/// What `mastiff init` found on a Mastodon host: its environment file, its systemd units, the
/// instance's contact address. Gathered by the command; `InitialConfiguration` decides from it.
public struct MastodonInstallation: Sendable, Equatable {
    public var envFile: String
    /// The environment file's variables; nil when it could not be read (`envProblem` says why).
    public var env: [String: String]?
    public var envProblem: String?
    public var systemdDirectory: String
    /// Unit files whose name starts with `mastodon`, by name, their drop-ins appended.
    public var units: [String: String] = [:]
    /// Enabled instances of template units (`mastodon-streaming@4000.service`), from the
    /// `*.wants/` directories.
    public var enabledInstances: [String] = []
    public var unitsProblem: String?
    /// The instance's contact address (`site_contact_email` in Mastodon's settings table).
    public var contactEmail: String?
    public var databaseProblem: String?
    /// Mastodon's version from lib/mastodon/version.rb ("4.4.0").
    public var version: String?
    /// The accounts this host has, of those the units name (and `mastodon`).
    public var existingAccounts: Set<String> = []

    public init(envFile: String, systemdDirectory: String) {
        self.envFile = envFile
        self.systemdDirectory = systemdDirectory
    }

    /// The value of `key` in the environment file, when set and not empty.
    public func value(_ key: String) -> String? {
        guard let value = env?[key], !value.isEmpty else { return nil }
        return value
    }

    /// `key=` settings of a unit's [Service] section (`User`, `ExecStart`, `Environment`), the last
    /// one winning as in systemd.
    public static func setting(_ key: String, in unit: String) -> String? {
        unit.split(separator: "\n").last { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)).trimmingWhitespace }
    }

    /// The units that run Sidekiq, Puma and the streaming server, by what their ExecStart runs.
    public var sidekiqUnits: [String] { units.keys.filter { Self.setting("ExecStart", in: units[$0]!)?.contains("sidekiq") == true }.sorted() }
    public var webUnits: [String] { units.keys.filter { Self.setting("ExecStart", in: units[$0]!)?.contains("puma") == true }.sorted() }
    public var streamingUnits: [String] {
        units.keys.filter { name in
            let exec = Self.setting("ExecStart", in: units[name]!) ?? ""
            return exec.contains("node") && exec.contains("streaming")
        }.sorted()
    }

    /// The account Mastodon's units run as (`User=`), `mastodon` when none says.
    public var account: String {
        for name in sidekiqUnits + webUnits + streamingUnits {
            if let user = Self.setting("User", in: units[name]!), !user.isEmpty { return user }
        }
        return "mastodon"
    }

    /// "4.4.0" from lib/mastodon/version.rb's `def major` / `def minor` / `def patch`.
    public static func version(fromVersionFile text: String) -> String? {
        func number(after definition: String) -> String? {
            guard let range = text.firstRange(of: "def \(definition)") else { return nil }
            let digits = text[range.upperBound...].drop { !$0.isNumber }.prefix { $0.isNumber }
            return digits.isEmpty ? nil : String(digits)
        }
        guard let major = number(after: "major"), let minor = number(after: "minor") else { return nil }
        return "\(major).\(minor).\(number(after: "patch") ?? "0")"
    }
}
