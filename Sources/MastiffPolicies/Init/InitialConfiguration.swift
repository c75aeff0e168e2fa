import MastiffCore

/// The mastiff.yml `mastiff init` writes for a Mastodon installation (docs/init.md): every value
/// it discovered commented with where it came from, secrets in files of their own (never in the
/// configuration, never printed), restarts in dry run until the admin says otherwise. Pure: the
/// command gathers the installation and writes the result.
public struct InitialConfiguration: Sendable {
    /// A secret the configuration refers to (`passfile=`, `file:`), to be written 0600.
    public struct SecretFile: Sendable {
        public var path: String
        public var contents: Secret
        public var what: String
    }

    public var text: String
    public var secretFiles: [SecretFile] = []
    /// One line each, for the admin: what was found, what was not and what that means.
    public var notes: [String] = []

    /// PostgreSQL as Mastodon connects to it: DATABASE_URL, else DB_HOST (a socket directory when
    /// it starts with /), DB_PORT, DB_NAME, DB_USER, DB_SSLMODE with Rails' defaults. The
    /// connection string without the password, the password, and the variables it came from.
    public static func postgres(_ installation: MastodonInstallation) -> (conninfo: String, password: String?, source: String) {
        if let url = installation.value("DATABASE_URL") {
            let (conninfo, password) = ConnectionStringParts.splitPassword(url)
            return (conninfo, password, "DATABASE_URL")
        }
        var pairs: [(key: String, value: String)] = [("host", installation.value("DB_HOST") ?? "localhost"), ("port", installation.value("DB_PORT") ?? "5432"),
                                                     ("dbname", installation.value("DB_NAME") ?? "mastodon_production"),
                                                     ("user", installation.value("DB_USER") ?? "mastodon")]
        if let mode = installation.value("DB_SSLMODE") { pairs.append(("sslmode", mode)) }
        let used = ["DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_SSLMODE"].filter { installation.value($0) != nil }
        return (ConnectionStringParts.render(pairs), installation.value("DB_PASS"), used.isEmpty ? "Mastodon's defaults" : used.joined(separator: ", "))
    }

    /// A Redis URL from `prefix`URL, else `prefix`HOST/PORT/DB/USER/PASSWORD (Mastodon's
    /// defaults: localhost, 6379, 0). Nil when none of them is set (for SIDEKIQ_REDIS_: the base
    /// settings apply). The URL with and without its password, and where it came from.
    static func redis(_ installation: MastodonInstallation, prefix: String) -> (url: String, shown: String, hasPassword: Bool, source: String)? {
        if let url = installation.value(prefix + "URL") {
            switch RedisURL.parse(url) {
            case .success(let parsed): return (url, parsed.description, parsed.password != nil, prefix + "URL")
            // Kept in a secret file all the same: what does not parse may still hold a password.
            case .failure: return (url, URLText.redacted(url), true, prefix + "URL")
            }
        }
        let keys = ["HOST", "PORT", "DB", "USER", "PASSWORD"].map { prefix + $0 }
        let used = keys.filter { installation.value($0) != nil }
        guard !used.isEmpty || prefix == "REDIS_" else { return nil }
        let host = installation.value(prefix + "HOST") ?? "localhost"
        let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        let location = "\(hostPart):\(installation.value(prefix + "PORT") ?? "6379")/\(installation.value(prefix + "DB") ?? "0")"
        let user = installation.value(prefix + "USER").map(ConnectionStringParts.percentEncode) ?? ""
        if let password = installation.value(prefix + "PASSWORD") {
            return ("redis://\(user):\(ConnectionStringParts.percentEncode(password))@\(location)", "redis://\(user):<redacted>@\(location)", true, used.joined(separator: ", "))
        }
        let url = "redis://" + (user.isEmpty ? "" : user + "@") + location
        return (url, url, false, used.isEmpty ? "Mastodon's defaults" : used.joined(separator: ", "))
    }

    /// Whether `text` is a host name or address a URL can carry (with an optional :port): a
    /// value from the environment file goes into a URL only then.
    static func isHost(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 253 && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" || $0 == "[" || $0 == "]") }
    }

    /// `host:port` for a loopback listener from STATSD_ADDR ("localhost:8125").
    static func statsdListener(_ address: String) -> String? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        let host = String(address[..<colon])
        guard host.isEmpty || isHost(host) else { return nil }
        return (host == "localhost" || host.isEmpty ? "127.0.0.1" : host) + ":\(port)"
    }

    public static func plan(_ installation: MastodonInstallation, secretsDirectory: String, writtenAt: String) -> InitialConfiguration {
        var plan = InitialConfiguration(text: "")
        var lines: [String] = []
        func add(_ line: String = "") { lines.append(line) }
        func comment(_ text: String, indent: String = "") {
            // Wrapped at ~100 columns, one "# " line each.
            var line = indent + "#"
            for word in YAMLText.comment(text).split(separator: " ") {
                if line.count + word.count + 1 > 100 && line != indent + "#" {
                    add(line)
                    line = indent + "#"
                }
                line += " " + word
            }
            add(line)
        }
        /// A Redis URL key; with a password, the whole URL goes to a secret file and the key says `file:`.
        func redisURL(_ key: String, _ redis: (url: String, shown: String, hasPassword: Bool, source: String), secretFile: String, what: String) {
            guard redis.hasPassword else {
                add("    \(key): \(YAMLText.quoted(redis.url))")
                return
            }
            let path = secretsDirectory + "/" + secretFile
            plan.secretFiles.append(SecretFile(path: path, contents: Secret(redis.url), what: what))
            comment("\(redis.shown), with its password, is in \(path).", indent: "    ")
            add("    \(key): \(YAMLText.quoted("file:" + path))")
        }
        let env = installation.env
        let version = installation.version.map { "Mastodon \($0)" } ?? "Mastodon (version not found)"
        add("# mastiff.yml, written by `mastiff init` on \(writtenAt) for \(YAMLText.comment(version)) from")
        add("#   \(YAMLText.comment(installation.envFile))\(env == nil ? " (not read)" : "")")
        add("#   \(YAMLText.comment(installation.systemdDirectory))\(installation.units.isEmpty ? " (no Mastodon unit found)" : " (" + installation.units.keys.sorted().map(YAMLText.comment).joined(separator: ", ") + ")")")
        comment("Each discovered value says where it came from. Secrets are not in this file: they are in \(secretsDirectory), 0600, each referred to below. `mastiff check-config` validates this file; /usr/share/doc/mastiff/mastiff.yml documents every key.")
        add()

        if let problem = installation.envProblem {
            plan.notes.append("\(installation.envFile): \(problem) — PostgreSQL, Redis and Sidekiq are left off; run init again with --env-file, or fill them in by hand")
        }
        if let problem = installation.unitsProblem {
            plan.notes.append("\(installation.systemdDirectory): \(problem) — no restart target is written")
        }

        // Collectors.
        add("collectors:")
        if env != nil {
            let postgres = postgres(installation)
            var conninfo = postgres.conninfo
            comment("From \(postgres.source) in .env.production.", indent: "  ")
            if let password = postgres.password {
                let path = secretsDirectory + "/pgpass"
                // libpq's password file: host:port:database:user:password, ":" and "\" escaped.
                var escaped = ""
                for character in password {
                    if character == "\\" || character == ":" { escaped.append("\\") }
                    escaped.append(character)
                }
                plan.secretFiles.append(SecretFile(path: path, contents: Secret("*:*:*:*:" + escaped + "\n"), what: "the PostgreSQL password (\(postgres.source == "DATABASE_URL" ? "from DATABASE_URL" : "DB_PASS"))"))
                conninfo = ConnectionStringParts.adding("passfile", path, to: conninfo)
                comment("The password (\(postgres.source == "DATABASE_URL" ? "in DATABASE_URL" : "DB_PASS")) is in \(path), which libpq reads (passfile=).", indent: "  ")
            }
            add("  postgres:")
            add("    dsn: \(YAMLText.quoted(conninfo))")
            plan.notes.append("PostgreSQL: \(postgres.source)" + (postgres.password == nil ? " (no password)" : "; password in \(secretsDirectory)/pgpass"))

            let redis = redis(installation, prefix: "REDIS_")!
            if installation.value("REDIS_SENTINELS") != nil || installation.value("REDIS_SENTINEL_MASTER") != nil {
                plan.notes.append("Redis: Sentinel (REDIS_SENTINELS) is not followed; collectors.redis.url names \(redis.shown) — point it at the master by hand")
            }
            add("  redis:")
            comment("From \(redis.source) in .env.production.", indent: "    ")
            redisURL("url", redis, secretFile: "redis-url", what: "the Redis URL with its password")
            plan.notes.append("Redis: \(redis.shown)")
            let sidekiqRedis = self.redis(installation, prefix: "SIDEKIQ_REDIS_")
            let namespace = installation.value("REDIS_NAMESPACE")
            if sidekiqRedis != nil || namespace != nil {
                add("  sidekiq:")
                if let sidekiqRedis, sidekiqRedis.url != redis.url {
                    comment("Sidekiq's own Redis, from \(sidekiqRedis.source).", indent: "    ")
                    redisURL("redis_url", sidekiqRedis, secretFile: "sidekiq-redis-url", what: "Sidekiq's Redis URL with its password")
                    plan.notes.append("Sidekiq's Redis: \(sidekiqRedis.shown)")
                }
                if let namespace {
                    comment("REDIS_NAMESPACE (Mastodon ≤ 4.3 prefixes every key with it; 4.4 refuses to boot with it).", indent: "    ")
                    add("    namespace: \(YAMLText.quoted(namespace))")
                    plan.notes.append("Sidekiq: keys under the namespace \(namespace)")
                }
            }
        } else {
            comment("No .env.production was read: PostgreSQL, Redis and Sidekiq are off until you fill them in.", indent: "  ")
            add("  postgres: {enabled: false}")
            add("  redis: {enabled: false}")
            add("  sidekiq: {enabled: false}")
        }

        // Mastodon's own metrics.
        var endpoints: [(name: String, url: String, source: String)] = []
        if installation.value("MASTODON_PROMETHEUS_EXPORTER_ENABLED") == "true" {
            if installation.value("MASTODON_PROMETHEUS_EXPORTER_LOCAL") == "true" {
                let host = installation.value("MASTODON_PROMETHEUS_EXPORTER_HOST").flatMap { isHost($0) ? $0 : nil } ?? "localhost"
                endpoints.append(("web", "http://\(host == "localhost" ? "127.0.0.1" : host):\(installation.value("MASTODON_PROMETHEUS_EXPORTER_PORT").flatMap { Int($0).map(String.init) } ?? "9394")/metrics",
                                  "MASTODON_PROMETHEUS_EXPORTER_ENABLED and _LOCAL (served by Puma itself)"))
            } else {
                let host = installation.value("PROMETHEUS_EXPORTER_HOST").flatMap { isHost($0) ? $0 : nil } ?? "localhost"
                endpoints.append(("web", "http://\(host == "localhost" ? "127.0.0.1" : host):\(installation.value("PROMETHEUS_EXPORTER_PORT").flatMap { Int($0).map(String.init) } ?? "9394")/metrics",
                                  "MASTODON_PROMETHEUS_EXPORTER_ENABLED (the prometheus_exporter process web and Sidekiq push to)"))
            }
        }
        var streamingPorts: [(port: String, source: String)] = installation.enabledInstances.compactMap { instance in
            guard instance.hasPrefix("mastodon-streaming@"), instance.hasSuffix(".service") else { return nil }
            let port = instance.dropFirst("mastodon-streaming@".count).dropLast(".service".count)
            return Int(port).map { _ in (String(port), "the enabled unit \(instance)") }
        }
        if streamingPorts.isEmpty {
            for unit in installation.streamingUnits where !unit.contains("@") {
                let environment = installation.units[unit]!.split(separator: "\n").filter { $0.hasPrefix("Environment=") }.joined(separator: " ")
                let port = environment.firstRange(of: "PORT=").map { String(environment[$0.upperBound...].prefix { $0.isNumber }) } ?? ""
                streamingPorts.append((port.isEmpty ? "4000" : port, "the unit \(unit)"))
            }
        }
        if streamingPorts.isEmpty && env != nil { streamingPorts.append(("4000", "the streaming server's default port (no streaming unit found)")) }
        for (port, source) in streamingPorts.sorted(by: { $0.port < $1.port }) {
            endpoints.append((streamingPorts.count == 1 ? "streaming" : "streaming-\(port)", "http://127.0.0.1:\(port)/metrics", source))
        }
        if !endpoints.isEmpty {
            add("  mastodon_endpoints:")
            for endpoint in endpoints {
                comment("From \(endpoint.source).", indent: "    ")
                add("    - {name: \(YAMLText.quoted(endpoint.name)), url: \(YAMLText.quoted(endpoint.url))}")
            }
            plan.notes.append("Mastodon's metrics: " + endpoints.map { "\($0.name) \($0.url)" }.joined(separator: ", "))
        }

        // Restart targets need the processes' account to exist here, and the units.
        let account = installation.account
        let accountKnown = installation.existingAccounts.contains(account)
        let sidekiqUnits = installation.sidekiqUnits + installation.enabledInstances.filter { $0.hasPrefix("mastodon-sidekiq@") }
        let templatesOnly = installation.sidekiqUnits.allSatisfy { $0.contains("@.service") }
        let concreteSidekiq = sidekiqUnits.filter { !$0.contains("@.service") }
        let webUnits = installation.webUnits
        let userKey = account == "mastodon" ? "" : ", user: \(YAMLText.quoted(account))"
        if !webUnits.isEmpty {
            let group = "{name: puma-workers, cmdline: '^puma: cluster worker', user: \(YAMLText.quoted(account))}"
            if accountKnown {
                add("  processes:")
                add("    groups:")
                comment("Puma's workers alone (not its master), as the \(account) user (User= of \(webUnits.joined(separator: ", "))).", indent: "      ")
                add("      - " + group)
            } else {
                comment("Puma's workers alone, for the restart target below; left out while this host has no account '\(account)' (User= of \(webUnits.joined(separator: ", "))):", indent: "  ")
                add("  # processes: {groups: [\(group)]}")
            }
        }
        add()

        // statsd only for Mastodon ≤ 4.2.
        if let address = installation.value("STATSD_ADDR"), let listener = statsdListener(address) {
            comment("Mastodon ≤ 4.2 sends statsd to STATSD_ADDR (\(address)): mastiff listens there and turns it into Prometheus series.")
            add("statsd:")
            add("  udp: \(YAMLText.quoted(listener))")
            add("  tcp: \"\"")
            if let namespace = installation.value("STATSD_NAMESPACE") {
                comment("STATSD_NAMESPACE", indent: "  ")
                add("  mastodon_namespace: \(YAMLText.quoted(namespace))")
            }
            plan.notes.append("statsd: listening on \(listener) (STATSD_ADDR)")
        } else {
            comment("No STATSD_ADDR: Mastodon 4.3 and later send no statsd; the listeners stay off.")
            add("statsd: {enabled: false}")
        }
        add()

        add("instance:")
        let domainSource = installation.value("WEB_DOMAIN") != nil ? "WEB_DOMAIN" : "LOCAL_DOMAIN"
        if let domain = installation.value(domainSource), !Self.isHost(domain) {
            plan.notes.append("Instance: \(domainSource) is not a host name; nothing is probed until you set instance.url")
        } else if let domain = installation.value(domainSource) {
            let source = domainSource
            comment("From \(source). Probed every sample: /health, /api/v1/streaming/health, /api/v2/instance (InstanceDown, StreamingDown).", indent: "  ")
            add("  url: \(YAMLText.quoted("https://" + domain))")
            plan.notes.append("Instance: https://\(domain) (\(source)), probed")
        } else if env != nil {
            plan.notes.append("Instance: neither LOCAL_DOMAIN nor WEB_DOMAIN is set, so nothing is probed; set instance.url")
        }
        comment("Read by `mastiff doctor` (DB_POOL, MAX_THREADS, RAILS_LOG_LEVEL…); its values are never printed.", indent: "  ")
        add("  env_file: \(YAMLText.quoted(installation.envFile))")
        add()

        // Restarts.
        var targets: [String] = []
        var explanation: [String] = []
        if !sidekiqUnits.isEmpty {
            let method: String
            if concreteSidekiq.count == 1 && !templatesOnly {
                method = "systemd: {unit: \(YAMLText.quoted(concreteSidekiq[0]))}"
                explanation.append("sidekiq: every Sidekiq process is restarted after 3 h (± 30 min, so that several never restart together), quieted and drained first, by `systemctl restart \(concreteSidekiq[0])`.")
            } else {
                method = "systemd: {}"
                explanation.append("sidekiq: Sidekiq runs in several units (\(sidekiqUnits.joined(separator: ", "))); one target restarts them one at a time, each process through the unit it runs in (from its cgroup), after 3 h (± 30 min), quieted and drained first.")
            }
            targets.append("  - {name: sidekiq, group: sidekiq\(userKey), max_age: 3h, jitter: 30m, graceful: sidekiq, \(method), dry_run: true}")
        }
        if !webUnits.isEmpty {
            explanation.append("puma-workers: a Puma worker over 800 MiB PSS for a minute gets TERM and Puma's master forks a fresh one, one worker at a time (a worker usually settles at 300–600 MiB).")
            targets.append("  - {name: puma-workers, group: puma-workers, max_memory: 800MiB, for_samples: 4, signal: TERM, dry_run: true}")
        }
        if targets.isEmpty {
            add("restarts: []")
            if installation.unitsProblem == nil { plan.notes.append("Restarts: no Sidekiq or Puma unit in \(installation.systemdDirectory); none written") }
        } else {
            for line in explanation { comment(line) }
            comment("dry_run: true logs each decision and does nothing: watch `mastiff restarts list` for a day, then set it to false. Restarting a unit needs the polkit rule (/usr/share/doc/mastiff/examples/60-mastiff.rules); quieting Sidekiq and signalling Puma workers need CAP_KILL, which the packaged unit has (docs/restarts.md).")
            if accountKnown {
                add("restarts:")
                for target in targets { add(target) }
                plan.notes.append("Restarts: " + targets.count.description + " target(s) in dry run, for the \(account) user's processes")
            } else {
                comment("Left commented out: the units run as '\(account)', and this host has no such account (check-config would refuse). Set user: to the account Mastodon runs as, then uncomment.")
                add("# restarts:")
                for target in targets { add("#" + target) }
                add("restarts: []")
                plan.notes.append("Restarts: written commented out — the units run as '\(account)', which this host does not have")
            }
        }
        add()

        // Notifications: Mastodon's own SMTP, to the contact address; commented out.
        if let server = installation.value("SMTP_SERVER") {
            let port = installation.value("SMTP_PORT") ?? "587"
            let security = installation.value("SMTP_TLS") == "true" || installation.value("SMTP_SSL") == "true" ? "tls"
                : installation.value("SMTP_ENABLE_STARTTLS") == "never" ? "none" : "starttls"
            let from = installation.value("SMTP_FROM_ADDRESS").map { $0.hasSuffix(">") ? String($0.split(separator: "<").last!.dropLast()) : $0 }
                ?? "notifications@" + (installation.value("LOCAL_DOMAIN") ?? "localhost")
            let to = installation.contactEmail ?? "admin@" + (installation.value("LOCAL_DOMAIN") ?? "example.org")
            var email = "to: [\(YAMLText.quoted(to))], from: \(YAMLText.quoted(from)), smarthost: \(YAMLText.quoted("\(server):\(port)")), security: \(security)"
            if let login = installation.value("SMTP_LOGIN") { email += ", username: \(YAMLText.quoted(login))" }
            if let password = installation.value("SMTP_PASSWORD") {
                let path = secretsDirectory + "/smtp-password"
                plan.secretFiles.append(SecretFile(path: path, contents: Secret(password), what: "the SMTP password (SMTP_PASSWORD)"))
                email += ", password: \(YAMLText.quoted("file:" + path))"
            }
            let used = ["SMTP_SERVER", "SMTP_PORT", "SMTP_LOGIN", "SMTP_FROM_ADDRESS", "SMTP_TLS", "SMTP_SSL", "SMTP_ENABLE_STARTTLS"].filter { installation.value($0) != nil }
            comment("E-mail through Mastodon's own SMTP settings (\(used.joined(separator: ", "))" + (installation.value("SMTP_PASSWORD") != nil ? "; SMTP_PASSWORD is in \(secretsDirectory)/smtp-password" : "") + ") to " + (installation.contactEmail != nil ? "the instance's contact address (site_contact_email)." : "a placeholder: the contact address (site_contact_email) could not be read.") + " Left commented out until you have checked the address: uncomment, reload (systemctl reload mastiff), then `mastiff alerts test --receiver admin`.")
            add("# alerts:")
            add("#   receivers:")
            add("#     - name: admin")
            add("#       email: {\(email)}")
            add("#   default_receivers: [admin]")
            plan.notes.append("Alerts: an e-mail receiver to \(to) through \(server):\(port), commented out until you confirm it" + (installation.contactEmail == nil ? " (contact address not found: \(installation.databaseProblem ?? "no site_contact_email"))" : ""))
        } else {
            comment("Firing alerts are logged. Add receivers under alerts: (e-mail, ntfy, Matrix, webhooks…): /usr/share/doc/mastiff/mastiff.yml.")
            if env != nil { plan.notes.append("Alerts: no SMTP_SERVER in .env.production; alerts are logged until you add a receiver") }
        }
        add()

        // Backups: never the media bucket.
        comment("Backups of the database to S3-compatible storage (docs/backups.md), off until you fill in a bucket of their own. Not Mastodon's media bucket (S3_BUCKET): what is in it is public by design, its keys sit on the web host, and anyone holding them could delete the backups with the media; a dump holds every account's e-mail address and password hash.")
        add("# backups:")
        add("#   enabled: true")
        add("#   storage: {endpoint: \"https://s3.example.com\", bucket: \"mastodon-backups\", access_key_id: \"…\", secret_access_key: \"file:\(secretsDirectory)/backup-s3-secret\"}")
        add("#   encryption: {recipients: [\"age1…\"]}     # age-keygen; keep the identity off this host")
        add("#   postgres: {schedule: \"0 3 * * *\"}          # the DSN above")
        add("#   drill: {schedule: \"@weekly\"}")
        plan.text = lines.joined(separator: "\n") + "\n"
        return plan
    }
}
