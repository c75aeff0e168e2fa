import MastiffClients
import MastiffCore

/// PgBouncer's pools and totals from its admin console (`SHOW POOLS`, `SHOW STATS`) over libpq's
/// simple protocol, the only one the console speaks.
public struct PgBouncerCollector: Collector {
    public let name = "pgbouncer"
    public var upMetric: (name: String, help: String)? { ("pgbouncer_up", Self.upHelp) }
    static let upHelp = "Whether the last scrape of PgBouncer's admin console succeeded."
    private let session: ReconnectingSession<PostgresConnection>
    private let queryTimeout: Duration

    public init(dsn: Secret, collectorTimeout: Duration) {
        let queryTimeout = SourceDeadline.within(collectorTimeout: collectorTimeout)
        self.queryTimeout = queryTimeout
        // No statement_timeout: the console refuses unknown startup parameters.
        session = ReconnectingSession {
            try await PostgresConnection.connect(dsn, timeoutSeconds: Int(queryTimeout.seconds.rounded(.down)))
        }
    }

    public func collect(into sink: MetricSink) async throws {
        let timeout = queryTimeout
        let pools: [PostgresResult]
        let stats: [PostgresResult]
        do {
            (pools, stats) = try await session.withConnection { connection in
                (try await connection.execute("SHOW POOLS", timeout: timeout), try await connection.execute("SHOW STATS", timeout: timeout))
            }
        } catch {
            reportDown("\(error)", into: sink)
            return
        }
        reportUp(into: sink)
        PgBouncerMetrics.emit(pools: pools.last, stats: stats.last, into: sink)
    }
}

/// SHOW POOLS / SHOW STATS rows → samples. Pure.
public enum PgBouncerMetrics {
    private static let poolGauges: [(String, String, String, Double)] = [
        ("cl_active", "pgbouncer_pool_client_active_connections", "Clients linked to a server connection or idle with no queries waiting.", 1),
        ("cl_waiting", "pgbouncer_pool_client_waiting_connections", "Clients waiting for a server connection.", 1),
        ("sv_active", "pgbouncer_pool_server_active_connections", "Server connections linked to a client.", 1),
        ("sv_idle", "pgbouncer_pool_server_idle_connections", "Server connections unused and ready.", 1),
        ("sv_used", "pgbouncer_pool_server_used_connections", "Server connections idle longer than server_check_delay, to be checked.", 1),
    ]

    private static let statCounters: [(String, String, String, Double)] = [
        ("total_query_count", "pgbouncer_queries_total", "SQL queries pooled.", 1),
        ("total_xact_count", "pgbouncer_transactions_total", "SQL transactions pooled.", 1),
        ("total_received", "pgbouncer_received_bytes_total", "Bytes received from clients.", 1),
        ("total_sent", "pgbouncer_sent_bytes_total", "Bytes sent to clients.", 1),
        ("total_query_time", "pgbouncer_query_seconds_total", "Time spent by servers on queries.", 1e-6),
        ("total_xact_time", "pgbouncer_transaction_seconds_total", "Time spent by servers in transactions.", 1e-6),
        ("total_wait_time", "pgbouncer_client_wait_seconds_total", "Time clients spent waiting for a server.", 1e-6),
    ]

    public static func emit(pools: PostgresResult?, stats: PostgresResult?, into sink: MetricSink) {
        for (_, metric, help, _) in poolGauges { sink.declare(metric, help: help, type: .gauge) }
        sink.declare("pgbouncer_pool_max_wait_seconds", help: "Age of the oldest waiting client.", type: .gauge)
        for row in pools?.namedRows() ?? [] {
            guard let database = row["database"], let user = row["user"] else { continue }
            let labels = [Label("database", database), Label("user", user)]
            for (column, metric, help, _) in poolGauges {
                if let value = row[column].flatMap(Double.init) { sink.gauge(metric, help: help, value, labels: labels) }
            }
            let wait = (row["maxwait"].flatMap(Double.init) ?? 0) + (row["maxwait_us"].flatMap(Double.init) ?? 0) / 1e6
            sink.gauge("pgbouncer_pool_max_wait_seconds", help: "", wait, labels: labels)
        }
        for (_, metric, help, _) in statCounters { sink.declare(metric, help: help, type: .counter) }
        for row in stats?.namedRows() ?? [] {
            guard let database = row["database"] else { continue }
            for (column, metric, help, scale) in statCounters {
                if let value = row[column].flatMap(Double.init) {
                    sink.counter(metric, help: help, value * scale, labels: [Label("database", database)])
                }
            }
        }
    }
}
