#!/usr/bin/env python3
"""Writes the Grafana dashboards in dashboards/ from the panel lists below (one place to edit;
the JSON is committed so admins import it without running anything).

  python3 scripts/dashboards.py           write dashboards/*.json
  python3 scripts/dashboards.py --check   exit 1 if a committed file differs from what this writes

Every dashboard has a Prometheus datasource variable and a multi-value `instance` variable (one
mastiff per host). IntegrationTests/DashboardTests runs every expression, with the variables
substituted, against a Prometheus scraping a live mastiff: each must parse and return a series.
"""
import json, os, sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dashboards")
I = 'instance=~"$instance"'

# (title, unit, [(expr, legend)], kind) — kind: timeseries or stat.
DASHBOARDS = {
    "mastiff-overview": ("Mastodon server overview (mastiff)", [
        ("Instance health checks", "none", [(f'probe_success{{{I}}}', "{{instance}} {{probe}}")], "stat"),
        ("Firing alerts", "none", [(f'sum by (alertname, severity) (mastiff_alerts{{{I}, state="firing"}})', "{{alertname}} ({{severity}})")], "timeseries"),
        ("Memory available", "bytes", [(f'system_memory_available_bytes{{{I}}}', "available {{instance}}"),
                                       (f'system_memory_total_bytes{{{I}}}', "total {{instance}}")], "timeseries"),
        ("Memory pressure (PSI, share of time stalled)", "percentunit", [(f'system_pressure_stall_ratio{{{I}, resource="memory"}}', "{{kind}} {{window}}")], "timeseries"),
        ("Memory by process group (PSS)", "bytes", [(f'sum by (group) (process_group_proportional_memory_bytes{{{I}}})', "{{group}}")], "timeseries"),
        ("Sidekiq queue size", "none", [(f'sidekiq_queue_size{{{I}}}', "{{queue}}")], "timeseries"),
        ("Sidekiq queue latency", "s", [(f'sidekiq_queue_latency_seconds{{{I}}}', "{{queue}}")], "timeseries"),
        ("PostgreSQL connections against the limit", "none", [(f'sum by (instance) (postgres_connections{{{I}}})', "in use {{instance}}"),
                                                              (f'postgres_max_connections{{{I}}}', "max_connections {{instance}}")], "timeseries"),
        ("Age of the last good backup", "s", [(f'time() - mastiff_backup_last_success_timestamp_seconds{{{I}}} and mastiff_backup_last_success_timestamp_seconds{{{I}}} > 0', "{{target}}")], "stat"),
        ("Size of the last good backup", "bytes", [(f'mastiff_backup_last_size_bytes{{{I}}}', "{{target}}")], "stat"),
    ]),
    "mastiff-agent": ("mastiff agent", [
        ("Collectors succeeding", "none", [(f'mastiff_collector_success{{{I}}}', "{{collector}}")], "timeseries"),
        ("Collector duration", "s", [(f'mastiff_collector_duration_seconds{{{I}}}', "{{collector}}")], "timeseries"),
        ("Sample duration", "s", [(f'mastiff_sample_duration_seconds{{{I}}}', "{{instance}}")], "timeseries"),
        ("Samples per second", "ops", [(f'rate(mastiff_sample_runs_total{{{I}}}[$__rate_interval])', "{{instance}}")], "timeseries"),
        ("Rule group evaluation time", "s", [(f'mastiff_rule_group_last_duration_seconds{{{I}}}', "{{group}}")], "timeseries"),
        ("Alerts by state", "none", [(f'sum by (state) (mastiff_alerts{{{I}}})', "{{state}}")], "timeseries"),
        ("History memory", "bytes", [(f'mastiff_history_bytes{{{I}}}', "{{instance}}")], "timeseries"),
        ("Notifications waiting", "none", [(f'sum by (receiver) (mastiff_notification_queue_length{{{I}}})', "{{receiver}}")], "timeseries"),
        ("Maintenance and silences", "none", [(f'mastiff_maintenance_active{{{I}}}', "maintenance {{instance}}"),
                                              (f'mastiff_silences_active{{{I}}}', "silences {{instance}}")], "timeseries"),
        ("Backup runs by result", "none", [(f'sum by (target, result) (mastiff_backups_total{{{I}}})', "{{target}} {{result}}")], "timeseries"),
        ("Last backup run succeeded", "none", [(f'mastiff_backup_last_run_successful{{{I}}}', "{{target}}")], "stat"),
        ("Backup duration", "s", [(f'mastiff_backup_last_duration_seconds{{{I}}}', "{{target}}")], "timeseries"),
        ("Job runs by result", "none", [(f'sum by (job, result) (mastiff_job_runs_total{{{I}}})', "{{job}} {{result}}")], "timeseries"),
        ("Time since each job last succeeded", "s", [(f'time() - mastiff_job_last_success_timestamp_seconds{{{I}}}', "{{job}}")], "timeseries"),
        ("State file write failures", "none", [(f'mastiff_state_write_failures_total{{{I}}}', "{{instance}}")], "stat"),
        ("Configuration reload succeeded", "none", [(f'mastiff_config_last_reload_successful{{{I}}}', "{{instance}}")], "stat"),
    ]),
    "mastiff-postgres": ("PostgreSQL (mastiff)", [
        ("Up", "none", [(f'postgres_up{{{I}}}', "{{instance}}")], "stat"),
        ("Connections by state", "none", [(f'sum by (state) (postgres_connections{{{I}}})', "{{state}}")], "timeseries"),
        ("Connection headroom", "none", [(f'postgres_connection_headroom{{{I}}}', "{{instance}}")], "timeseries"),
        ("Database size", "bytes", [(f'postgres_database_size_bytes{{{I}}}', "{{database}}")], "timeseries"),
        ("Transactions committed per second", "ops", [(f'sum by (database) (rate(postgres_database_transactions_committed_total{{{I}}}[$__rate_interval]))', "{{database}}")], "timeseries"),
        ("Oldest transaction", "s", [(f'postgres_oldest_transaction_age_seconds{{{I}}}', "{{instance}}")], "timeseries"),
        # Only modes with a waiting request are exported; 0 per instance otherwise.
        ("Locks waiting", "none", [(f'sum by (instance) (postgres_locks_waiting{{{I}}}) or on(instance) (postgres_up{{{I}}} * 0)', "{{instance}}")], "timeseries"),
        ("Largest tables", "bytes", [(f'topk(10, postgres_table_size_bytes{{{I}}})', "{{table}}")], "timeseries"),
        ("PgBouncer up", "none", [(f'pgbouncer_up{{{I}}}', "{{instance}}")], "stat"),
        ("PgBouncer clients active and waiting", "none", [(f'sum by (database) (pgbouncer_pool_client_active_connections{{{I}}})', "active {{database}}"),
                                                          (f'sum by (database) (pgbouncer_pool_client_waiting_connections{{{I}}})', "waiting {{database}}")], "timeseries"),
        ("PgBouncer server connections", "none", [(f'sum by (database) (pgbouncer_pool_server_active_connections{{{I}}})', "active {{database}}"),
                                                  (f'sum by (database) (pgbouncer_pool_server_idle_connections{{{I}}})', "idle {{database}}")], "timeseries"),
        ("PgBouncer longest client wait", "s", [(f'max by (database) (pgbouncer_pool_max_wait_seconds{{{I}}})', "{{database}}")], "timeseries"),
        ("PgBouncer queries per second", "ops", [(f'sum by (database) (rate(pgbouncer_queries_total{{{I}}}[$__rate_interval]))', "{{database}}")], "timeseries"),
    ]),
    "mastiff-redis-sidekiq": ("Redis and Sidekiq (mastiff)", [
        ("Redis up", "none", [(f'redis_up{{{I}}}', "{{instance}}")], "stat"),
        ("Redis memory", "bytes", [(f'redis_memory_used_bytes{{{I}}}', "{{instance}}")], "timeseries"),
        ("Redis clients", "none", [(f'redis_connected_clients{{{I}}}', "{{instance}}")], "timeseries"),
        ("Redis commands per second", "ops", [(f'rate(redis_commands_processed_total{{{I}}}[$__rate_interval])', "{{instance}}")], "timeseries"),
        ("Last RDB save", "dateTimeFromNow", [(f'redis_rdb_last_save_timestamp_seconds{{{I}}} * 1000', "{{instance}}")], "stat"),
        ("Sidekiq queue size", "none", [(f'sidekiq_queue_size{{{I}}}', "{{queue}}")], "timeseries"),
        ("Sidekiq queue latency", "s", [(f'sidekiq_queue_latency_seconds{{{I}}}', "{{queue}}")], "timeseries"),
        ("Sidekiq scheduled jobs", "none", [(f'sidekiq_scheduled_jobs{{{I}}}', "{{instance}}")], "timeseries"),
        ("Sidekiq up", "none", [(f'sidekiq_up{{{I}}}', "{{instance}}")], "stat"),
        ("Sidekiq threads busy of configured", "none", [(f'sum by (hostname) (sidekiq_busy_threads{{{I}}})', "busy {{hostname}}"),
                                                        (f'sum by (hostname) (sidekiq_concurrency{{{I}}})', "configured {{hostname}}")], "timeseries"),
        ("Sidekiq processes by host", "none", [(f'sidekiq_processes{{{I}}}', "{{hostname}}")], "timeseries"),
        ("Sidekiq heartbeat age", "s", [(f'sidekiq_heartbeat_age_seconds{{{I}}}', "{{hostname}}")], "timeseries"),
        ("Sidekiq jobs processed and failed per second", "ops", [(f'rate(sidekiq_processed_jobs_total{{{I}}}[$__rate_interval])', "processed"),
                                                                  (f'rate(sidekiq_failed_jobs_total{{{I}}}[$__rate_interval])', "failed")], "timeseries"),
        ("Sidekiq retries and dead jobs", "none", [(f'sidekiq_retry_jobs{{{I}}}', "retry"), (f'sidekiq_dead_jobs{{{I}}}', "dead")], "timeseries"),
    ]),
    # Mastodon's own figures: from its database (postgres collector), Redis (MAU), statsd
    # (Mastodon <= 4.2, the built-in mapping) and its Prometheus endpoints (4.2+, collectors.mastodon_endpoints).
    "mastiff-mastodon": ("Mastodon application (mastiff)", [
        ("Users", "none", [(f'mastodon_users{{{I}}}', "users"), (f'mastodon_monthly_active_users{{{I}}}', "active in 30 days"),
                           (f'mastodon_users_signed_in_30d{{{I}}}', "signed in within 30 days")], "stat"),
        ("Local statuses and accounts", "none", [(f'mastodon_local_statuses{{{I}}}', "statuses"), (f'mastodon_local_accounts{{{I}}}', "accounts")], "timeseries"),
        ("Media storage", "bytes", [(f'sum by (origin) (mastodon_media_attachments_bytes{{{I}}})', "{{origin}}")], "timeseries"),
        ("Known remote accounts", "none", [(f'mastodon_remote_accounts_estimate{{{I}}}', "{{instance}}")], "timeseries"),
        ("Web requests per second by status (statsd)", "reqps", [(f'sum by (status) (rate(mastodon_web_requests_total{{{I}}}[$__rate_interval]))', "{{status}}")], "timeseries"),
        ("Web request time, 95th percentile by controller (statsd)", "s",
         [(f'histogram_quantile(0.95, sum by (le, controller) (rate(mastodon_web_request_duration_seconds_bucket{{{I}}}[$__rate_interval])))', "{{controller}}")], "timeseries"),
        ("Database time per request, 95th percentile (statsd)", "s",
         [(f'histogram_quantile(0.95, sum by (le) (rate(mastodon_web_db_duration_seconds_bucket{{{I}}}[$__rate_interval])))', "database"),
          (f'histogram_quantile(0.95, sum by (le) (rate(mastodon_web_view_duration_seconds_bucket{{{I}}}[$__rate_interval])))', "views")], "timeseries"),
        ("Slowest tables, 95th percentile query time (statsd)", "s",
         [(f'topk(10, histogram_quantile(0.95, sum by (le, table, operation) (rate(mastodon_db_query_duration_seconds_bucket{{{I}}}[$__rate_interval]))))', "{{table}} {{operation}}")], "timeseries"),
        ("Sidekiq jobs per second by outcome (statsd)", "ops", [(f'sum by (outcome) (rate(mastodon_sidekiq_jobs_total{{{I}}}[$__rate_interval]))', "{{outcome}}")], "timeseries"),
        ("Sidekiq job time, 95th percentile by worker (statsd)", "s",
         [(f'histogram_quantile(0.95, sum by (le, worker) (rate(mastodon_sidekiq_job_duration_seconds_bucket{{{I}}}[$__rate_interval])))', "{{worker}}")], "timeseries"),
        ("Failing Sidekiq workers (statsd)", "ops", [(f'topk(10, sum by (worker) (rate(mastodon_sidekiq_jobs_total{{{I}, outcome="failure"}}[$__rate_interval])))', "{{worker}}")], "timeseries"),
        ("Mastodon endpoints answering (4.2+)", "none", [(f'mastiff_target_up{{{I}}}', "{{target}}")], "stat"),
        ("HTTP requests per second by controller (Mastodon's exporter)", "reqps",
         [(f'topk(10, sum by (controller) (rate(mastodon_ruby_http_requests_total{{{I}}}[$__rate_interval])))', "{{controller}}")], "timeseries"),
        ("Streaming clients", "none", [(f'sum by (type) (mastodon_streaming_connected_clients{{{I}}})', "{{type}}")], "timeseries"),
        ("Streaming messages sent per second", "ops", [(f'sum by (type) (rate(mastodon_streaming_messages_sent_total{{{I}}}[$__rate_interval]))', "{{type}}")], "timeseries"),
        # Mastodon 4.4+'s own exporter (MASTODON_PROMETHEUS_EXPORTER_ENABLED), through collectors.mastodon_endpoints.
        ("Puma requests waiting for a thread (Mastodon 4.4+ exporter)", "short", [
            (f'max by (source) (mastodon_puma_request_backlog{{{I}}})', "{{source}} backlog"),
            (f'sum by (source) (mastodon_puma_thread_pool_capacity{{{I}}})', "{{source}} idle threads")], "timeseries"),
        ("Database connections waited for, by process type (Mastodon 4.4+ exporter)", "short", [
            (f'sum by (type) (mastodon_active_record_connection_pool_waiting{{{I}}})', "{{type}} waiting"),
            (f'sum by (type) (mastodon_active_record_connection_pool_busy{{{I}}}) / sum by (type) (mastodon_active_record_connection_pool_size{{{I}}})', "{{type}} pool in use")], "timeseries"),
        ("Sidekiq threads busy of concurrency, by process (Mastodon 4.4+ exporter)", "percentunit", [
            (f'sum by (hostname, tag) (mastodon_sidekiq_process_busy{{{I}}}) / sum by (hostname, tag) (mastodon_sidekiq_process_concurrency{{{I}}})', "{{hostname}} {{tag}}")], "timeseries"),
    ]),
    "mastiff-processes": ("Processes and memory (mastiff)", [
        ("PSS by group", "bytes", [(f'process_group_proportional_memory_bytes{{{I}}}', "{{group}}")], "timeseries"),
        ("RSS by group", "bytes", [(f'process_group_resident_memory_bytes{{{I}}}', "{{group}}")], "timeseries"),
        ("Processes by group", "none", [(f'process_group_processes{{{I}}}', "{{group}}")], "timeseries"),
        ("Open files by group", "none", [(f'process_group_open_fds{{{I}}}', "{{group}}")], "timeseries"),
        ("Highest share of the fd limit", "percentunit", [(f'process_group_max_fd_usage_ratio{{{I}}}', "{{group}}")], "timeseries"),
        ("CPU by group", "percentunit", [(f'rate(process_group_cpu_seconds_total{{{I}}}[$__rate_interval])', "{{group}}")], "timeseries"),
        ("Swap", "bytes", [(f'system_swap_total_bytes{{{I}}} - system_swap_free_bytes{{{I}}}', "used {{instance}}")], "timeseries"),
        ("OOM kills", "none", [(f'increase(system_oom_kills_total{{{I}}}[1h])', "{{instance}}")], "stat"),
        # Counted only once a restart happened; 0 per configured target until then.
        ("Restarts by mastiff (per hour)", "none", [(f'sum by (target, reason) (increase(mastiff_restarts_total{{{I}}}[1h])) or on(target) (mastiff_restart_budget_remaining{{{I}}} * 0)', "{{target}} {{reason}}")], "timeseries"),
        ("Restart budget left", "none", [(f'mastiff_restart_budget_remaining{{{I}}}', "{{target}}")], "stat"),
    ]),
}


def dashboard(uid, title, panels):
    built = []
    for index, (panel_title, unit, targets, kind) in enumerate(panels):
        built.append({
            "id": index + 1,
            "type": kind,
            "title": panel_title,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}} if kind == "timeseries" else {"reduceOptions": {"calcs": ["lastNotNull"]}},
            "targets": [{"refId": chr(65 + n), "expr": expr, "legendFormat": legend,
                         "datasource": {"type": "prometheus", "uid": "${datasource}"}} for n, (expr, legend) in enumerate(targets)],
        })
    return {
        "uid": uid,
        "title": title,
        "tags": ["mastiff", "mastodon"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus", "current": {}},
            {"name": "instance", "type": "query", "label": "Host", "datasource": {"type": "prometheus", "uid": "${datasource}"},
             "query": {"query": "label_values(mastiff_build_info, instance)", "refId": "instance"},
             "definition": "label_values(mastiff_build_info, instance)", "refresh": 2, "multi": True, "includeAll": True,
             "allValue": ".*", "current": {}, "sort": 1},
        ]},
        "panels": built,
    }


def main():
    check = "--check" in sys.argv
    stale = []
    os.makedirs(ROOT, exist_ok=True)
    for uid, (title, panels) in DASHBOARDS.items():
        text = json.dumps(dashboard(uid, title, panels), indent=2, ensure_ascii=False) + "\n"
        path = os.path.join(ROOT, uid + ".json")
        if check:
            if not os.path.exists(path) or open(path, encoding="utf-8").read() != text:
                stale.append(path)
        else:
            open(path, "w", encoding="utf-8").write(text)
    if stale:
        sys.exit("dashboards out of date (run python3 scripts/dashboards.py): " + ", ".join(stale))


main()
