import CLibPQ
#if canImport(Glibc)
import Glibc
#endif
import MastiffCore
import Synchronization

/// One libpq connection with a single owner: every call is serialised by a mutex and runs off
/// the cooperative pool (libpq blocks). Errors are `ClientError`s without the conninfo.
public final class PostgresConnection: @unchecked Sendable {
    // The handle is only touched under `lock` (or in deinit, when no one else can hold it).
    private let connection: OpaquePointer
    private let lock = Mutex(())

    private init(_ connection: OpaquePointer) {
        self.connection = connection
    }

    deinit {
        PQfinish(connection)
    }

    /// Connects with any libpq conninfo string or URI (Unix socket, sslmode, passfile, service).
    public static func connect(_ conninfo: Secret, timeoutSeconds: Int = 5) async throws -> PostgresConnection {
        try await BlockingWork.run {
            // libpq lets later keywords override earlier ones, so the user's conninfo (expanded from
            // `dbname`) comes last and wins over these defaults.
            let keywords = ["connect_timeout", "application_name", "dbname"]
            let values = [String(timeoutSeconds), "mastiff", conninfo.reveal()]
            let connection = withCStrings(keywords) { keywordPointers in
                withCStrings(values) { valuePointers in
                    PQconnectdbParams(keywordPointers, valuePointers, 1)
                }
            }
            guard let connection else { throw ClientError(.connect, system: "postgres", reason: "out of memory") }
            guard PQstatus(connection) == CONNECTION_OK else {
                let reason = String(cString: PQerrorMessage(connection))
                PQfinish(connection)
                throw ClientError(.connect, system: "postgres", reason: reason)
            }
            return PostgresConnection(connection)
        }
    }

    /// Runs a query with the simple protocol and returns rows of text values (nil for NULL).
    public func query(_ sql: String) async throws -> [[String?]] {
        try await BlockingWork.run { [self] in
            try lock.withLock { _ throws -> [[String?]] in
                guard let result = PQexec(connection, sql) else {
                    throw ClientError(.query, system: "postgres", reason: String(cString: PQerrorMessage(connection)))
                }
                defer { PQclear(result) }
                let status = PQresultStatus(result)
                guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
                    throw ClientError(.query, system: "postgres", reason: String(cString: PQresultErrorMessage(result)))
                }
                var rows: [[String?]] = []
                let rowCount = PQntuples(result)
                let columnCount = PQnfields(result)
                rows.reserveCapacity(Int(rowCount))
                for row in 0..<rowCount {
                    var values: [String?] = []
                    values.reserveCapacity(Int(columnCount))
                    for column in 0..<columnCount {
                        if PQgetisnull(result, row, column) == 1 {
                            values.append(nil)
                        } else {
                            values.append(String(cString: PQgetvalue(result, row, column)))
                        }
                    }
                    rows.append(values)
                }
                return rows
            }
        }
    }

    /// The server's version as an integer (150004 for 15.4).
    public var serverVersion: Int {
        lock.withLock { _ in Int(PQserverVersion(connection)) }
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { pointers.forEach { free($0) } }
    return pointers.withUnsafeBufferPointer { buffer in
        buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { body($0) }
    }
}
