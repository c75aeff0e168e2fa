import Logging
import MastiffCore
import MastiffExecutors
import MastiffPolicies
import MastiffServer
import MastiffStatsd
import NIOPosix
import ServiceLifecycle

/// The composition root: every part of the running agent built once from the configuration and
/// wired forward — collectors → sampler → `SamplePipeline` (history, rules, then the notifier,
/// the restart service and the scheduled work) — plus the readers of what they hold (/metrics,
/// the status, the control commands) and the list of Services `mastiff run` runs in one
/// ServiceGroup. Nothing here decides or acts; each part does its own job.
///
/// `collect --once` builds only a `CollectorSet`.
public struct Agent: Sendable {
    public let configuration: RunningConfiguration
    public let facts: AgentFacts
    public let collectors: CollectorSet
    public let sampler: Sampler<ContinuousClock>
    public let history: HistoryStore
    public let alerting: Alerting
    public let notifier: Notifier
    public let restarts: RestartService
    public let work: WorkScheduler
    /// The statsd series and counters; kept across reloads (a reload swaps only its mapping).
    /// nil when statsd is disabled at start.
    public let statsdBridge: StatsdBridge?
    public let stateStore: StateStore?
    public let metrics: MetricsEndpoint
    public let status: AgentStatus
    public let control: ControlCommands
    public let reloader: ConfigurationReloader
    /// The web configuration's basic auth and headers for the HTTP paths.
    public let authenticator: BasicAuthenticator
    /// HTTPS for the HTTP paths (web_config's tls_server_config); nil: plain HTTP.
    let tls: TLSServerContext?
    let logger: Logger
    let procRoot: String
    let clock: any WallClock

    /// `webConfig`: the web configuration loaded from `webConfigPath` (mastiff.yml's
    /// web_config or `--web.config.file`), re-read from that path on SIGHUP.
    public init(config: MastiffConfig, statsdMapping: StatsdMapping, rules: [RuleGroup] = [], source: ConfigLoader.Source, logger: Logger,
                procRoot: String = "/proc", clock: any WallClock = SystemWallClock(), stateStore: StateStore? = nil,
                webConfig: WebConfig? = nil, webConfigPath: String? = nil, tls: TLSServerContext? = nil) {
        self.tls = tls
        self.logger = logger
        self.procRoot = procRoot
        self.clock = clock
        self.stateStore = stateStore
        let now = clock.now()
        let configuration = RunningConfiguration(config)
        let facts = AgentFacts(source: source, startTime: now)
        let collectors = CollectorSet(config: config, procRoot: procRoot, logger: logger)
        let statsdBridge = config.statsd.enabled ? StatsdBridge(settings: config.statsd, mapping: statsdMapping, clock: clock) : nil
        let history = HistoryStore(limitBytes: config.sampling.historyLimit, sampleInterval: config.sampling.interval)
        let statusHistory = StatusHistory(history: history, logger: logger)
        let alerting = Alerting(groups: rules, settings: config.alerts, history: history, logger: logger, stateStore: stateStore, now: now)
        let maintenance = MaintenanceState()
        let notifier = Notifier(settings: config.alerts, stateStore: stateStore, logger: logger, clock: clock, maintenanceState: maintenance)
        let restarts = RestartService(targets: config.restarts, stateStore: stateStore, logger: logger, startedAt: now,
                                      samplingInterval: config.sampling.interval, procRoot: procRoot,
                                      restarters: { Agent.restarters(for: $0, procRoot: procRoot) }) { action, what, succeeded in
            let memory = action.memoryBefore.map { ", \(ByteSize.format($0)) before" } ?? ""
            notifier.announce(labels: [Label("alertname", "MastiffRestart"), Label("target", action.target), Label("reason", action.reason.rawValue)],
                              summary: succeeded ? "Restarted \(action.target) (pid \(action.pid)): \(action.detail)" : "Restart of \(action.target) (pid \(action.pid)) failed",
                              description: "\(succeeded ? "Restarted" : "Could not restart") \(action.target) pid \(action.pid) for \(action.reason.rawValue): \(action.detail)\(memory). \(what)")
        }
        let work = WorkScheduler(config: config, stateStore: stateStore, logger: logger, procRoot: procRoot, clock: clock,
                                 isPaused: { maintenance.isActive }) { summary, description in
            notifier.announce(labels: [Label("alertname", "MastiffScheduledWork")], summary: summary, description: description)
        }
        let authenticator = BasicAuthenticator(webConfig)
        let ownMetrics = OwnMetrics(facts: facts, history: history, alerting: alerting, notifier: notifier, restarts: restarts, work: work,
                                    stateStore: stateStore, statsdBridge: statsdBridge, authenticator: authenticator)
        let pipeline = SamplePipeline(configuration: configuration, history: history, ownMetrics: ownMetrics, alerting: alerting,
                                      notifier: notifier, maintenance: maintenance, restarts: restarts, work: work)
        let sampler = Sampler(interval: config.sampling.interval, clock: ContinuousClock(), wallClock: clock,
                              onSample: pipeline.publish) { await collectors.collect() }
        let status = AgentStatus(facts: facts, clock: clock, configuration: configuration, sampler: sampler, alerting: alerting,
                                 notifier: notifier, restarts: restarts, work: work, stateStore: stateStore, history: history,
                                 statusHistory: statusHistory, ownMetrics: ownMetrics)
        self.configuration = configuration
        self.facts = facts
        self.collectors = collectors
        self.sampler = sampler
        self.history = history
        self.alerting = alerting
        self.notifier = notifier
        self.restarts = restarts
        self.work = work
        self.statsdBridge = statsdBridge
        self.status = status
        self.authenticator = authenticator
        metrics = MetricsEndpoint(sampler: sampler, ownMetrics: ownMetrics, statsdBridge: statsdBridge, clock: clock)
        control = ControlCommands(status: status, alerting: alerting, notifier: notifier, restarts: restarts, work: work, clock: clock)
        reloader = ConfigurationReloader(facts: facts, configuration: configuration, collectors: collectors, sampler: sampler,
                                         alerting: alerting, notifier: notifier, restarts: restarts, statsdBridge: statsdBridge,
                                         authenticator: authenticator, webConfigPath: webConfigPath, clock: clock, logger: logger)
    }

    /// Every Service of `mastiff run`, in start order: the state file's writer first so that it
    /// stops last and writes what the others staged on their way out.
    public func services(eventLoopGroup: MultiThreadedEventLoopGroup) -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let config = configuration.current
        let status = self.status
        let metrics = self.metrics
        let server = HTTPServer(
            address: config.listen,
            endpoints: HTTPEndpoints(metrics: { await metrics.scrape() }, health: { status.health() }, status: { status.document().serialized() },
                                     page: { StatusPage.render(status.report()) },
                                     deepHealth: {
                                         let health = status.instanceHealth()
                                         return (health.healthy, health.text, health.json.serialized())
                                     },
                                     deepHealthIsOpen: { [configuration] in configuration.current.instance.healthOpen }),
            logger: logger,
            eventLoopGroup: eventLoopGroup,
            authenticator: authenticator,
            tls: tls)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let stateStore { services.append(.init(service: StateFlushService(store: stateStore))) }
        services += [.init(service: server), .init(service: reloader), .init(service: sampler), .init(service: notifier), .init(service: restarts)]
        if work.hasWork { services.append(.init(service: work)) }
        if let heartbeat = config.alerts.heartbeat {
            let sampler = self.sampler
            let clock = self.clock
            services.append(.init(service: HeartbeatService(settings: heartbeat, samplingInterval: config.sampling.interval, logger: logger) {
                sampler.latest.map { clock.now() - $0.time }
            }))
        }
        if let path = config.controlSocket {
            let control = self.control
            services.append(.init(service: ControlSocketService(path: path, logger: logger, procRoot: procRoot) { command, request in
                await control.answer(command, request)
            }))
        }
        if let statsdBridge {
            services.append(.init(service: StatsdListenerService(bridge: statsdBridge, settings: config.statsd, logger: logger)))
        }
        return services
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
}

extension Agent {
    /// Each restart target's restarter, by the method its configuration names.
    public static func restarters(for targets: [RestartTargetSpec], procRoot: String = "/proc") -> [String: any Restarter] {
        var result: [String: any Restarter] = [:]
        for spec in targets {
            switch spec.method {
            case .signal(let name, let number): result[spec.name] = SignalRestarter(name: name, number: number, procRoot: procRoot)
            case .command(let argv, let timeout): result[spec.name] = CommandRestarter(argv: argv, timeout: timeout)
            case .supervisord(let url, let program): result[spec.name] = SupervisordRestarter(url: url, program: program, procRoot: procRoot)
            case .systemd(let unit): result[spec.name] = SystemdRestarter(unit: unit, procRoot: procRoot)
            case .docker(let socket): result[spec.name] = DockerRestarter(socket: socket, procRoot: procRoot)
            }
        }
        return result
    }
}
