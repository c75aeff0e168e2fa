import MastiffCore
import MastiffPolicies

/// `mastiff rules check|test FILE…`: rule files and promtool's unit tests, without an agent.
struct RulesCommand {
    let subcommand: String
    let files: [String]

    static func read(_ path: String) throws(ConfigError) -> String {
        do {
            return try FileSystemAccess.readRegularFile(path, limit: 4 << 20)
        } catch {
            throw ConfigError(unreadable: path, error)
        }
    }

    func run() -> Int32 {
        subcommand == "test" ? test() : check()
    }

    private func check() -> Int32 {
        var failed = false
        for file in files {
            do {
                let groups = try RuleFileLoader.load(text: try Self.read(file), file: file)
                let rules = groups.flatMap(\.rules)
                print("\(file): \(groups.count) group(s), \(rules.filter(\.isAlert).count) alerting and \(rules.filter { !$0.isAlert }.count) recording rule(s)")
            } catch {
                StderrLogHandler.writeToStderr("\(error)\n")
                failed = true
            }
        }
        return failed ? 1 : 0
    }

    private func test() -> Int32 {
        var failed = false
        for file in files {
            print("Unit Testing:  \(file)")
            let outcome = RuleUnitTests.run(testFile: file, readFile: Self.read)
            if outcome.passed {
                print("  SUCCESS\n")
            } else {
                failed = true
                print("  FAILED:")
                for failure in outcome.failures { print(failure) }
                print("")
            }
        }
        return failed ? 1 : 0
    }
}
