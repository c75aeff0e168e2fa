import MastiffCore
import Testing

@Suite struct CommandLineParserTests {
    @Test func defaultsToRun() throws {
        #expect(try CommandLineParser.parse([]).command == .run)
        let parsed = try CommandLineParser.parse(["--config", "/etc/m.yml", "--log-level=debug"])
        #expect(parsed.command == .run)
        #expect(parsed.configPath == "/etc/m.yml")
        #expect(parsed.logLevel == "debug")
    }

    @Test func subcommandsAndOptions() throws {
        var expected = CommandLineArguments()
        expected.command = .collect
        expected.once = true
        expected.configPath = "x.yml"
        expected.procRoot = "/fixture/proc"
        #expect(try CommandLineParser.parse(["collect", "--once", "-c", "x.yml", "--proc-root", "/fixture/proc"]) == expected)
        #expect(try CommandLineParser.parse(["check-config"]).command == .checkConfig)
        #expect(try CommandLineParser.parse(["--version"]).command == .version)
    }

    @Test func backupRestoreTakesItsBackupDatabaseAndOptions() throws {
        let parsed = try CommandLineParser.parse(["backup", "restore", "latest", "--into", "mastodon_restored", "--jobs", "4", "--force", "--identity", "/etc/k.txt"])
        #expect(parsed.command == .backup && parsed.subcommand == "restore" && parsed.files == ["latest"])
        #expect(parsed.into == "mastodon_restored" && parsed.jobs == 4 && parsed.force && parsed.identityFile == "/etc/k.txt")
        #expect(try CommandLineParser.parse(["backup", "prune", "--dry-run", "--target", "redis"]).dryRun)
    }

    @Test func help() throws {
        let help = try CommandLineParser.parse(["help", "collect"])
        #expect(help.helpRequested && help.command == .collect)
        #expect(try CommandLineParser.parse(["run", "-h"]).helpRequested)
        for command in CommandLineArguments.Command.allCases {
            #expect(CommandLineParser.helpText(for: command).contains("USAGE: mastiff \(command.rawValue)"))
        }
    }

    @Test(arguments: [
        (["serve"], "unknown command 'serve' (commands: run, check-config, collect, status, rules, alerts, maintenance, silence, restarts, backup, doctor, init, version)"),
        (["run", "--once"], "unknown option '--once' for 'run' (see mastiff run --help)"),
        (["run", "--config"], "--config needs a value"),
        (["run", "--config", "--log-level"], "--config needs a value"),
        (["help", "nope"], "unknown command 'nope' (commands: run, check-config, collect, status, rules, alerts, maintenance, silence, restarts, backup, doctor, init, version)"),
        (["backup", "restore", "latest"], "'backup restore' needs a backup and either a database (--into mastodon_restored) or, for a files backup, a directory (--to /root/restored)"),
        (["backup", "run", "--target", "mysql"], "--target is postgres, redis or files"),
        (["backup", "verify"], "'backup verify' takes one backup: a key from backup list, or latest"),
        (["backup", "restore", "latest", "--into", "x", "--jobs", "0"], "--jobs needs a number from 1 to 64"),
    ])
    func usageErrorsNameTheProblem(arguments: [String], message: String) {
        do {
            _ = try CommandLineParser.parse(arguments)
            Issue.record("expected a usage error")
        } catch {
            #expect(error.message == message)
        }
    }
}
