/// The built-in alert rules: alerts/mastiff.rules.yml, byte for byte (a test compares them; run
/// scripts/embed-builtin-rules.py after editing the YAML). Prometheus users load the same file.
public enum BuiltinRules {
    public static let fileName = "alerts/mastiff.rules.yml (built in)"

    public static let shipped = #"""
# mastiff's alert rules. This file is both:
#   - the rules mastiff evaluates by itself (compiled in byte for byte; alerts.builtin: true), and
#   - a Prometheus rule file: load it in prometheus.yml (rule_files) when Prometheus scrapes mastiff.
# `promtool check rules` and `promtool test rules alerts/tests/*.yml` pass on it, and so does
# `mastiff rules test alerts/tests/*.yml`. docs/alerting.md explains each alert and what to do.
# Severities: critical (users are affected now), warning (they will be), info (worth a look).
groups:
  - name: mastiff-host
    rules:
      - alert: OOMRisk
        expr: |
          (sum(system_memory_available_bytes) / sum(system_memory_total_bytes) < 0.10)
          or on()
          (max(system_pressure_stall_ratio{resource="memory", kind="some", window="1m"}) > 0.20)
          or on()
          (max(predict_linear(system_memory_available_bytes[15m], 1800)) <= 0)
        for: 2m
        labels:
          severity: critical
        annotations:
          summary: "The host is about to run out of memory"
          description: >-
            MemAvailable is {{ with query "sum(system_memory_available_bytes)" }}{{ . | first | value | humanize1024 }}B{{ end }}
            of {{ with query "sum(system_memory_total_bytes)" }}{{ . | first | value | humanize1024 }}B{{ end }}
            and the kernel's OOM killer may soon kill Sidekiq, Puma or PostgreSQL.
            Largest process groups by PSS:{{ range query "topk(3, process_group_proportional_memory_bytes)" }} {{ .Labels.group }} {{ .Value | humanize1024 }}B;{{ end }}
            restart the largest leaking workers (mastiff's restart policy does this when configured), lower
            Sidekiq concurrency or Puma workers, or add memory or swap.
          runbook_url: "docs/alerting.md#oomrisk"

      - alert: SwapNearlyFull
        expr: (1 - system_swap_free_bytes / system_swap_total_bytes) > 0.90 and system_swap_total_bytes > 0
        for: 10m
        labels:
          severity: warning
        annotations:
          summary: "Swap is {{ $value | humanizePercentage }} full"
          description: "Swap is nearly full; once it is, the next allocation peak ends in the OOM killer. Find the growing process group (process_group_swap_bytes) and restart it, or add memory."
          runbook_url: "docs/alerting.md#swapnearlyfull"

      - alert: OOMKillObserved
        expr: increase(system_oom_kills_total[10m]) > 0
        labels:
          severity: warning
        annotations:
          summary: "The kernel killed a process for lack of memory"
          description: "The OOM killer ran in the last 10 minutes ({{ $value | printf \"%.0f\" }} kill(s), extrapolated). Check `journalctl -k | grep -i oom` for the victim, and whether Sidekiq or Puma came back."
          runbook_url: "docs/alerting.md#oomkillobserved"

      - alert: ProcessGroupMemoryHigh
        expr: process_group_proportional_memory_bytes / on() group_left() sum(system_memory_total_bytes) > 0.40
        for: 15m
        labels:
          severity: warning
        annotations:
          summary: "{{ $labels.group }} uses {{ $value | humanizePercentage }} of the host's memory"
          description: "The {{ $labels.group }} processes hold {{ $value | humanizePercentage }} of MemTotal (PSS, shared pages split fairly). Sidekiq and Puma grow until restarted: restart them gracefully or let mastiff's restart policy do it."
          runbook_url: "docs/alerting.md#processgroupmemoryhigh"

      - alert: FileDescriptorsNearLimit
        expr: process_group_max_fd_usage_ratio > 0.80
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "A {{ $labels.group }} process uses {{ $value | humanizePercentage }} of its open-files limit"
          description: "When the limit is reached, {{ $labels.group }} fails to open sockets and files. Raise LimitNOFILE in its systemd unit, or look for a leak (`ls /proc/PID/fd | wc -l` over time)."
          runbook_url: "docs/alerting.md#filedescriptorsnearlimit"

      - alert: DiskNearlyFull
        expr: system_filesystem_available_bytes / system_filesystem_size_bytes < 0.10
        for: 5m
        labels:
          severity: critical
        annotations:
          summary: "{{ $labels.mountpoint }} has {{ $value | humanizePercentage }} space left"
          description: "PostgreSQL stops and media uploads fail when {{ $labels.mountpoint }} is full. Remove old media (`tootctl media remove`, `tootctl preview_cards remove`), old backups or logs, or grow the filesystem."
          runbook_url: "docs/alerting.md#disknearlyfull"

      - alert: DiskFillingUp
        expr: predict_linear(system_filesystem_available_bytes[6h], 86400) < 0 and system_filesystem_available_bytes / system_filesystem_size_bytes < 0.50
        for: 30m
        labels:
          severity: warning
        annotations:
          summary: "{{ $labels.mountpoint }} will be full within a day at the current rate"
          description: "At the rate of the last 6 hours {{ $labels.mountpoint }} runs out of space within 24 hours. Schedule media cleanup (`tootctl media remove`) or grow the filesystem before DiskNearlyFull fires."
          runbook_url: "docs/alerting.md#diskfillingup"

  - name: mastiff-mastodon
    rules:
      - record: mastodon:health_check
        expr: |
          label_replace(min(probe_success), "check", "probes", "", "")
          or label_replace(min(postgres_up), "check", "postgres", "", "")
          or label_replace(min(redis_up), "check", "redis", "", "")
          or label_replace(max(sidekiq_heartbeat_age_seconds) < bool 60, "check", "sidekiq_heartbeat", "", "")
          or label_replace(max(sidekiq_queue_latency_seconds{queue="default"}) < bool 30, "check", "default_queue", "", "")

      - record: mastodon:healthy
        expr: min(mastodon:health_check)

      - alert: InstanceUnhealthy
        expr: mastodon:healthy == 0
        for: 2m
        labels:
          severity: warning
        annotations:
          summary: "Mastodon is unhealthy"
          description: "Failing checks:{{ range query \"mastodon:health_check == 0\" }} {{ .Labels.check }}{{ end }}. The other alerts (InstanceDown, PostgresDown, RedisDown, SidekiqDown, SidekiqQueueLatencyHigh) say which part and what to do."
          runbook_url: "docs/alerting.md#instanceunhealthy"

      - alert: InstanceDown
        expr: probe_success{probe="web"} == 0
        for: 45s
        labels:
          severity: critical
        annotations:
          summary: "Mastodon's web front end does not answer"
          description: "The probe of {{ $labels.probe }} has failed for 45 seconds. Check Puma (`systemctl status mastodon-web`), nginx and the reverse proxy's error log."
          runbook_url: "docs/alerting.md#instancedown"

      - alert: StreamingDown
        expr: probe_success{probe="streaming"} == 0
        for: 1m
        labels:
          severity: warning
        annotations:
          summary: "Mastodon's streaming API does not answer"
          description: "Timelines stop updating live. Check `systemctl status mastodon-streaming` and nginx's /api/v1/streaming location."
          runbook_url: "docs/alerting.md#streamingdown"

      - alert: TLSCertificateExpiring
        expr: probe_tls_certificate_expiry_timestamp_seconds - time() < 14 * 86400
        for: 1h
        labels:
          severity: warning
        annotations:
          summary: "The TLS certificate of {{ $labels.probe }} expires in {{ $value | humanizeDuration }}"
          description: "Renewal has not happened. Run `certbot renew --dry-run` (or your ACME client) and read its error; check that port 80 reaches the host for the HTTP challenge."
          runbook_url: "docs/alerting.md#tlscertificateexpiring"

      - alert: SidekiqDown
        expr: sidekiq_up == 1 unless on() (sidekiq_heartbeat_age_seconds < 60)
        labels:
          severity: critical
        annotations:
          summary: "No Sidekiq process has sent a heartbeat for 60 seconds"
          description: "Federation, notifications, media processing and e-mail stop while Sidekiq is down. Check `systemctl status mastodon-sidekiq` and its journal; a process stuck without heartbeats needs a restart."
          runbook_url: "docs/alerting.md#sidekiqdown"

      - alert: SidekiqQueueLatencyHigh
        expr: |
          sidekiq_queue_latency_seconds{queue="default"} > 30
          or sidekiq_queue_latency_seconds{queue="push"} > 30
          or sidekiq_queue_latency_seconds{queue="ingress"} > 60
          or sidekiq_queue_latency_seconds{queue="scheduler"} > 60
          or sidekiq_queue_latency_seconds{queue="mailers"} > 300
          or sidekiq_queue_latency_seconds{queue="pull"} > 600
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "Sidekiq's {{ $labels.queue }} queue is {{ $value | humanizeDuration }} behind"
          description: "Jobs in {{ $labels.queue }} wait {{ $value | humanizeDuration }} before they run; users notice (posts arrive late, notifications lag). Add Sidekiq threads or processes for this queue, or look for a slow job (sidekiq_queue_longest_running_job_seconds)."
          runbook_url: "docs/alerting.md#sidekiqqueuelatencyhigh"

      - alert: SidekiqStalled
        expr: sidekiq_process_stalled == 1
        for: 2m
        labels:
          severity: warning
        annotations:
          summary: "Sidekiq process {{ $labels.pid }} on {{ $labels.hostname }} is alive but takes no work"
          description: "It sends heartbeats, yet started no job for collectors.sidekiq.stall_after while a queue it serves has waited longer: its threads are stuck (a hung network call, a deadlock). Look at its threads (`kill -TTIN <pid>` writes a dump to its log) and restart it; a restart target with on_alert: [SidekiqStalled] does that by itself."
          runbook_url: "docs/alerting.md#sidekiqstalled"

      - alert: SidekiqQueueUnserved
        expr: sidekiq_queue_size > 0 and on(queue) sidekiq_queue_processes == 0 and on() sidekiq_up == 1
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "Sidekiq's {{ $labels.queue }} queue has {{ $value }} jobs and no process serves it"
          description: "No live Sidekiq process lists {{ $labels.queue }} among its queues, so its jobs never run. A -q list in a unit file replaces config/sidekiq.yml's queues: add {{ $labels.queue }} to one process (ingress carries inbound federation; scheduler needs exactly one process)."
          runbook_url: "docs/alerting.md#sidekiqqueueunserved"

      - alert: SidekiqDeadJobsGrowing
        expr: delta(sidekiq_dead_jobs[1h]) > 10
        labels:
          severity: warning
        annotations:
          summary: "{{ $value | printf \"%.0f\" }} Sidekiq jobs died in the last hour"
          description: "Jobs that exhausted their retries land in the dead set. Look at the Sidekiq web UI's Dead tab (/sidekiq/morgue) for the error they share."
          runbook_url: "docs/alerting.md#sidekiqdeadjobsgrowing"

      - alert: SidekiqRetriesGrowing
        expr: sidekiq_retry_jobs > 500 and delta(sidekiq_retry_jobs[30m]) > 0
        for: 30m
        labels:
          severity: info
        annotations:
          summary: "Sidekiq's retry set holds {{ $value }} jobs and is growing"
          description: "Deliveries to unreachable servers retry for days, so some retries are normal; a steadily growing set means a failing dependency. Look at the Sidekiq web UI's Retries tab for the common error."
          runbook_url: "docs/alerting.md#sidekiqretriesgrowing"

      - alert: PumaRequestBacklog
        expr: max by (source) (mastodon_puma_request_backlog) > 5
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "{{ $value }} web requests wait for a Puma thread ({{ $labels.source }})"
          description: "Every Puma thread is busy and requests queue before Rails sees them: pages load slowly or time out at nginx. Add workers (WEB_CONCURRENCY) or threads (MAX_THREADS, with DB_POOL to match) if memory allows, or look for slow requests. From Mastodon 4.4's exporter."
          runbook_url: "docs/alerting.md#pumarequestbacklog"

      - alert: DatabasePoolExhausted
        expr: sum by (source, type) (mastodon_active_record_connection_pool_waiting) > 0
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "{{ $labels.type }} threads wait for a database connection ({{ $value }} waiting)"
          description: "The ActiveRecord pool has fewer connections than threads that want one, so work waits (and fails after 5 s with ConnectionTimeoutError). DB_POOL must be at least the threads of each process: MAX_THREADS for Puma, Sidekiq's -c. From Mastodon 4.4's exporter."
          runbook_url: "docs/alerting.md#databasepoolexhausted"

      - alert: FederationUnavailableDomainsJump
        expr: delta(mastodon_federation_unavailable_domains[1h]) >= 20
        labels:
          severity: warning
        annotations:
          summary: "Mastodon gave up on {{ $value | printf \"%.0f\" }} more domains in the last hour"
          description: "Domains land in unavailable_domains after 7 days of failed deliveries; many at once means deliveries from here have been failing for a week (outbound network, DNS, a proxy or a firewall), not that those servers died. Compare with mastodon_federation_failing_hosts and try `curl -v https://<one of them>/` from this host."
          runbook_url: "docs/alerting.md#federationunavailabledomainsjump"

      - alert: FederationDeliveriesFailing
        expr: sum(mastodon_federation_failing_hosts{days=~"[3-6]"}) > 50
        for: 1h
        labels:
          severity: warning
        annotations:
          summary: "Deliveries to {{ $value }} servers have failed on 3 or more days"
          description: "Remote servers do die, but this many failing at once for days points at this side: outbound network, DNS resolution or a blocked port 443. The status page lists the hosts failing longest; Mastodon stops delivering to each at 7 days."
          runbook_url: "docs/alerting.md#federationdeliveriesfailing"

      - alert: PostgresDown
        expr: postgres_up == 0
        for: 1m
        labels:
          severity: critical
        annotations:
          summary: "PostgreSQL does not answer"
          description: "Mastodon cannot serve requests without its database. Check `systemctl status postgresql` and PostgreSQL's log; a full disk is a common cause."
          runbook_url: "docs/alerting.md#postgresdown"

      - alert: PostgresConnectionsNearLimit
        expr: sum(postgres_connections) / on() (postgres_max_connections - postgres_reserved_connections) > 0.80
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "PostgreSQL uses {{ $value | humanizePercentage }} of its connections"
          description: "New connections fail when none are left. Puma's threads × workers plus Sidekiq's concurrency plus the streaming server must fit in max_connections; use PgBouncer or lower concurrency."
          runbook_url: "docs/alerting.md#postgresconnectionsnearlimit"

      - alert: PostgresLongIdleInTransaction
        expr: postgres_oldest_transaction_age_seconds{state="idle in transaction"} > 300
        for: 1m
        labels:
          severity: warning
        annotations:
          summary: "A PostgreSQL transaction has been idle for {{ $value | humanizeDuration }}"
          description: "An open transaction holds back vacuum and may hold locks. Find it with `SELECT pid, usename, application_name, xact_start FROM pg_stat_activity WHERE state = 'idle in transaction'` and end it with pg_terminate_backend(pid)."
          runbook_url: "docs/alerting.md#postgreslongidleintransaction"

      - alert: RedisDown
        expr: redis_up == 0
        for: 1m
        labels:
          severity: critical
        annotations:
          summary: "Redis does not answer"
          description: "Sidekiq, the streaming API and the home feeds need Redis. Check `systemctl status redis-server` and Redis's log."
          runbook_url: "docs/alerting.md#redisdown"

      - alert: RedisPersistenceFailing
        expr: redis_rdb_last_bgsave_success == 0 or (redis_aof_enabled == 1 and on() redis_aof_last_write_success == 0)
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "Redis cannot write its snapshot or append-only file"
          description: "A Redis restart would lose queued Sidekiq jobs. Redis's log names the cause (often a full disk or `vm.overcommit_memory`)."
          runbook_url: "docs/alerting.md#redispersistencefailing"

  - name: mastiff-self
    rules:
      - alert: CollectorFailing
        expr: mastiff_collector_success == 0
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "mastiff's {{ $labels.collector }} collector has failed for 5 minutes"
          description: "Alerts that need its metrics cannot fire. `mastiff status` shows the collector's error."
          runbook_url: "docs/alerting.md#collectorfailing"

      - alert: ConfigReloadFailed
        expr: mastiff_config_last_reload_successful == 0
        labels:
          severity: warning
        annotations:
          summary: "mastiff's last configuration reload failed"
          description: "mastiff keeps running with the previous configuration. Run `mastiff check-config` to see the error with its file:line:column."
          runbook_url: "docs/alerting.md#configreloadfailed"

      - alert: StatsdSeriesLimitReached
        expr: statsd_series >= statsd_series_limit
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "mastiff's statsd bridge holds its maximum of {{ $value }} series"
          description: "New statsd series are dropped. Map high-cardinality names away (etc/statsd-mapping-mastodon.yml), or raise statsd.max_series."
          runbook_url: "docs/alerting.md#statsdserieslimitreached"

  - name: mastiff-restarts
    rules:
      - alert: RestartBudgetExhausted
        expr: mastiff_restart_budget_remaining == 0
        labels:
          severity: warning
        annotations:
          summary: "mastiff stopped restarting {{ $labels.target }}: its restart budget is spent"
          description: "{{ $labels.target }} needed more restarts than its budget allows in the window, so mastiff stopped (a restart loop helps nobody). Look at why it leaks or crashes so fast (its log, `mastiff status`), then raise the ceiling or the budget in restarts:."
          runbook_url: "docs/alerting.md#restartbudgetexhausted"

      - alert: RestartTargetStopped
        expr: mastiff_restart_target_stopped == 1
        labels:
          severity: warning
        annotations:
          summary: "mastiff stopped restarting {{ $labels.target }}: a restarted process did not come back"
          description: "After a restart no new process of {{ $labels.target }} appeared within health_timeout, so mastiff stopped touching it. Check that its supervisor (systemd, supervisord, Docker) starts it again, then reload mastiff (SIGHUP) to resume."
          runbook_url: "docs/alerting.md#restarttargetstopped"

  - name: mastiff-backups
    rules:
      - alert: BackupFailed
        expr: mastiff_backup_last_run_successful == 0
        labels:
          severity: critical
        annotations:
          summary: "The last {{ $labels.target }} backup failed"
          description: "mastiff's last {{ $labels.target }} backup did not complete; the unfinished upload was aborted and no manifest written, so it does not count. Its log line 'scheduled work failed' and `mastiff status` give the error (pg_dump's message, or the storage's answer). Run `mastiff backup run --target {{ $labels.target }}` once it is fixed."
          runbook_url: "docs/alerting.md#backupfailed"

      - alert: BackupStale
        # The second clause holds a new install back until mastiff has run for one interval + 2 h.
        expr: |
          time() - mastiff_backup_last_success_timestamp_seconds > mastiff_backup_schedule_interval_seconds + 7200
          and on(target)
          time() - mastiff_backup_schedule_interval_seconds - 7200 > on() group_left() mastiff_start_time_seconds
        labels:
          severity: critical
        annotations:
          summary: "No good {{ $labels.target }} backup for {{ $value | humanizeDuration }}"
          description: "The newest good {{ $labels.target }} backup is older than its schedule's interval plus two hours (26 h for a daily schedule). Check that mastiff runs, that backups.enabled is true, and the backups' log lines; `mastiff backup list` shows what exists."
          runbook_url: "docs/alerting.md#backupstale"

      - alert: BackupDrillFailed
        expr: mastiff_backup_drill_last_run_successful == 0
        labels:
          severity: warning
        annotations:
          summary: "The last restore drill failed"
          description: "Restoring the newest PostgreSQL backup into the scratch database failed or gave different row counts: the backups may not restore. Run `mastiff backup drill` to see the error, then `mastiff backup verify latest`."
          runbook_url: "docs/alerting.md#backupdrillfailed"

      - alert: JobFailed
        expr: mastiff_job_last_run_successful == 0
        labels:
          severity: warning
        annotations:
          summary: "Scheduled job {{ $labels.job }} failed"
          description: "The job's last run exited non-zero, ran over its timeout and was stopped, or could not start for lack of memory. Its output's last lines are in mastiff's log ('job output'); the next good run resolves this."
          runbook_url: "docs/alerting.md#jobfailed"

  - name: mastiff-watchdog
    rules:
      - alert: Watchdog
        expr: vector(1)
        labels:
          severity: none
        annotations:
          summary: "mastiff's alerting pipeline works"
          description: "Always firing, on purpose. Route it to a dead man's switch (an Alertmanager receiver that pages when it stops arriving): if it stops, mastiff or its path to Alertmanager is down. mastiff's own receivers get it only where a route names it."
          runbook_url: "docs/alerting.md#watchdog"

"""#
}
