#if canImport(Glibc)
import Glibc
#endif

/// `restarts:` targets.
extension ConfigLoader {
    static let signals: [String: Int32] = ["TERM": SIGTERM, "INT": SIGINT, "HUP": SIGHUP, "QUIT": SIGQUIT, "USR1": SIGUSR1, "USR2": SIGUSR2,
                                           "TSTP": SIGTSTP, "KILL": SIGKILL]

    /// The required `name` of a job, restart target or receiver: letters, digits, _ and - (it
    /// becomes a label value and a state-file key), at most `maxBytes` when given.
    static func identifierName(_ map: ConfigMapping, _ what: String, maxBytes: Int? = nil) throws(ConfigError) -> String {
        let nameNode = try map.required("name")
        let name = try nameNode.string()
        guard !name.isEmpty, name.utf8.count <= maxBytes ?? .max, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
            throw nameNode.error("'\(name)' is not a usable \(what) name (letters, digits, _ and -)")
        }
        return name
    }

    static func parseRestartTarget(_ node: ConfigNode, groups: [ProcessGroupSpec], accounts: SystemAccounts) throws(ConfigError) -> RestartTargetSpec {
        let map = try node.mapping(allowing: ConfigKeys.restartTarget)
        let name = try identifierName(map, "target")
        let groupNode = try map.required("group")
        let group = try groupNode.string()
        guard let groupSpec = groups.first(where: { $0.name == group }) else {
            throw groupNode.error("no process group is named '\(group)' (groups: \(groups.map(\.name).sorted().joined(separator: ", ")))")
        }
        let methods = ["signal", "command", "supervisord", "systemd", "docker"].filter { map[$0] != nil }
        guard methods.count == 1 else {
            throw node.error("a restart target needs exactly one method: signal, command, supervisord, systemd or docker\(methods.isEmpty ? "" : " (found \(methods.joined(separator: ", ")))")")
        }
        let method: RestartTargetSpec.Method
        switch methods[0] {
        case "signal":
            let signalNode = try map.required("signal")
            let text = try signalNode.string().uppercased().replacingPrefix("SIG")
            guard let number = signals[text] else { throw signalNode.error("unknown signal '\(text)' (\(signals.keys.sorted().joined(separator: ", ")))") }
            method = .signal(name: text, number: number)
        case "command":
            let commandNode = try map.required("command")
            let argv = try commandNode.stringList()
            guard let first = argv.first, first.hasPrefix("/") else { throw commandNode.error("expected an argv list starting with an absolute path, e.g. [/usr/bin/systemctl, restart, mastodon-sidekiq]") }
            method = .command(argv: argv, timeout: try map["command_timeout"]?.duration(atLeast: .seconds(1)) ?? .seconds(60))
        case "systemd":
            let systemd = try map.required("systemd").mapping(allowing: ConfigKeys.systemdMethod)
            var unit: String?
            if let unitNode = systemd["unit"] {
                let text = try unitNode.string()
                guard text.hasSuffix(".service"), !text.contains("/"), !text.contains(" ") else { throw unitNode.error("expected a unit name such as mastodon-sidekiq.service") }
                unit = text
            }
            method = .systemd(unit: unit)
        case "docker":
            let docker = try map.required("docker").mapping(allowing: ConfigKeys.dockerMethod)
            let socket = try docker["socket"]?.string() ?? "/var/run/docker.sock"
            guard socket.hasPrefix("/") else { throw try docker.required("socket").error("must be an absolute path") }
            method = .docker(socket: socket)
        default:
            let supervisord = try map.required("supervisord").mapping(allowing: ConfigKeys.supervisord)
            let urlNode = try supervisord.required("url")
            let url = try urlNode.string()
            guard url.hasPrefix("http://") || url.hasPrefix("unix:///") else { throw urlNode.error("expected http://host:port or unix:///path/to/supervisor.sock") }
            method = .supervisord(url: url, program: try supervisord.required("program").string())
        }
        var target = RestartTargetSpec(name: name, group: group, method: method)
        if let node = map["max_age"] { target.maxAge = try node.duration(atLeast: .seconds(60)) }
        if let node = map["jitter"] { target.jitter = try node.duration() }
        if let node = map["max_memory"] { target.maxMemory = try node.byteSize(allowPercent: true) }
        if let node = map["memory"] {
            let kind = try node.string()
            guard kind == "pss" || kind == "rss" else { throw node.error("expected pss or rss") }
            target.memoryKind = kind
        }
        if let node = map["for_samples"] { target.sustainedSamples = try node.int(in: 1...1000) }
        if let node = map["on_alert"] { target.onAlerts = try node.stringList() }
        if let node = map["min_uptime"] { target.minUptime = try node.duration() }
        if let node = map["health_timeout"] { target.healthTimeout = try node.duration(atLeast: .seconds(5)) }
        if let node = map["budget"] { target.budget = try node.int(in: 1...1000) }
        if let node = map["budget_window"] { target.budgetWindow = try node.duration(atLeast: .seconds(60)) }
        if let node = map["dry_run"] { target.dryRun = try node.bool() }
        if let node = map["graceful"] {
            let text = try node.string()
            guard text == "sidekiq" || text == "none" else { throw node.error("expected sidekiq or none") }
            target.gracefulSidekiq = text == "sidekiq"
        }
        if let node = map["drain_timeout"] { target.drainTimeout = try node.duration(atLeast: .seconds(1)) }
        target.owner = try restartOwner(map, group: groupSpec, method: method, accounts: accounts)
        guard target.maxAge != nil || target.maxMemory != nil || !target.onAlerts.isEmpty else {
            throw node.error("a restart target needs a trigger: max_age, max_memory or on_alert")
        }
        return target
    }
}

extension ConfigLoader {
    /// Whose processes a target may restart (docs/restarts.md, "Whose processes"): the target's
    /// `user`, else its group's, else `mastodon` for Mastodon's own groups, else the account
    /// mastiff runs as. A method that names what it restarts (a systemd unit, a supervisord
    /// program, a Docker container) checks that the process belongs to it; for a group of the
    /// admin's own such a target needs no account (nil), while Mastodon's groups keep theirs.
    static func restartOwner(_ map: ConfigMapping, group: ProcessGroupSpec, method: RestartTargetSpec.Method,
                             accounts: SystemAccounts) throws(ConfigError) -> ProcessOwner? {
        if let node = map["user"] { return try account(node, accounts: accounts) }
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
                throw (try map.required("group")).error("group '\(group.name)' is Mastodon's, whose processes run as the user 'mastodon', and this host has no such user: "
                    + "set user: to the account Mastodon runs as (a name or a numeric uid) on this target or on the group")
            }
            return owner
        }
        if namesItsProcesses { return nil }
        return ProcessOwner(name: String(accounts.effectiveUID), uid: accounts.effectiveUID)
    }
}

private extension String {
    func replacingPrefix(_ prefix: String) -> String { hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self }
}
