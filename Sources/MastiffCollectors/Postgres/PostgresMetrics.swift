import MastiffClients
import MastiffCore

/// Turns the results of `PostgresQueries.batch` into samples. Pure: tested on hand-made results.
public enum PostgresMetrics {
    public static func emit(_ results: [PostgresResult], into sink: MetricSink) {
        for statement in PostgresQueries.Statement.allCases {
            guard statement.rawValue < results.count else {
                sink.recordError(reason: "missing_result")
                continue
            }
            let result = results[statement.rawValue]
            if result.error != nil {
                sink.recordError(reason: "query_failed")
                continue
            }
            let rows = result.namedRows()
            switch statement {
            case .settings: emitSettings(rows.first ?? [:], activityRows: results.count > 1 ? results[1].namedRows() : [], into: sink)
            case .activity: emitActivity(rows, into: sink)
            case .databases: emitDatabases(rows, into: sink)
            case .locks: emitLocks(rows, into: sink)
            case .replication: emitReplication(rows, into: sink)
            case .checkpoints: emitCheckpoints(rows.first ?? [:], into: sink)
            case .tables: emitTables(rows, into: sink)
            }
        }
    }

    private static func number(_ row: [String: String], _ key: String) -> Double? {
        row[key].flatMap(Double.init)
    }

    private static func emitSettings(_ row: [String: String], activityRows: [[String: String]], into sink: MetricSink) {
        if let version = number(row, "version_num") {
            sink.gauge("postgres_server_version_num", help: "Server version as a number (150004 for 15.4).", version)
        }
        if let maximum = number(row, "max_connections") {
            sink.gauge("postgres_max_connections", help: "The max_connections setting.", maximum)
            let reserved = number(row, "reserved_connections") ?? 0
            sink.gauge("postgres_reserved_connections", help: "Connections reserved for superusers (and pg_use_reserved_connections on 16+).", reserved)
            let used = activityRows.reduce(0.0) { $0 + (number($1, "connections") ?? 0) }
            sink.gauge("postgres_connection_headroom", help: "Client connections still available to ordinary roles: max_connections - reserved - client connections (mastiff's own included).",
                       maximum - reserved - used)
        }
        if let recovery = number(row, "in_recovery") {
            sink.gauge("postgres_in_recovery", help: "1 on a replica (in recovery), 0 on a primary.", recovery)
        }
        if let lag = number(row, "replay_lag") {
            sink.gauge("postgres_replication_replay_lag_seconds", help: "On a replica: time since the last replayed transaction's commit.", lag)
        }
    }

    private static func emitActivity(_ rows: [[String: String]], into sink: MetricSink) {
        sink.declare("postgres_connections", help: "Client connections by database and state (pg_stat_activity), mastiff's own included.", type: .gauge)
        var oldestTransaction: [String: Double] = [:]
        var oldestQuery: [String: Double] = [:]
        for row in rows {
            guard let database = row["database"], let state = row["state"], let count = number(row, "connections") else { continue }
            sink.gauge("postgres_connections", help: "", count, labels: [Label("database", database), Label("state", state)])
            oldestTransaction[state] = max(oldestTransaction[state] ?? 0, number(row, "oldest_transaction") ?? 0)
            oldestQuery[state] = max(oldestQuery[state] ?? 0, number(row, "oldest_query") ?? 0)
        }
        sink.declare("postgres_oldest_transaction_age_seconds", help: "Age of the oldest open transaction, by connection state ('idle in transaction' holds back vacuum).", type: .gauge)
        for (state, age) in oldestTransaction.sorted(by: { $0.key < $1.key }) {
            sink.gauge("postgres_oldest_transaction_age_seconds", help: "", age, labels: [Label("state", state)])
        }
        sink.declare("postgres_oldest_query_age_seconds", help: "Time since the oldest connection's current (or last) query started, by state.", type: .gauge)
        for (state, age) in oldestQuery.sorted(by: { $0.key < $1.key }) {
            sink.gauge("postgres_oldest_query_age_seconds", help: "", age, labels: [Label("state", state)])
        }
    }

    private static let databaseCounters: [(column: String, metric: String, help: String)] = [
        ("xact_commit", "postgres_database_transactions_committed_total", "Committed transactions."),
        ("xact_rollback", "postgres_database_transactions_rolled_back_total", "Rolled back transactions."),
        ("blks_hit", "postgres_database_blocks_hit_total", "Block reads served from shared buffers."),
        ("blks_read", "postgres_database_blocks_read_total", "Blocks read from disk (or the OS cache)."),
        ("tup_returned", "postgres_database_tuples_returned_total", "Rows returned by sequential and index scans."),
        ("tup_fetched", "postgres_database_tuples_fetched_total", "Rows fetched by index scans."),
        ("tup_inserted", "postgres_database_tuples_inserted_total", "Rows inserted."),
        ("tup_updated", "postgres_database_tuples_updated_total", "Rows updated."),
        ("tup_deleted", "postgres_database_tuples_deleted_total", "Rows deleted."),
        ("deadlocks", "postgres_database_deadlocks_total", "Deadlocks detected."),
        ("temp_files", "postgres_database_temp_files_total", "Temporary files created by queries (work_mem too small)."),
        ("temp_bytes", "postgres_database_temp_bytes_total", "Bytes written to temporary files."),
        ("conflicts", "postgres_database_conflicts_total", "Queries cancelled by recovery conflicts (replicas)."),
    ]

    private static func emitDatabases(_ rows: [[String: String]], into sink: MetricSink) {
        sink.declare("postgres_database_size_bytes", help: "Disk space used by the database.", type: .gauge)
        for counter in databaseCounters { sink.declare(counter.metric, help: counter.help, type: .counter) }
        for row in rows {
            guard let database = row["database"] else { continue }
            let labels = [Label("database", database)]
            if let size = number(row, "size") {
                sink.gauge("postgres_database_size_bytes", help: "", size, labels: labels)
            }
            for counter in databaseCounters {
                if let value = number(row, counter.column) { sink.counter(counter.metric, help: counter.help, value, labels: labels) }
            }
        }
    }

    private static func emitLocks(_ rows: [[String: String]], into sink: MetricSink) {
        sink.declare("postgres_locks_waiting", help: "Lock requests not yet granted, by mode.", type: .gauge)
        for row in rows {
            guard let mode = row["mode"], let waiting = number(row, "waiting") else { continue }
            sink.gauge("postgres_locks_waiting", help: "", waiting, labels: [Label("mode", mode)])
        }
    }

    private static func emitReplication(_ rows: [[String: String]], into sink: MetricSink) {
        sink.declare("postgres_replication_lag_bytes", help: "On a primary: WAL bytes each replica has yet to replay.", type: .gauge)
        for row in rows {
            guard let lag = number(row, "lag_bytes") else { continue }
            sink.gauge("postgres_replication_lag_bytes", help: "", lag,
                       labels: [Label("application_name", row["application_name"] ?? ""), Label("client_addr", row["client_addr"] ?? "")])
        }
    }

    private static func emitCheckpoints(_ row: [String: String], into sink: MetricSink) {
        let counters: [(String, String, String, Double)] = [
            ("timed", "postgres_checkpoints_timed_total", "Scheduled checkpoints (checkpoint_timeout).", 1),
            ("requested", "postgres_checkpoints_requested_total", "Requested checkpoints (max_wal_size reached, or explicit).", 1),
            ("write_time", "postgres_checkpoint_write_seconds_total", "Time spent writing checkpoint files.", 0.001),
            ("sync_time", "postgres_checkpoint_sync_seconds_total", "Time spent syncing checkpoint files.", 0.001),
            ("buffers_checkpoint", "postgres_checkpoint_buffers_written_total", "Buffers written by checkpoints.", 1),
            ("buffers_clean", "postgres_bgwriter_buffers_written_total", "Buffers written by the background writer.", 1),
            ("maxwritten_clean", "postgres_bgwriter_maxwritten_clean_total", "Times the background writer stopped a round for writing too many buffers.", 1),
            ("buffers_backend", "postgres_backend_buffers_written_total", "Buffers written by backends themselves (before PostgreSQL 17).", 1),
            ("buffers_alloc", "postgres_buffers_allocated_total", "Buffers allocated.", 1),
        ]
        for (column, metric, help, scale) in counters {
            if let value = number(row, column) { sink.counter(metric, help: help, value * scale) }
        }
    }

    private static func emitTables(_ rows: [[String: String]], into sink: MetricSink) {
        let families: [(String, String, String, MetricType)] = [
            ("size", "postgres_table_size_bytes", "Total size of the table with indexes and TOAST (largest tables only).", .gauge),
            ("n_live_tup", "postgres_table_live_tuples", "Estimated live rows.", .gauge),
            ("n_dead_tup", "postgres_table_dead_tuples", "Estimated dead rows waiting for vacuum.", .gauge),
            ("seq_scan", "postgres_table_seq_scans_total", "Sequential scans started on the table.", .counter),
            ("idx_scan", "postgres_table_index_scans_total", "Index scans started on the table.", .counter),
            ("vacuum_age", "postgres_table_last_vacuum_age_seconds", "Time since the last vacuum or autovacuum (absent if never).", .gauge),
        ]
        for (_, metric, help, type) in families { sink.declare(metric, help: help, type: type) }
        for row in rows {
            guard let table = row["table_name"] else { continue }
            for (column, metric, help, type) in families {
                if let value = number(row, column) {
                    sink.add(metric, help: help, type: type, sample: Sample(labels: [Label("table", table)], value: value))
                }
            }
        }
    }
}
