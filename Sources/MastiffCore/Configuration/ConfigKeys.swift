/// Every key mastiff.yml accepts, by section: what the parser allows (anything else is an
/// error naming file:line:column) and what the shipped-config test checks etc/mastiff.yml
/// documents. A new key goes here first.
public enum ConfigKeys {
    public static let topLevel = ["listen", "state_dir", "log", "collectors", "statsd", "sampling", "control_socket", "web_config", "alerts", "instance", "restarts", "backups", "jobs"]
    public static let log = ["level", "format"]
    public static let sampling = ["interval", "history_limit"]
    public static let alerts = ["interval", "builtin", "rule_files", "disable", "external_labels", "max_series", "receivers", "routes", "default_receivers",
                                "group_by", "group_wait", "group_interval", "repeat_interval", "heartbeat", "maintenance_windows"]
    public static let receiver = ["name", "send_resolved", "max_per_hour", "give_up_after", "timeout", "ca_file", "title", "text",
                                  "webhook", "alertmanager", "email", "slack", "discord", "matrix", "ntfy", "telegram", "gotify", "mastodon"]
    public static let receiverKinds: [String: [String]] = [
        "webhook": ["url", "bearer_token"],
        "alertmanager": ["urls"],
        "email": ["to", "from", "smarthost", "username", "password", "security"],
        "slack": ["webhook_url"],
        "discord": ["webhook_url"],
        "matrix": ["homeserver", "room_id", "access_token"],
        "ntfy": ["url", "token", "priority", "tags"],
        "telegram": ["bot_token", "chat_id", "api_url"],
        "gotify": ["url", "token", "priority"],
        "mastodon": ["instance_url", "access_token", "to"],
    ]
    public static let route = ["match", "match_re", "receivers", "continue"]
    public static let restartTarget = ["name", "group", "signal", "command", "command_timeout", "supervisord", "systemd", "docker", "max_age", "jitter", "max_memory",
                                       "memory", "for_samples", "on_alert", "min_uptime", "health_timeout", "budget", "budget_window", "dry_run",
                                       "graceful", "drain_timeout", "user"]
    public static let supervisord = ["url", "program"]
    public static let systemdMethod = ["unit"]
    public static let dockerMethod = ["socket"]
    public static let heartbeat = ["url", "interval"]
    public static let maintenanceWindow = ["cron", "duration", "reason"]
    public static let collectors = ["timeout", "system", "processes", "postgres", "pgbouncer", "redis", "sidekiq", "mastodon_endpoints", "probes"]
    public static let system = ["enabled", "filesystems"]
    public static let processes = ["enabled", "pss", "groups", "default_groups"]
    public static let processGroup = ["name", "comm", "exe", "cmdline", "user"]
    public static let postgres = ["enabled", "dsn", "top_tables", "size_interval", "mastodon_interval"]
    public static let pgbouncer = ["enabled", "dsn"]
    public static let redis = ["enabled", "url"]
    public static let sidekiq = ["enabled", "redis_url", "namespace"]
    public static let mastodonEndpoint = ["name", "url"]
    public static let probe = ["name", "url", "method", "status", "body_contains", "json_field", "json_equals", "timeout", "host", "ca_file"]
    public static let instance = ["url", "env_file"]
    public static let backups = ["enabled", "storage", "encryption", "manifest_key", "once_per_cluster", "time_zone", "postgres", "redis", "retention", "drill"]
    public static let backupStorage = ["endpoint", "region", "bucket", "prefix", "addressing", "access_key_id", "secret_access_key", "session_token",
                                       "ca_file", "part_size", "connect_timeout", "low_speed_timeout", "attempts"]
    public static let backupEncryption = ["recipients", "identity_file"]
    public static let backupPostgres = ["enabled", "schedule", "jitter", "dsn", "compression", "nice", "ionice"]
    public static let backupRedis = ["enabled", "schedule", "jitter", "url", "rdb_path", "bgsave_timeout"]
    public static let backupRetention = ["keep_last", "daily", "weekly", "monthly"]
    public static let backupDrill = ["schedule", "dsn", "scratch_database"]
    public static let job = ["name", "schedule", "command", "user", "environment", "working_directory", "timeout", "kill_grace", "jitter",
                             "min_available_memory", "defer_for", "once_per_cluster", "enabled"]
    public static let statsd = ["enabled", "udp", "tcp", "unixgram", "max_packet_size", "receive_buffer", "tcp_idle_timeout", "mapping",
                                "mastodon_namespace", "max_series", "unmapped", "mapping_cache_size", "counter_suffix"]

    /// Each section's keys under the path where they are written.
    public static let all: [(section: String, keys: [String])] = [
        ("", topLevel), ("log", log), ("sampling", sampling), ("alerts", alerts), ("alerts.receivers[]", receiver),
        ("alerts.routes[]", route), ("alerts.heartbeat", heartbeat), ("alerts.maintenance_windows[]", maintenanceWindow), ("collectors", collectors), ("collectors.system", system),
        ("collectors.processes", processes), ("collectors.processes.groups[]", processGroup), ("collectors.postgres", postgres),
        ("collectors.pgbouncer", pgbouncer), ("collectors.redis", redis), ("collectors.sidekiq", sidekiq),
        ("collectors.mastodon_endpoints[]", mastodonEndpoint), ("collectors.probes[]", probe), ("statsd", statsd),
        ("instance", instance), ("restarts[]", restartTarget), ("restarts[].supervisord", supervisord), ("restarts[].systemd", systemdMethod),
        ("restarts[].docker", dockerMethod), ("backups", backups), ("backups.storage", backupStorage), ("backups.encryption", backupEncryption),
        ("backups.postgres", backupPostgres), ("backups.redis", backupRedis), ("backups.retention", backupRetention), ("backups.drill", backupDrill),
        ("jobs[]", job),
    ] + receiverKinds.keys.sorted().map { ("alerts.receivers[].\($0)", receiverKinds[$0]!) }
}
