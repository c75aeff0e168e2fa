import ArgumentParser
import Logging
import MastiffCore

@main
struct Mastiff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mastiff",
        abstract: "A watchdog for Mastodon servers: metrics, alerts, restarts and backups.",
        version: MastiffVersion.current,
        subcommands: [RunCommand.self, CheckConfigCommand.self, CollectCommand.self, VersionCommand.self],
        defaultSubcommand: RunCommand.self)
}

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default: $MASTIFF_CONFIG, then /etc/mastiff/mastiff.yml if it exists, else embedded defaults).")
    var config: String?

    @Option(name: .long, help: "Log level, overriding the file: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    @Option(name: .long, help: .hidden)
    var procRoot: String = "/proc"

    var source: ConfigLoader.Source { .resolve(explicitPath: config) }

    /// Loads the configuration, or prints the error and exits 1.
    func loadConfig() throws -> MastiffConfig {
        do {
            return try ConfigLoader.load(source)
        } catch {
            StderrLogHandler.writeToStderr("mastiff: \(error)\n")
            throw ExitCode(1)
        }
    }

    func bootstrapLogging(_ settings: LogSettings) throws -> Logger {
        var level = settings.level
        if let logLevel {
            guard let parsed = Logger.Level(rawValue: logLevel) else {
                throw ValidationError("unknown log level '\(logLevel)' (trace, debug, info, notice, warning, error, critical)")
            }
            level = parsed
        }
        let format = settings.format
        let chosenLevel = level
        LoggingSystem.bootstrap { label in StderrLogHandler(label: label, level: chosenLevel, format: format) }
        return Logger(label: "mastiff")
    }
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print mastiff's version.")

    func run() {
        print("mastiff \(MastiffVersion.current) (swift \(MastiffVersion.swift))")
    }
}
