#if canImport(Glibc)
import Glibc
#endif
import MastiffCore

/// Assigns a process to the first configured group it matches (see `ProcessGroupSpec`).
///
/// `cmdline` patterns are POSIX extended regular expressions run by glibc's regexec: Swift's
/// Regex would add ~1.3 MiB of code to a daemon that counts every MiB
/// (docs/adr/0006-hide-symbols-in-release-builds.md).
public final class ProcessGroupMatcher: @unchecked Sendable {
    // Compiled once; regexec on a compiled pattern is thread-safe in glibc, and the patterns are
    // only read after init.
    private let groups: [(spec: ProcessGroupSpec, cmdline: UnsafeMutablePointer<regex_t>?)]

    public init(groups: [ProcessGroupSpec]) {
        self.groups = groups.map { spec in
            (spec, spec.cmdline.flatMap { POSIXRegex.compile($0) })
        }
    }

    deinit {
        for (_, regex) in groups {
            if let regex {
                regfree(regex)
                regex.deallocate()
            }
        }
    }

    public var groupNames: [String] { groups.map(\.spec.name) }

    /// Whether any group matches on the executable's path, which costs a readlink per process.
    public var needsExecutable: Bool { groups.contains { !$0.spec.exe.isEmpty } }

    /// Whether a group matches on the owner, which costs a read of /proc/PID/status.
    public var needsOwner: Bool { groups.contains { $0.spec.user != nil } }

    public func group(comm: String, executableBasename: String?, cmdline: String, ownerUID: UInt32? = nil) -> String? {
        for (spec, regex) in groups {
            if let user = spec.user, user.uid != ownerUID { continue }
            if spec.comm.contains(comm) { return spec.name }
            if let executableBasename, spec.exe.contains(executableBasename) { return spec.name }
            if let regex, !cmdline.isEmpty, regexec(regex, cmdline, 0, nil, 0) == 0 { return spec.name }
        }
        return nil
    }
}
