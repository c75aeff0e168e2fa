import Logging
import MastiffCollectors
import MastiffCore
import MastiffStatsd
import Synchronization

/// The running agent: the current configuration, the collectors built from it, and the agent's
/// own metrics. A reload builds a complete new runtime and swaps it in under the lock, so a
/// scrape sees either the old configuration or the new one, never a mix.
final class Agent: Sendable {
    struct Runtime: Sendable {
        var config: MastiffConfig
        var collectors: [any Collector]
        var runner: CollectorRunner
    }

    private let runtime: Mutex<Runtime>
    private let source: ConfigLoader.Source
    private let logger: Logger
    private let procRoot: String
    /// Kept across reloads, so process CPU and fault counters stay monotonic.
    private let processState: ProcessCollectorState
    private let reloadStatus = Mutex<(successful: Bool, lastSuccess: Double)>((true, 0))
    private let startTime: Double
    private let clock: any WallClock
    /// The statsd series and counters; kept across reloads (a reload swaps only its mapping).
    /// nil when statsd is disabled at start.
    let statsdBridge: StatsdBridge?

    init(config: MastiffConfig, statsdMapping: StatsdMapping, source: ConfigLoader.Source, logger: Logger, procRoot: String = "/proc",
         clock: any WallClock = SystemWallClock()) {
        self.source = source
        self.logger = logger
        self.procRoot = procRoot
        self.clock = clock
        let startTime = clock.now()
        self.startTime = startTime
        reloadStatus.withLock { $0.lastSuccess = startTime }
        let processState = ProcessCollectorState()
        self.processState = processState
        runtime = Mutex(Self.makeRuntime(config, procRoot: procRoot, processState: processState, logger: logger))
        statsdBridge = config.statsd.enabled ? StatsdBridge(settings: config.statsd, mapping: statsdMapping, clock: clock) : nil
    }

    /// The configuration and the statsd mapping it names, both validated; what start-up,
    /// `check-config` and SIGHUP read.
    static func loadConfiguration(_ source: ConfigLoader.Source) throws(ConfigError) -> (MastiffConfig, StatsdMapping) {
        let config = try ConfigLoader.load(source)
        return (config, try StatsdMapping.load(config.statsd))
    }

    var config: MastiffConfig { runtime.withLock { $0.config } }

    private static func makeRuntime(_ config: MastiffConfig, procRoot: String, processState: ProcessCollectorState,
                                    logger: Logger) -> Runtime {
        var collectors: [any Collector] = []
        if config.collectors.system.enabled {
            collectors.append(SystemCollector(procRoot: procRoot, filesystems: config.collectors.system.filesystems))
        }
        if config.collectors.processes.enabled {
            collectors.append(ProcessCollector(procRoot: procRoot, groups: config.collectors.processes.effectiveGroups,
                                               readPSS: config.collectors.processes.pss, state: processState))
        }
        let settings = config.collectors
        if settings.postgres.enabled {
            collectors.append(PostgresCollector(dsn: settings.postgres.dsn, topTables: settings.postgres.topTables,
                                                collectorTimeout: settings.timeout, mastodonInterval: settings.postgres.mastodonInterval,
                                                sizeInterval: settings.postgres.sizeInterval))
        }
        if settings.pgbouncer.enabled {
            collectors.append(PgBouncerCollector(dsn: settings.pgbouncer.dsn, collectorTimeout: settings.timeout))
        }
        if settings.redis.enabled {
            collectors.append(RedisCollector(url: settings.redis.url, collectorTimeout: settings.timeout))
        }
        if !settings.mastodonEndpoints.isEmpty {
            collectors.append(MastodonEndpointsCollector(endpoints: settings.mastodonEndpoints, collectorTimeout: settings.timeout))
        }
        if settings.sidekiq.enabled {
            collectors.append(SidekiqCollector(url: settings.sidekiq.redisURL ?? settings.redis.url, namespace: settings.sidekiq.namespace,
                                               collectorTimeout: settings.timeout))
        }
        return Runtime(config: config, collectors: collectors,
                       runner: CollectorRunner(timeout: config.collectors.timeout, logger: logger))
    }

    /// Re-reads the configuration. A bad file keeps the running configuration and is reported by
    /// `mastiff_config_last_reload_successful 0` and an error log line.
    @discardableResult
    func reload() -> Bool {
        let newConfig: MastiffConfig
        let newMapping: StatsdMapping
        do {
            (newConfig, newMapping) = try Self.loadConfiguration(source)
        } catch {
            reloadStatus.withLock { $0.successful = false }
            logger.error("configuration reload failed; keeping the running configuration", metadata: ["error": "\(error)"])
            return false
        }
        let old = config
        if newConfig.listen != old.listen {
            logger.warning("listen address changed; it takes effect after a restart",
                           metadata: ["http.address": "\(old.listen)", "http.new_address": "\(newConfig.listen)"])
        }
        if newConfig.statsd.enabled != old.statsd.enabled || StatsdListenerSettings(newConfig.statsd) != StatsdListenerSettings(old.statsd)
            || newConfig.statsd.maxSeries != old.statsd.maxSeries || newConfig.statsd.unmapped != old.statsd.unmapped
            || newConfig.statsd.mappingCacheSize != old.statsd.mappingCacheSize {
            logger.warning("statsd listeners, max_series, unmapped and mapping_cache_size take effect after a restart; the new mapping is in use")
        }
        statsdBridge?.replaceMapping(newMapping)
        let built = Self.makeRuntime(newConfig, procRoot: procRoot, processState: processState, logger: logger)
        runtime.withLock { $0 = built }
        let now = clock.now()
        reloadStatus.withLock { $0 = (true, now) }
        logger.info("configuration reloaded", metadata: ["config.source": "\(source)"])
        return true
    }

    /// One scrape: every collector under its timeout, plus the agent's own metrics.
    func collectFamilies() async -> [MetricFamily] {
        let (collectors, runner) = runtime.withLock { ($0.collectors, $0.runner) }
        var families = await runner.collect(collectors)
        families.append(contentsOf: selfMetrics())
        if let statsdBridge { families.append(contentsOf: statsdBridge.selfMetrics()) }
        return families
    }

    /// The exposition: collectors' and agent families, then the statsd series written straight
    /// from the store. Two families of one name would make the whole exposition invalid, so a
    /// statsd family whose name is already taken is left out (the renderer likewise keeps the
    /// first of two same-named families from collectors).
    func scrape() async -> String {
        let families = await collectFamilies()
        var text = ExpositionRenderer.render(families)
        statsdBridge?.renderSeries(into: &text, excluding: Set(families.map(\.name)))
        return text
    }

    private func selfMetrics() -> [MetricFamily] {
        let status = reloadStatus.withLock { $0 }
        return [
            MetricFamily(name: "mastiff_build_info", help: "Build of the running mastiff; the value is always 1.", type: .gauge,
                         samples: [Sample(labels: [Label("version", MastiffVersion.current), Label("swift", MastiffVersion.swift)], value: 1)]),
            MetricFamily(name: "mastiff_start_time_seconds", help: "Time mastiff started, in seconds since the Unix epoch.", type: .gauge,
                         samples: [Sample(labels: [], value: startTime)]),
            MetricFamily(name: "mastiff_config_last_reload_successful", help: "Whether the last configuration load or reload succeeded.",
                         type: .gauge, samples: [Sample(labels: [], value: status.successful ? 1 : 0)]),
            MetricFamily(name: "mastiff_config_last_reload_success_timestamp_seconds",
                         help: "Time of the last successful configuration load, in seconds since the Unix epoch.",
                         type: .gauge, samples: [Sample(labels: [], value: status.lastSuccess)]),
        ]
    }
}
