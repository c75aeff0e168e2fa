import Glibc
import MastiffClients
import MastiffCore
import MastiffPolicies

/// `mastiff init`: reads a Mastodon installation (MastodonInstallation), lets
/// InitialConfiguration decide the configuration, and writes it with its secret files — or
/// prints it with --dry-run. Never prints a secret; never replaces a file without --force.
struct InitCommand {
    let arguments: CommandLineArguments

    static let defaultMastodonDirectory = "/home/mastodon/live"
    static let defaultSystemdDirectory = "/etc/systemd/system"
    /// The package's pristine copy of /etc/mastiff/mastiff.yml (scripts/package.sh).
    static let packagedDefault = "/usr/share/mastiff/mastiff.yml"

    var configPath: String { arguments.configPath ?? ConfigLoader.defaultPath }
    var mastodonDirectory: String { arguments.mastodonDirectory ?? Self.defaultMastodonDirectory }

    func run() async -> Int32 {
        let installation = await gather()
        let directory = configPath.contains("/") ? String(configPath[..<configPath.lastIndex(of: "/")!]) : "."
        let secretsDirectory = (directory.isEmpty ? "" : directory) + "/secrets"
        let plan = InitialConfiguration.plan(installation, secretsDirectory: secretsDirectory, writtenAt: CalendarTime.utc(Double(time(nil))).rfc3339)
        for note in plan.notes { say(note) }
        if arguments.dryRun {
            print(plan.text, terminator: "")
            if !plan.secretFiles.isEmpty {
                say("dry run: nothing written; without --dry-run the secrets go to " + plan.secretFiles.map(\.path).joined(separator: ", "))
            }
            return 0
        }
        var replacing = arguments.force
        if !replacing, FileSystemAccess.fileExists(configPath) {
            // The package installs its default; init replaces it while no one has edited it.
            guard let existing = try? FileSystemAccess.readRegularFile(configPath, limit: ConfigLoader.maxFileSize),
                  let packaged = try? FileSystemAccess.readRegularFile(Self.packagedDefault, limit: ConfigLoader.maxFileSize), existing == packaged else {
                say("\(configPath) exists: not replaced (--force replaces it and its secret files; --dry-run shows what would be written)")
                return 1
            }
            say("\(configPath) is the packaged default, unedited: replaced")
            replacing = true
        }
        // The agent's account reads the secrets; root is the owner otherwise.
        let agent = SystemAccounts.host.uid("mastiff")
        do {
            if !plan.secretFiles.isEmpty { try Self.makeDirectory(secretsDirectory, mode: 0o700, owner: agent) }
            for secret in plan.secretFiles {
                try Self.write(secret.contents.reveal(), to: secret.path, mode: 0o600, owner: agent, replacing: replacing)
                say("wrote \(secret.path) (0600): \(secret.what)")
            }
            try Self.write(plan.text, to: configPath, mode: 0o640, owner: nil, group: agent.flatMap(Self.primaryGroup), replacing: replacing)
        } catch {
            say("cannot write: \(error)")
            return 1
        }
        say("wrote \(configPath)")
        do {
            _ = try ConfigLoader.load(.file(configPath))
            say("check-config: \(configPath) is valid. Next: mastiff doctor, then systemctl reload mastiff (or enable --now) and open the status page.")
            return 0
        } catch {
            say("check-config: \(error)")
            return 1
        }
    }

    private func say(_ line: String) { StderrLogHandler.writeToStderr("init: \(line.escapingControlCharacters)\n") }

    func gather() async -> MastodonInstallation {
        let envFile = arguments.envFile ?? mastodonDirectory + "/.env.production"
        let systemdDirectory = arguments.systemdDirectories.first ?? Self.defaultSystemdDirectory
        var installation = MastodonInstallation(envFile: envFile, systemdDirectory: systemdDirectory)
        do {
            let text = try FileSystemAccess.readRegularFile(envFile, limit: 1 << 20)
            if text.utf8.contains(0) || text.unicodeScalars.contains("\u{FFFD}") {
                installation.envProblem = "holds binary data, not KEY=value lines"
            } else {
                installation.env = DotEnv.parse(text)
            }
        } catch {
            installation.envProblem = error.description
        }
        if let text = try? FileSystemAccess.readRegularFile(mastodonDirectory + "/lib/mastodon/version.rb", limit: 64 << 10) {
            installation.version = MastodonInstallation.version(fromVersionFile: text)
        }
        do {
            let names = try FileSystemAccess.listDirectory(systemdDirectory).sorted()
            for name in names where name.hasPrefix("mastodon") && name.hasSuffix(".service") {
                guard var text = try? FileSystemAccess.readRegularFile(systemdDirectory + "/" + name, limit: 1 << 20) else { continue }
                for dropIn in ((try? FileSystemAccess.listDirectory(systemdDirectory + "/" + name + ".d")) ?? []).sorted() where dropIn.hasSuffix(".conf") {
                    text += "\n" + ((try? FileSystemAccess.readRegularFile(systemdDirectory + "/" + name + ".d/" + dropIn, limit: 1 << 20)) ?? "")
                }
                installation.units[name] = text
            }
            for wants in names where wants.hasSuffix(".wants") {
                for name in ((try? FileSystemAccess.listDirectory(systemdDirectory + "/" + wants)) ?? []) where name.hasPrefix("mastodon") && name.contains("@") && !name.contains("@.") {
                    if !installation.enabledInstances.contains(name) { installation.enabledInstances.append(name) }
                }
            }
            installation.enabledInstances.sort()
        } catch {
            installation.unitsProblem = error.description
        }
        for account in Set([installation.account, "mastodon"]) where SystemAccounts.host.uid(account) != nil {
            installation.existingAccounts.insert(account)
        }
        if installation.env != nil {
            let (conninfo, password, _) = InitialConfiguration.postgres(installation)
            let dsn = password.map { ConnectionStringParts.adding("password", $0, to: conninfo) } ?? conninfo
            do {
                let connection = try await PostgresConnection.connect(Secret(dsn), timeoutSeconds: 3)
                let rows = try await connection.query("SELECT value FROM settings WHERE var = 'site_contact_email' AND thing_type IS NULL")
                // Mastodon keeps settings as YAML: "--- admin@example.social\n", "--- 'x'\n".
                if let value = rows.first?[0] {
                    var text = value.hasPrefix("---") ? String(value.dropFirst(3)) : value
                    text = text.trimmingWhitespace
                    if text.count >= 2, let first = text.first, first == "'" || first == "\"", text.last == first { text = String(text.dropFirst().dropLast()) }
                    if text.contains("@"), !text.contains(" "), !text.contains(where: { $0.isNewline }) { installation.contactEmail = text }
                }
                if installation.contactEmail == nil { installation.databaseProblem = "site_contact_email is not set in the instance's settings" }
            } catch {
                installation.databaseProblem = "\(error)"
            }
        }
        return installation
    }

    static func primaryGroup(_ uid: UInt32) -> UInt32? { getpwuid(uid).map { $0.pointee.pw_gid } }

    static func makeDirectory(_ path: String, mode: mode_t, owner: UInt32?) throws(StateStore.WriteError) {
        if mkdir(path, mode) != 0 && errno != EEXIST { throw StateStore.WriteError(description: "\(path): \(String(cString: strerror(errno)))") }
        var status = stat()
        guard lstat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else { throw StateStore.WriteError(description: "\(path): not a directory") }
        if let owner, geteuid() == 0 { _ = chown(path, owner, primaryGroup(owner) ?? 0) }
    }

    /// A new file under a temporary name (mkstemp: O_EXCL, never through a planted link), its
    /// mode and owner set before the contents are in place, then linked to `path` (which fails
    /// if `path` exists) or, when replacing, renamed over it.
    static func write(_ text: String, to path: String, mode: mode_t, owner: UInt32?, group: UInt32? = nil, replacing: Bool) throws(StateStore.WriteError) {
        let (fd, temporary) = try StateStore.createUniqueFile(path + ".init")
        defer { unlink(temporary) }
        fchmod(fd, mode)
        if geteuid() == 0, owner != nil || group != nil { _ = fchown(fd, owner ?? 0, group ?? owner.flatMap(primaryGroup) ?? 0) }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                close(fd)
                throw StateStore.WriteError(description: "\(path): \(String(cString: strerror(errno)))")
            }
            written += count
        }
        fsync(fd)
        close(fd)
        if replacing {
            guard rename(temporary, path) == 0 else { throw StateStore.WriteError(description: "\(path): \(String(cString: strerror(errno)))") }
        } else {
            guard link(temporary, path) == 0 else {
                throw StateStore.WriteError(description: errno == EEXIST ? "\(path) exists (--force replaces it)" : "\(path): \(String(cString: strerror(errno)))")
            }
        }
    }
}
