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

    /// `mastiff run`: the agent (`Agent`, the composition root) in one ServiceGroup; SIGTERM and
    /// SIGINT stop it.
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
        let webConfig: WebConfig?
        let tls: TLSServerContext?
        do {
            webConfig = try WebConfig.load(commandLine: arguments.webConfigFile, configured: config.webConfig)?.config
            tls = try webConfig?.tls.map { settings throws(TLSSetupError) in try TLSServerContext(settings, logger: logger) }
        } catch {
            logger.critical("cannot start: \(error)")
            return 1
        }
        let stateStore = StateStore(directory: config.stateDirectory, logger: logger)
        let agent = Agent(config: config, statsdMapping: mapping, rules: rules, source: source, logger: logger, procRoot: arguments.procRoot,
                          stateStore: stateStore, webConfig: webConfig, webConfigPath: arguments.webConfigFile, tls: tls)
        agent.facts.recordStart(in: stateStore)
        // One event-loop thread is plenty for a handful of scrapes a minute, and each thread costs
        // resident memory on a 1 GB host.
        let eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let services = agent.services(eventLoopGroup: eventLoopGroup)
        // Signals are handled here rather than by the group: the group reacts to the first one
        // only, and an admin's second Ctrl-C or SIGTERM must still end the process.
        var groupConfiguration = ServiceGroupConfiguration(services: services, logger: logger)
        // Services get this long to stop; then they are cancelled (the HTTP server's own grace
        // for requests in flight is shorter).
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(4)
        let group = ServiceGroup(configuration: groupConfiguration)
        let stopSignals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        // The group and the signal watcher are the two children of one task group: when the
        // group has stopped, the watcher is cancelled with it.
        let status = await withTaskGroup(of: Int32?.self) { tasks in
            tasks.addTask {
                var signals = stopSignals.makeAsyncIterator()
                guard let first = await signals.next() else { return nil }
                logger.info("stopping", metadata: ["signal": "\(first)"])
                await group.triggerGracefulShutdown()
                await withTaskGroup(of: Void.self) { backstop in
                    // A backstop, should a service ignore both shutdown and cancellation.
                    backstop.addTask {
                        guard (try? await Task.sleep(for: .seconds(6))) != nil else { return }
                        logger.error("exiting: services still running 6 s after the stop signal", metadata: ["signal": "\(first)"])
                        exit(1)
                    }
                    if let second = await signals.next(), !Task.isCancelled {
                        logger.warning("second stop signal: exiting without waiting for the services", metadata: ["signal": "\(second)"])
                        exit(128 + second.rawValue)
                    }
                    backstop.cancelAll()
                }
                return nil
            }
            tasks.addTask {
                do {
                    try await group.run()
                    return 0
                } catch {
                    logger.critical("stopped on an error", metadata: ["error": "\(error)"])
                    return 1
                }
            }
            var status: Int32 = 0
            for await result in tasks {
                guard let result else { continue }
                status = result
                tasks.cancelAll()
            }
            return status
        }
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
        do {
            if let (path, web) = try WebConfig.load(commandLine: arguments.webConfigFile, configured: config.webConfig) {
                var tls = "plain HTTP"
                if let settings = web.tls {
                    _ = try TLSServerContext(settings, logger: Logger(label: "mastiff"))
                    tls = "TLS from \(settings.certFile)" + (settings.clientAuth == .none ? "" : ", client certificates (\(settings.clientAuth.rawValue))")
                }
                print("  web_config: \(path): \(tls); \(web.basicAuthUsers.count) basic auth users (every path but /healthz), \(web.headers.count) headers")
            } else {
                print("  web_config: none (no authentication: listen on loopback or behind an authenticating proxy)")
            }
        } catch {
            StderrLogHandler.writeToStderr("mastiff: \(error)\n")
            return 1
        }
        return 0
    }

    /// `mastiff collect --once`: one exposition on stdout; problems on stderr.
    func collect() async -> Int32 {
        guard let (config, _) = loadConfig() else { return 1 }
        var logSettings = config.log
        if arguments.logLevel == nil { logSettings.level = .warning }
        guard let logger = bootstrapLogging(logSettings) else { return 1 }
        // The collectors alone: no sampler, no rules, no state file (the running agent's is not
        // touched), and the agent's build and configuration families.
        let collectors = CollectorSet(config: config, procRoot: arguments.procRoot, logger: logger)
        let facts = AgentFacts(source: source, startTime: SystemWallClock().now())
        let families = await collectors.collect().families + facts.metrics()
        print(ExpositionRenderer.render(families), terminator: "")
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
