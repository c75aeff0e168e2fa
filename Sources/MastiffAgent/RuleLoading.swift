#if canImport(Glibc)
import Glibc
#endif
import MastiffCore
import MastiffPolicies
import MastiffPromQL

/// The rule groups a configuration names: the built-in file (alerts.builtin), then the files
/// alerts.rule_files' globs match, in sorted order, without the alerts alerts.disable names.
/// Every problem is a `ConfigError` at its file:line:column, so `check-config`, start-up and
/// SIGHUP refuse a bad rule file the same way.
public enum RuleLoading {
    public static func load(_ settings: AlertSettings) throws(ConfigError) -> [RuleGroup] {
        var groups: [RuleGroup] = []
        if settings.builtin {
            groups += try RuleFileLoader.load(text: BuiltinRules.shipped, file: BuiltinRules.fileName)
        }
        for pattern in settings.ruleFiles {
            for path in expand(pattern) {
                let text: String
                do {
                    text = try FileSystemAccess.readRegularFile(path, limit: 4 << 20)
                } catch {
                    throw ConfigError(unreadable: path, error)
                }
                groups += try RuleFileLoader.load(text: text, file: path)
            }
        }
        var seen: [String: String] = [:]
        for group in groups {
            if let other = seen[group.name] {
                throw ConfigError(file: group.file, mark: SourceMark(line: 0, column: 0), keyPath: "",
                                  message: "rule group '\(group.name)' is defined in both \(other) and \(group.file); group names must be unique")
            }
            seen[group.name] = group.file
        }
        let alertNames = Set(groups.flatMap(\.rules).filter(\.isAlert).map(\.name))
        for name in settings.disable where !alertNames.contains(name) {
            let location = settings.disableLocations[name] ?? "alerts.disable"
            throw ConfigError(file: "", mark: SourceMark(line: 0, column: 0), keyPath: "",
                              message: "\(location): no loaded alerting rule is named '\(name)' (loaded: \(alertNames.sorted().joined(separator: ", ")))")
        }
        // Receivers' message templates are Go templates like the rules': checked here, with them.
        for receiver in settings.receivers {
            for (key, text) in [("title", receiver.title), ("text", receiver.text)] {
                guard let text else { continue }
                do {
                    _ = try AlertTemplate(text)
                } catch {
                    throw ConfigError(file: "", mark: SourceMark(line: 0, column: 0), keyPath: "",
                                      message: "\(receiver.templateLocations[key] ?? "alerts.receivers"): template: \(error.message) (at character \(error.offset + 1))")
                }
            }
        }
        let disabled = Set(settings.disable)
        return groups.map { group in
            var kept = group
            kept.rules = group.rules.filter { !($0.isAlert && disabled.contains($0.name)) }
            return kept
        }
    }

    /// The paths a glob matches, sorted; a pattern without wildcards is returned as it is, so
    /// that a missing file is reported as missing.
    static func expand(_ pattern: String) -> [String] {
        guard pattern.contains(where: { "*?[".contains($0) }) else { return [pattern] }
        var result = glob_t()
        defer { globfree(&result) }
        guard glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { index in result.gl_pathv[index].map { String(cString: $0) } }.sorted()
    }
}
