import MastiffClients
import MastiffCore
import Synchronization

/// Redis' memory, clients, hit rate, evictions, persistence and keys per database, from one
/// INFO (default sections) per scrape over a reused hiredis connection; and Mastodon's failing
/// deliveries, from a SCAN spread over collections (FederationScan). No KEYS.
public struct RedisCollector: Collector {
    public let name = "redis"
    public var upMetric: (name: String, help: String)? { ("redis_up", Self.upHelp) }
    static let upHelp = "Whether the last scrape of Redis succeeded."
    private let session: ReconnectingSession<RedisConnection>
    private let federation: FederationState
    private let clock: any WallClock

    /// The scan's cursor and last pass, carried from one collection to the next.
    final class FederationState: Sendable {
        let scan: Mutex<FederationScan>
        init(_ scan: FederationScan) { self.scan = Mutex(scan) }
    }

    /// `namespace`: Mastodon's REDIS_NAMESPACE (4.3), which prefixes its keys.
    public init(url: RedisURL, namespace: String = "", collectorTimeout: Duration, clock: any WallClock = SystemWallClock()) {
        let milliseconds = SourceDeadline.milliseconds(within: collectorTimeout)
        session = ReconnectingSession { try await RedisConnection.connect(url, timeoutMilliseconds: milliseconds) }
        federation = FederationState(FederationScan(namespace: namespace))
        self.clock = clock
    }

    public func collect(into sink: MetricSink) async throws {
        let reply: RedisReply
        do {
            // The default sections (not "all": no per-command and latency statistics to build
            // and parse on every scrape).
            reply = try await session.withConnection { try await $0.command(["INFO"]) }
        } catch {
            reportDown("\(error)", into: sink)
            return
        }
        guard case .string(let text) = reply else {
            // An error reply (NOAUTH, a renamed INFO) is named by the server; it holds no secret.
            let detail: String
            if case .error(let message) = reply { detail = message } else { detail = "unexpected reply to INFO" }
            reportDown(detail, into: sink)
            return
        }
        reportUp(into: sink)
        RedisMetrics.emit(RedisInfoParser.parse(text), into: sink)
        await scanFederation(into: sink)
    }

    /// SCAN steps of the pass in progress for at most `FederationScan.timePerCollection`, then
    /// the last complete pass. A failed step is
    /// counted and the pass starts over; Redis's own metrics above are kept.
    private func scanFederation(into sink: MetricSink) async {
        var scan = federation.scan.withLock { $0 }
        let clock = self.clock
        do {
            scan = try await session.withConnection { redis in
                var scan = scan
                let started = ContinuousClock.now
                for _ in 0..<FederationScan.maxStepsPerCollection {
                    let reply = try await redis.command(scan.nextCommand)
                    guard case .array(let parts) = reply, parts.count == 2, let next = parts[0].text, case .array(let keyReplies) = parts[1] else {
                        throw ClientError(.query, system: "redis", reason: "unexpected reply to SCAN")
                    }
                    let keys = keyReplies.compactMap(\.text)
                    let counts = keys.isEmpty ? [] : try await redis.pipeline(keys.map { ["SCARD", $0] })
                    scan.record(nextCursor: next, counts: zip(keys, counts).map { ($0, $1.number.map { Int(saturating: $0) }) }, now: clock.now())
                    if next == "0" || ContinuousClock.now - started >= FederationScan.timePerCollection { break }
                }
                return scan
            }
        } catch {
            sink.recordError(reason: "federation_scan_failed")
            scan.restart()
        }
        federation.scan.withLock { $0 = scan }
        FederationScan.emit(scan.lastPass, maxHosts: scan.maxHosts, into: sink)
        if let pass = scan.lastPass {
            sink.views.federationFailingHosts = pass.worst(10).map { FailingHost(host: $0.host, days: $0.days) }
        }
    }
}

/// INFO fields → samples. Pure, tested on captured INFO output.
public enum RedisMetrics {
    private static let gauges: [(field: String, metric: String, help: String)] = [
        ("uptime_in_seconds", "redis_uptime_seconds", "Time since the server started."),
        ("connected_clients", "redis_connected_clients", "Client connections (replicas excluded)."),
        ("blocked_clients", "redis_blocked_clients", "Clients in a blocking call (BRPOP: idle Sidekiq threads)."),
        ("used_memory", "redis_memory_used_bytes", "Memory allocated by Redis (used_memory)."),
        ("used_memory_rss", "redis_memory_rss_bytes", "Resident memory of the Redis process."),
        ("used_memory_peak", "redis_memory_peak_bytes", "Peak of used_memory."),
        ("maxmemory", "redis_memory_max_bytes", "The maxmemory setting (0: no limit)."),
        ("mem_fragmentation_ratio", "redis_memory_fragmentation_ratio",
         "Redis's own mem_fragmentation_ratio: resident over allocated memory as Redis last sampled them, not used_memory_rss / used_memory of the same INFO."),
        ("rdb_changes_since_last_save", "redis_rdb_changes_since_last_save", "Writes since the last RDB snapshot."),
        ("rdb_last_save_time", "redis_rdb_last_save_timestamp_seconds", "Time of the last successful RDB snapshot."),
        ("aof_enabled", "redis_aof_enabled", "Whether the append-only file is on."),
        ("connected_slaves", "redis_connected_replicas", "Connected replicas."),
    ]

    private static let counters: [(field: String, metric: String, help: String)] = [
        ("total_connections_received", "redis_connections_received_total", "Connections accepted."),
        ("total_commands_processed", "redis_commands_processed_total", "Commands processed."),
        ("keyspace_hits", "redis_keyspace_hits_total", "Successful key lookups."),
        ("keyspace_misses", "redis_keyspace_misses_total", "Failed key lookups."),
        ("evicted_keys", "redis_evicted_keys_total", "Keys evicted because of maxmemory (Sidekiq loses jobs this way)."),
        ("expired_keys", "redis_expired_keys_total", "Keys expired."),
        ("rejected_connections", "redis_rejected_connections_total", "Connections refused because of maxclients."),
    ]

    public static func emit(_ fields: [String: String], into sink: MetricSink) {
        if let version = fields["redis_version"] {
            sink.gauge("redis_info", help: "Redis version, mode and role; the value is always 1.", 1, labels: [
                Label("version", version), Label("mode", fields["redis_mode"] ?? ""), Label("role", fields["role"] ?? ""),
            ])
        }
        for (field, metric, help) in gauges {
            if let value = fields[field].flatMap(Double.init) { sink.gauge(metric, help: help, value) }
        }
        for (field, metric, help) in counters {
            if let value = fields[field].flatMap(Double.init) { sink.counter(metric, help: help, value) }
        }
        if let status = fields["rdb_last_bgsave_status"] {
            sink.gauge("redis_rdb_last_bgsave_success", help: "Whether the last RDB snapshot succeeded.", status == "ok" ? 1 : 0)
        }
        if let status = fields["aof_last_write_status"], fields["aof_enabled"] == "1" {
            sink.gauge("redis_aof_last_write_success", help: "Whether the last append-only file write succeeded.", status == "ok" ? 1 : 0)
        }
        sink.declare("redis_db_keys", help: "Keys in the database.", type: .gauge)
        sink.declare("redis_db_keys_expiring", help: "Keys with an expiry in the database.", type: .gauge)
        for entry in RedisInfoParser.keyspace(fields) {
            sink.gauge("redis_db_keys", help: "", entry.keys, labels: [Label("db", entry.database)])
            sink.gauge("redis_db_keys_expiring", help: "", entry.expires, labels: [Label("db", entry.database)])
        }
    }
}
