/// The statements the Postgres collector sends, chosen by server version (PostgreSQL 12–17).
///
/// All of them go in one round trip. Each reads catalog statistics views only: no table scans,
/// nothing that takes a lock a Mastodon query could wait on. `pg_database_size` is limited to
/// databases the user may connect to, so a missing privilege cannot abort the batch.
public enum PostgresQueries {
    public enum Statement: Int, CaseIterable, Sendable {
        case settings, activity, databases, locks, replication, checkpoints, tables
    }

    /// `withSizes`: whether this scrape computes database and table sizes, which stat every file
    /// of every database (the costliest part by far). Without them the database statement returns
    /// NULL sizes and the tables statement returns no rows; the collector serves cached values.
    public static func batch(serverVersion: Int, topTables: Int, withSizes: Bool = true) -> String {
        Statement.allCases.map { sql(for: $0, serverVersion: serverVersion, topTables: topTables, withSizes: withSizes) }
            .joined(separator: ";\n")
    }

    /// pg_stat_activity's states (PostgreSQL 12–17).
    static let activityStates = ["active", "idle", "idle in transaction", "idle in transaction (aborted)", "fastpath function call", "disabled"]

    public static func sql(for statement: Statement, serverVersion: Int, topTables: Int, withSizes: Bool = true) -> String {
        switch statement {
        case .settings:
            // reserved_connections (for pg_use_reserved_connections) exists from 16 on.
            let reserved = serverVersion >= 160_000 ? "current_setting('reserved_connections')::int" : "0"
            return """
            SELECT current_setting('server_version_num')::int AS version_num,
                   current_setting('max_connections')::int AS max_connections,
                   current_setting('superuser_reserved_connections')::int + \(reserved) AS reserved_connections,
                   pg_is_in_recovery()::int AS in_recovery,
                   CASE WHEN pg_is_in_recovery()
                        THEN COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END AS replay_lag
            """
        case .activity:
            // Every client backend, mastiff's own included (it holds a slot like any other), and
            // every database × state, so a database with no connections reads 0, not absent.
            // Backends in no database or with a state this role may not see come second.
            return """
            SELECT d.datname AS database, s.state, count(a.pid) AS connections,
                   COALESCE(max(EXTRACT(EPOCH FROM now() - a.xact_start)), 0) AS oldest_transaction,
                   COALESCE(max(EXTRACT(EPOCH FROM now() - a.query_start)), 0) AS oldest_query
            FROM pg_database d
            CROSS JOIN (VALUES \(activityStates.map { "('\($0)')" }.joined(separator: ", "))) AS s(state)
            LEFT JOIN pg_stat_activity a ON a.datid = d.oid AND a.state = s.state AND a.backend_type = 'client backend'
            WHERE d.datallowconn AND NOT d.datistemplate
            GROUP BY 1, 2
            UNION ALL
            SELECT COALESCE(a.datname, '') AS database, COALESCE(a.state, 'unknown') AS state, count(*) AS connections,
                   COALESCE(max(EXTRACT(EPOCH FROM now() - a.xact_start)), 0) AS oldest_transaction,
                   COALESCE(max(EXTRACT(EPOCH FROM now() - a.query_start)), 0) AS oldest_query
            FROM pg_stat_activity a LEFT JOIN pg_database d ON d.oid = a.datid
            WHERE a.backend_type = 'client backend'
              AND (d.oid IS NULL OR NOT d.datallowconn OR d.datistemplate OR a.state IS NULL
                   OR a.state NOT IN (\(activityStates.map { "'\($0)'" }.joined(separator: ", "))))
            GROUP BY 1, 2
            """
        case .databases:
            return """
            SELECT d.datname AS database,
                   \(withSizes ? "CASE WHEN has_database_privilege(d.datname, 'CONNECT') THEN pg_database_size(d.datname) END" : "NULL::bigint") AS size,
                   s.xact_commit, s.xact_rollback, s.blks_hit, s.blks_read, s.tup_returned, s.tup_fetched,
                   s.tup_inserted, s.tup_updated, s.tup_deleted, s.deadlocks, s.temp_files, s.temp_bytes, s.conflicts
            FROM pg_database d JOIN pg_stat_database s ON s.datid = d.oid
            WHERE d.datallowconn AND NOT d.datistemplate
            """
        case .locks:
            return "SELECT mode, count(*) AS waiting FROM pg_locks WHERE NOT granted GROUP BY mode"
        case .replication:
            // The WAL senders directly rather than the pg_stat_replication view, which reads every
            // backend's activity even when there is no replica; names are looked up per sender.
            // pg_current_wal_lsn() fails on a replica, hence the CASE.
            return """
            SELECT COALESCE((SELECT a.application_name FROM pg_stat_activity a WHERE a.pid = w.pid), '') AS application_name,
                   COALESCE((SELECT a.client_addr::text FROM pg_stat_activity a WHERE a.pid = w.pid), 'local') AS client_addr,
                   CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), w.replay_lsn) END AS lag_bytes
            FROM pg_stat_get_wal_senders() w
            """
        case .checkpoints:
            // 17 moved the checkpoint counters to pg_stat_checkpointer and dropped buffers_backend.
            if serverVersion >= 170_000 {
                return """
                SELECT c.num_timed AS timed, c.num_requested AS requested, c.write_time, c.sync_time,
                       c.buffers_written AS buffers_checkpoint, b.buffers_clean, b.maxwritten_clean,
                       NULL::bigint AS buffers_backend, b.buffers_alloc
                FROM pg_stat_checkpointer c, pg_stat_bgwriter b
                """
            }
            return """
            SELECT checkpoints_timed AS timed, checkpoints_req AS requested, checkpoint_write_time AS write_time,
                   checkpoint_sync_time AS sync_time, buffers_checkpoint, buffers_clean, maxwritten_clean,
                   buffers_backend, buffers_alloc
            FROM pg_stat_bgwriter
            """
        case .tables:
            // The largest tables are picked by pg_class.relpages (heap + TOAST pages as of the last
            // vacuum or analyze), a catalog read, so exact sizes are computed for N tables only,
            // not for all of Mastodon's ~100.
            return """
            SELECT s.schemaname || '.' || s.relname AS table_name, pg_total_relation_size(s.relid) AS size,
                   s.n_live_tup, s.n_dead_tup, s.seq_scan, COALESCE(s.idx_scan, 0) AS idx_scan,
                   EXTRACT(EPOCH FROM now() - GREATEST(s.last_autovacuum, s.last_vacuum)) AS vacuum_age
            FROM pg_stat_user_tables s
            JOIN pg_class c ON c.oid = s.relid
            LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
            ORDER BY c.relpages + COALESCE(t.relpages, 0) DESC, s.relid
            LIMIT \(withSizes ? max(0, topTables) : 0)
            """
        }
    }
}
