import MastiffCore

/// Assigns a process to the first configured group it matches (see `ProcessGroupSpec`).
public struct ProcessGroupMatcher: @unchecked Sendable {
    // Regex is not declared Sendable; these are compiled once and only read afterwards.
    private let groups: [(spec: ProcessGroupSpec, cmdline: Regex<AnyRegexOutput>?)]

    public init(groups: [ProcessGroupSpec]) {
        self.groups = groups.map { spec in
            // Patterns were validated when the configuration was loaded.
            (spec, spec.cmdline.flatMap { try? Regex($0) })
        }
    }

    public var groupNames: [String] { groups.map(\.spec.name) }

    /// Whether any group matches on the executable's path, which costs a readlink per process.
    public var needsExecutable: Bool { groups.contains { !$0.spec.exe.isEmpty } }

    public func group(comm: String, executableBasename: String?, cmdline: String) -> String? {
        for (spec, regex) in groups {
            if spec.comm.contains(comm) { return spec.name }
            if let executableBasename, spec.exe.contains(executableBasename) { return spec.name }
            if let regex, !cmdline.isEmpty, (try? regex.firstMatch(in: cmdline)) != nil { return spec.name }
        }
        return nil
    }
}
