import Glibc
import MastiffClients
import MastiffCore

/// The session whose snapshot pg_dump dumps: a `psql` child that opens a repeatable-read
/// transaction, exports its snapshot and keeps it open until the dump has ended. A child rather
/// than libpq in mastiff's own process, so that a backup does not map libpq's library tree
/// (Kerberos, LDAP, GnuTLS: ~2.5 MiB resident) beside its part buffers.
final class SnapshotSession: @unchecked Sendable {
    let child: ChildProcess
    private var pending: [UInt8] = []
    private static let marker = "__mastiff_end_of_answer__"
    /// Kept until the session ends: psql reads its service file when it connects.
    private let credentials: PostgresToolCredentials

    private init(child: ChildProcess, credentials: PostgresToolCredentials) {
        self.child = child
        self.credentials = credentials
    }

    /// psql from the newest client installed (psql reads older servers).
    static func open(conninfo: Secret, toolsRoot: String) async throws(BackupError) -> SnapshotSession {
        guard let newest = PostgresTools.installedMajors(root: toolsRoot).last else {
            throw BackupError("no PostgreSQL client tools under \(toolsRoot) (Debian: apt install postgresql-client)")
        }
        let credentials = try PostgresToolCredentials(conninfo)
        let dsn = credentials.conninfo
        var options = ChildProcess.Options()
        options.captureStdout = true
        options.pipeStdin = true
        options.environment = credentials.environment
        options.environment["PGCONNECT_TIMEOUT"] = "10"
        options.environment["PGAPPNAME"] = "mastiff backup"
        let child: ChildProcess
        do {
            child = try ChildProcess(["\(toolsRoot)/\(newest)/bin/psql", "--no-psqlrc", "--quiet", "--no-align", "--tuples-only",
                                      "--set=ON_ERROR_STOP=1", "--dbname=\(dsn)"], options: options)
        } catch {
            credentials.remove()
            throw BackupError(error.description)
        }
        signal(SIGPIPE, SIG_IGN)
        return SnapshotSession(child: child, credentials: credentials)
    }

    /// Runs `sql` and returns its output lines (one row per line, columns separated by `|`).
    func query(_ sql: String, secrets: [String]) async throws(BackupError) -> [String] {
        let text = sql + ";\n\\echo \(Self.marker)\n"
        let fd = child.stdin
        let written = text.utf8CString.withUnsafeBytes { write(fd, $0.baseAddress, $0.count - 1) }
        guard written == text.utf8.count else { throw await failure(secrets) }
        var lines: [String] = []
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeFirst(newline + 1)
                if line == Self.marker { return lines }
                lines.append(line)
                continue
            }
            let child = self.child
            let chunk = (try? await BlockingWork.run { () -> [UInt8] in
                var buffer = [UInt8](repeating: 0, count: 4096)
                let got = buffer.withUnsafeMutableBytes { (try? child.readStdout(into: $0)) ?? 0 }
                return Array(buffer[0..<got])
            }) ?? []
            guard !chunk.isEmpty else { throw await failure(secrets) }
            pending += chunk
        }
    }

    /// psql ended or refused: its message, without secrets.
    private func failure(_ secrets: [String]) async -> BackupError {
        child.closeStdin()
        _ = await child.wait()
        let message = Redaction.clean(Redaction.remove(secrets, from: child.stderrText.trimmingWhitespace))
        return BackupError(message.isEmpty ? "psql ended unexpectedly" : message)
    }

    /// Ends the transaction (releasing the snapshot) and psql.
    func close() async {
        let text = "COMMIT;\n\\q\n"
        _ = text.utf8CString.withUnsafeBytes { write(child.stdin, $0.baseAddress, $0.count - 1) }
        child.closeStdin()
        _ = await child.wait()
        credentials.remove()
    }
}
