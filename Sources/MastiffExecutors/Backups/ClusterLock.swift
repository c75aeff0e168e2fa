import MastiffClients
import MastiffCore

/// Work that must happen once per cluster (backups, jobs marked once_per_cluster) runs under a
/// PostgreSQL session advisory lock named after the task: the agent that gets it runs, the
/// others skip. The lock lives as long as its connection; PostgreSQL drops it if the holder dies.
public final class ClusterLock: Sendable {
    let connection: PostgresConnection
    let key: String

    init(connection: PostgresConnection, key: String) {
        self.connection = connection
        self.key = key
    }

    static func sqlKey(_ name: String) -> String { "hashtext(" + PostgresRestore.literal("mastiff:" + name) + ")" }

    /// The lock, or nil when another agent holds it.
    public static func acquire(_ dsn: Secret, name: String) async throws(BackupError) -> ClusterLock? {
        let connection: PostgresConnection
        do { connection = try await PostgresConnection.connect(dsn, timeoutSeconds: 10) } catch {
            throw BackupError("cannot take the cluster lock for \(name): \(error)")
        }
        do {
            let rows = try await connection.query("SELECT pg_try_advisory_lock(\(sqlKey(name)))")
            return rows.first?[0] == "t" ? ClusterLock(connection: connection, key: name) : nil
        } catch {
            throw BackupError("cannot take the cluster lock for \(name): \(error)")
        }
    }

    public func release() async {
        _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.sqlKey(key)))")
    }
}
