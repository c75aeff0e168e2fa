import Glibc
import Logging
import MastiffAgent
import MastiffClients
import MastiffCollectors
import MastiffCore
import MastiffPolicies

/// `mastiff doctor`: gathers facts from /proc, Mastodon's .env.production, PostgreSQL and the
/// backup bucket, then prints each check's finding (DoctorChecks, pure) as ok / warn / fail with
/// the measured value, the recommendation and why. Exit 0 with no fail, 1 otherwise.
struct DoctorCommand {
    let config: MastiffConfig
    let procRoot: String
    let json: Bool
    /// Where the Sidekiq unit is looked for; the first directory holding a unit of a name wins,
    /// as in systemd.
    var systemdDirectories = Self.systemdDirectories
    static let systemdDirectories = ["/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"]
    /// Crontabs: files, or directories whose files are read (root's and users').
    var cronPaths = Self.cronPaths
    static let cronPaths = ["/etc/crontab", "/etc/cron.d", "/etc/cron.daily", "/etc/cron.weekly", "/var/spool/cron/crontabs"]
    /// `--upgrade-to`: the upgrade preflight's findings instead of the host's.
    var upgradeTo: String?
    /// nginx's configuration directories (`--nginx-dir` replaces them).
    var nginxDirectories = Self.nginxDirectories
    static let nginxDirectories = ["/etc/nginx/sites-enabled", "/etc/nginx/conf.d"]

    func run() async -> Int32 {
        let facts = await gather()
        let findings = upgradeTo.flatMap { UpgradePreflight.run(facts, target: $0) } ?? DoctorChecks.run(facts)
        if json {
            print(JSONValue.array(findings.map { finding in
                .object(["check": .string(finding.check), "level": .string(finding.level.rawValue), "measured": .string(finding.measured),
                         "recommended": .string(finding.recommended), "why": .string(finding.why)])
            }).serialized(indent: true))
        } else {
            for finding in findings {
                print("\(finding.level.rawValue.uppercased().padding(4))  \(finding.check): \(finding.measured)")
                if finding.level != .ok { print("      recommended: \(finding.recommended) — \(finding.why)") }
            }
        }
        return findings.contains { $0.level == .fail } ? 1 : 0
    }

    func gather() async -> DoctorFacts {
        var facts = DoctorFacts()
        if let text = try? FileSystemAccess.readFile(procRoot + "/meminfo") {
            let memory = SystemParsers.meminfo(text)
            facts.memTotalBytes = UInt64(memory["MemTotal"] ?? 0)
            facts.memAvailableBytes = UInt64(memory["MemAvailable"] ?? 0)
            facts.swapTotalBytes = UInt64(memory["SwapTotal"] ?? 0)
        }
        facts.cpus = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        facts.processes = Self.processes(procRoot: procRoot)
        do {
            let text = try FileSystemAccess.readRegularFile(config.instance.envFile, limit: 1 << 20)
            if text.utf8.contains(0) || text.unicodeScalars.contains("\u{FFFD}") {
                facts.envProblem = "\(config.instance.envFile) holds binary data, not KEY=value lines"
            } else {
                facts.env = DotEnv.parse(text)
            }
            // config/sidekiq.yml beside the environment file: the queues Mastodon expects served.
            let directory = config.instance.envFile.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            if let yaml = try? FileSystemAccess.readRegularFile(directory + "/config/sidekiq.yml", limit: 1 << 16) {
                facts.configuredSidekiqQueues = DoctorChecks.configuredQueues(sidekiqYAML: yaml)
            }
            if let text = try? FileSystemAccess.readRegularFile(directory + "/lib/mastodon/version.rb", limit: 64 << 10) {
                facts.mastodonVersion = MastodonInstallation.version(fromVersionFile: text)
            }
        } catch {
            facts.envProblem = error.description
        }
        facts.jobCommands = config.jobs.map(\.command)
        if config.collectors.postgres.enabled,
           let connection = try? await PostgresConnection.connect(config.collectors.postgres.dsn, timeoutSeconds: 3) {
            if let value = try? await connection.query("SHOW max_connections").first?[0] { facts.postgresMaxConnections = Int(value) }
            if let value = try? await connection.query("SHOW server_version_num").first?[0] { facts.postgresVersionNumber = Int(value) }
            let largest = "SELECT n.nspname || '.' || c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 2 DESC LIMIT 1"
            if let rows = try? await connection.query(largest) {
                if let row = rows.first, row.count == 2, let name = row[0], let bytes = row[1].flatMap({ UInt64($0) }) {
                    facts.largestTable = DoctorFacts.Table(name: name, bytes: bytes)
                } else if rows.isEmpty {
                    // A database without tables of its own (not Mastodon's yet): nothing to rewrite.
                    facts.largestTable = DoctorFacts.Table(name: "(no table)", bytes: 0)
                }
            }
            // Readable by superusers and pg_read_all_settings; the free space then comes from statvfs.
            if let directory = try? await connection.query("SHOW data_directory").first?[0],
               let usage = try? StatvfsFilesystemStatter().usage(of: directory) {
                facts.postgresDataFreeBytes = UInt64(max(0, usage.available))
            }
            let settings = "SELECT name, setting, coalesce(unit, '') FROM pg_settings"
                + " WHERE name IN ('shared_buffers', 'effective_cache_size', 'work_mem', 'maintenance_work_mem')"
            for row in (try? await connection.query(settings)) ?? [] {
                guard row.count == 3, let name = row[0], let setting = row[1].flatMap({ UInt64($0) }) else { continue }
                let unit: UInt64 = switch row[2] ?? "" { case "8kB": 8192; case "kB": 1024; case "MB": 1 << 20; default: 1 }
                facts.postgresMemorySettings[name] = setting * unit
            }
            // Mastodon's admin settings are YAML in the settings table ("--- 7\n", "--- '7'\n"); the
            // table exists only when the DSN names Mastodon's database.
            if let value = try? await connection.query("SELECT value FROM settings WHERE var = 'media_cache_retention_period' AND thing_type IS NULL").first?[0] {
                facts.mediaCacheRetentionDays = Int(String(value.dropFirst(3).filter(\.isNumber)))
            }
        }
        if config.collectors.redis.enabled {
            (facts.redisPersistence, facts.redisVersion) = await Self.redisFacts(config.collectors.redis.url)
        }
        if config.collectors.sidekiq.enabled {
            let sidekiq = SidekiqCollector(url: config.collectors.sidekiq.redisURL ?? config.collectors.redis.url,
                                           namespace: config.collectors.sidekiq.namespace, collectorTimeout: .seconds(5))
            let collection = await CollectorRunner(timeout: .seconds(5), logger: Logger(label: "doctor") { _ in SwiftLogNoOpLogHandler() }).run([sidekiq])
            facts.sidekiqQueues = collection.views.sidekiqProcesses?.map(\.queues)
        }
        facts.sidekiqUnits = Self.sidekiqUnits(in: systemdDirectories)
        facts.nginxConfigs = Self.nginxConfigs(in: nginxDirectories)
        facts.cronTootctlLines = Self.cronTootctlLines(cronPaths)
        if let env = facts.env, env["S3_ENABLED"] == "true" { facts.mediaBucket = await Self.mediaBucket(env) }
        if config.backups.enabled, let plan = try? BackupPlan(config: config) {
            facts.backupsConfigured = true
            if let newest = try? await plan.storage.manifests(target: "postgres").manifests.last {
                facts.lastBackupAge = Double(time(nil)) - newest.finishedAt
            }
        }
        return facts
    }

    /// Over one connection: INFO persistence with the save and appendonly settings (CONFIG may
    /// be renamed: then only INFO), and the server's version (INFO server).
    static func redisFacts(_ url: RedisURL) async -> (persistence: [String: String]?, version: String?) {
        guard let redis = try? await RedisConnection.connect(url, timeoutMilliseconds: 3000) else { return (nil, nil) }
        var version: String?
        if case .string(let info)? = try? await redis.command(["INFO", "server"]) { version = RedisInfoParser.parse(info)["redis_version"] }
        guard case .string(let info)? = try? await redis.command(["INFO", "persistence"]) else { return (nil, version) }
        var fields = RedisInfoParser.parse(info)
        for name in ["save", "appendonly"] {
            if case .array(let pair)? = try? await redis.command(["CONFIG", "GET", name]), pair.count == 2, case .string(let value) = pair[1] {
                fields[name] = value
            }
        }
        return (fields, version)
    }

    /// nginx's site and conf.d files; nil when none could be read.
    static func nginxConfigs(in directories: [String]) -> [DoctorFacts.UnitFile]? {
        var configs: [DoctorFacts.UnitFile] = []
        for directory in directories {
            for name in ((try? FileSystemAccess.listDirectory(directory)) ?? []).sorted() {
                guard let text = try? FileSystemAccess.readRegularFile(directory + "/" + name, limit: 1 << 20) else { continue }
                configs.append(DoctorFacts.UnitFile(path: directory + "/" + name, text: text))
            }
        }
        return configs.isEmpty ? nil : configs
    }

    /// Units whose ExecStart runs Sidekiq, with their drop-ins appended (a later setting wins).
    static func sidekiqUnits(in directories: [String]) -> [DoctorFacts.UnitFile] {
        var seen = Set<String>()
        var units: [DoctorFacts.UnitFile] = []
        for directory in directories {
            for name in ((try? FileSystemAccess.listDirectory(directory)) ?? []).sorted() where name.hasSuffix(".service") && !seen.contains(name) {
                guard let text = try? FileSystemAccess.readRegularFile(directory + "/" + name, limit: 1 << 20),
                      text.split(separator: "\n").contains(where: { $0.hasPrefix("ExecStart") && $0.contains("sidekiq") }) else { continue }
                seen.insert(name)
                var combined = text
                for dropIn in ((try? FileSystemAccess.listDirectory(directory + "/" + name + ".d")) ?? []).sorted() where dropIn.hasSuffix(".conf") {
                    combined += "\n" + ((try? FileSystemAccess.readRegularFile(directory + "/" + name + ".d/" + dropIn, limit: 1 << 20)) ?? "")
                }
                units.append(DoctorFacts.UnitFile(path: directory + "/" + name, text: combined))
            }
        }
        return units
    }

    /// Lines that run tootctl in the crontabs at `paths` (files, or directories of files), each
    /// prefixed with its file; comments skipped.
    static func cronTootctlLines(_ paths: [String]) -> [String] {
        var files: [String] = []
        for path in paths {
            if let names = try? FileSystemAccess.listDirectory(path) {
                files += names.sorted().map { path + "/" + $0 }
            } else {
                files.append(path)
            }
        }
        return files.flatMap { file -> [String] in
            guard let text = try? FileSystemAccess.readRegularFile(file, limit: 1 << 20) else { return [] }
            return text.split(separator: "\n").map { String($0).trimmingWhitespace }
                .filter { !$0.hasPrefix("#") && $0.contains("tootctl") }.map { file + ": " + $0 }
        }
    }

    /// An anonymous ListObjectsV2 of one key on Mastodon's media bucket, path-style: S3_ENDPOINT,
    /// or S3_PROTOCOL://S3_HOSTNAME, or AWS's endpoint of S3_REGION. No credentials are sent.
    static func mediaBucket(_ env: [String: String]) async -> DoctorFacts.MediaBucketListing? {
        guard let bucket = env["S3_BUCKET"], !bucket.isEmpty else { return nil }
        var endpoint = env["S3_ENDPOINT"] ?? env["S3_HOSTNAME"].map { "\(env["S3_PROTOCOL"] ?? "https")://\($0)" }
            ?? "https://s3.\(env["S3_REGION"] ?? "us-east-1").amazonaws.com"
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        // The file belongs to the mastiff user's inferior: only http(s), and without the
        // credentials a URL may carry (an anonymous probe sends none).
        guard URLText.isHTTP(endpoint), let host = URLText.host(endpoint), bucket.allSatisfy({ $0.isLetter || $0.isNumber || "-._".contains($0) }) else {
            return DoctorFacts.MediaBucketListing(url: URLText.redacted(endpoint), status: nil, listed: false,
                                                  error: "S3_ENDPOINT/S3_HOSTNAME or S3_BUCKET is not a plain http(s) address and bucket name; not probed")
        }
        let url = (endpoint.hasPrefix("https://") ? "https://" : "http://") + host + "/" + bucket
        do {
            let response = try await CurlHTTPClient(timeoutMilliseconds: 5000).get(url + "?list-type=2&max-keys=1")
            return DoctorFacts.MediaBucketListing(url: url, status: response.status, listed: response.status == 200 && response.text.contains("<ListBucketResult"))
        } catch {
            return DoctorFacts.MediaBucketListing(url: url, status: nil, listed: false, error: "\(error)")
        }
    }

    /// Ruby, Node and the rest, from /proc: comm and argv for all; environment, PSS and maps only
    /// for Sidekiq and Puma, the processes the checks judge.
    static func processes(procRoot: String) -> [DoctorFacts.Process] {
        var found: [DoctorFacts.Process] = []
        for name in (try? FileSystemAccess.listDirectory(procRoot)) ?? [] {
            guard let pid = Int(name) else { continue }
            let base = "\(procRoot)/\(pid)"
            guard let comm = try? FileSystemAccess.readFile(base + "/comm"),
                  let raw = try? FileSystemAccess.readBytes(base + "/cmdline", maxBytes: 64 << 10) else { continue }
            let argv = raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            var process = DoctorFacts.Process(pid: pid, comm: comm.trimmingWhitespace, cmdline: argv.count == 1 ? argv[0].split(separator: " ").map(String.init) : argv)
            if process.isSidekiq || process.isPumaWorker || process.isPumaMaster {
                if let environ = try? FileSystemAccess.readBytes(base + "/environ", maxBytes: 256 << 10) {
                    for entry in environ.split(separator: 0) {
                        let text = String(decoding: entry, as: UTF8.self)
                        // Only the variables the checks read: the rest may hold secrets.
                        if let equals = text.firstIndex(of: "="), ["DB_POOL", "MAX_THREADS", "MALLOC_ARENA_MAX", "LD_PRELOAD"].contains(String(text[..<equals])) {
                            process.environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
                        }
                    }
                }
                if let rollup = try? FileSystemAccess.readBytes(base + "/smaps_rollup") { process.pssBytes = ProcessParsers.smapsRollup(rollup)?.pss }
                if let maps = try? FileSystemAccess.readFile(base + "/maps", maxBytes: 16 << 20) { process.jemalloc = maps.contains("jemalloc") }
            }
            if process.isNginx || process.isPostgres || process.isStreaming {
                process.openFDs = (try? FileSystemAccess.listDirectory(base + "/fd"))?.count
                process.openFileLimit = (try? FileSystemAccess.readBytes(base + "/limits")).flatMap(ProcessParsers.openFilesSoftLimit)
            }
            found.append(process)
        }
        return found
    }
}

private extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
