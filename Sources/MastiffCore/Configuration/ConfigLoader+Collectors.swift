/// The `collectors:` section.
extension ConfigLoader {
    static func parseCollectors(_ node: ConfigNode, environment: (String) -> String?, accounts: SystemAccounts) throws(ConfigError) -> CollectorSettings {
        let map = try node.mapping(allowing: ConfigKeys.collectors)
        var settings = CollectorSettings()
        if let timeout = map["timeout"] { settings.timeout = try timeout.duration(atLeast: .milliseconds(10)) }
        if let system = map["system"] {
            let systemMap = try system.mapping(allowing: ConfigKeys.system)
            if let enabled = systemMap["enabled"] { settings.system.enabled = try enabled.bool() }
            if let filesystems = systemMap["filesystems"] {
                var paths: [String] = []
                for item in try filesystems.list() {
                    let path = try item.string()
                    guard path.hasPrefix("/") else { throw item.error("'\(path)' is not an absolute path") }
                    paths.append(path)
                }
                settings.system.filesystems = paths
            }
        }
        if let processes = map["processes"] {
            let processMap = try processes.mapping(allowing: ConfigKeys.processes)
            if let enabled = processMap["enabled"] { settings.processes.enabled = try enabled.bool() }
            if let pss = processMap["pss"] { settings.processes.pss = try pss.bool() }
            if let defaults = processMap["default_groups"] { settings.processes.defaultGroups = try defaults.bool() }
            if let groups = processMap["groups"] {
                var seen = Set<String>()
                for item in try groups.list() {
                    let group = try parseGroup(item, accounts: accounts)
                    guard seen.insert(group.name).inserted else { throw item.error("duplicate group name '\(group.name)'") }
                    settings.processes.groups.append(group)
                }
            }
        }
        if let postgres = map["postgres"] {
            let postgresMap = try postgres.mapping(allowing: ConfigKeys.postgres)
            if let enabled = postgresMap["enabled"] { settings.postgres.enabled = try enabled.bool() }
            if let dsn = postgresMap["dsn"] { settings.postgres.dsn = try postgresDSN(dsn, environment: environment) }
            if let top = postgresMap["top_tables"] { settings.postgres.topTables = try top.int(in: 0...1000) }
            if let interval = postgresMap["size_interval"] { settings.postgres.sizeInterval = try interval.duration() }
            if let interval = postgresMap["mastodon_interval"] { settings.postgres.mastodonInterval = try interval.duration() }
        }
        if let pgbouncer = map["pgbouncer"] {
            let pgbouncerMap = try pgbouncer.mapping(allowing: ConfigKeys.pgbouncer)
            // Writing the section turns the collector on unless it says otherwise.
            settings.pgbouncer.enabled = true
            if let enabled = pgbouncerMap["enabled"] { settings.pgbouncer.enabled = try enabled.bool() }
            if let dsn = pgbouncerMap["dsn"] { settings.pgbouncer.dsn = try postgresDSN(dsn, environment: environment) }
        }
        if let redis = map["redis"] {
            let redisMap = try redis.mapping(allowing: ConfigKeys.redis)
            if let enabled = redisMap["enabled"] { settings.redis.enabled = try enabled.bool() }
            if let url = redisMap["url"] { settings.redis.url = try url.redisURL(environment: environment) }
        }
        if let sidekiq = map["sidekiq"] {
            let sidekiqMap = try sidekiq.mapping(allowing: ConfigKeys.sidekiq)
            if let enabled = sidekiqMap["enabled"] { settings.sidekiq.enabled = try enabled.bool() }
            if let url = sidekiqMap["redis_url"] { settings.sidekiq.redisURL = try url.redisURL(environment: environment) }
            if let namespace = sidekiqMap["namespace"] { settings.sidekiq.namespace = try namespace.string() }
        }
        if let endpoints = map["mastodon_endpoints"] {
            for item in try endpoints.list() {
                let endpointMap = try item.mapping(allowing: ConfigKeys.mastodonEndpoint)
                let nameNode = try endpointMap.required("name")
                let name = try nameNode.string()
                guard !name.isEmpty, name.utf8.count <= 64, !name.contains("\""), !name.contains("\\") else {
                    throw nameNode.error("'\(name)' is not a usable endpoint name")
                }
                guard !settings.mastodonEndpoints.contains(where: { $0.name == name }) else { throw nameNode.error("duplicate endpoint name '\(name)'") }
                let urlNode = try endpointMap.required("url")
                let url = try urlNode.httpURL()
                settings.mastodonEndpoints.append(MastodonEndpoint(name: name, url: url))
            }
        }
        if let probes = map["probes"] {
            for item in try probes.list() {
                let probe = try parseProbe(item, collectorTimeout: settings.timeout)
                guard !settings.probes.contains(where: { $0.name == probe.name }) else { throw item.error("duplicate probe name '\(probe.name)'") }
                settings.probes.append(probe)
            }
        }
        return settings
    }

    static func parseProbe(_ node: ConfigNode, collectorTimeout: Duration) throws(ConfigError) -> ProbeSpec {
        let map = try node.mapping(allowing: ConfigKeys.probe)
        let nameNode = try map.required("name")
        let name = try nameNode.string()
        guard !name.isEmpty, name.utf8.count <= 64, !name.contains("\""), !name.contains("\\") else {
            throw nameNode.error("'\(name)' is not a usable probe name")
        }
        let urlNode = try map.required("url")
        let url = try urlNode.httpURL()
        var probe = ProbeSpec(name: name, url: url)
        if let method = map["method"] {
            let text = try method.string()
            guard ["GET", "HEAD", "POST", "OPTIONS"].contains(text) else { throw method.error("unknown method '\(text)' (GET, HEAD, POST, OPTIONS)") }
            probe.method = text
        }
        if let status = map["status"] {
            for item in try status.list() { probe.statusCodes.append(try item.int(in: 100...599)) }
        }
        if let text = map["body_contains"] { probe.bodyContains = try text.string() }
        if let field = map["json_field"] { probe.jsonField = try field.string() }
        if let equals = map["json_equals"] {
            guard probe.jsonField != nil else { throw equals.error("json_equals needs json_field") }
            probe.jsonEquals = try equals.string()
        }
        if let timeout = map["timeout"] {
            probe.timeout = try timeout.duration(atLeast: .milliseconds(100))
            guard probe.timeout <= collectorTimeout else {
                throw timeout.error("must not be longer than collectors.timeout (\(DurationParser.format(collectorTimeout))): a probe never holds up a sample")
            }
        } else {
            probe.timeout = min(probe.timeout, collectorTimeout)
        }
        if let host = map["host"] { probe.host = try host.string() }
        if let caFile = map["ca_file"] {
            let path = try caFile.string()
            guard path.hasPrefix("/") else { throw caFile.error("must be an absolute path") }
            probe.caFile = path
        }
        return probe
    }

    static func parseGroup(_ node: ConfigNode, accounts: SystemAccounts) throws(ConfigError) -> ProcessGroupSpec {
        let map = try node.mapping(allowing: ConfigKeys.processGroup)
        let nameNode = try map.required("name")
        let name = try nameNode.string()
        guard MetricName.isValidLabelName(name) || (!name.isEmpty && name.utf8.count <= 64 && !name.contains("\"")) else {
            throw nameNode.error("'\(name)' is not a usable group name")
        }
        var spec = ProcessGroupSpec(name: name)
        if let comm = map["comm"] { spec.comm = try comm.stringList() }
        if let exe = map["exe"] { spec.exe = try exe.stringList() }
        if let cmdline = map["cmdline"] {
            let pattern = try cmdline.string()
            if let reason = POSIXRegex.validate(pattern) {
                throw cmdline.error("'\(pattern)' is not a valid POSIX extended regular expression (\(reason))")
            }
            spec.cmdline = pattern
        }
        guard !spec.comm.isEmpty || !spec.exe.isEmpty || spec.cmdline != nil else {
            throw node.error("group '\(name)' needs at least one matcher: comm, exe or cmdline")
        }
        if let user = map["user"] { spec.user = try account(user, accounts: accounts) }
        return spec
    }

    /// A `user:`: an account of this host, or a numeric uid.
    static func account(_ node: ConfigNode, accounts: SystemAccounts) throws(ConfigError) -> ProcessOwner {
        let name = try node.string()
        guard let owner = accounts.owner(name) else {
            let shown = name.escapingControlCharacters
            throw node.error("this host has no user '\(shown)' (getent passwd \(shown) finds nothing); name the account the processes run as, or its numeric uid")
        }
        return owner
    }

    /// A libpq connection string. A URI whose user info holds a raw "@" is refused: libpq ends
    /// the user info at the first "@" and would take the rest of the password for a host name,
    /// look it up in DNS and quote it in its errors. The message never repeats the value.
    static func postgresDSN(_ node: ConfigNode, environment: (String) -> String?) throws(ConfigError) -> Secret {
        let secret = try node.secret(environment: environment)
        let text = secret.reveal()
        for scheme in ["postgresql://", "postgres://"] where text.hasPrefix(scheme) {
            let rest = text.dropFirst(scheme.count)
            let authority = rest.prefix { $0 != "/" && $0 != "?" }
            if authority.filter({ $0 == "@" }).count > 1 {
                throw node.error("the user info of a postgresql:// URI holds a raw '@': write it as %40 (libpq would read the rest of the password as the host)")
            }
        }
        return secret
    }
}
