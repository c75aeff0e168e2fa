#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Logging
import MastiffAgent
import MastiffCore

@main
enum Mastiff {
    /// A synchronous entry point, so that malloc is tuned before the concurrency runtime starts
    /// its threads: one arena instead of one per thread saves ~0.8 MiB resident
    /// (docs/adr/0006-hide-symbols-in-release-builds.md). The real work runs in a Task while the
    /// main thread serves Dispatch's main queue.
    static func main() {
        MallocTuning.useSingleArena()
        MallocTuning.returnLargeBlocks()
        Task {
            await run()
        }
        dispatchMain()
    }

    static func run() async {
        let arguments: CommandLineArguments
        do {
            arguments = try CommandLineParser.parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            StderrLogHandler.writeToStderr("mastiff: \(error)\n")
            exit(2)
        }
        if arguments.helpRequested {
            print(CommandLineParser.helpText(for: arguments.command), terminator: "")
            exit(0)
        }
        let commands = Commands(arguments: arguments)
        let status: Int32
        switch arguments.command {
        case .run: status = await commands.run()
        case .checkConfig: status = commands.checkConfig()
        case .collect: status = await commands.collect()
        case .status: status = commands.status()
        case .rules: status = RulesCommand(subcommand: arguments.subcommand ?? "check", files: arguments.files).run()
        case .alerts: status = commands.alerts()
        case .maintenance, .silence: status = commands.notificationControl()
        case .restarts: status = commands.restartsList()
        case .backup:
            guard let (config, _) = commands.loadConfig() else { exit(1) }
            status = await BackupCommand(arguments: arguments, config: config).run()
        case .doctor:
            guard let (config, _) = commands.loadConfig() else { exit(1) }
            status = await DoctorCommand(config: config, procRoot: arguments.procRoot, json: arguments.json,
                                   systemdDirectories: arguments.systemdDirectories.isEmpty ? DoctorCommand.systemdDirectories : arguments.systemdDirectories,
                                   cronPaths: arguments.cronPaths.isEmpty ? DoctorCommand.cronPaths : arguments.cronPaths).run()
        case .`init`:
            status = await InitCommand(arguments: arguments).run()
        case .version:
            print("mastiff \(MastiffVersion.current) (swift \(MastiffVersion.swift))")
            status = 0
        }
        exit(status)
    }
}
