import ArgumentParser
import Logging
import MastiffCore
import MastiffServer
import ServiceLifecycle

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the agent: serve /metrics and /healthz until SIGTERM; SIGHUP reloads the configuration.")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        let config = try options.loadConfig()
        let logger = try options.bootstrapLogging(config.log)
        let agent = Agent(config: config, source: options.source, logger: logger, procRoot: options.procRoot)
        logger.info("starting", metadata: ["config.source": "\(options.source)", "version": "\(MastiffVersion.current)"])

        let server = HTTPServer(
            address: config.listen,
            endpoints: HTTPEndpoints(metrics: { await agent.scrape() }),
            logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: server),
                .init(service: ReloadOnHangupService(agent: agent)),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch {
            logger.critical("stopped on an error", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        logger.info("stopped")
    }
}

struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the configuration without starting; exits 0 when it is valid, 1 otherwise.")

    @OptionGroup var options: GlobalOptions

    func run() throws {
        let config = try options.loadConfig()
        let processes = config.collectors.processes
        print("\(options.source): configuration is valid")
        print("  listen: \(config.listen)")
        print("  collectors: timeout \(DurationParser.format(config.collectors.timeout)); system \(config.collectors.system.enabled ? "on" : "off"); processes \(processes.enabled ? "on" : "off") (pss \(processes.pss ? "on" : "off"), groups: \(processes.effectiveGroups.map(\.name).joined(separator: ", ")))")
    }
}

struct CollectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "Run every collector once and print the exposition to stdout.")

    @OptionGroup var options: GlobalOptions

    @Flag(name: .long, help: "Collect once and exit (the only mode; the flag makes scripts explicit).")
    var once = false

    func run() async throws {
        let config = try options.loadConfig()
        var logSettings = config.log
        // stdout carries the exposition; only problems go to stderr.
        if options.logLevel == nil { logSettings.level = .warning }
        let logger = try options.bootstrapLogging(logSettings)
        let agent = Agent(config: config, source: options.source, logger: logger, procRoot: options.procRoot)
        print(await agent.scrape(), terminator: "")
    }
}
