import Glibc
import MastiffCore

/// How pg_dump, pg_restore and psql get a connection string with no secret on their command
/// line, where every local user can read it (/proc/PID/cmdline): the password goes in
/// PGPASSWORD (the child's environment, readable only by its own user and root), and secrets
/// libpq takes from no environment variable (`sslpassword`) go in a connection service file,
/// 0600 in a private directory (mkdtemp, 0700), named by PGSERVICEFILE and removed by `remove()`.
struct PostgresToolCredentials {
    /// For `--dbname=`.
    let conninfo: String
    /// For the child's environment.
    let environment: [String: String]
    private let serviceDirectory: String?

    static let serviceName = "mastiff"

    init(_ conninfo: Secret) throws(BackupError) {
        let (dsn, secrets) = ConnectionStringParts.splitSecrets(conninfo.reveal())
        var environment: [String: String] = [:]
        if let password = secrets["password"] { environment["PGPASSWORD"] = password }
        let rest = secrets.filter { $0.key != "password" }
        guard !rest.isEmpty else {
            self.conninfo = dsn
            self.environment = environment
            serviceDirectory = nil
            return
        }
        guard rest.values.allSatisfy({ !$0.unicodeScalars.contains(where: \.isControlCharacter) }) else {
            throw BackupError("the connection string's secret parameters hold a control character")
        }
        let parent = FileSystemAccess.environment("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let (directory, path, fd) = try PostgresRestore.privateFile(in: parent, prefix: "mastiff-pgservice", name: "pg_service.conf")
        let text = Array((["[\(Self.serviceName)]"] + rest.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }).joined(separator: "\n").utf8 + [0x0A])
        let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == text.count else {
            unlink(path)
            rmdir(directory)
            throw BackupError("cannot write \(path)")
        }
        environment["PGSERVICEFILE"] = path
        self.conninfo = ConnectionStringParts.adding("service", Self.serviceName, to: dsn)
        self.environment = environment
        serviceDirectory = directory
    }

    /// Removes the service file, once the tool has connected (or exited).
    func remove() {
        guard let serviceDirectory else { return }
        unlink(serviceDirectory + "/pg_service.conf")
        rmdir(serviceDirectory)
    }
}
