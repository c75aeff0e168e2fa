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

    public init(dsn: Secret, topTables: Int, collectorTimeout: Duration,
                session: ReconnectingSession<PostgresConnection>? = nil) {
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
            let results = try await session.withConnection { connection in
                try await connection.execute(PostgresQueries.batch(serverVersion: connection.serverVersion, topTables: topTables),
                                             timeout: timeout)
            }
            sink.gauge("postgres_up", help: help, 1)
            PostgresMetrics.emit(results, into: sink)
        } catch {
            sink.gauge("postgres_up", help: help, 0)
            sink.fail(reason: "down", detail: "\(error)")
        }
    }
}
