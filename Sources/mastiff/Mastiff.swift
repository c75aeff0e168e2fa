#if canImport(Glibc)
import Glibc
#endif
import Logging
import MastiffCore

@main
enum Mastiff {
    static func main() async {
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
        case .version:
            print("mastiff \(MastiffVersion.current) (swift \(MastiffVersion.swift))")
            status = 0
        }
        exit(status)
    }
}
