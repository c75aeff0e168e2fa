import Logging
import MastiffCollectors
import MastiffCore
import Synchronization

/// The collectors a configuration turns on, and the runner that runs them: what a sample and
/// `collect --once` collect.
///
/// The runner (with its error counters and single-flight guard) lives as long as the set. A
/// reload swaps in the new configuration and collector list under the lock, so a collection sees
/// either the old configuration or the new one, never a mix; each collector whose settings did
/// not change is kept as it is, with its connection and caches.
public final class CollectorSet: Sendable {
    private struct Current: Sendable {
        var config: MastiffConfig
        var collectors: [any Collector]
    }

    private let current: Mutex<Current>
    private let runner: CollectorRunner
    private let procRoot: String
    /// Kept across reloads, so process CPU and fault counters stay monotonic.
    private let processState = ProcessCollectorState()

    public init(config: MastiffConfig, procRoot: String, logger: Logger) {
        self.procRoot = procRoot
        runner = CollectorRunner(timeout: config.collectors.timeout, logger: logger)
        current = Mutex(Current(config: config, collectors: Self.make(config, previous: nil, procRoot: procRoot, processState: processState)))
    }

    /// One run of every collector.
    public func collect() async -> Collection {
        await runner.run(current.withLock { $0.collectors })
    }

    /// A reload's configuration: unchanged collectors stay, the others are rebuilt.
    public func replace(with config: MastiffConfig) {
        current.withLock { current in
            current = Current(config: config, collectors: Self.make(config, previous: current, procRoot: procRoot, processState: processState))
        }
        runner.timeout = config.collectors.timeout
    }

    /// The collectors the configuration turns on. Those of `previous` whose settings are the
    /// same in `config` are reused, so a reload keeps their connections, caches and backoff.
    private static func make(_ config: MastiffConfig, previous: Current?, procRoot: String,
                             processState: ProcessCollectorState) -> [any Collector] {
        let settings = config.collectors
        var collectors: [any Collector] = []
        func add(_ name: String, unchanged: (CollectorSettings) -> Bool, _ make: () -> any Collector) {
            if let previous, unchanged(previous.config.collectors),
               let kept = previous.collectors.first(where: { $0.name == name }) {
                collectors.append(kept)
            } else {
                collectors.append(make())
            }
        }
        if settings.system.enabled {
            add("system", unchanged: { $0.system == settings.system }) {
                SystemCollector(procRoot: procRoot, filesystems: settings.system.filesystems)
            }
        }
        if settings.processes.enabled {
            add("processes", unchanged: { $0.processes == settings.processes }) {
                ProcessCollector(procRoot: procRoot, groups: settings.processes.effectiveGroups, readPSS: settings.processes.pss,
                                 state: processState)
            }
        }
        // Collectors that derive deadlines from the collector timeout are rebuilt when it changes.
        if settings.postgres.enabled {
            add("postgres", unchanged: { $0.postgres == settings.postgres && $0.timeout == settings.timeout }) {
                PostgresCollector(dsn: settings.postgres.dsn, topTables: settings.postgres.topTables, collectorTimeout: settings.timeout,
                                  mastodonInterval: settings.postgres.mastodonInterval, sizeInterval: settings.postgres.sizeInterval)
            }
        }
        if settings.pgbouncer.enabled {
            add("pgbouncer", unchanged: { $0.pgbouncer == settings.pgbouncer && $0.timeout == settings.timeout }) {
                PgBouncerCollector(dsn: settings.pgbouncer.dsn, collectorTimeout: settings.timeout)
            }
        }
        if settings.redis.enabled {
            add("redis", unchanged: { $0.redis == settings.redis && $0.timeout == settings.timeout }) {
                RedisCollector(url: settings.redis.url, namespace: settings.sidekiq.namespace, collectorTimeout: settings.timeout)
            }
        }
        if !settings.mastodonEndpoints.isEmpty {
            add("mastodon_endpoints", unchanged: { $0.mastodonEndpoints == settings.mastodonEndpoints && $0.timeout == settings.timeout }) {
                MastodonEndpointsCollector(endpoints: settings.mastodonEndpoints, collectorTimeout: settings.timeout)
            }
        }
        let probes = settings.probes.isEmpty ? config.instance.url.map { ProbeSpec.defaults(instanceURL: $0) } ?? [] : settings.probes
        if !probes.isEmpty {
            add("probes", unchanged: { _ in previous?.config.collectors.probes == settings.probes && previous?.config.instance == config.instance
                    && previous?.config.collectors.timeout == settings.timeout }) {
                ProbeCollector(probes: probes, collectorTimeout: settings.timeout)
            }
        }
        if settings.sidekiq.enabled {
            let url = settings.sidekiq.redisURL ?? settings.redis.url
            add("sidekiq", unchanged: { ($0.sidekiq.redisURL ?? $0.redis.url) == url && $0.sidekiq == settings.sidekiq && $0.timeout == settings.timeout }) {
                SidekiqCollector(url: url, namespace: settings.sidekiq.namespace, collectorTimeout: settings.timeout, stallAfter: settings.sidekiq.stallAfter)
            }
        }
        return collectors
    }
}
