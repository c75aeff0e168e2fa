import MastiffCore

/// Mastodon's record of failing deliveries, read without ever walking the whole keyspace at
/// once. For each remote host, Mastodon's DeliveryFailureTracker keeps a Redis set
/// `exhausted_deliveries:<host>` of the UTC days (YYYYMMDD) on which a delivery to it failed;
/// at 7 days the host goes into `unavailable_domains` and deliveries to it stop. Mastodon's own
/// admin page finds these keys with KEYS (O(keyspace), blocking Redis); here a SCAN cursor is
/// carried from one collection to the next, a few bounded steps each time, and each step's keys
/// are counted with pipelined SCARDs. What is exported is the last complete pass.
///
/// Pure: the collector sends `nextCommand`, then hands the reply to `record`.
public struct FederationScan: Sendable, Equatable {
    /// One finished walk over the keyspace.
    public struct Pass: Sendable, Equatable {
        /// Days of failed deliveries, by host.
        public var days: [String: Int]
        /// More hosts than `maxHosts` were failing: the rest were not counted.
        public var capped: Bool
        public var completedAt: Double

        /// Hosts whose set holds each number of days; the last bucket is 7 or more (unavailable).
        public var histogram: [Int: Int] {
            var buckets = Dictionary(uniqueKeysWithValues: (1...7).map { ($0, 0) })
            for count in days.values where count > 0 { buckets[min(count, 7), default: 0] += 1 }
            return buckets
        }

        /// The hosts failing longest, most days first, then by name.
        public func worst(_ count: Int) -> [(host: String, days: Int)] {
            days.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(count).map { ($0.key, $0.value) }
        }
    }

    public static let keyName = "exhausted_deliveries:"
    /// Keys Redis looks at per SCAN step (its COUNT hint).
    public static let keysPerStep = 1000
    /// A collection takes SCAN steps until this much time is spent (or the pass ends): Redis
    /// walks about a million keys a second, so on a Redis of a million keys a pass spans about
    /// 200 collections, and on a small one it ends in the first.
    public static let timePerCollection: Duration = .milliseconds(4)
    /// And never more steps than this, whatever the clock says.
    public static let maxStepsPerCollection = 100

    /// `<namespace>:exhausted_deliveries:` (REDIS_NAMESPACE of Mastodon ≤ 4.3), else the bare name.
    public let keyPrefix: String
    /// At most this many hosts are counted in one pass (memory stays bounded whatever Redis holds).
    public let maxHosts: Int
    public private(set) var cursor = "0"
    private var found: [String: Int] = [:]
    private var foundCapped = false
    public private(set) var lastPass: Pass?

    public init(namespace: String, maxHosts: Int = 10_000) {
        keyPrefix = (namespace.isEmpty ? "" : namespace + ":") + Self.keyName
        self.maxHosts = maxHosts
    }

    public var nextCommand: [String] { ["SCAN", cursor, "MATCH", keyPrefix + "*", "COUNT", String(Self.keysPerStep)] }

    /// The host a key names; nil for a key that only looks like one.
    public func host(ofKey key: String) -> String? {
        guard key.hasPrefix(keyPrefix) else { return nil }
        let host = String(key.dropFirst(keyPrefix.count))
        return host.isEmpty ? nil : host
    }

    /// A step's outcome: Redis's next cursor and each key's SCARD (nil: not a set, or gone).
    /// A cursor of "0" ends the pass, which becomes `lastPass`.
    public mutating func record(nextCursor: String, counts: [(key: String, days: Int?)], now: Double) {
        for (key, days) in counts {
            guard let host = host(ofKey: key), let days, days > 0 else { continue }
            if found[host] == nil, found.count >= maxHosts {
                foundCapped = true
                continue
            }
            found[host] = days
        }
        cursor = nextCursor
        if nextCursor == "0" {
            lastPass = Pass(days: found, capped: foundCapped, completedAt: now)
            found = [:]
            foundCapped = false
        }
    }

    /// A failed step: the pass starts over at the next collection (a cursor may be stale after a
    /// reconnect to another server), and the last complete pass stays.
    public mutating func restart() {
        cursor = "0"
        found = [:]
        foundCapped = false
    }

    /// The last complete pass as samples. Pure.
    public static func emit(_ pass: Pass?, maxHosts: Int, into sink: MetricSink) {
        guard let pass else { return }
        sink.declare("mastodon_federation_failing_hosts",
                     help: "Remote hosts whose deliveries failed on this many distinct days (Mastodon's exhausted_deliveries sets); days=\"7\" is 7 or more, where Mastodon marks the host unavailable.",
                     type: .gauge)
        for (days, hosts) in pass.histogram.sorted(by: { $0.key < $1.key }) {
            sink.gauge("mastodon_federation_failing_hosts", help: "", Double(hosts), labels: [Label("days", String(days))])
        }
        sink.gauge("mastodon_federation_scan_capped", help: "1 when more failing hosts existed than the scan counts (mastodon_federation_scan_max_hosts).",
                   pass.capped ? 1 : 0)
        sink.gauge("mastodon_federation_scan_max_hosts", help: "The most failing hosts one scan of exhausted_deliveries keys counts.", Double(maxHosts))
        sink.gauge("mastodon_federation_scan_completed_timestamp_seconds", help: "When the last complete scan of Redis for exhausted_deliveries keys ended.",
                   pass.completedAt)
    }
}
