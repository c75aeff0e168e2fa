import MastiffCore

/// `mastiff doctor --upgrade-to 4.4`: what that Mastodon release enforces, checked before the
/// upgrade rather than discovered half-way through its migrations. Pure: each finding from the
/// facts doctor gathered.
public enum UpgradePreflight {
    /// What each release needs: PostgreSQL major, Redis version, and its own demands.
    public struct Release: Sendable, Equatable {
        public var version: String
        public var postgresMajor: Int
        public var redis: [Int]
        /// 4.4 aborts its boot when REDIS_NAMESPACE is set.
        public var refusesRedisNamespace: Bool
        /// 4.3 and later encrypt columns with these keys (`bin/rails db:encryption:init`).
        public var needsEncryptionKeys: Bool
    }

    public static let releases: [Release] = [
        Release(version: "4.3", postgresMajor: 12, redis: [4, 0], refusesRedisNamespace: false, needsEncryptionKeys: true),
        Release(version: "4.4", postgresMajor: 13, redis: [6, 2], refusesRedisNamespace: true, needsEncryptionKeys: true),
        Release(version: "4.5", postgresMajor: 14, redis: [7, 0], refusesRedisNamespace: true, needsEncryptionKeys: true),
    ]

    public static let encryptionKeys = ["ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY", "ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT",
                                        "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY"]

    /// The findings for an upgrade to `target` ("4.4"); nil for a release mastiff does not know.
    public static func run(_ facts: DoctorFacts, target: String) -> [DoctorFinding]? {
        guard let release = releases.first(where: { $0.version == target }) else { return nil }
        var findings: [DoctorFinding] = []
        findings.append(version(facts, release))
        findings.append(postgres(facts, release))
        findings.append(redis(facts, release))
        if let namespace = redisNamespace(facts, release) { findings.append(namespace) }
        findings.append(encryption(facts, release))
        findings.append(disk(facts))
        findings.append(backup(facts))
        findings.append(DoctorFinding("upgrade-maintenance", .ok, measured: "run `mastiff maintenance on --duration 1h --reason \"upgrade to \(target)\"` before you start",
                                      recommended: "maintenance during the upgrade", why: "restarts and alerts hold while services restart on purpose"))
        return findings
    }

    static func numbers(_ version: String) -> [Int] {
        version.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
    }

    static func version(_ facts: DoctorFacts, _ release: Release) -> DoctorFinding {
        guard let current = facts.mastodonVersion else {
            return DoctorFinding("upgrade-version", .warn, measured: "Mastodon's version not found (lib/mastodon/version.rb beside instance.env_file)",
                                 recommended: "upgrade from \(previous(release)) to \(release.version)", why: "each release's migrations expect the one before")
        }
        let from = numbers(current), to = numbers(release.version)
        if from.lexicographicallyPrecedes(to) == false {
            return DoctorFinding("upgrade-version", .ok, measured: "Mastodon \(current) is already \(release.version) or later",
                                 recommended: "nothing to upgrade", why: "")
        }
        let skips = from.count >= 2 && to.count >= 2 && from[0] == to[0] && to[1] - from[1] > 1
        return DoctorFinding("upgrade-version", skips ? .warn : .ok, measured: "Mastodon \(current) → \(release.version)",
                             recommended: skips ? "upgrade one release at a time: \(current) → \(previous(release)) first" : "read the release notes of \(release.version)",
                             why: "a release's migrations and its upgrade notes assume the release before it")
    }

    static func previous(_ release: Release) -> String {
        let parts = numbers(release.version)
        return parts.count >= 2 ? "\(parts[0]).\(parts[1] - 1)" : release.version
    }

    static func postgres(_ facts: DoctorFacts, _ release: Release) -> DoctorFinding {
        guard let number = facts.postgresVersionNumber else {
            return DoctorFinding("upgrade-postgres", .warn, measured: "PostgreSQL not reached", recommended: "PostgreSQL \(release.postgresMajor) or later",
                                 why: "\(release.version)'s migrations abort on an older server")
        }
        // server_version_num: 150008 is 15.8; before 10 the major had two parts (90624 is 9.6.24).
        let major = number / 10_000
        let shown = number >= 100_000 ? String(major) : "\(major).\(number / 100 % 100)"
        return DoctorFinding("upgrade-postgres", major >= release.postgresMajor ? .ok : .fail, measured: "PostgreSQL \(shown)",
                             recommended: "\(release.postgresMajor) or later",
                             why: major >= release.postgresMajor ? "" : "Mastodon \(release.version) refuses PostgreSQL \(shown): upgrade the server (pg_upgradecluster) before Mastodon")
    }

    static func redis(_ facts: DoctorFacts, _ release: Release) -> DoctorFinding {
        let wanted = release.redis.map(String.init).joined(separator: ".")
        guard let version = facts.redisVersion else {
            return DoctorFinding("upgrade-redis", .warn, measured: "Redis not reached", recommended: "Redis \(wanted) or later",
                                 why: "Mastodon \(release.version) needs it")
        }
        let ok = !numbers(version).lexicographicallyPrecedes(release.redis)
        return DoctorFinding("upgrade-redis", ok ? .ok : .fail, measured: "Redis \(version)", recommended: "\(wanted) or later",
                             why: ok ? "" : "Mastodon \(release.version) and its Sidekiq need commands Redis \(version) lacks: upgrade Redis first")
    }

    static func redisNamespace(_ facts: DoctorFacts, _ release: Release) -> DoctorFinding? {
        guard release.refusesRedisNamespace, let env = facts.env else { return nil }
        let namespace = env["REDIS_NAMESPACE"] ?? ""
        return DoctorFinding("upgrade-redis-namespace", namespace.isEmpty ? .ok : .fail,
                             measured: namespace.isEmpty ? "REDIS_NAMESPACE not set" : "REDIS_NAMESPACE is set",
                             recommended: "REDIS_NAMESPACE unset",
                             why: namespace.isEmpty ? "" : "Mastodon \(release.version) aborts its boot with REDIS_NAMESPACE: move the keys out of the namespace (Mastodon's upgrade notes give the script) and remove the variable before upgrading")
    }

    static func encryption(_ facts: DoctorFacts, _ release: Release) -> DoctorFinding {
        guard let env = facts.env else {
            return DoctorFinding("upgrade-encryption-keys", .warn, measured: "instance.env_file not read", recommended: "the three ACTIVE_RECORD_ENCRYPTION_* keys set",
                                 why: facts.envProblem ?? "")
        }
        let missing = encryptionKeys.filter { (env[$0] ?? "").isEmpty }
        return DoctorFinding("upgrade-encryption-keys", missing.isEmpty ? .ok : .fail,
                             measured: missing.isEmpty ? "the three ACTIVE_RECORD_ENCRYPTION_* keys are set" : "missing: \(missing.joined(separator: ", "))",
                             recommended: "all three set (values are never shown)",
                             why: missing.isEmpty ? "back them up with .env.production: encrypted columns cannot be read without them"
                                 : "Mastodon 4.3 and later encrypt columns with them: run `RAILS_ENV=production bin/rails db:encryption:init` and add its output to .env.production")
    }

    static func disk(_ facts: DoctorFacts) -> DoctorFinding {
        guard let largest = facts.largestTable else {
            return DoctorFinding("upgrade-disk", .warn, measured: "table sizes not read", recommended: "free space ≥ the largest table",
                                 why: "a migration that rewrites a table needs room for a second copy")
        }
        guard let free = facts.postgresDataFreeBytes else {
            return DoctorFinding("upgrade-disk", .warn, measured: "the largest table, \(largest.name), takes \(ByteSize.format(largest.bytes)); free space under PostgreSQL's data directory not readable",
                                 recommended: "free space ≥ \(ByteSize.format(largest.bytes))", why: "a migration that rewrites a table needs room for a second copy")
        }
        return DoctorFinding("upgrade-disk", free >= largest.bytes ? .ok : .fail,
                             measured: "\(ByteSize.format(free)) free for PostgreSQL; the largest table, \(largest.name), takes \(ByteSize.format(largest.bytes))",
                             recommended: "free space ≥ \(ByteSize.format(largest.bytes))",
                             why: free >= largest.bytes ? "" : "a migration that rewrites \(largest.name) needs room for a second copy; a full disk stops PostgreSQL mid-migration")
    }

    static func backup(_ facts: DoctorFacts) -> DoctorFinding {
        guard facts.backupsConfigured else {
            return DoctorFinding("upgrade-backup", .fail, measured: "no backups configured", recommended: "a backup younger than 24 h",
                                 why: "a failed migration is undone by restoring the database: take one (`pg_dump -Fc`, or configure backups: and `mastiff backup run postgres`)")
        }
        guard let age = facts.lastBackupAge else {
            return DoctorFinding("upgrade-backup", .fail, measured: "no backup of PostgreSQL in the bucket", recommended: "a backup younger than 24 h",
                                 why: "a failed migration is undone by restoring the database: `mastiff backup run postgres`")
        }
        return DoctorFinding("upgrade-backup", age < 86_400 ? .ok : .fail, measured: "the newest PostgreSQL backup is \(DurationParser.format(.seconds(Int64(age)))) old",
                             recommended: "younger than 24 h", why: age < 86_400 ? "" : "take a fresh one before the migrations run: `mastiff backup run postgres`")
    }
}
