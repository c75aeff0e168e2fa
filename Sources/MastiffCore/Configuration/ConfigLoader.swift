/// Reads mastiff.yml strictly into a `MastiffConfig`.
public enum ConfigLoader {
    public static let defaultPath = "/etc/mastiff/mastiff.yml"
    /// Larger configuration files are refused whole (never cut and half-read).
    public static let maxFileSize = 1 << 20

    /// Where the configuration comes from: `--config`, then `MASTIFF_CONFIG`, then the default
    /// path if that file exists, else the embedded defaults.
    public enum Source: Sendable, Equatable, CustomStringConvertible {
        case file(String)
        case embeddedDefaults

        public static func resolve(explicitPath: String?, environment: (String) -> String? = FileSystemAccess.environment,
                                   fileExists: (String) -> Bool = FileSystemAccess.fileExists) -> Source {
            if let explicitPath { return .file(explicitPath) }
            if let fromEnvironment = environment("MASTIFF_CONFIG"), !fromEnvironment.isEmpty { return .file(fromEnvironment) }
            if fileExists(defaultPath) { return .file(defaultPath) }
            return .embeddedDefaults
        }

        public var description: String {
            switch self {
            case .file(let path): return path
            case .embeddedDefaults: return "embedded defaults"
            }
        }
    }

    public static func load(_ source: Source, environment: @escaping (String) -> String? = FileSystemAccess.environment,
                            accounts: SystemAccounts = .host) throws(ConfigError) -> MastiffConfig {
        switch source {
        case .embeddedDefaults:
            return MastiffConfig()
        case .file(let path):
            let text: String
            do {
                text = try FileSystemAccess.readRegularFile(path, limit: maxFileSize)
            } catch {
                throw ConfigError(unreadable: path, error)
            }
            return try parse(text, file: path, environment: environment, accounts: accounts)
        }
    }

    /// `accounts` resolves the `user:` of process groups and restart targets (the host's by default).
    public static func parse(_ text: String, file: String, environment: @escaping (String) -> String? = FileSystemAccess.environment,
                             accounts: SystemAccounts = .host) throws(ConfigError) -> MastiffConfig {
        let root = try ConfigNode.parse(text, file: file)
        let context = ConfigContext(environment: environment, accounts: accounts, file: file)
        return try MastiffConfig.section.value(root, initial: MastiffConfig(), context: context)
    }

    /// Every mapping of mastiff.yml by its dotted path, with the keys it accepts: what the
    /// shipped-config test checks etc/mastiff.yml documents.
    public static var schema: [(section: String, keys: [String])] { MastiffConfig.section.schema.sections() }
}
