import MastiffCore

/// The checks of the services beside Mastodon: PostgreSQL's memory settings, open-file limits,
/// Sidekiq's scheduler and its systemd unit, Redis's persistence, the media bucket and
/// Elasticsearch. Pure, like the others: the facts are gathered by `mastiff doctor`.
extension DoctorChecks {
    static func worst(_ levels: [DoctorFinding.Level]) -> DoctorFinding.Level {
        levels.contains(.fail) ? .fail : levels.contains(.warn) ? .warn : .ok
    }

    /// PgTune's "web application" profile, on this host's RAM: shared_buffers RAM/4,
    /// effective_cache_size 3/4 RAM, maintenance_work_mem RAM/16 (at most 2 GiB), work_mem
    /// (RAM − shared_buffers) / (3 × max_connections). Judged only when PostgreSQL runs here:
    /// another host's RAM is not known.
    static func postgresMemory(_ facts: DoctorFacts) -> DoctorFinding? {
        let settings = facts.postgresMemorySettings
        guard facts.memTotalBytes > 0, facts.processes.contains(where: \.isPostgres),
              let sharedBuffers = settings["shared_buffers"], let cache = settings["effective_cache_size"],
              let work = settings["work_mem"], let maintenance = settings["maintenance_work_mem"] else { return nil }
        let ram = facts.memTotalBytes
        let connections = UInt64(max(1, facts.postgresMaxConnections ?? 100))
        let tune: [String: UInt64] = [
            "shared_buffers": ram / 4, "effective_cache_size": ram / 4 * 3,
            "maintenance_work_mem": min(ram / 16, 2 << 30), "work_mem": max(64 << 10, (ram - ram / 4) / (3 * connections)),
        ]
        var levels: [DoctorFinding.Level] = []
        var off: [String] = []
        func judge(_ name: String, _ value: UInt64, low: Double, high: Double, why: String) {
            let ratio = Double(value) / Double(max(1, tune[name]!))
            if ratio < low || ratio > high {
                levels.append(.warn)
                off.append("\(name) \(ratio < low ? "low" : "high"): \(why)")
            }
        }
        judge("shared_buffers", sharedBuffers, low: 0.5, high: 1.6, why: ratio(sharedBuffers, ram) > 0.4 ? "past 40 % of RAM it starves Mastodon and the page cache" : "hot tables (statuses, accounts) miss PostgreSQL's cache")
        judge("effective_cache_size", cache, low: 0.5, high: 1.34, why: "the planner's guess of the OS cache; wrong, it picks the wrong plans")
        judge("maintenance_work_mem", maintenance, low: 0.25, high: 2, why: "each autovacuum worker may take this much")
        judge("work_mem", work, low: 0.25, high: 4, why: "each sort or hash of each connection may take this much")
        if work * connections > ram {
            levels.append(.fail)
            off.append("work_mem × max_connections (\(mib(work * connections))) is more than the RAM")
        }
        let measured = ["shared_buffers", "effective_cache_size", "work_mem", "maintenance_work_mem"]
            .map { "\($0) \(mib(settings[$0]!))" }.joined(separator: ", ")
        let recommended = ["shared_buffers", "effective_cache_size", "work_mem", "maintenance_work_mem"]
            .map { "\($0) \(mib(tune[$0]!))" }.joined(separator: ", ")
        return DoctorFinding("postgres-memory", worst(levels), measured: measured + " with \(mib(ram)) RAM",
                             recommended: "PgTune (web): " + recommended,
                             why: off.isEmpty ? "PostgreSQL's defaults assume a small, dedicated machine" : off.joined(separator: "; "))
    }

    static func ratio(_ part: UInt64, _ whole: UInt64) -> Double { Double(part) / Double(max(1, whole)) }

    /// nginx, PostgreSQL and the streaming server against their soft open-file limits: the
    /// highest share among each service's processes.
    static func openFiles(_ facts: DoctorFacts) -> DoctorFinding? {
        let services: [(name: String, matches: (DoctorFacts.Process) -> Bool, minimumLimit: UInt64)] = [
            ("nginx", \.isNginx, 4096), ("postgres", \.isPostgres, 1024), ("streaming", \.isStreaming, 4096),
        ]
        var levels: [DoctorFinding.Level] = []
        var parts: [String] = []
        var advice: [String] = []
        for service in services {
            let processes = facts.processes.filter(service.matches).filter { $0.openFDs != nil && ($0.openFileLimit ?? 0) > 0 }
            guard let busiest = processes.max(by: { ratio(UInt64($0.openFDs!), $0.openFileLimit!) < ratio(UInt64($1.openFDs!), $1.openFileLimit!) }) else { continue }
            let share = ratio(UInt64(busiest.openFDs!), busiest.openFileLimit!)
            let smallest = processes.map { $0.openFileLimit! }.min()!
            parts.append("\(service.name) \(busiest.openFDs!) of \(busiest.openFileLimit!) (\(Int(share * 100)) %)")
            if share > 0.8 {
                levels.append(.fail)
                advice.append("\(service.name) is near its limit")
            } else if share > 0.5 || smallest < service.minimumLimit {
                levels.append(.warn)
                advice.append(share > 0.5 ? "\(service.name) uses over half its limit" : "\(service.name)'s limit \(smallest) is below \(service.minimumLimit)")
            }
        }
        guard !parts.isEmpty else { return nil }
        return DoctorFinding("open-files", worst(levels), measured: parts.joined(separator: ", "),
                             recommended: "under 50 % of the limit; LimitNOFILE=65536 in the unit (nginx also worker_rlimit_nofile)",
                             why: advice.isEmpty ? "at the limit, accept() and open() fail: \"Too many open files\", dropped connections"
                                 : advice.joined(separator: "; ") + ": at the limit accept() and open() fail (\"Too many open files\")")
    }

    /// Sidekiq queues of one process: `-q name[,weight]` flags, or every queue (Mastodon's
    /// config/sidekiq.yml, scheduler included) without any.
    static func queues(_ process: DoctorFacts.Process) -> [String] {
        var result: [String] = []
        var index = 0
        while index < process.cmdline.count {
            if ["-q", "--queue"].contains(process.cmdline[index]), index + 1 < process.cmdline.count {
                result.append(String(process.cmdline[index + 1].split(separator: ",").first ?? ""))
                index += 1
            }
            index += 1
        }
        return result.isEmpty ? ["default", "push", "ingress", "mailers", "pull", "scheduler", "fasp"] : result
    }

    /// Exactly one Sidekiq process serves `scheduler`: none and scheduled jobs (cleanups,
    /// trends, Mastodon's own retention) never run; two and each runs twice.
    static func scheduler(_ facts: DoctorFacts) -> DoctorFinding? {
        let fromRedis = facts.sidekiqQueues
        let local = facts.processes.filter(\.isSidekiq)
        guard fromRedis?.isEmpty == false || !local.isEmpty else { return nil }
        let count = fromRedis.map { $0.filter { $0.contains("scheduler") }.count } ?? local.filter { queues($0).contains("scheduler") }.count
        let source = fromRedis != nil ? "of \(fromRedis!.count) Sidekiq processes in Redis (all hosts)" : "of \(local.count) Sidekiq processes on this host (Redis not read)"
        return DoctorFinding("sidekiq-scheduler", count == 1 ? .ok : count == 0 ? .fail : .warn,
                             measured: "\(count) \(source) serve the scheduler queue", recommended: "exactly one",
                             why: count == 0 ? "Mastodon's scheduled jobs (media and account cleanups, trends, digests) never run"
                                 : "one process runs the scheduler; more run each scheduled job more than once")
    }

    /// Every queue of Mastodon's config/sidekiq.yml is served by a live process somewhere in the
    /// cluster (from Redis; else this host's command lines). A `-q` list replaces the file's
    /// queues, and a unit file that forgot `ingress` stops inbound federation without an error.
    static func sidekiqQueueTopology(_ facts: DoctorFacts) -> DoctorFinding? {
        let fromRedis = facts.sidekiqQueues
        let local = facts.processes.filter(\.isSidekiq)
        guard fromRedis?.isEmpty == false || !local.isEmpty else { return nil }
        let expected = facts.configuredSidekiqQueues ?? ["default", "push", "ingress", "mailers", "pull", "scheduler"]
        let served = Set((fromRedis ?? local.map(queues)).flatMap { $0 })
        let missing = expected.filter { !served.contains($0) }
        let source = fromRedis != nil ? "the Sidekiq processes in Redis (all hosts)" : "this host's Sidekiq processes (Redis not read)"
        let file = facts.configuredSidekiqQueues != nil ? "config/sidekiq.yml's" : "Mastodon's"
        guard !missing.isEmpty else {
            return DoctorFinding("sidekiq-queues", .ok, measured: "\(source) serve every one of \(file) \(expected.count) queues", recommended: "every queue served",
                                 why: "a queue no process serves never runs its jobs")
        }
        let narrowed = local.filter { process in process.cmdline.contains("-q") || process.cmdline.contains("--queue") }
            .filter { process in missing.contains { !queues(process).contains($0) } }
            .map { "pid \($0.pid) (\(queues($0).joined(separator: ", ")))" }
        var why = "jobs in \(missing.joined(separator: ", ")) never run"
        if missing.contains("ingress") { why += "; ingress carries inbound federation (posts, follows and replies from other servers)" }
        if !narrowed.isEmpty { why += ". A -q list replaces config/sidekiq.yml's queues: \(narrowed.joined(separator: "; ")) lists only those" }
        return DoctorFinding("sidekiq-queues", .fail, measured: "\(source) serve none of \(missing.joined(separator: ", "))",
                             recommended: "add \(missing.joined(separator: ", ")) to one process's -q list, or start one without -q", why: why)
    }

    /// Mastodon 4.4's own metrics: the exporter on, and whether its web series can fill. Without
    /// `MASTODON_PROMETHEUS_EXPORTER_WEB_DETAILED_METRICS` only the request queue time is
    /// recorded, and that needs nginx to send `X-Request-Start`: with neither, the web metrics
    /// stay empty.
    static func mastodonExporter(_ facts: DoctorFacts) -> DoctorFinding? {
        guard let env = facts.env else { return nil }
        let version = facts.mastodonVersion.map(UpgradePreflight.numbers) ?? []
        let enabled = env["MASTODON_PROMETHEUS_EXPORTER_ENABLED"] == "true"
        guard enabled || !version.lexicographicallyPrecedes([4, 4]) && !version.isEmpty else { return nil }
        guard enabled else {
            return DoctorFinding("mastodon-exporter", .warn, measured: "MASTODON_PROMETHEUS_EXPORTER_ENABLED is not true",
                                 recommended: "enable it, run bin/prometheus_exporter and list it in collectors.mastodon_endpoints",
                                 why: "Mastodon 4.4 reports Puma's backlog, the database pools and Sidekiq's processes itself (PumaRequestBacklog, DatabasePoolExhausted)")
        }
        let webDetailed = env["MASTODON_PROMETHEUS_EXPORTER_WEB_DETAILED_METRICS"] == "true"
        let sidekiqDetailed = env["MASTODON_PROMETHEUS_EXPORTER_SIDEKIQ_DETAILED_METRICS"] == "true"
        let requestStart = facts.nginxConfigs.map { configs in configs.contains { $0.text.lowercased().contains("x-request-start") } }
        var measured = ["exporter on", "web detailed metrics \(webDetailed ? "on" : "off")", "Sidekiq detailed metrics \(sidekiqDetailed ? "on" : "off")"]
        switch requestStart {
        case true?: measured.append("nginx sends X-Request-Start")
        case false?: measured.append("nginx does not send X-Request-Start")
        case nil: measured.append("nginx's configuration not read")
        }
        if !webDetailed && requestStart == false {
            return DoctorFinding("mastodon-exporter", .warn, measured: measured.joined(separator: ", "),
                                 recommended: "`proxy_set_header X-Request-Start \"t=${msec}\";` in nginx's Mastodon site, or WEB_DETAILED_METRICS=true",
                                 why: "without detailed web metrics only the request queue time is recorded, and it needs X-Request-Start: the web series stay empty")
        }
        return DoctorFinding("mastodon-exporter", .ok, measured: measured.joined(separator: ", "), recommended: "exporter on", why: "")
    }

    /// The `:queues:` of config/sidekiq.yml (`- [default, 8]` or `- default`), in order.
    public static func configuredQueues(sidekiqYAML text: String) -> [String]? {
        guard let root = try? YAMLNode.parse(text), case .mapping(let entries) = root.content,
              let queues = entries.first(where: { if case .scalar(let key, _) = $0.key.content { return key == ":queues" || key == "queues" }; return false }),
              case .sequence(let items) = queues.value.content else { return nil }
        let names = items.compactMap { item -> String? in
            switch item.content {
            case .scalar(let name, _): return name
            case .sequence(let pair): if case .scalar(let name, _)? = pair.first?.content { return name } else { return nil }
            case .mapping: return nil
            }
        }
        return names.isEmpty ? nil : names
    }

    static func redisPersistence(_ facts: DoctorFacts) -> DoctorFinding? {
        guard let redis = facts.redisPersistence else { return nil }
        let save = redis["save"] ?? ""
        let aof = redis["appendonly"] == "yes" || redis["aof_enabled"] == "1"
        let bgsave = redis["rdb_last_bgsave_status"] ?? "ok"
        let aofWrite = redis["aof_last_write_status"] ?? "ok"
        let measured = "save \"\(save)\", appendonly \(aof ? "yes" : "no"), last bgsave \(bgsave)" + (aof ? ", last AOF write \(aofWrite)" : "")
        if (!save.isEmpty && bgsave != "ok") || (aof && aofWrite != "ok") {
            return DoctorFinding("redis-persistence", .fail, measured: measured, recommended: "last bgsave ok (see Redis's log: disk full? overcommit_memory?)",
                                 why: "Redis refuses writes after a failed save (stop-writes-on-bgsave-error): Sidekiq stops")
        }
        return DoctorFinding("redis-persistence", save.isEmpty && !aof ? .warn : .ok, measured: measured, recommended: "RDB snapshots (save) or appendonly yes",
                             why: "Sidekiq's queued, scheduled and retrying jobs live in Redis: without persistence a restart loses them")
    }

    /// A systemd time span in seconds: `15`, `15s`, `1min 30s`, `2m`, `500ms`, `infinity`.
    static func timeSpan(_ text: String) -> Double? {
        let trimmed = text.trimmingWhitespace
        if trimmed == "infinity" { return .infinity }
        if let plain = Double(trimmed) { return plain }
        let units: [(String, Double)] = [("usec", 1e-6), ("us", 1e-6), ("msec", 1e-3), ("ms", 1e-3), ("seconds", 1), ("second", 1), ("sec", 1), ("s", 1),
                                         ("minutes", 60), ("minute", 60), ("min", 60), ("m", 60), ("hours", 3600), ("hour", 3600), ("hr", 3600), ("h", 3600)]
        var total = 0.0
        var rest = Substring(trimmed)
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " }
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard let number = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count).drop { $0 == " " }
            let word = rest.prefix { $0.isLetter }
            guard let unit = units.first(where: { $0.0 == word }) else { return nil }
            total += number * unit.1
            rest = rest.dropFirst(word.count)
        }
        return total
    }

    /// The unit's stop timeout against Sidekiq's shutdown timeout (`-t`, 25 s by default): systemd
    /// must wait for Sidekiq to push unfinished jobs back to Redis, or it kills them mid-way.
    static func sidekiqStopTimeout(_ facts: DoctorFacts) -> DoctorFinding? {
        var levels: [DoctorFinding.Level] = []
        var parts: [String] = []
        for unit in facts.sidekiqUnits {
            var stop: Double?
            var generic: Double?
            var sidekiqTimeout = 25.0
            for line in unit.text.split(separator: "\n") {
                let text = String(line).trimmingWhitespace
                guard let equals = text.firstIndex(of: "=") else { continue }
                let key = String(text[..<equals]).trimmingWhitespace, value = String(text[text.index(after: equals)...])
                switch key {
                case "TimeoutStopSec": stop = timeSpan(value)
                case "TimeoutSec": generic = timeSpan(value)
                case "ExecStart":
                    let words = value.split(separator: " ").map(String.init)
                    if let index = words.firstIndex(where: { $0 == "-t" || $0 == "--timeout" }), index + 1 < words.count, let seconds = Double(words[index + 1]) {
                        sidekiqTimeout = seconds
                    }
                default: continue
                }
            }
            // TimeoutStopSec wins over TimeoutSec; without either, systemd's default is 90 s.
            let effective = stop ?? generic ?? 90
            let needed = sidekiqTimeout + 5
            levels.append(effective >= needed ? .ok : .fail)
            let name = unit.path.split(separator: "/").last.map(String.init) ?? unit.path
            parts.append("\(name): stop timeout \(effective.isInfinite ? "infinity" : "\(Int(effective)) s")\(stop == nil && generic == nil ? " (systemd's default)" : ""), Sidekiq -t \(Int(sidekiqTimeout)) s")
        }
        guard !parts.isEmpty else { return nil }
        return DoctorFinding("sidekiq-stop-timeout", worst(levels), measured: parts.joined(separator: "; "),
                             recommended: "TimeoutStopSec ≥ Sidekiq's -t + 5 s (e.g. -t 25 with TimeoutStopSec=30)",
                             why: "systemd kills Sidekiq when its stop timeout ends; jobs still running then are lost, not pushed back to Redis (Mastodon's sample unit has TimeoutSec=15)")
    }

    static func mediaBucket(_ facts: DoctorFacts) -> DoctorFinding? {
        guard let env = facts.env, env["S3_ENABLED"] == "true" else { return nil }
        guard let listing = facts.mediaBucket else {
            return DoctorFinding("media-bucket", .warn, measured: "S3_ENABLED=true but no S3_BUCKET", recommended: "S3_BUCKET and S3_ENDPOINT or S3_REGION",
                                 why: "the bucket could not be checked")
        }
        if listing.listed {
            return DoctorFinding("media-bucket", .fail, measured: "\(listing.url) lists its objects to anyone (HTTP \(listing.status ?? 0))",
                                 recommended: "public read of objects only: no s3:ListBucket for everyone",
                                 why: "an anonymous listing exposes every file, including media of private posts and direct messages")
        }
        if let status = listing.status, status == 403 || status == 401 {
            return DoctorFinding("media-bucket", .ok, measured: "\(listing.url): anonymous listing refused (HTTP \(status))", recommended: "refused",
                                 why: "an anonymous listing would expose every file")
        }
        return DoctorFinding("media-bucket", .warn, measured: "\(listing.url): \(listing.error ?? "HTTP \(listing.status ?? 0), not a listing")",
                             recommended: "anonymous listing answered with 403", why: "whether anyone can list the bucket could not be told")
    }

    /// `-Xmx2g`, `-Xmx512m`: the JVM's heap limit in bytes (the last flag wins, as in the JVM).
    static func javaHeap(_ cmdline: [String]) -> UInt64? {
        guard let flag = cmdline.last(where: { $0.hasPrefix("-Xmx") }) else { return nil }
        var digits = flag.dropFirst(4)
        var multiplier: UInt64 = 1
        switch digits.last?.lowercased() {
        case "k": multiplier = 1 << 10
        case "m": multiplier = 1 << 20
        case "g": multiplier = 1 << 30
        case "t": multiplier = 1 << 40
        default: break
        }
        if multiplier > 1 { digits = digits.dropLast() }
        return UInt64(digits).map { $0 * multiplier }
    }

    static func elasticsearchHeap(_ facts: DoctorFacts) -> DoctorFinding? {
        guard let search = facts.processes.first(where: \.isElasticsearch), facts.memTotalBytes > 0 else { return nil }
        let recommended = "-Xms and -Xmx equal, ≤ 25 % of RAM on a host shared with Mastodon (\(mib(facts.memTotalBytes / 4))), in jvm.options.d"
        guard let heap = javaHeap(search.cmdline) else {
            return DoctorFinding("elasticsearch-heap", .warn, measured: "no -Xmx: sized by the JVM (up to half the RAM)", recommended: recommended,
                                 why: "Elasticsearch's automatic heap assumes a host of its own")
        }
        let share = ratio(heap, facts.memTotalBytes)
        return DoctorFinding("elasticsearch-heap", share > 0.5 ? .fail : share > 0.3 ? .warn : .ok,
                             measured: "heap \(mib(heap)) = \(Int(share * 100)) % of \(mib(facts.memTotalBytes))", recommended: recommended,
                             why: "the heap is taken whole at start; with Puma, Sidekiq and PostgreSQL beside it, the OOM killer picks one of them")
    }
}
