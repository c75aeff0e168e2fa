import MastiffCore
import Synchronization

/// The statsd bridge as the rest of mastiff sees it: listeners hand it parsed packets, scrapes
/// read its families. One lock guards the store, the mapper's cache and the counters; a
/// listener takes it once per batch of datagrams.
public final class StatsdBridge: Sendable {
    public enum Transport: String, Sendable, CaseIterable {
        case udp, tcp, unixgram
    }

    private struct State {
        var store: StatsdSeriesStore
        var packets: [Transport: Int] = [:]
        var lines: [Transport: Int] = [:]
        var parseErrors: [StatsdParseError: Int] = [:]
        var listenerUp: [Transport: Bool] = [:]
        var tcpConnections = 0
        var tcpConnectionsRefused = 0
        var tcpConnectionsTimedOut = 0
    }

    private let state: Mutex<State>
    private let clock: any WallClock

    public init(mapping: StatsdMapping, maxSeries: Int, unmapped: UnmappedNames, cacheCapacity: Int = 10_000,
                appendTotalToCounters: Bool = true, clock: any WallClock = SystemWallClock()) {
        let store = StatsdSeriesStore(mapper: StatsdMapper(mapping: mapping), maxSeries: maxSeries, unmapped: unmapped,
                                      cacheCapacity: cacheCapacity, appendTotalToCounters: appendTotalToCounters)
        state = Mutex(State(store: store))
        self.clock = clock
    }

    /// Applies one batch: `packets` datagrams (or TCP reads) already parsed into `result`.
    public func ingest(_ result: StatsdLineParser.Result, packets: Int, transport: Transport) {
        let now = clock.now()
        state.withLock { state in
            state.packets[transport, default: 0] += packets
            state.lines[transport, default: 0] += result.lines
            for error in result.errors { state.parseErrors[error, default: 0] += 1 }
            state.store.apply(result.events, now: now)
        }
    }

    /// A reloaded mapping: series already exposed stay, new events follow the new rules.
    public func replaceMapping(_ mapping: StatsdMapping) {
        let mapper = StatsdMapper(mapping: mapping)
        state.withLock { $0.store.replaceMapper(mapper) }
    }

    public func setListener(_ transport: Transport, up: Bool) {
        state.withLock { $0.listenerUp[transport] = up }
    }

    /// Counts an accepted (`opened`) or closed TCP connection; false when `limit` is reached
    /// and the connection must be refused.
    public func tcpConnection(opened: Bool, limit: Int) -> Bool {
        state.withLock { state in
            if !opened {
                state.tcpConnections -= 1
                return true
            }
            guard state.tcpConnections < limit else {
                state.tcpConnectionsRefused += 1
                return false
            }
            state.tcpConnections += 1
            return true
        }
    }

    /// Counts a TCP connection closed because it sent nothing within the idle timeout.
    public func tcpConnectionTimedOut() {
        state.withLock { $0.tcpConnectionsTimedOut += 1 }
    }

    /// The bridge's own `statsd_` metrics.
    public func selfMetrics() -> [MetricFamily] {
        state.withLock { Self.selfMetrics($0) }
    }

    /// Appends the statsd series in the text format, leaving out families named in
    /// `excluding` (names mastiff's own collectors already use).
    public func renderSeries(into out: inout String, excluding: Set<String>) {
        let now = clock.now()
        state.withLock { $0.store.render(into: &out, now: now, excluding: excluding) }
    }

    private static func selfMetrics(_ state: State) -> [MetricFamily] {
        let store = state.store
        let statistics = store.statistics
        func counter(_ name: String, _ help: String, _ label: String, _ values: [(String, Int)]) -> MetricFamily {
            MetricFamily(name: name, help: help, type: .counter,
                         samples: values.sorted { $0.0 < $1.0 }.map { Sample(labels: [Label(label, $0.0)], value: Double($0.1)) })
        }
        let transports = Transport.allCases.map(\.rawValue)
        return [
            counter("statsd_packets_total", "Datagrams (UDP, unixgram) or reads (TCP) received.", "transport",
                    transports.map { name in (name, state.packets[Transport(rawValue: name)!] ?? 0) }),
            counter("statsd_lines_total", "statsd lines received.", "transport",
                    transports.map { name in (name, state.lines[Transport(rawValue: name)!] ?? 0) }),
            counter("statsd_parse_errors_total", "Lines or values rejected by the parser, by reason.", "reason",
                    StatsdParseError.allCases.map { error in
                        (error.rawValue, (state.parseErrors[error] ?? 0) + (error == .reservedLabel ? statistics.reservedLabels : 0))
                    }),
            counter("statsd_events_total", "Events applied to a series, by statsd metric type.", "type",
                    StatsdMetricType.allCases.map { ($0.rawValue, statistics.events($0)) }),
            MetricFamily(name: "statsd_events_unmapped_total", help: "Events whose name no mapping rule matched.", type: .counter,
                         samples: [Sample(labels: [], value: Double(statistics.unmapped))]),
            counter("statsd_events_dropped_total",
                    "Events not applied: drop action, unmapped with unmapped: drop, series limit, negative counter, empty name, invalid label, a name Prometheus reserves (up, scrape_*).",
                    "reason", ["drop_action", "unmapped", "series_limit", "negative_counter", "empty_name", "invalid_label", "reserved_name"]
                        .map { ($0, statistics.dropped[$0] ?? 0) }),
            counter("statsd_conflicts_total",
                    "Events refused because their family exists with another type or label names, or the name is taken.", "kind",
                    ["type", "labels", "name"].map { ($0, statistics.conflicts[$0] ?? 0) }),
            MetricFamily(name: "statsd_mapping_cache_hits_total", help: "Mapping lookups answered from the cache.", type: .counter,
                         samples: [Sample(labels: [], value: Double(statistics.cacheHits))]),
            MetricFamily(name: "statsd_mapping_cache_misses_total", help: "Mapping lookups that ran the rules.", type: .counter,
                         samples: [Sample(labels: [], value: Double(statistics.cacheMisses))]),
            MetricFamily(name: "statsd_mapping_rules", help: "Rules in the loaded mapping.", type: .gauge,
                         samples: [Sample(labels: [], value: Double(store.mapper.mapping.rules.count))]),
            MetricFamily(name: "statsd_series", help: "Live statsd series.", type: .gauge,
                         samples: [Sample(labels: [], value: Double(store.seriesCount))]),
            MetricFamily(name: "statsd_series_limit", help: "Most statsd series kept (statsd.max_series).", type: .gauge,
                         samples: [Sample(labels: [], value: Double(store.maxSeries))]),
            MetricFamily(name: "statsd_series_expired_total", help: "Series removed after their mapping's ttl without updates.",
                         type: .counter, samples: [Sample(labels: [], value: Double(statistics.expired))]),
            MetricFamily(name: "statsd_listener_up", help: "Whether the listener for a transport is bound and receiving.", type: .gauge,
                         samples: state.listenerUp.keys.sorted { $0.rawValue < $1.rawValue }.map {
                             Sample(labels: [Label("transport", $0.rawValue)], value: state.listenerUp[$0]! ? 1 : 0)
                         }),
            MetricFamily(name: "statsd_tcp_connections", help: "Open statsd TCP connections.", type: .gauge,
                         samples: [Sample(labels: [], value: Double(state.tcpConnections))]),
            MetricFamily(name: "statsd_tcp_connections_refused_total", help: "TCP connections closed at once because the limit was reached.",
                         type: .counter, samples: [Sample(labels: [], value: Double(state.tcpConnectionsRefused))]),
            MetricFamily(name: "statsd_tcp_connections_idle_closed_total",
                         help: "TCP connections closed because they sent nothing within statsd.tcp_idle_timeout.",
                         type: .counter, samples: [Sample(labels: [], value: Double(state.tcpConnectionsTimedOut))]),
        ]
    }
}
