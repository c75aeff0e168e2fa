import MastiffClients
import MastiffCore

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

    public init(dsn: Secret, topTables: Int, collectorTimeout: Duration, mastodonInterval: Duration = .seconds(300),
                clock: any WallClock = SystemWallClock(), session: ReconnectingSession<PostgresConnection>? = nil) {
        self.mastodon = MastodonDatabaseStats(interval: mastodonInterval)
        self.clock = clock
        // Leave room inside the collector timeout for the cancel and the reply.
        let queryTimeout = max(.milliseconds(100), collectorTimeout - min(.seconds(1), collectorTimeout / 4))
        self.queryTimeout = queryTimeout
        self.topTables = topTables
        self.session = session ?? ReconnectingSession {
            try await PostgresConnection.connect(dsn, timeoutSeconds: Int(queryTimeout.seconds.rounded(.down)),
                                                 statementTimeout: queryTimeout)
        }
    }

    public func collect(into sink: MetricSink) async throws {
        let help = Self.upHelp
        do {
            let topTables = self.topTables
            let timeout = queryTimeout
            let started = ContinuousClock.now
            let results = try await session.withConnection { connection in
                try await connection.execute(PostgresQueries.batch(serverVersion: connection.serverVersion, topTables: topTables),
                                             timeout: timeout)
            }
            sink.gauge("postgres_up", help: help, 1)
            PostgresMetrics.emit(results, into: sink)
            // Mastodon's figures get what is left of the deadline.
            let remaining = timeout - (ContinuousClock.now - started)
            if remaining > .milliseconds(50) {
                let mastodon = self.mastodon
                let now = clock.now()
                let mastodonSink = MetricSink()
                _ = try? await session.withConnection { connection in
                    await mastodon.emit(using: connection, timeout: remaining, now: now, into: mastodonSink)
                    return true
                }
                for family in mastodonSink.families {
                    for sample in family.samples { sink.add(family.name, help: family.help, type: family.type, sample: sample) }
                    if family.samples.isEmpty { sink.declare(family.name, help: family.help, type: family.type) }
                }
                for (reason, count) in mastodonSink.errorReasons { for _ in 0..<count { sink.recordError(reason: reason) } }
            }
        } catch {
            sink.gauge("postgres_up", help: help, 0)
            sink.fail(reason: "down", detail: "\(error)")
        }
    }
}
