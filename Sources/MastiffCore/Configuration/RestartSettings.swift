#if canImport(Glibc)
import Glibc
#endif

/// One entry of `restarts:` (docs/restarts.md): which processes, how to restart them, when, and
/// within which guards.
public struct RestartTargetSpec: Sendable, Equatable {
    public enum Method: Sendable, Equatable {
        /// A signal to the chosen process (Puma cluster mode: TERM to one worker, and the master
        /// forks a new one).
        case signal(name: String, number: Int32)
        /// argv run with `{pid}` replaced by the chosen process's pid, killed after `timeout`.
        case command(argv: [String], timeout: Duration)
        /// supervisord's XML-RPC interface (`http://host:port` or `unix:///path/to/supervisor.sock`):
        /// stopProcess then startProcess of `program` (`group:name` for a group's member).
        case supervisord(url: String, program: String)
        /// `systemctl restart UNIT`; nil: the unit found from the process's cgroup.
        case systemd(unit: String?)
        /// The Docker container the process runs in, through the Engine API on `socket`.
        case docker(socket: String)
    }

    public var name: String
    /// The process group (collectors.processes.groups) this target watches.
    public var group: String
    public var method: Method
    public var maxAge: Duration?
    public var jitter: Duration = .zero
    public var maxMemory: ByteSize?
    public enum MemoryKind: String, Sendable, Equatable { case pss, rss }
    /// Which memory `max_memory` is compared with.
    public var memoryKind = MemoryKind.pss
    public var sustainedSamples = 3
    public var onAlerts: [String] = []
    public var minUptime: Duration = .seconds(600)
    public var healthTimeout: Duration = .seconds(300)
    public var budget = 3
    public var budgetWindow: Duration = .seconds(3600)
    public var dryRun = false
    /// `graceful: sidekiq`: quiet the process (SIGTSTP) and wait until it has no busy job
    /// (from Sidekiq's process data in Redis), at most `drainTimeout`, before the restart.
    public var gracefulSidekiq = false
    public var drainTimeout: Duration = .seconds(60)
    /// Only processes of this account are restarted (nil: any, when the method itself names
    /// what it restarts); see `RestartTargetSpec.defaultOwner`.
    public var owner: ProcessOwner?

    public init(name: String, group: String, method: Method) {
        self.name = name
        self.group = group
        self.method = method
    }
}

extension RestartTargetSpec {
    static let signals: [String: Int32] = ["TERM": SIGTERM, "INT": SIGINT, "HUP": SIGHUP, "QUIT": SIGQUIT, "USR1": SIGUSR1, "USR2": SIGUSR2,
                                           "TSTP": SIGTSTP, "KILL": SIGKILL]
    static let methods = ["signal", "command", "supervisord", "systemd", "docker"]

    /// One item of `restarts:`.
    static let section = ConfigSection<RestartTargetSpec>([
        .key("name", required: true) { target, node, _ throws(ConfigError) in target.name = try node.identifierName("target") },
        .key("group", required: true) { target, node, context throws(ConfigError) in
            target.group = try node.string()
            guard context.processGroups.contains(where: { $0.name == target.group }) else {
                throw node.error("no process group is named '\(target.group)' (groups: \(context.processGroups.map(\.name).sorted().joined(separator: ", ")))")
            }
        },
        .key("signal") { target, node, _ throws(ConfigError) in
            var text = try node.string().uppercased()
            if text.hasPrefix("SIG") { text.removeFirst(3) }
            guard let number = signals[text] else { throw node.error("unknown signal '\(text)' (\(signals.keys.sorted().joined(separator: ", ")))") }
            target.method = .signal(name: text, number: number)
        },
        .key("command") { target, node, _ throws(ConfigError) in
            let argv = try node.stringList()
            guard let first = argv.first, first.hasPrefix("/") else {
                throw node.error("expected an argv list starting with an absolute path, e.g. [/usr/bin/systemctl, restart, mastodon-sidekiq]")
            }
            target.method = .command(argv: argv, timeout: .seconds(60))
        },
        .key("command_timeout") { target, node, _ throws(ConfigError) in
            guard case .command(let argv, _) = target.method else { throw node.error("command_timeout applies to a command: method only") }
            target.method = .command(argv: argv, timeout: try node.duration(atLeast: .seconds(1)))
        },
        .key("supervisord", nested: SupervisordMethod.section.schema) { target, node, context throws(ConfigError) in
            let method = try SupervisordMethod.section.value(node, initial: SupervisordMethod(), context: context)
            target.method = .supervisord(url: method.url, program: method.program)
        },
        .key("systemd", nested: SystemdMethod.section.schema) { target, node, context throws(ConfigError) in
            target.method = .systemd(unit: try SystemdMethod.section.value(node, initial: SystemdMethod(), context: context).unit)
        },
        .key("docker", nested: DockerMethod.section.schema) { target, node, context throws(ConfigError) in
            target.method = .docker(socket: try DockerMethod.section.value(node, initial: DockerMethod(), context: context).socket)
        },
        .key("max_age") { target, node, _ throws(ConfigError) in target.maxAge = try node.duration(atLeast: .seconds(60)) },
        .key("jitter") { target, node, _ throws(ConfigError) in target.jitter = try node.duration() },
        .key("max_memory") { target, node, _ throws(ConfigError) in target.maxMemory = try node.byteSize(allowPercent: true) },
        .key("memory") { target, node, _ throws(ConfigError) in
            guard let kind = MemoryKind(rawValue: try node.string()) else { throw node.error("expected pss or rss") }
            target.memoryKind = kind
        },
        .key("for_samples") { target, node, _ throws(ConfigError) in target.sustainedSamples = try node.int(in: 1...1000) },
        .key("on_alert") { target, node, _ throws(ConfigError) in target.onAlerts = try node.stringList() },
        .key("min_uptime") { target, node, _ throws(ConfigError) in target.minUptime = try node.duration() },
        .key("health_timeout") { target, node, _ throws(ConfigError) in target.healthTimeout = try node.duration(atLeast: .seconds(5)) },
        .key("budget") { target, node, _ throws(ConfigError) in target.budget = try node.int(in: 1...1000) },
        .key("budget_window") { target, node, _ throws(ConfigError) in target.budgetWindow = try node.duration(atLeast: .seconds(60)) },
        .key("dry_run") { target, node, _ throws(ConfigError) in target.dryRun = try node.bool() },
        .key("graceful") { target, node, _ throws(ConfigError) in
            let text = try node.string()
            guard text == "sidekiq" || text == "none" else { throw node.error("expected sidekiq or none") }
            target.gracefulSidekiq = text == "sidekiq"
        },
        .key("drain_timeout") { target, node, _ throws(ConfigError) in target.drainTimeout = try node.duration(atLeast: .seconds(1)) },
        .key("user") { target, node, context throws(ConfigError) in target.owner = try node.account(context.accounts) },
    ], before: { _, map, _ throws(ConfigError) in
        let found = methods.filter { map[$0] != nil }
        guard found.count == 1 else {
            throw map.owner.error("a restart target needs exactly one method: signal, command, supervisord, systemd or docker\(found.isEmpty ? "" : " (found \(found.joined(separator: ", ")))")")
        }
    }, check: { target, map, context throws(ConfigError) in
        if map["user"] == nil, let group = context.processGroups.first(where: { $0.name == target.group }) {
            target.owner = try defaultOwner(group: group, method: target.method, accounts: context.accounts, groupNode: try map.required("group"))
        }
        guard target.maxAge != nil || target.maxMemory != nil || !target.onAlerts.isEmpty else {
            throw map.owner.error("a restart target needs a trigger: max_age, max_memory or on_alert")
        }
    })

    /// Whose processes a target without `user:` may restart (docs/restarts.md, "Whose
    /// processes"): its group's account, else `mastodon` for Mastodon's own groups, else the
    /// account mastiff runs as. A method that names what it restarts (a systemd unit, a
    /// supervisord program, a Docker container) checks that the process belongs to it; for a
    /// group of the admin's own such a target needs no account (nil), while Mastodon's groups
    /// keep theirs.
    static func defaultOwner(group: ProcessGroupSpec, method: Method, accounts: SystemAccounts, groupNode: ConfigNode) throws(ConfigError) -> ProcessOwner? {
        if let owner = group.user { return owner }
        let namesItsProcesses: Bool
        switch method {
        case .systemd(let unit): namesItsProcesses = unit != nil
        case .supervisord, .docker: namesItsProcesses = true
        case .signal, .command: namesItsProcesses = false
        }
        if ProcessGroupSpec.mastodonAccountGroups.contains(group.name) {
            if case .docker = method { return nil }
            guard let owner = accounts.owner("mastodon") else {
                throw groupNode.error("group '\(group.name)' is Mastodon's, whose processes run as the user 'mastodon', and this host has no such user: "
                    + "set user: to the account Mastodon runs as (a name or a numeric uid) on this target or on the group")
            }
            return owner
        }
        if namesItsProcesses { return nil }
        return ProcessOwner(name: String(accounts.effectiveUID), uid: accounts.effectiveUID)
    }

    struct SupervisordMethod {
        var url = ""
        var program = ""
        static let section = ConfigSection<SupervisordMethod>([
            .key("url", required: true) { method, node, _ throws(ConfigError) in
                method.url = try node.string()
                guard method.url.hasPrefix("http://") || method.url.hasPrefix("unix:///") else {
                    throw node.error("expected http://host:port or unix:///path/to/supervisor.sock")
                }
            },
            .key("program", required: true) { method, node, _ throws(ConfigError) in method.program = try node.string() },
        ])
    }

    struct SystemdMethod {
        var unit: String?
        static let section = ConfigSection<SystemdMethod>([
            .key("unit") { method, node, _ throws(ConfigError) in
                let text = try node.string()
                guard text.hasSuffix(".service"), !text.contains("/"), !text.contains(" ") else { throw node.error("expected a unit name such as mastodon-sidekiq.service") }
                method.unit = text
            },
        ])
    }

    struct DockerMethod {
        var socket = "/var/run/docker.sock"
        static let section = ConfigSection<DockerMethod>([
            .key("socket") { method, node, _ throws(ConfigError) in method.socket = try node.absolutePath() ?? method.socket },
        ])
    }
}
