import CLibPQ
#if canImport(Glibc)
import Glibc
#endif
import MastiffCore
import Synchronization

/// The rows of one statement's result, as text (nil for NULL), or the statement's error.
public struct PostgresResult: Sendable, Equatable {
    public var columns: [String]
    public var rows: [[String?]]
    /// The server's message when this statement failed (its SQLSTATE first), without the query.
    public var error: String?

    /// Rows as dictionaries by column name, for readable collector code.
    public func namedRows() -> [[String: String]] {
        rows.map { row in
            var named: [String: String] = [:]
            for (column, value) in zip(columns, row) where value != nil { named[column] = value }
            return named
        }
    }
}

/// One libpq connection with a single owner: every call is serialised by a mutex and runs off
/// the cooperative pool. Queries use libpq's asynchronous API with a deadline: a query still
/// running at the deadline is cancelled (PQcancel), so a stuck statement never holds a scrape.
/// Errors are `ClientError`s without the conninfo or the query text.
public final class PostgresConnection: @unchecked Sendable {
    // The handle is only touched under `lock` (or in deinit, when no one else can hold it).
    private let connection: OpaquePointer
    private let lock = Mutex(())
    private let brokenFlag = Mutex(false)

    private init(_ connection: OpaquePointer) {
        self.connection = connection
    }

    deinit {
        mastiff_PQfinish(connection)
    }

    /// Connects with any libpq conninfo string or URI (Unix socket, sslmode, passfile, service).
    /// `statementTimeout` is also set server-side, as a second guard behind the client deadline.
    public static func connect(_ conninfo: Secret, timeoutSeconds: Int = 5,
                               statementTimeout: Duration? = nil) async throws -> PostgresConnection {
        // libpq quotes parts of a malformed string back in its errors: clean them by value.
        let secrets = ConnectionStringSecrets.values(in: conninfo.reveal())
        return try await BlockingWork.run {
            // A server whose socket file is not there cannot answer: say so as libpq would, without
            // loading libpq and its tree (OpenSSL, Kerberos, LDAP: ~5 MiB) for a collector that
            // fails every scrape until PostgreSQL is installed or started.
            if let socket = ConnectionStringParts.onlyUnixSocket(conninfo.reveal(), environment: { getenv($0).map { String(cString: $0) } }),
               access(socket, F_OK) != 0, errno == ENOENT || errno == ENOTDIR {
                throw ClientError(.connect, system: "postgres", reason: "connection to server on socket \"\(socket)\" failed: "
                    + "\(String(cString: strerror(errno)))\n\tIs the server running locally and accepting connections on that socket?", secrets: secrets)
            }
            // libpq is loaded on first use (CLibPQ/shim.h).
            if let loadError = mastiff_pq_load_error() {
                throw ClientError(.connect, system: "postgres", reason: "libpq could not be loaded (Debian: libpq5): \(String(cString: loadError))")
            }
            // libpq lets later keywords override earlier ones, so the user's conninfo (expanded from
            // `dbname`) comes last and wins over these defaults. libpq's minimum connect_timeout is 2.
            var keywords = ["connect_timeout", "application_name"]
            var values = [String(max(2, timeoutSeconds)), "mastiff"]
            if let statementTimeout {
                // lock_timeout: size functions take AccessShareLock, and a table locked by a
                // migration or VACUUM FULL must fail that one statement fast, not the scrape.
                let milliseconds = Int64(statementTimeout.seconds * 1000)
                keywords.append("options")
                values.append("-c statement_timeout=\(milliseconds) -c lock_timeout=\(min(1000, milliseconds / 2))")
            }
            keywords.append("dbname")
            values.append(conninfo.reveal())
            let connection = withCStrings(keywords) { keywordPointers in
                withCStrings(values) { valuePointers in
                    mastiff_PQconnectdbParams(keywordPointers, valuePointers, 1)
                }
            }
            guard let connection else { throw ClientError(.connect, system: "postgres", reason: "out of memory") }
            guard mastiff_PQstatus(connection) == CONNECTION_OK else {
                let reason = String(cString: mastiff_PQerrorMessage(connection))
                mastiff_PQfinish(connection)
                throw ClientError(.connect, system: "postgres", reason: reason, secrets: secrets)
            }
            return PostgresConnection(connection)
        }
    }

    /// Whether the connection can no longer be used (closed by the server, or a cancel that did
    /// not take). Callers drop a broken connection and connect again.
    public var isBroken: Bool {
        brokenFlag.withLock { $0 } || lock.withLock { _ in mastiff_PQstatus(connection) != CONNECTION_OK }
    }

    /// Runs one statement and returns its rows; a statement error is thrown.
    public func query(_ sql: String, timeout: Duration = .seconds(5)) async throws -> [[String?]] {
        let results = try await execute(sql, timeout: timeout)
        guard let result = results.last else { return [] }
        if let error = result.error { throw ClientError(.query, system: "postgres", reason: error) }
        return result.rows
    }

    /// Runs exactly one statement through the extended protocol, with `parameters` as `$1`, `$2`,
    /// … apart from the SQL text: the server refuses a second statement, and no value can become
    /// SQL. For anything built from data mastiff did not write itself.
    public func query(_ sql: String, parameters: [String?], timeout: Duration = .seconds(5)) async throws -> [[String?]] {
        let results = try await BlockingWork.run { [self] in
            try lock.withLock { _ throws -> [PostgresResult] in
                let deadline = ContinuousClock.now + timeout
                let sent = withOptionalCStrings(parameters) { values in
                    mastiff_PQsendQueryParams(connection, sql, Int32(parameters.count), nil, values, nil, nil, 0)
                }
                guard sent == 1 else {
                    throw ClientError(.query, system: "postgres", reason: String(cString: mastiff_PQerrorMessage(connection)))
                }
                return try collectResults(deadline: deadline)
            }
        }
        guard let result = results.last else { return [] }
        if let error = result.error { throw ClientError(.query, system: "postgres", reason: error) }
        return result.rows
    }

    /// Sends `sql` (one or more statements separated by `;`) in one round trip with the simple
    /// protocol, and returns one result per statement. After a failing statement the server skips
    /// the rest of the string, so callers version-gate their statements rather than probe.
    public func execute(_ sql: String, timeout: Duration) async throws -> [PostgresResult] {
        try await BlockingWork.run { [self] in
            try lock.withLock { _ throws -> [PostgresResult] in
                let deadline = ContinuousClock.now + timeout
                guard mastiff_PQsendQuery(connection, sql) == 1 else {
                    throw ClientError(.query, system: "postgres", reason: String(cString: mastiff_PQerrorMessage(connection)))
                }
                return try collectResults(deadline: deadline)
            }
        }
    }

    /// Every result of what was sent, until libpq has none left (called with the lock held).
    private func collectResults(deadline: ContinuousClock.Instant) throws -> [PostgresResult] {
        var results: [PostgresResult] = []
        while true {
            try waitUntilReady(deadline: deadline)
            guard let result = mastiff_PQgetResult(connection) else { break }
            results.append(decode(result))
            mastiff_PQclear(result)
        }
        return results
    }

    /// Reads until libpq has a complete result, or cancels the query at the deadline.
    private func waitUntilReady(deadline: ContinuousClock.Instant) throws {
        let socket = mastiff_PQsocket(connection)
        while mastiff_PQisBusy(connection) == 1 {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else {
                cancelAndDrain()
                throw ClientError(.timeout, system: "postgres", reason: "query cancelled after the collector's deadline")
            }
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(min(remaining.seconds * 1000 + 1, 60_000))
            let ready = poll(&descriptor, 1, milliseconds)
            if ready < 0, errno != EINTR {
                brokenFlag.withLock { $0 = true }
                throw ClientError(.transport, system: "postgres", reason: String(cString: strerror(errno)))
            }
            if ready > 0, mastiff_PQconsumeInput(connection) == 0 {
                brokenFlag.withLock { $0 = true }
                throw ClientError(.transport, system: "postgres", reason: String(cString: mastiff_PQerrorMessage(connection)))
            }
        }
    }

    /// Asks the server to cancel the running statement and reads what is left. A backend that
    /// does not react (stopped, or the network gone) within two seconds marks the connection
    /// broken, so it is closed and a fresh one is made next time.
    private func cancelAndDrain() {
        if let cancel = mastiff_PQgetCancel(connection) {
            var buffer = [CChar](repeating: 0, count: 256)
            _ = mastiff_PQcancel(cancel, &buffer, Int32(buffer.count))
            mastiff_PQfreeCancel(cancel)
        }
        let drainDeadline = ContinuousClock.now + .seconds(2)
        let socket = mastiff_PQsocket(connection)
        while true {
            while mastiff_PQisBusy(connection) == 1 {
                let remaining = drainDeadline - ContinuousClock.now
                var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
                guard remaining > .zero, poll(&descriptor, 1, Int32(remaining.seconds * 1000 + 1)) >= 0,
                      mastiff_PQconsumeInput(connection) == 1 else {
                    brokenFlag.withLock { $0 = true }
                    return
                }
            }
            guard let result = mastiff_PQgetResult(connection) else { return }
            mastiff_PQclear(result)
        }
    }

    private func decode(_ result: OpaquePointer) -> PostgresResult {
        let status = mastiff_PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            let state = mastiff_PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) + " " } ?? ""
            let message = mastiff_PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
                ?? String(cString: mastiff_PQresultErrorMessage(result))
            return PostgresResult(columns: [], rows: [], error: Redaction.clean(state + message))
        }
        let rowCount = mastiff_PQntuples(result)
        let columnCount = mastiff_PQnfields(result)
        let columns = (0..<columnCount).map { String(cString: mastiff_PQfname(result, $0)) }
        var rows: [[String?]] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(Int(columnCount))
            for column in 0..<columnCount {
                values.append(mastiff_PQgetisnull(result, row, column) == 1 ? nil : String(cString: mastiff_PQgetvalue(result, row, column)))
            }
            rows.append(values)
        }
        return PostgresResult(columns: columns, rows: rows, error: nil)
    }

    /// The server's version as an integer (150004 for 15.4).
    public var serverVersion: Int {
        lock.withLock { _ in Int(mastiff_PQserverVersion(connection)) }
    }
}

private func withOptionalCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    guard !strings.isEmpty else { return body(nil) }
    let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
    defer { pointers.forEach { free($0) } }
    return pointers.withUnsafeBufferPointer { buffer in
        buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { body($0) }
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
