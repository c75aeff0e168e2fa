/// mastiff's command line: `mastiff <command> [options]`.
///
/// Hand-written rather than swift-argument-parser, which links FoundationEssentials into the
/// binary and costs ~5 MiB of resident memory (docs/adr/0004-hand-written-command-line.md).
public struct CommandLineArguments: Sendable, Equatable {
    public enum Command: String, Sendable, CaseIterable {
        case run
        case checkConfig = "check-config"
        case collect
        case status
        case rules
        case alerts
        case maintenance
        case silence
        case restarts
        case backup
        case doctor
        case `init`
        case version
    }

    public var command: Command = .run
    public var configPath: String?
    public var logLevel: String?
    /// Hidden: the /proc root, for tests and benchmarks on fixture trees.
    public var procRoot = "/proc"
    /// `doctor --systemd-dir`: where to look for the Sidekiq unit instead of systemd's directories.
    public var systemdDirectories: [String] = []
    /// `doctor --cron-dir`: crontabs (files or directories) to read instead of the system's.
    public var cronPaths: [String] = []
    /// `doctor --upgrade-to 4.4`: check what that Mastodon release enforces.
    public var upgradeTo: String?
    /// `doctor --nginx-dir`: nginx configuration directories instead of sites-enabled and conf.d.
    public var nginxDirectories: [String] = []
    public var once = false
    /// `--web.config.file` on `run`: the web configuration, over mastiff.yml's web_config.
    public var webConfigFile: String?
    /// `status --json`.
    public var json = false
    /// `--help` / `-h` / `help [command]`: print `helpText` for `command` and exit 0.
    public var helpRequested = false
    /// `rules test|check`, `alerts list|test`, `maintenance on|off|status`, `silence add|list|expire`.
    public var subcommand: String?
    /// Operands after the subcommand: files (`rules test FILE…`), matchers (`silence add
    /// alertname=X`), an ID (`silence expire ID`).
    public var files: [String] = []
    /// `--for` (maintenance on, silence add), as written.
    public var duration: String?
    /// `--reason` (maintenance on) or `--comment` (silence add).
    public var reason: String?
    /// `alerts test --receiver NAME`.
    public var receiver: String?
    /// `backup run|prune --target postgres|redis`.
    public var target: String?
    /// `backup restore --into DB`.
    public var into: String?
    /// `backup restore --to DIR`: a files backup, unpacked there.
    public var to: String?
    /// `backup restore --jobs N`.
    public var jobs = 1
    /// `backup restore --force`, `backup prune --dry-run`, `backup run --standalone`.
    public var force = false
    public var dryRun = false
    public var standalone = false
    /// `backup verify|restore --identity FILE` (else backups.encryption.identity_file).
    public var identityFile: String?
    /// `init --env-file`, `--mastodon-dir`: where the Mastodon installation is read.
    public var envFile: String?
    public var mastodonDirectory: String?

    /// The subcommands each command takes.
    public static let subcommands: [Command: [String]] = [.rules: ["test", "check"], .alerts: ["list", "test"],
                                                           .maintenance: ["on", "off", "status"], .silence: ["add", "list", "expire"],
                                                           .restarts: ["list"], .backup: ["run", "list", "prune", "verify", "restore", "drill"]]

    public init() {}
}

public struct UsageError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

public enum CommandLineParser {
    public static func parse(_ arguments: [String]) throws(UsageError) -> CommandLineArguments {
        var result = CommandLineArguments()
        var remaining = arguments[...]
        if let first = remaining.first, !first.hasPrefix("-") {
            if first == "help" {
                result.helpRequested = true
                remaining = remaining.dropFirst()
                if let topic = remaining.first {
                    guard let command = CommandLineArguments.Command(rawValue: topic) else {
                        throw UsageError(message: "unknown command '\(topic)' (commands: \(commandNames))")
                    }
                    result.command = command
                }
                return result
            }
            guard let command = CommandLineArguments.Command(rawValue: first) else {
                throw UsageError(message: "unknown command '\(first)' (commands: \(commandNames))")
            }
            result.command = command
            remaining = remaining.dropFirst()
        } else if remaining.first == "--version" {
            result.command = .version
            return result
        }

        while let argument = remaining.popFirst() {
            if let allowed = CommandLineArguments.subcommands[result.command], !argument.hasPrefix("-") {
                if result.subcommand == nil {
                    guard allowed.contains(argument) else {
                        throw UsageError(message: "unknown subcommand '\(argument)' for '\(result.command.rawValue)' (one of: \(allowed.joined(separator: ", ")))")
                    }
                    result.subcommand = argument
                } else if result.command == .rules || (result.command == .silence && result.subcommand != "list")
                            || (result.command == .backup && ["verify", "restore", "drill"].contains(result.subcommand!) && result.files.isEmpty) {
                    result.files.append(argument)
                } else {
                    throw UsageError(message: "unexpected argument '\(argument)' for '\(result.command.rawValue) \(result.subcommand!)'")
                }
                continue
            }
            // Accept both `--config PATH` and `--config=PATH`.
            var name = argument
            var inlineValue: String?
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                inlineValue = String(argument[argument.index(after: equals)...])
            }
            func value() throws(UsageError) -> String {
                if let inlineValue { return inlineValue }
                guard let next = remaining.popFirst(), !next.hasPrefix("--") else {
                    throw UsageError(message: "\(name) needs a value")
                }
                return next
            }
            switch name {
            case "-h", "--help":
                result.helpRequested = true
            case "--config", "-c":
                result.configPath = try value()
            case "--log-level":
                result.logLevel = try value()
            case "--proc-root":
                result.procRoot = try value()
            case "--web.config.file" where result.command == .run || result.command == .checkConfig:
                result.webConfigFile = try value()
            case "--systemd-dir" where result.command == .doctor || result.command == .`init`:
                result.systemdDirectories.append(try value())
            case "--cron-dir" where result.command == .doctor:
                result.cronPaths.append(try value())
            case "--nginx-dir" where result.command == .doctor:
                result.nginxDirectories.append(try value())
            case "--upgrade-to" where result.command == .doctor:
                let release = try value()
                guard ["4.3", "4.4", "4.5"].contains(release) else {
                    throw UsageError(message: "--upgrade-to takes a Mastodon release mastiff knows: 4.3, 4.4 or 4.5 (got '\(release)')")
                }
                result.upgradeTo = release
            case "--once" where result.command == .collect:
                result.once = true
            case "--json" where [.status, .alerts, .maintenance, .silence, .restarts, .backup, .doctor].contains(result.command):
                result.json = true
            case "--for" where result.command == .maintenance || result.command == .silence:
                result.duration = try value()
            case "--reason" where result.command == .maintenance, "--comment" where result.command == .silence:
                result.reason = try value()
            case "--receiver" where result.command == .alerts:
                result.receiver = try value()
            case "--target" where result.command == .backup:
                let target = try value()
                guard ["postgres", "redis", "files"].contains(target) else { throw UsageError(message: "--target is postgres, redis or files") }
                result.target = target
            case "--into" where result.command == .backup:
                result.into = try value()
            case "--to" where result.command == .backup:
                result.to = try value()
            case "--jobs" where result.command == .backup:
                let text = try value()
                guard let jobs = Int(text), (1...64).contains(jobs) else { throw UsageError(message: "--jobs needs a number from 1 to 64") }
                result.jobs = jobs
            case "--identity" where result.command == .backup:
                result.identityFile = try value()
            case "--force" where result.command == .backup || result.command == .`init`:
                result.force = true
            case "--dry-run" where result.command == .backup || result.command == .`init`:
                result.dryRun = true
            case "--env-file" where result.command == .`init`:
                result.envFile = try value()
            case "--mastodon-dir" where result.command == .`init`:
                result.mastodonDirectory = try value()
            case "--standalone" where result.command == .backup:
                result.standalone = true
            default:
                throw UsageError(message: "unknown option '\(argument)' for '\(result.command.rawValue)' (see mastiff \(result.command.rawValue) --help)")
            }
        }
        if let allowed = CommandLineArguments.subcommands[result.command], result.subcommand == nil, !result.helpRequested {
            throw UsageError(message: "'\(result.command.rawValue)' needs a subcommand (one of: \(allowed.joined(separator: ", ")))")
        }
        if result.command == .rules && result.files.isEmpty && !result.helpRequested {
            throw UsageError(message: "'rules \(result.subcommand!)' needs at least one file")
        }
        if result.command == .`init`, result.systemdDirectories.count > 1 {
            throw UsageError(message: "'init' reads one --systemd-dir")
        }
        if !result.helpRequested {
            switch (result.command, result.subcommand) {
            case (.silence, "add"?) where result.files.isEmpty || result.duration == nil:
                throw UsageError(message: "'silence add' needs matchers and --for, e.g. silence add alertname=SidekiqRetriesGrowing --for 2h")
            case (.silence, "expire"?) where result.files.count != 1:
                throw UsageError(message: "'silence expire' needs one silence ID (see silence list)")
            case (.alerts, "test"?) where result.receiver == nil:
                throw UsageError(message: "'alerts test' needs --receiver NAME")
            case (.backup, "restore"?) where result.files.count != 1 || (result.into == nil) == (result.to == nil):
                throw UsageError(message: "'backup restore' needs a backup and either a database (--into mastodon_restored) or, for a files backup, a directory (--to /root/restored)")
            case (.backup, "verify"?) where result.files.count != 1, (.backup, "drill"?) where result.files.count > 1:
                throw UsageError(message: "'backup \(result.subcommand!)' takes one backup: a key from backup list, or latest")
            default: break
            }
        }
        return result
    }

    private static var commandNames: String {
        CommandLineArguments.Command.allCases.map(\.rawValue).joined(separator: ", ")
    }

    public static func helpText(for command: CommandLineArguments.Command) -> String {
        let common = """
          -c, --config PATH       configuration file (default: $MASTIFF_CONFIG, then
                                  /etc/mastiff/mastiff.yml if it exists, else embedded defaults)
              --log-level LEVEL   trace, debug, info, notice, warning, error, critical
          -h, --help              show this help
        """
        switch command {
        case .run:
            return """
            OVERVIEW: Run the agent: serve /metrics and /healthz until SIGTERM or SIGINT; SIGHUP
            reloads the configuration (a bad file keeps the running one).

            USAGE: mastiff run [--config PATH] [--log-level LEVEL] [--web.config.file PATH]

            OPTIONS:
            \(common)
              --web.config.file PATH  exporter-toolkit's web configuration (basic auth, headers),
                                      over mastiff.yml's web_config

            COMMANDS: \(commandNames) (mastiff COMMAND --help)

            """
        case .checkConfig:
            return """
            OVERVIEW: Validate the configuration without starting. Exits 0 when it is valid, 1
            otherwise, naming file:line:column and the key.

            USAGE: mastiff check-config [--config PATH]

            OPTIONS:
            \(common)

            """
        case .collect:
            return """
            OVERVIEW: Run every collector once and print the exposition to stdout.

            USAGE: mastiff collect --once [--config PATH] [--log-level LEVEL]

            OPTIONS:
                  --once              collect once and exit (the only mode; makes scripts explicit)
            \(common)

            """
        case .status:
            return """
            OVERVIEW: Show what the running agent sees: each collector's last result and duration,
            the last sample, which sources answer, the state file's health. Asks the agent over
            its control socket (control_socket in the configuration). Exits 0, 3 when a collector
            is failing, 1 when no agent answers.

            USAGE: mastiff status [--json] [--config PATH]

            OPTIONS:
                  --json              the agent's answer as JSON, for scripts
            \(common)

            """
        case .rules:
            return """
            OVERVIEW: Work with Prometheus rule files without starting the agent.
              rules check FILE…   load rule files as the agent would (strict: every error with
                                  file:line:column); exit 0 when all load, 1 otherwise
              rules test FILE…    run promtool's rule unit-test files (promtool test rules) on
                                  mastiff's own engine; exit 0 when all pass, 1 otherwise

            USAGE: mastiff rules check|test FILE…

            """
        case .alerts:
            return """
            OVERVIEW: Ask the running agent (over its control socket) about alerts.
              alerts list                 pending and firing alerts: labels, value, since when,
                                          annotations, and where each was sent and when
              alerts test --receiver NAME send a test notification through that receiver now and
                                          print its answer (exit 1 when it was not accepted)

            USAGE: mastiff alerts list|test [--receiver NAME] [--json] [--config PATH]

            OPTIONS:
                  --json              the agent's answer as JSON, for scripts
            \(common)

            """
        case .maintenance:
            return """
            OVERVIEW: Hold notifications while you work on the server (kept across restarts of
            mastiff). When maintenance ends, what still fires is sent; what resolved meanwhile is not.
              maintenance on --for 1h [--reason TEXT]
              maintenance off
              maintenance status

            USAGE: mastiff maintenance on|off|status [--for DURATION] [--reason TEXT] [--json] [--config PATH]

            OPTIONS:
            \(common)

            """
        case .doctor:
            return """
            OVERVIEW: Check this host against what Mastodon admins learned the hard way: Puma
            workers' memory against RAM, Sidekiq's concurrency against cores and RAM, DB_POOL
            against Sidekiq's threads, jemalloc or MALLOC_ARENA_MAX, connections against
            max_connections, PostgreSQL's memory settings (PgTune), open-file limits of nginx,
            PostgreSQL and streaming, one Sidekiq serving the scheduler queue, RAILS_LOG_LEVEL,
            remote media cleanup, a recent backup, Redis persistence, swap on small hosts, the
            Sidekiq unit's stop timeout, the media bucket's anonymous listing, memory headroom
            for media conversion, Elasticsearch's heap. Reads /proc, instance.env_file,
            PostgreSQL, Redis, systemd's unit files, the media and backup buckets; prints each
            finding as ok / warn / fail with the measured value, the recommendation and why.
            Exit 0 without a fail, 1 otherwise.

            With --upgrade-to 4.3|4.4|4.5, checks instead what that release enforces before you
            upgrade: PostgreSQL's and Redis's versions, REDIS_NAMESPACE (4.4 refuses it), the
            ACTIVE_RECORD_ENCRYPTION_* keys, free space for PostgreSQL against its largest table,
            a PostgreSQL backup younger than 24 h, one release at a time. Exit 1 on a blocker.

            USAGE: mastiff doctor [--json] [--upgrade-to RELEASE] [--systemd-dir DIR]... [--cron-dir PATH]... [--nginx-dir DIR]... [--config PATH]

            OPTIONS:
                  --upgrade-to RELEASE  check an upgrade to Mastodon 4.3, 4.4 or 4.5 instead
                  --nginx-dir DIR     read nginx's configuration here instead of
                                      /etc/nginx/sites-enabled and /etc/nginx/conf.d
                  --systemd-dir DIR   read unit files here instead of /etc/systemd/system,
                                      /lib/systemd/system and /usr/lib/systemd/system
                  --cron-dir PATH     read crontabs here (a file or a directory) instead of
                                      /etc/crontab, /etc/cron.d, /etc/cron.daily,
                                      /etc/cron.weekly and /var/spool/cron/crontabs
                  --json              the findings as JSON
            \(common)

            """
        case .backup:
            return """
            OVERVIEW: Backups to S3-compatible storage (backups: in the configuration).
              backup run [--target postgres|redis]   back up now: through the running agent (one
                                                     piece of work at a time), or in this process
                                                     when no agent answers or with --standalone;
                                                     progress on a terminal, log lines otherwise
              backup list [--json]                   backups with a manifest: time, target, size,
                                                     encrypted, verified
              backup prune [--target T] [--dry-run]  apply retention (keep_last, daily, weekly,
                                                     monthly); --dry-run shows what would go
              backup verify KEY|latest               read it back: size, SHA-256, decryption,
                                                     pg_restore --list
              backup restore KEY|latest --to DIR     unpack a files backup into DIR (new or empty);
                                                     latest is the newest files backup
              backup restore KEY|latest --into DB [--jobs N] [--force]
                                                     create DB and restore into it (a non-empty DB
                                                     needs --force); --jobs > 1 spools to /var/tmp
              backup drill [KEY|latest]              restore into the scratch database, compare
                                                     row counts, drop it

            USAGE: mastiff backup run|list|prune|verify|restore|drill … [--identity FILE] [--config PATH]

            OPTIONS:
                  --identity FILE     the age identity for encrypted backups (default:
                                      backups.encryption.identity_file)
                  --json              machine-readable output (list)
            \(common)

            """
        case .silence:
            return """
            OVERVIEW: Silence alerts whose labels match, for a while (kept across restarts).
              silence add alertname=X [label=value|label=~regex …] --for 2h [--comment TEXT]
              silence list
              silence expire ID

            USAGE: mastiff silence add|list|expire … [--json] [--config PATH]

            OPTIONS:
            \(common)

            """
        case .restarts:
            return """
            OVERVIEW: The running agent's restart targets (budget left, last restart) and its latest
            restarts with reason, detail and memory before (docs/restarts.md).

            USAGE: mastiff restarts list [--json] [--config PATH]

            OPTIONS:
            \(common)

            """
        case .`init`:
            return """
            OVERVIEW: Write a configuration for this Mastodon installation. Reads .env.production
            (PostgreSQL, Redis, Sidekiq's Redis and namespace, the domain, statsd, Mastodon's
            Prometheus exporter, SMTP), the systemd units (Sidekiq, Puma, streaming) and the
            instance's contact address, and writes an annotated mastiff.yml: every value says where
            it came from; secrets go to 0600 files beside it (secrets/), never into the file or the
            output; restart targets are in dry run and the e-mail receiver is commented out until
            you confirm them. An existing configuration is not overwritten without --force.
            Prints what it found, one line each, and validates what it wrote (docs/init.md).

            USAGE: mastiff init [--dry-run] [--force] [--env-file PATH] [--systemd-dir DIR]
                                [--mastodon-dir DIR] [--config PATH]

            OPTIONS:
                  --config PATH       where to write (default /etc/mastiff/mastiff.yml)
                  --dry-run           print the configuration instead; write nothing
                  --force             replace an existing configuration and its secret files
                  --env-file PATH     Mastodon's environment (default
                                      MASTODON_DIR/.env.production)
                  --systemd-dir DIR   Mastodon's units (default /etc/systemd/system)
                  --mastodon-dir DIR  the installation (default /home/mastodon/live)
              -h, --help              show this help

            """
        case .version:
            return """
            OVERVIEW: Print mastiff's version.

            USAGE: mastiff version

            """
        }
    }
}
