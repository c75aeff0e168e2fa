import Logging
import MastiffAgent
import MastiffCore
import MastiffPolicies
import MastiffServer
import MastiffStatsd
import NIOPosix
import ServiceLifecycle
import UnixSignals
#if canImport(Glibc)
import Glibc
#endif

/// The subcommands. Each returns the process's exit status.
struct Commands {
    let arguments: CommandLineArguments

    var source: ConfigLoader.Source { .resolve(explicitPath: arguments.configPath) }

    /// `mastiff run`: the composition root. One ServiceGroup; SIGTERM and SIGINT stop it.
    func run() async -> Int32 {
        guard let (config, mapping) = loadConfig(), let rules = loadRules(config), let logger = bootstrapLogging(config.log) else { return 1 }
        logger.info("starting", metadata: ["config.source": "\(source)", "version": "\(MastiffVersion.current)"])
        // Held until the process exits: one agent per state_dir.
        let stateLock: StateDirectoryLock
        do { stateLock = try StateDirectoryLock.acquire(config.stateDirectory) } catch {
            logger.critical("cannot start: \(error)")
            return 1
        }
        defer { withExtendedLifetime(stateLock) {} }
        let stateStore = StateStore(directory: config.stateDirectory, logger: logger)
        let agent = Agent(config: config, statsdMapping: mapping, source: source, logger: logger, procRoot: arguments.procRoot,
                          stateStore: stateStore, ruleGroups: rules)
        agent.recordStart()
        // One event-loop thread is plenty for a handful of scrapes a minute, and each thread costs
        // resident memory on a 1 GB host.
        let eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = HTTPServer(
            address: config.listen,
            endpoints: HTTPEndpoints(metrics: { await agent.scrape() }, health: { agent.health() }, status: { agent.statusDocument().serialized() },
                                     page: { StatusPage.render(agent.statusReport()) }),
            logger: logger,
            eventLoopGroup: eventLoopGroup)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            // First, so the last to stop: it writes what the others staged on their way out.
            .init(service: StateFlushService(store: stateStore)),
            .init(service: server),
            .init(service: ReloadOnHangupService(agent: agent)),
        ]
        if let sampler = agent.sampler { services.append(.init(service: sampler)) }
        if let notifier = agent.notifier { services.append(.init(service: notifier)) }
        if let restarts = agent.restarts { services.append(.init(service: restarts)) }
        if let work = agent.work, work.hasWork { services.append(.init(service: work)) }
        if let heartbeat = config.alerts.heartbeat, let sampler = agent.sampler {
            let clock = SystemWallClock()
            services.append(.init(service: HeartbeatService(settings: heartbeat, samplingInterval: config.sampling.interval, logger: logger) {
                sampler.latest.map { clock.now() - $0.time }
            }))
        }
        if let path = config.controlSocket {
            services.append(.init(service: ControlSocketService(path: path, logger: logger, procRoot: arguments.procRoot) { command, request in
                await agent.handleControl(command, request)
            }))
        }
        if let bridge = agent.statsdBridge {
            services.append(.init(service: StatsdListenerService(bridge: bridge, settings: StatsdListenerSettings(config.statsd), logger: logger)))
        }
        // Signals are handled here rather than by the group: the group reacts to the first one
        // only, and an admin's second Ctrl-C or SIGTERM must still end the process.
        var groupConfiguration = ServiceGroupConfiguration(services: services, logger: logger)
        // Services get this long to stop; then they are cancelled (the HTTP server's own grace
        // for requests in flight is shorter).
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(4)
        let group = ServiceGroup(configuration: groupConfiguration)
        let stopSignals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let signalWatcher = Task {
            var signals = stopSignals.makeAsyncIterator()
            guard let first = await signals.next() else { return }
            logger.info("stopping", metadata: ["signal": "\(first)"])
            await group.triggerGracefulShutdown()
            // A backstop, should a service ignore both shutdown and cancellation.
            let backstop = Task {
                try await Task.sleep(for: .seconds(6))
                logger.error("exiting: services still running 6 s after the stop signal", metadata: ["signal": "\(first)"])
                exit(1)
            }
            defer { backstop.cancel() }
            guard let second = await signals.next(), !Task.isCancelled else { return }
            logger.warning("second stop signal: exiting without waiting for the services", metadata: ["signal": "\(second)"])
            exit(128 + second.rawValue)
        }
        var status: Int32 = 0
        do {
            try await group.run()
        } catch {
            logger.critical("stopped on an error", metadata: ["error": "\(error)"])
            status = 1
        }
        signalWatcher.cancel()
        try? await eventLoopGroup.shutdownGracefully()
        logger.info("stopped")
        return status
    }

    /// `mastiff status`: asks the running agent over the control socket.
    func status() -> Int32 {
        guard let path = controlSocketPath() else { return 1 }
        return StatusCommand(socketPath: path, json: arguments.json).run()
    }

    /// `mastiff alerts list`: asks the running agent over the control socket.
    func alerts() -> Int32 {
        guard let path = controlSocketPath() else { return 1 }
        return AlertsCommand(socketPath: path, json: arguments.json, subcommand: arguments.subcommand ?? "list", receiver: arguments.receiver).run()
    }

    /// `mastiff restarts list`: ask the running agent.
    func restartsList() -> Int32 {
        guard let path = controlSocketPath() else { return 1 }
        guard let answer = AgentRequest.send(["command": .string("restarts")], socket: path) else { return 1 }
        if arguments.json {
            print(answer.serialized(indent: true))
            return 0
        }
        let now = answer["now"]?.double ?? 0
        let targets = answer["targets"]?.array ?? []
        if targets.isEmpty { print("no restart targets (restarts: in the configuration)") }
        for target in targets {
            let last = target["last_restart"]?.double.map { "last \(StatusCommand.duration(now - $0)) ago" } ?? "never restarted"
            print("\(target["name"]?.string ?? "?") (group \(target["group"]?.string ?? "?")): \(Int(saturating: target["budget_remaining"]?.double ?? 0)) of \(Int(saturating: target["budget"]?.double ?? 0)) restarts left this window, \(last)\(target["dry_run"] == .bool(true) ? ", dry run" : "")")
        }
        for entry in answer["recent"]?.array ?? [] {
            var memory = entry["memory_before"]?.double.map { ", \(ByteSize.format(UInt64($0))) before" } ?? ""
            if let after = entry["memory_after"]?.double { memory += ", \(ByteSize.format(UInt64(after))) after" }
            if let drain = entry["drain_seconds"]?.double { memory += ", drained in \(Int(saturating: drain.rounded())) s" }
            if let healthy = entry["healthy_after_seconds"]?.double { memory += ", back after \(Int(saturating: healthy)) s" }
            print("  \(StatusCommand.duration(now - (entry["time"]?.double ?? now))) ago  \(entry["target"]?.string ?? "?") pid \(Int(saturating: entry["pid"]?.double ?? 0))  \(entry["reason"]?.string ?? "")  \(entry["result"]?.string ?? "")  \(entry["detail"]?.string ?? "")\(memory)")
        }
        return 0
    }

    /// `mastiff maintenance …` and `mastiff silence …`: ask the running agent.
    func notificationControl() -> Int32 {
        guard let path = controlSocketPath() else { return 1 }
        return NotificationControlCommand(socketPath: path, arguments: arguments).run()
    }

    /// `mastiff check-config`: 0 when valid, 1 with the located error otherwise.
    func checkConfig() -> Int32 {
        guard let (config, mapping) = loadConfig(), let rules = loadRules(config) else { return 1 }
        let processes = config.collectors.processes
        print("\(source): configuration is valid")
        print("  listen: \(config.listen)")
        print("  collectors: timeout \(DurationParser.format(config.collectors.timeout)); system \(config.collectors.system.enabled ? "on" : "off"); processes \(processes.enabled ? "on" : "off") (pss \(processes.pss ? "on" : "off"), groups: \(processes.effectiveGroups.map(\.name).joined(separator: ", ")))")
        let statsd = config.statsd
        if statsd.enabled {
            let listeners = [statsd.udp.map { "udp \($0)" }, statsd.tcp.map { "tcp \($0)" }, statsd.unixgram.map { "unixgram \($0)" }].compactMap { $0 }
            print("  statsd: \(listeners.isEmpty ? "no listener" : listeners.joined(separator: ", ")); mapping \(statsd.mappingFile ?? "built-in Mastodon (namespace \(statsd.mastodonNamespace))") with \(mapping.rules.count) rules; max_series \(statsd.maxSeries)")
        } else {
            print("  statsd: off")
        }
        let ruleList = rules.flatMap(\.rules)
        let files = Set(rules.map(\.file)).sorted()
        let receivers = config.alerts.receivers.map { "\($0.name) (\($0.kind.typeName))" }
        print("  notifications: \(receivers.isEmpty ? "to the log (no receivers)" : receivers.joined(separator: ", ")); \(config.alerts.routes.count) routes; group_wait \(DurationParser.format(config.alerts.groupWait)), group_interval \(DurationParser.format(config.alerts.groupInterval)), repeat_interval \(DurationParser.format(config.alerts.repeatInterval))\(config.alerts.maintenanceWindows.isEmpty ? "" : "; \(config.alerts.maintenanceWindows.count) maintenance windows")\(config.alerts.heartbeat == nil ? "" : "; heartbeat every \(DurationParser.format(config.alerts.heartbeat!.interval))")")
        print("  alerts: \(ruleList.filter(\.isAlert).count) alerting and \(ruleList.filter { !$0.isAlert }.count) recording rules in \(rules.count) groups from \(files.joined(separator: ", ")); evaluated every \(DurationParser.format(config.alerts.interval ?? config.sampling.interval))\(config.alerts.disable.isEmpty ? "" : "; disabled: \(config.alerts.disable.joined(separator: ", "))")")
        return 0
    }

    /// `mastiff collect --once`: one exposition on stdout; problems on stderr.
    func collect() async -> Int32 {
        guard let (config, mapping) = loadConfig() else { return 1 }
        var logSettings = config.log
        if arguments.logLevel == nil { logSettings.level = .warning }
        guard let logger = bootstrapLogging(logSettings) else { return 1 }
        let agent = Agent(config: config, statsdMapping: mapping, source: source, logger: logger, procRoot: arguments.procRoot,
                          sampling: false)
        print(await agent.scrape(), terminator: "")
        return 0
    }

    /// The running agent's control socket from the configuration; nil (said why) when there is
    /// none to ask.
    private func controlSocketPath() -> String? {
        guard let (config, _) = loadConfig() else { return nil }
        guard let path = config.controlSocket else {
            StderrLogHandler.writeToStderr("mastiff: control_socket is \"\" in \(source): the agent has no control socket to ask\n")
            return nil
        }
        return path
    }

    private func loadRules(_ config: MastiffConfig) -> [RuleGroup]? {
        do {
            return try Agent.loadRules(config)
        } catch {
            StderrLogHandler.writeToStderr("mastiff: \(error)\n")
            return nil
        }
    }

    func loadConfig() -> (MastiffConfig, StatsdMapping)? {
        do {
            return try Agent.loadConfiguration(source)
        } catch {
            StderrLogHandler.writeToStderr("mastiff: \(error)\n")
            return nil
        }
    }

    private func bootstrapLogging(_ settings: LogSettings) -> Logger? {
        var level = settings.level
        if let name = arguments.logLevel {
            guard let parsed = Logger.Level(rawValue: name) else {
                StderrLogHandler.writeToStderr("mastiff: unknown log level '\(name)' (trace, debug, info, notice, warning, error, critical)\n")
                return nil
            }
            level = parsed
        }
        let chosenLevel = level
        let format = settings.format
        LoggingSystem.bootstrap { label in StderrLogHandler(label: label, level: chosenLevel, format: format) }
        return Logger(label: "mastiff")
    }
}
