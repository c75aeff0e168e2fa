import Logging
import MastiffCollectors
import MastiffCore
import MastiffPolicies
import MastiffStatsd
import Synchronization

/// The running agent: the current configuration, the collectors built from it, the sampler that
/// runs them, and the agent's own metrics.
///
/// The collector runner (with its error counters and single-flight guard) lives as long as the
/// agent. A reload swaps in a new configuration and collector list under the lock, so a sample
/// sees either the old configuration or the new one, never a mix; each collector whose settings
/// did not change is kept as it is, with its connection and caches.
public final class Agent: Sendable {
    private struct Runtime: Sendable {
        var config: MastiffConfig
        var collectors: [any Collector]
    }

    /// A reference, so that the sampler's collection closure can share it with the agent.
    private final class RuntimeBox: Sendable {
        let state: Mutex<Runtime>
        init(_ runtime: Runtime) { state = Mutex(runtime) }
        func withLock<T>(_ body: (inout Runtime) -> T) -> T { state.withLock { body(&$0) } }
    }

    private let runtime: RuntimeBox
    private let runner: CollectorRunner
    private let source: ConfigLoader.Source
    private let logger: Logger
    private let procRoot: String
    /// Kept across reloads, so process CPU and fault counters stay monotonic.
    private let processState: ProcessCollectorState
    private let reloadStatus = Mutex<(successful: Bool, lastSuccess: Double)>((true, 0))
    private let startTime: Double
    let clock: any WallClock
    /// The statsd series and counters; kept across reloads (a reload swaps only its mapping).
    /// nil when statsd is disabled at start.
    public let statsdBridge: StatsdBridge?
    /// nil for one-shot use (`collect --once`), where every scrape collects.
    public let sampler: Sampler<ContinuousClock>?
    /// nil for one-shot use, which must not touch the running agent's state.
    public let stateStore: StateStore?
    /// Recent samples of the series consumers register; fed by the sampler.
    public let history: HistoryStore
    /// The alert rules, evaluated after each sample; nil without a sampler.
    public let alerting: Alerting?
    /// Routes, groups and delivers notifications of the alerts; nil without a sampler.
    public let notifier: Notifier?
    /// Restarts leaking workers (`restarts:`); nil without a sampler.
    public let restarts: RestartService?
    /// Backups, restore drills and jobs on their schedules; nil without a sampler.
    public let work: WorkScheduler?
    /// The status page's sparkline series in the history; nil without a sampler.
    let statusHistory: StatusHistory?

    public init(config: MastiffConfig, statsdMapping: StatsdMapping, source: ConfigLoader.Source, logger: Logger, procRoot: String = "/proc",
                clock: any WallClock = SystemWallClock(), sampling: Bool = true, stateStore: StateStore? = nil, ruleGroups: [RuleGroup] = []) {
        self.stateStore = stateStore
        self.source = source
        self.logger = logger
        self.procRoot = procRoot
        self.clock = clock
        let startTime = clock.now()
        self.startTime = startTime
        reloadStatus.withLock { $0.lastSuccess = startTime }
        let processState = ProcessCollectorState()
        self.processState = processState
        let runtime = RuntimeBox(Runtime(config: config, collectors: Self.makeCollectors(config, previous: nil, procRoot: procRoot,
                                                                                          processState: processState)))
        self.runtime = runtime
        let runner = CollectorRunner(timeout: config.collectors.timeout, logger: logger)
        self.runner = runner
        statsdBridge = config.statsd.enabled ? StatsdBridge(settings: config.statsd, mapping: statsdMapping, clock: clock) : nil
        let history = HistoryStore(limitBytes: config.sampling.historyLimit, sampleInterval: config.sampling.interval)
        self.history = history
        statusHistory = sampling ? StatusHistory(history: history, logger: logger) : nil
        let alerting = sampling ? Alerting(groups: ruleGroups, settings: config.alerts, history: history, logger: logger,
                                           stateStore: stateStore, now: startTime) : nil
        self.alerting = alerting
        let notifier = sampling ? Notifier(settings: config.alerts, stateStore: stateStore, logger: logger, clock: clock) : nil
        self.notifier = notifier
        let restarts = sampling ? RestartService(targets: config.restarts, stateStore: stateStore, logger: logger, startedAt: startTime,
                                                      samplingInterval: config.sampling.interval, procRoot: procRoot) { action, what, succeeded in
            let memory = action.memoryBefore.map { ", \(ByteSize.format($0)) before" } ?? ""
            notifier?.announce(labels: [Label("alertname", "MastiffRestart"), Label("target", action.target), Label("reason", action.reason.rawValue)],
                               summary: succeeded ? "Restarted \(action.target) (pid \(action.pid)): \(action.detail)" : "Restart of \(action.target) (pid \(action.pid)) failed",
                               description: "\(succeeded ? "Restarted" : "Could not restart") \(action.target) pid \(action.pid) for \(action.reason.rawValue): \(action.detail)\(memory). \(what)")
        } : nil
        self.restarts = restarts
        // The agent's own families (reload status, statsd, restarts, notifications) are part of
        // what the rules read (ConfigReloadFailed, StatsdSeriesLimitReached,
        // RestartBudgetExhausted); the sampler's closure reaches the agent through this box,
        // filled once the agent exists.
        let agentReference = AgentReference()
        work = sampling ? WorkScheduler(config: config, stateStore: stateStore, logger: logger, procRoot: procRoot, clock: clock,
                                        isPaused: { notifier?.maintenanceActive() ?? false },
                                        availableMemory: { agentReference.agent?.sampler?.latest?.views.memory?.availableBytes }) { summary, description in
            notifier?.announce(labels: [Label("alertname", "MastiffScheduledWork")], summary: summary, description: description)
        } : nil
        sampler = sampling ? Sampler(interval: config.sampling.interval, clock: ContinuousClock(), wallClock: clock,
                                     onSample: { snapshot in
                                         history.record(snapshot.families + (agentReference.agent?.ownFamilies(now: snapshot.time) ?? []),
                                                        at: snapshot.time)
                                         let interval = runtime.withLock { $0.config.alerts.interval }
                                         alerting?.evaluate(snapshot, defaultIntervalMs: interval.map { Int64($0.seconds * 1000) })
                                         if let alerting, let notifier { notifier.observe(alerting.notifiableAlerts()) }
                                         restarts?.observe(snapshot, firingAlerts: alerting?.firingAlertNames() ?? [],
                                                           maintenance: notifier?.maintenanceActive() ?? false)
                                     }) {
            await runner.run(runtime.withLock { $0.collectors })
        } : nil
        agentReference.agent = self
    }

    /// What the agent itself measures, beside the collectors. One list for both readers: /metrics
    /// renders it and the history records it for the rules, so a rule on any family /metrics shows
    /// (mastiff_state_write_failures_total, mastiff_history_*) can fire inside mastiff too.
    func ownFamilies(now: Double) -> [MetricFamily] {
        var families = selfMetrics()
        if let sampler {
            families.append(contentsOf: sampler.selfMetrics())
            families.append(contentsOf: history.selfMetrics())
        }
        if let alerting { families.append(contentsOf: alerting.metrics()) }
        if let notifier { families.append(contentsOf: notifier.metrics()) }
        if let restarts { families.append(contentsOf: restarts.metrics(now: now)) }
        if let work { families.append(contentsOf: work.metrics(now: now)) }
        if let stateStore { families.append(contentsOf: stateStore.selfMetrics()) }
        if let statsdBridge { families.append(contentsOf: statsdBridge.selfMetrics()) }
        return families
    }

    /// Notes this start in the state file: how many starts, and when the last one was (a crash
    /// loop shows there before anything else).
    public func recordStart() {
        guard let stateStore else { return }
        let starts = Double(max(0, min(stateStore.section("agent")?["starts"]?.integer ?? 0, 1 << 50)))
        stateStore.update("agent", .object(["starts": .number(starts + 1), "last_start": .number(startTime),
                                             "version": .string(MastiffVersion.current)]))
    }

    /// The configuration and the statsd mapping it names, both validated; what start-up,
    /// `check-config` and SIGHUP read.
    public static func loadConfiguration(_ source: ConfigLoader.Source) throws(ConfigError) -> (MastiffConfig, StatsdMapping) {
        let config = try ConfigLoader.load(source)
        return (config, try StatsdMapping.load(config.statsd))
    }

    /// The rule groups the configuration names (built-in and rule_files), validated.
    public static func loadRules(_ config: MastiffConfig) throws(ConfigError) -> [RuleGroup] {
        try RuleLoading.load(config.alerts)
    }

    public var config: MastiffConfig { runtime.withLock { $0.config } }

    /// The collectors the configuration turns on. Those of `previous` whose settings are the
    /// same in `config` are reused, so a reload keeps their connections, caches and backoff.
    private static func makeCollectors(_ config: MastiffConfig, previous: Runtime?, procRoot: String,
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
                RedisCollector(url: settings.redis.url, collectorTimeout: settings.timeout)
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
                SidekiqCollector(url: url, namespace: settings.sidekiq.namespace, collectorTimeout: settings.timeout)
            }
        }
        return collectors
    }

    /// Re-reads the configuration. A bad file keeps the running configuration and is reported by
    /// `mastiff_config_last_reload_successful 0` and an error log line.
    @discardableResult
    public func reload() -> Bool {
        let newConfig: MastiffConfig
        let newMapping: StatsdMapping
        let newRules: [RuleGroup]
        do {
            (newConfig, newMapping) = try Self.loadConfiguration(source)
            newRules = try Self.loadRules(newConfig)
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
            || newConfig.statsd.mappingCacheSize != old.statsd.mappingCacheSize || newConfig.statsd.counterSuffix != old.statsd.counterSuffix {
            logger.warning("statsd listeners, max_series, unmapped, mapping_cache_size and counter_suffix take effect after a restart; the new mapping is in use")
        }
        statsdBridge?.replaceMapping(newMapping)
        alerting?.replaceRules(newRules, settings: newConfig.alerts)
        notifier?.replaceSettings(newConfig.alerts)
        restarts?.replaceTargets(newConfig.restarts, startedAt: clock.now())
        runtime.withLock { current in
            let collectors = Self.makeCollectors(newConfig, previous: current, procRoot: procRoot, processState: processState)
            current = Runtime(config: newConfig, collectors: collectors)
        }
        runner.timeout = newConfig.collectors.timeout
        sampler?.setInterval(newConfig.sampling.interval)
        sampler?.invalidate()
        if newConfig.sampling.historyLimit != old.sampling.historyLimit {
            logger.warning("sampling.history_limit takes effect after a restart")
        }
        let now = clock.now()
        reloadStatus.withLock { $0 = (true, now) }
        logger.info("configuration reloaded", metadata: ["config.source": "\(source)"])
        return true
    }

    /// One collection of every collector now, outside the sampler.
    public func collectNow() async -> Collection {
        await runner.run(runtime.withLock { $0.collectors })
    }

    /// The families a scrape renders: the latest sample (at most one sampling interval old) or,
    /// without a sampler, a collection now; plus the agent's own metrics.
    public func collectFamilies() async -> [MetricFamily] {
        var families: [MetricFamily]
        if let sampler {
            families = await sampler.snapshot(maxAge: sampler.interval).families
        } else {
            families = await collectNow().families
        }
        families.append(contentsOf: ownFamilies(now: clock.now()))
        return families
    }

    /// The exposition: collectors' and agent families, then the statsd series written straight
    /// from the store. Two families of one name would make the whole exposition invalid, so a
    /// statsd family whose name is already taken is left out (the renderer likewise keeps the
    /// first of two same-named families from collectors).
    public func scrape() async -> String {
        let families = await collectFamilies()
        var text = ExpositionRenderer.render(families)
        statsdBridge?.renderSeries(into: &text, excluding: Set(families.map(\.name)))
        return text
    }

    /// What `mastiff status` and `/api/v1/status` show: the last sample, each collector's last
    /// result, which sources answered, the state file's health. Collector details are the
    /// collectors' own redacted messages.
    public func status() -> JSONValue {
        let reload = reloadStatus.withLock { $0 }
        var object: [String: JSONValue] = [
            "ok": .bool(true),
            "version": .string(MastiffVersion.current),
            "started_at": .number(startTime),
            "now": .number(clock.now()),
            "config": .string("\(source)"),
            "reload": .object(["successful": .bool(reload.successful), "last_success": .number(reload.lastSuccess)]),
        ]
        if let sampler {
            object["interval_seconds"] = .number(sampler.interval.seconds)
            if let latest = sampler.latest {
                object["sample"] = .object([
                    "sequence": .number(Double(latest.sequence)), "time": .number(latest.time),
                    "duration_seconds": .number(latest.durationSeconds),
                ])
                object["collectors"] = .array(latest.collectors.map { result in
                    var entry: [String: JSONValue] = ["name": .string(result.name), "ok": .bool(result.succeeded),
                                                      "duration_seconds": .number(result.durationSeconds)]
                    if let detail = result.detail { entry["detail"] = .string(detail) }
                    return .object(entry)
                })
                object["sources"] = .object(latest.sourcesUp.mapValues { .bool($0) })
            }
        }
        if let alerting {
            let counts = alerting.counts
            object["alerts"] = .object(["rules": .number(Double(alerting.ruleCount)), "pending": .number(Double(counts.pending)),
                                        "firing": .number(Double(counts.firing))])
        }
        if let notifier { object["notifications"] = notifier.statusJSON() }
        if let restarts { object["restarts"] = restarts.recentJSON() }
        if let work, work.hasWork { object["work"] = work.statusJSON(now: clock.now()) }
        if let stateStore {
            var health: [String: JSONValue] = ["path": .string(stateStore.path), "health": .string(stateStore.health.description),
                                               "write_failures": .number(Double(stateStore.writeFailures))]
            health["ok"] = .bool(stateStore.health == .ok || stateStore.health == .empty)
            object["state"] = .object(health)
        }
        return .object(object)
    }

    /// /healthz: unhealthy when the sampler has not completed a sample for three intervals
    /// (plus the collectors' timeout): mastiff then watches nothing, whatever else still answers.
    public func health() -> (healthy: Bool, body: String) {
        guard let sampler else { return (true, "ok\n") }
        let now = clock.now()
        let allowed = 3 * sampler.interval.seconds + config.collectors.timeout.seconds
        let last = sampler.latest?.time ?? startTime
        let age = now - last
        guard age <= allowed else {
            return (false, "sampler stalled: \(sampler.latest == nil ? "no sample since the start" : "last sample") \(Int(saturating: age.rounded())) s ago (allowed \(Int(saturating: allowed)) s)\n")
        }
        return (true, "ok\n")
    }

    /// Answers a control socket request.
    public func handleControl(_ command: String, _ request: JSONValue) async -> JSONValue {
        switch command {
        case "status": return status()
        case "alerts":
            guard let alerting else { return ControlSocketService.error("this agent does not evaluate rules") }
            return alerting.alertsJSON(now: clock.now(), deliveries: notifier?.deliveries() ?? [:])
        case "maintenance":
            guard let notifier else { return ControlSocketService.error("this agent does not send notifications") }
            let seconds = request["seconds"]
            if let seconds, Self.holdSeconds(seconds) == nil { return ControlSocketService.error(Self.holdSecondsProblem) }
            return notifier.maintenance(action: request["action"]?.string ?? "status", seconds: seconds.flatMap(Self.holdSeconds), reason: request["reason"]?.string)
        case "silence":
            guard let notifier else { return ControlSocketService.error("this agent does not send notifications") }
            switch request["action"]?.string {
            case "add":
                var matchers: [RouteMatcher] = []
                for item in request["matchers"]?.array ?? [] {
                    guard let text = item.string, let parsed = Self.parseMatcher(text) else {
                        return ControlSocketService.error("'\(item.string ?? "?")' is not a matcher (label=value or label=~regex)")
                    }
                    matchers.append(parsed)
                }
                guard !matchers.isEmpty else { return ControlSocketService.error("a silence needs at least one matcher, e.g. alertname=SidekiqRetriesGrowing") }
                guard let value = request["seconds"] else { return ControlSocketService.error("a silence needs --for, e.g. --for 2h") }
                guard let seconds = Self.holdSeconds(value) else { return ControlSocketService.error(Self.holdSecondsProblem) }
                return notifier.addSilence(matchers: matchers, seconds: seconds, comment: request["comment"]?.string ?? "")
            case "expire":
                return notifier.expireSilence(request["id"]?.string ?? "")
            default:
                return notifier.silences()
            }
        case "restarts":
            guard let restarts else { return ControlSocketService.error("this agent does not restart anything") }
            return restarts.listJSON(now: clock.now())
        case "notify_test":
            guard let notifier else { return ControlSocketService.error("this agent does not send notifications") }
            return await notifier.sendTest(receiver: request["receiver"]?.string ?? "")
        case "backup_run":
            guard let work else { return ControlSocketService.error("this agent runs no scheduled work") }
            return work.request(target: request["target"]?.string ?? "postgres")
        case "work":
            guard let work else { return ControlSocketService.error("this agent runs no scheduled work") }
            return work.statusJSON(now: clock.now())
        default: return ControlSocketService.error("unknown command '\(command)' (known: status, alerts, maintenance, silence, notify_test, restarts, backup_run, work)")
        }
    }

    /// The longest maintenance or silence a request may ask for: ten years.
    static let maxHoldSeconds = 10 * 365 * 86400.0
    static let holdSecondsProblem = "'seconds' must be a number of seconds above 0 and at most ten years"

    /// A maintenance's or a silence's length from a control request: a number in (0, ten years].
    static func holdSeconds(_ value: JSONValue) -> Double? {
        guard case .number(let seconds) = value, seconds.isFinite, seconds > 0, seconds <= maxHoldSeconds else { return nil }
        return seconds
    }

    /// `label=value` or `label=~regex`; the name as Alertmanager takes it (`[a-zA-Z_][a-zA-Z0-9_]*`).
    static func parseMatcher(_ text: String) -> RouteMatcher? {
        guard let equals = text.firstIndex(of: "=") else { return nil }
        let name = String(text[..<equals])
        var value = text[text.index(after: equals)...]
        let regex = value.hasPrefix("~")
        if regex { value = value.dropFirst() }
        guard MetricName.isValidLabelName(name) else { return nil }
        if regex, POSIXRegex.validate("^(" + value + ")$") != nil { return nil }
        return RouteMatcher(name: name, value: String(value), regex: regex)
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

/// A weak way back to the agent for the sampler's closure, which is made before the agent is.
private final class AgentReference: @unchecked Sendable {
    weak var agent: Agent?
}
