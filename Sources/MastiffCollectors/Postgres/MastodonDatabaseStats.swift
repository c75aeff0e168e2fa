import MastiffClients
import MastiffCore
import Synchronization

/// Mastodon's own numbers from its database: users, users signed in within 30 days, statuses,
/// accounts and media. Read on `postgres.mastodon_interval` (5 min by default) and served from a
/// cache in between, since some of them scan a table; the big tables (statuses, accounts) are
/// estimated from `pg_class.reltuples` instead of counted.
public final class MastodonDatabaseStats: Sendable {
    static let detection = """
        SELECT (to_regclass('public.users') IS NOT NULL AND to_regclass('public.accounts') IS NOT NULL
                AND to_regclass('public.account_stats') IS NOT NULL AND to_regclass('public.statuses') IS NOT NULL
                AND to_regclass('public.media_attachments') IS NOT NULL)::int AS mastodon,
               (to_regclass('public.unavailable_domains') IS NOT NULL)::int AS federation
        """

    /// Domains Mastodon stopped delivering to (7 days of failures), when the table exists.
    static let federationQuery = "SELECT count(*) AS unavailable_domains FROM unavailable_domains"

    static let batch = """
        SELECT count(*) AS users, count(*) FILTER (WHERE current_sign_in_at > now() - interval '30 days') AS signed_in_30d FROM users;
        SELECT count(*) AS local_accounts FROM accounts WHERE domain IS NULL;
        SELECT COALESCE(sum(s.statuses_count), 0) AS local_statuses
          FROM account_stats s JOIN accounts a ON a.id = s.account_id WHERE a.domain IS NULL;
        SELECT c.relname AS table_name, GREATEST(c.reltuples, 0)::bigint AS estimate
          FROM pg_class c WHERE c.oid IN ('public.statuses'::regclass, 'public.accounts'::regclass);
        SELECT CASE WHEN remote_url = '' THEN 'local' ELSE 'remote' END AS origin, count(*) AS count,
               COALESCE(sum(file_file_size), 0) AS bytes
          FROM media_attachments GROUP BY 1
        """

    private struct Cache: Sendable {
        var families: [MetricFamily] = []
        var refreshedAt: Duration?
        var refreshedWallTime: Double = 0
        var isMastodon: Bool?
    }

    private let interval: Duration
    private let clock: any MonotonicClock
    private let cache = Mutex(Cache())

    public init(interval: Duration, clock: any MonotonicClock = SystemMonotonicClock()) {
        self.interval = interval
        self.clock = clock
    }

    /// Refreshes when due (errors keep the previous values and are counted), then emits the cache.
    func emit(using connection: PostgresConnection, timeout: Duration, now: Double, into sink: MetricSink) async {
        guard interval > .zero else { return }
        let elapsed = clock.elapsed()
        let due = cache.withLock { state in
            state.refreshedAt.map { elapsed - $0 >= interval } ?? true
        }
        if due {
            do {
                let families = try await refresh(connection, timeout: timeout)
                cache.withLock { state in
                    if let families {
                        state.families = families
                        state.isMastodon = true
                    } else {
                        state.families = []
                        state.isMastodon = false
                    }
                    state.refreshedAt = elapsed
                    state.refreshedWallTime = now
                }
            } catch {
                sink.recordError(reason: "mastodon_query_failed")
            }
        }
        let state = cache.withLock { $0 }
        guard state.isMastodon == true else { return }
        state.families.forEach(sink.add)
        sink.gauge("mastiff_mastodon_stats_refresh_timestamp_seconds", help: "When the mastodon_* database figures were last read.",
                   state.refreshedWallTime)
    }

    /// nil when the database is not Mastodon's.
    private func refresh(_ connection: PostgresConnection, timeout: Duration) async throws -> [MetricFamily]? {
        let detected = try await connection.query(Self.detection, timeout: timeout)
        guard detected.first?.first == "1" else { return nil }
        let federation = detected.first.map { $0.count > 1 && $0[1] == "1" } ?? false
        let results = try await connection.execute(Self.batch + (federation ? ";\n" + Self.federationQuery : ""), timeout: timeout)
        if let failed = results.first(where: { $0.error != nil }) {
            throw ClientError(.query, system: "postgres", reason: failed.error ?? "")
        }
        let sink = MetricSink()
        Self.emit(results, into: sink)
        return sink.families
    }

    /// The batch's results → samples. Pure.
    static func emit(_ results: [PostgresResult], into sink: MetricSink) {
        guard results.count == 5 || results.count == 6 else { return }
        if results.count == 6, let count = results[5].namedRows().first?["unavailable_domains"].flatMap(Double.init) {
            sink.gauge("mastodon_federation_unavailable_domains",
                       help: "Domains Mastodon stopped delivering to after 7 days of failures (rows of unavailable_domains).", count)
        }
        let users = results[0].namedRows().first ?? [:]
        if let count = users["users"].flatMap(Double.init) {
            sink.gauge("mastodon_users", help: "Local user accounts (rows of users).", count)
        }
        if let active = users["signed_in_30d"].flatMap(Double.init) {
            sink.gauge("mastodon_users_signed_in_30d", help: "Local users whose last sign-in was within 30 days (users.current_sign_in_at).", active)
        }
        let localAccounts = results[1].namedRows().first?["local_accounts"].flatMap(Double.init)
        if let localAccounts {
            sink.gauge("mastodon_local_accounts", help: "Accounts of this instance (accounts.domain IS NULL).", localAccounts)
        }
        if let statuses = results[2].namedRows().first?["local_statuses"].flatMap(Double.init) {
            sink.gauge("mastodon_local_statuses", help: "Statuses by local accounts (sum of account_stats.statuses_count, as Mastodon counts them).", statuses)
        }
        for row in results[3].namedRows() {
            guard let estimate = row["estimate"].flatMap(Double.init) else { continue }
            if row["table_name"] == "statuses" {
                sink.gauge("mastodon_statuses_estimate", help: "Statuses known to the instance, local and remote (planner estimate, pg_class.reltuples).", estimate)
            } else if row["table_name"] == "accounts" {
                sink.gauge("mastodon_remote_accounts_estimate", help: "Remote accounts known to the instance (planner estimate of accounts minus local accounts).",
                           max(0, estimate - (localAccounts ?? 0)))
            }
        }
        sink.declare("mastodon_media_attachments", help: "Media attachments: uploaded here (local) or cached copies of remote media (remote).", type: .gauge)
        sink.declare("mastodon_media_attachments_bytes", help: "Size of the original files of media attachments, by origin.", type: .gauge)
        var seen = Set<String>()
        for row in results[4].namedRows() {
            guard let origin = row["origin"] else { continue }
            seen.insert(origin)
            sink.gauge("mastodon_media_attachments", help: "", row["count"].flatMap(Double.init) ?? 0, labels: [Label("origin", origin)])
            sink.gauge("mastodon_media_attachments_bytes", help: "", row["bytes"].flatMap(Double.init) ?? 0, labels: [Label("origin", origin)])
        }
        for origin in ["local", "remote"] where !seen.contains(origin) {
            sink.gauge("mastodon_media_attachments", help: "", 0, labels: [Label("origin", origin)])
            sink.gauge("mastodon_media_attachments_bytes", help: "", 0, labels: [Label("origin", origin)])
        }
    }
}
