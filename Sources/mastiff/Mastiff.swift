#if canImport(Glibc)
import Glibc
#endif
import Logging
import MastiffAgent
import MastiffCore

@main
enum Mastiff {
    /// malloc is tuned first, before the concurrency runtime has started a thread of its own
    /// (an async main begins on the main thread, and the runtime's worker threads are made when
    /// the first task needs one): one arena instead of one per thread saves ~0.8 MiB resident
    /// (docs/adr/0006-hide-symbols-in-release-builds.md).
    static func main() async {
        MallocTuning.useSingleArena()
        MallocTuning.returnLargeBlocks()
        await run()
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
                                   cronPaths: arguments.cronPaths.isEmpty ? DoctorCommand.cronPaths : arguments.cronPaths,
                                   upgradeTo: arguments.upgradeTo,
                                   nginxDirectories: arguments.nginxDirectories.isEmpty ? DoctorCommand.nginxDirectories : arguments.nginxDirectories).run()
        case .`init`:
            status = await InitCommand(arguments: arguments).run()
        case .version:
            print("mastiff \(MastiffVersion.current) (swift \(MastiffVersion.swift))")
            status = 0
        }
        exit(status)
    }
}
