import Glibc
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

    func run() async -> Int32 {
        let findings = DoctorChecks.run(await gather())
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
        facts.env = (try? FileSystemAccess.readRegularFile(config.instance.envFile, limit: 1 << 20)).map(Self.parseEnv)
        facts.jobCommands = config.jobs.map(\.command)
        if config.collectors.postgres.enabled,
           let connection = try? await PostgresConnection.connect(config.collectors.postgres.dsn, timeoutSeconds: 3),
           let value = try? await connection.query("SHOW max_connections").first?[0] {
            facts.postgresMaxConnections = Int(value)
        }
        if config.backups.enabled, let plan = try? BackupPlan(config: config) {
            facts.backupsConfigured = true
            if let newest = try? await plan.storage.manifests(target: "postgres").manifests.last {
                facts.lastBackupAge = Double(time(nil)) - newest.finishedAt
            }
        }
        return facts
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
            found.append(process)
        }
        return found
    }

    /// `KEY=value` lines; quotes around the value removed, comments and blanks skipped.
    static func parseEnv(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let trimmed = String(line).trimmingWhitespace
            guard !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") else { continue }
            var value = String(trimmed[trimmed.index(after: equals)...])
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first { value = String(value.dropFirst().dropLast()) }
            values[String(trimmed[..<equals])] = value
        }
        return values
    }
}

private extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
