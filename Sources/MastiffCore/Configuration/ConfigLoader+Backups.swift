/// `backups:` and `jobs:`.
extension ConfigLoader {
    static func parseBackups(_ node: ConfigNode, environment: (String) -> String?, collectorDSN: Secret? = nil) throws(ConfigError) -> BackupSettings {
        let map = try node.mapping(allowing: ConfigKeys.backups)
        var settings = BackupSettings()
        if let node = map["enabled"] { settings.enabled = try node.bool() }
        if let node = map["storage"] {
            let storage = try node.mapping(allowing: ConfigKeys.backupStorage)
            var parsed = BackupSettings.StorageSettings()
            let endpointNode = try storage.required("endpoint")
            parsed.endpoint = try endpointNode.string()
            guard parsed.endpoint.hasPrefix("https://") || parsed.endpoint.hasPrefix("http://"),
                  !parsed.endpoint.dropFirst(8).contains("/") else {
                throw endpointNode.error("expected the S3 endpoint as scheme://host[:port], e.g. https://s3.eu-central-1.amazonaws.com")
            }
            let bucketNode = try storage.required("bucket")
            parsed.bucket = try bucketNode.string()
            guard (3...63).contains(parsed.bucket.count), parsed.bucket.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "." }) else {
                throw bucketNode.error("'\(parsed.bucket)' is not a bucket name (3-63 lowercase letters, digits, - and .)")
            }
            if let node = storage["region"] { parsed.region = try node.string() }
            if let node = storage["prefix"] {
                let prefix = try node.string()
                guard !prefix.hasPrefix("/") else { throw node.error("a key prefix does not start with /") }
                parsed.prefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
            }
            if let node = storage["addressing"] {
                let text = try node.string()
                guard text == "path" || text == "virtual" else { throw node.error("expected path or virtual") }
                parsed.pathStyle = text == "path"
            }
            parsed.accessKeyID = try storage.required("access_key_id").secret(environment: environment)
            parsed.secretAccessKey = try storage.required("secret_access_key").secret(environment: environment)
            if let node = storage["session_token"] { parsed.sessionToken = try node.secret(environment: environment) }
            if let node = storage["ca_file"] { parsed.caFile = try node.string() }
            if let node = storage["part_size"] {
                guard case .bytes(let bytes) = try node.byteSize(allowPercent: false), bytes >= 5 << 20, bytes <= 5 << 30 else {
                    throw node.error("a part is 5MiB to 5GiB (S3's limits)")
                }
                parsed.partSize = Int(bytes)
            }
            if let node = storage["connect_timeout"] { parsed.connectTimeout = try node.duration(atLeast: .seconds(1)) }
            if let node = storage["low_speed_timeout"] { parsed.lowSpeedTimeout = try node.duration(atLeast: .seconds(5)) }
            if let node = storage["attempts"] { parsed.attempts = try node.int(in: 1...20) }
            settings.storage = parsed
        } else if settings.enabled {
            throw node.error("backups are enabled but have no storage: section (endpoint, bucket, keys)")
        }
        if let node = map["manifest_key"] {
            let key = try node.secret(environment: environment)
            guard key.reveal().utf8.count >= 32 else {
                throw node.error("a manifest key is at least 32 characters (e.g. the 64 hex digits of `openssl rand -hex 32`)")
            }
            settings.manifestKey = key
        }
        if let node = map["encryption"] {
            let encryption = try node.mapping(allowing: ConfigKeys.backupEncryption)
            if let node = encryption["recipients"] {
                settings.recipients = try node.stringList()
                for (index, recipient) in settings.recipients.enumerated() where !(recipient.hasPrefix("age1") && recipient.count == 62) {
                    throw node.error("recipient \(index + 1) '\(recipient.prefix(12))…' is not an age X25519 recipient (age1…, 62 characters, as age-keygen -y prints)")
                }
            }
            if let node = encryption["identity_file"] {
                let path = try node.string()
                guard path.hasPrefix("/") else { throw node.error("must be an absolute path") }
                settings.identityFile = path
            }
        }
        if let node = map["once_per_cluster"] { settings.oncePerCluster = try node.bool() }
        if let node = map["time_zone"] {
            let text = try node.string()
            guard text == "local" || text == "UTC" else {
                throw node.error("expected local (the host's zone, from the service's TZ) or UTC")
            }
            settings.utc = text == "UTC"
        }
        if let node = map["postgres"] {
            let postgres = try node.mapping(allowing: ConfigKeys.backupPostgres)
            var parsed = BackupSettings.PostgresBackupSettings()
            if let node = postgres["enabled"] { parsed.enabled = try node.bool() }
            if let node = postgres["schedule"] { parsed.schedule = try cron(node) }
            if let node = postgres["jitter"] { parsed.jitter = try node.duration() }
            if let node = postgres["dsn"] { parsed.dsn = try node.secret(environment: environment) }
            if let node = postgres["compression"] {
                let text = try node.string()
                let method = text.split(separator: ":").first.map(String.init) ?? ""
                guard Int(text).map({ (0...9).contains($0) }) ?? ["gzip", "lz4", "zstd", "none"].contains(method) else {
                    throw node.error("expected 0-9, gzip[:level], lz4[:level], zstd[:level] or none (pg_dump --compress)")
                }
                parsed.compression = text
            }
            if let node = postgres["nice"] { parsed.nice = try node.int(in: -20...19) }
            if let node = postgres["ionice"] {
                let text = try node.string()
                let parts = text.split(separator: ":")
                let classes = ["realtime": 1, "best-effort": 2, "idle": 3]
                guard let first = parts.first, let ioClass = classes[String(first)], parts.count <= 2,
                      parts.count == 1 || Int(parts[1]).map({ (0...7).contains($0) }) == true else {
                    throw node.error("expected idle, best-effort[:0-7] or realtime[:0-7]")
                }
                parsed.ioniceClass = ioClass
                parsed.ioniceLevel = parts.count == 2 ? Int(parts[1]) : nil
            }
            settings.postgres = parsed
        }
        if let node = map["redis"] {
            let redis = try node.mapping(allowing: ConfigKeys.backupRedis)
            var parsed = BackupSettings.RedisBackupSettings()
            if let node = redis["enabled"] { parsed.enabled = try node.bool() }
            if let node = redis["schedule"] { parsed.schedule = try cron(node) }
            if let node = redis["jitter"] { parsed.jitter = try node.duration() }
            if let node = redis["url"] { parsed.url = try node.redisURL(environment: environment) }
            if let node = redis["rdb_path"] {
                let path = try node.string()
                guard path.hasPrefix("/") else { throw node.error("must be an absolute path") }
                parsed.rdbPath = path
            }
            if let node = redis["bgsave_timeout"] { parsed.bgsaveTimeout = try node.duration(atLeast: .seconds(5)) }
            settings.redis = parsed
        }
        if let node = map["retention"] {
            let retention = try node.mapping(allowing: ConfigKeys.backupRetention)
            if let node = retention["keep_last"] { settings.retention.keepLast = try node.int(in: 1...10_000) }
            if let node = retention["daily"] { settings.retention.daily = try node.int(in: 0...10_000) }
            if let node = retention["weekly"] { settings.retention.weekly = try node.int(in: 0...10_000) }
            if let node = retention["monthly"] { settings.retention.monthly = try node.int(in: 0...10_000) }
        }
        if let node = map["drill"] {
            let drill = try node.mapping(allowing: ConfigKeys.backupDrill)
            if let node = drill["schedule"] { settings.drill.schedule = try cron(node) }
            if let node = drill["dsn"] { settings.drill.dsn = try node.secret(environment: environment) }
            if let node = drill["scratch_database"] {
                let name = try node.string()
                guard !name.isEmpty, name.count < 64, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                    throw node.error("expected a plain database name (letters, digits, _)")
                }
                // Each drill drops its scratch database: never one that holds anything else.
                let backedUp = (settings.postgres.dsn ?? collectorDSN).flatMap { ConnectionStringParts.database($0.reveal()) }
                guard name != backedUp, !["postgres", "template0", "template1"].contains(name) else {
                    throw node.error("'\(name)' is \(name == backedUp ? "the database that is backed up" : "one of the server's own databases"); "
                        + "each drill drops its scratch database, so give it a name of its own (default mastiff_restore_drill)")
                }
                settings.drill.scratchDatabase = name
            }
        }
        return settings
    }

    static func cron(_ node: ConfigNode) throws(ConfigError) -> String {
        let text = try node.string()
        if let problem = CronSchedule.validate(text) { throw node.error(problem) }
        return text
    }

    static func parseJob(_ node: ConfigNode) throws(ConfigError) -> JobSpec {
        let map = try node.mapping(allowing: ConfigKeys.job)
        let name = try identifierName(map, "job")
        let commandNode = try map.required("command")
        let command = try commandNode.stringList()
        guard let first = command.first, first.hasPrefix("/") else {
            throw commandNode.error("expected an argv list starting with an absolute path, e.g. [/home/mastodon/live/bin/tootctl, media, remove, --days, \"7\"]")
        }
        var job = JobSpec(name: name, schedule: try cron(try map.required("schedule")), command: command)
        if let node = map["enabled"] { job.enabled = try node.bool() }
        if let node = map["user"] {
            let user = try node.string()
            guard !user.isEmpty, user.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else { throw node.error("expected a user name") }
            job.user = user
        }
        if let node = map["environment"] {
            guard case .mapping(let entries) = node.node.content else { throw node.error("expected NAME: value pairs") }
            for entry in entries {
                guard case .scalar(let key, _) = entry.key.content, case .scalar(let value, _) = entry.value.content,
                      !key.isEmpty, !key.contains("=") else {
                    throw node.error("expected NAME: value pairs (plain strings)")
                }
                job.environment[key] = value
            }
        }
        if let node = map["working_directory"] {
            let path = try node.string()
            guard path.hasPrefix("/") else { throw node.error("must be an absolute path") }
            job.workingDirectory = path
        }
        if let node = map["timeout"] { job.timeout = try node.duration(atLeast: .seconds(1)) }
        if let node = map["kill_grace"] { job.killGrace = try node.duration(atLeast: .seconds(1)) }
        if let node = map["jitter"] { job.jitter = try node.duration() }
        if let node = map["min_available_memory"] {
            guard case .bytes(let bytes) = try node.byteSize(allowPercent: false) else { throw node.error("expected a size such as 300MiB") }
            job.minAvailableMemory = bytes
        }
        if let node = map["defer_for"] { job.deferFor = try node.duration() }
        if let node = map["once_per_cluster"] { job.oncePerCluster = try node.bool() }
        return job
    }
}
