import MastiffClients
import MastiffCore
import Synchronization

/// PostgreSQL's health and load over one reused libpq connection.
///
/// Every scrape sends `PostgresQueries.batch` in one round trip, under a deadline shorter than
/// the collector timeout: a query still running then is cancelled server-side (PQcancel) and
/// `postgres_up 0` is reported in time. A lost connection is re-made with backoff.
public struct PostgresCollector: Collector {
    public let name = "postgres"
    public var upMetric: (name: String, help: String)? { ("postgres_up", Self.upHelp) }
    static let upHelp = "Whether the last scrape of PostgreSQL succeeded."
    private let session: ReconnectingSession<PostgresConnection>
    private let topTables: Int
    private let queryTimeout: Duration
    private let mastodon: MastodonDatabaseStats
    private let clock: any WallClock
    private let sizes: SizeCache
    private let monotonicClock: any MonotonicClock

    public init(dsn: Secret, topTables: Int, collectorTimeout: Duration, mastodonInterval: Duration = .seconds(300),
                sizeInterval: Duration = .seconds(60),
                clock: any WallClock = SystemWallClock(), monotonicClock: any MonotonicClock = SystemMonotonicClock(),
                session: ReconnectingSession<PostgresConnection>? = nil) {
        self.mastodon = MastodonDatabaseStats(interval: mastodonInterval, clock: monotonicClock)
        self.clock = clock
        self.monotonicClock = monotonicClock
        self.sizes = SizeCache(interval: sizeInterval, clock: monotonicClock)
        let queryTimeout = SourceDeadline.within(collectorTimeout: collectorTimeout)
        self.queryTimeout = queryTimeout
        self.topTables = topTables
        self.session = session ?? ReconnectingSession(clock: monotonicClock) {
            try await PostgresConnection.connect(dsn, timeoutSeconds: Int(queryTimeout.seconds.rounded(.down)),
                                                 statementTimeout: queryTimeout)
        }
    }

    public func collect(into sink: MetricSink) async throws {
        do {
            let topTables = self.topTables
            let timeout = queryTimeout
            let started = monotonicClock.elapsed()
            let withSizes = sizes.isDue
            let results = try await session.withConnection { connection in
                try await connection.execute(PostgresQueries.batch(serverVersion: connection.serverVersion, topTables: topTables,
                                                                   withSizes: withSizes),
                                             timeout: timeout)
            }
            reportUp(into: sink)
            let batchSink = MetricSink()
            PostgresMetrics.emit(results, into: batchSink)
            sizes.merge(batchSink, refreshed: withSizes && !results.contains { $0.error != nil }, into: sink)
            // Mastodon's figures get what is left of the deadline.
            let remaining = timeout - (monotonicClock.elapsed() - started)
            if remaining > .milliseconds(50) {
                let mastodon = self.mastodon
                let now = clock.now()
                let mastodonSink = MetricSink()
                _ = try? await session.withConnection { connection in
                    await mastodon.emit(using: connection, timeout: remaining, now: now, into: mastodonSink)
                    return true
                }
                mastodonSink.families.forEach(sink.add)
                sink.recordErrors(mastodonSink.errorReasons)
            }
        } catch {
            reportDown("\(error)", into: sink)
        }
    }
}

/// Database and table sizes are read every `interval` (60 s) and served from here in between:
/// `pg_database_size` and `pg_total_relation_size` stat every file of the relation or database
/// and were most of the collector's cost on the server.
final class SizeCache: Sendable {
    static let sizeFamilies: Set<String> = [
        "postgres_database_size_bytes", "postgres_table_size_bytes", "postgres_table_live_tuples", "postgres_table_dead_tuples",
        "postgres_table_seq_scans_total", "postgres_table_index_scans_total", "postgres_table_last_vacuum_age_seconds",
    ]

    private struct State: Sendable {
        var families: [MetricFamily] = []
        var refreshedAt: Duration?
    }

    private let interval: Duration
    private let clock: any MonotonicClock
    private let state = Mutex(State())

    init(interval: Duration, clock: any MonotonicClock) {
        self.interval = interval
        self.clock = clock
    }

    var isDue: Bool {
        let now = clock.elapsed()
        return state.withLock { state in state.refreshedAt.map { now - $0 >= interval } ?? true }
    }

    /// Copies a batch's samples into `sink`, replacing the size families with the cached ones
    /// unless this batch refreshed them.
    func merge(_ batch: MetricSink, refreshed: Bool, into sink: MetricSink) {
        if refreshed {
            let families = batch.families.filter { Self.sizeFamilies.contains($0.name) }
            state.withLock { state in
                state.families = families
                state.refreshedAt = clock.elapsed()
            }
        }
        let cached = state.withLock { $0.families }
        batch.families.filter { !Self.sizeFamilies.contains($0.name) }.forEach(sink.add)
        cached.forEach(sink.add)
        sink.recordErrors(batch.errorReasons)
    }
}
