#!/usr/bin/env python3
"""CPU and memory of mastiff's postgres + redis + sidekiq collectors against Debian's
prometheus-postgres-exporter 0.11 and prometheus-redis-exporter 1.45 (with Sidekiq's queue keys),
on the same targets in the same run, and the database-side cost of each.

    bench/datasources.sh          # builds, installs the peers, starts services, runs this

Targets: a PostgreSQL database with Mastodon's tables and BENCH_STATUSES statuses (default 1M),
and a Redis holding real Sidekiq data (Debian's ruby-sidekiq working Mastodon's queues).

Per exporter: CPU per scrape (utime+stime over BENCH_SCRAPES scrapes), RSS after them, and the
CPU time of the PostgreSQL backend serving it (each exporter logs in as its own role, so its
backend is found by user name). mastiff's Mastodon figures are measured twice: on the default
5-minute cache, and refreshed on every scrape (the worst case).
"""
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from exporter_measurement import (cpu_seconds, free_port, mastodon_bench_database, memory_kib, psql as psql_on, scrape, services_env,
                                  wait_until_up, working_sidekiq, write_mastiff_config)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MASTIFF = os.environ.get("MASTIFF_RELEASE_BINARY", f"{ROOT}/.build-release/release/mastiff")
SCRAPES = int(os.environ.get("BENCH_SCRAPES", "100"))
# mastiff answers scrapes from samples taken every sampling.interval (ADR 10): scrapes are spaced
# by the interval (1 s here) so that each one costs a collection, as a scrape did before.
SPACING = float(os.environ.get("BENCH_SPACING", "1"))
STATUSES = int(os.environ.get("BENCH_STATUSES", "1000000"))
ENV = services_env()
PG_PORT, SOCKET, PG_BIN = ENV["MASTIFF_TEST_PG_PORT"], ENV["MASTIFF_TEST_PG_SOCKET_DIR"], ENV["MASTIFF_TEST_PG_BIN"]
REDIS_PORT = ENV["MASTIFF_TEST_REDIS_PORT"]
REDIS_URL = f"redis://127.0.0.1:{REDIS_PORT}/0"


def psql(sql, database="postgres"):
    return psql_on(ENV, sql, database)


def backend_pid(user):
    pid = psql(f"SELECT pid FROM pg_stat_activity WHERE usename = '{user}' ORDER BY backend_start LIMIT 1")
    return int(pid) if pid else None


def measure(name, process, url, user):
    wait_until_up(url, process)
    for _ in range(3):
        scrape(url)
    backend = backend_pid(user)
    cpu0, db0 = cpu_seconds(process.pid), (cpu_seconds(backend) if backend else 0)
    for _ in range(SCRAPES):
        time.sleep(SPACING)
        body = scrape(url)
    cpu1, db1 = cpu_seconds(process.pid), (cpu_seconds(backend) if backend else 0)
    return {"name": name, "cpu_ms": (cpu1 - cpu0) / SCRAPES * 1000, "db_ms": (db1 - db0) / SCRAPES * 1000,
            "rss": memory_kib(process.pid)["rss"] / 1024, "series": sum(1 for l in body.splitlines() if l and not l.startswith("#"))}


def main():
    workdir = tempfile.mkdtemp(prefix="mastiff-bench-ds-")
    started = time.monotonic()
    mastodon_bench_database(ENV, STATUSES, ["mastiff_bench", "pgexporter_bench"])
    print(f"# fixture: {STATUSES} statuses loaded in {time.monotonic() - started:.0f} s", file=sys.stderr)
    sidekiq = working_sidekiq(REDIS_URL)
    time.sleep(3)

    dsn = f"host={SOCKET} port={PG_PORT} dbname=mastodon_bench user=mastiff_bench"
    results = []
    processes = []
    try:
        for label, interval in [("mastiff (Mastodon figures cached 5 min)", "5m"), ("mastiff (Mastodon figures every scrape)", "1ms")]:
            port = free_port()
            config = write_mastiff_config(workdir, "mastiff", port,
                                          f"  system: {{enabled: false}}\n  processes: {{enabled: false}}\n"
                                          f"  postgres: {{dsn: \"{dsn}\", mastodon_interval: {interval}}}\n"
                                          f"  redis: {{url: \"{REDIS_URL}\"}}\n", statsd=False)
            process = subprocess.Popen([MASTIFF, "run", "--config", config])
            processes.append(process)
            results.append(measure(label, process, f"http://127.0.0.1:{port}/metrics", "mastiff_bench"))
            process.terminate()
            process.wait()

        # mastiff with only the system and process collectors, for the memory these collectors add.
        port = free_port()
        base_config = write_mastiff_config(workdir, "base", port, "  postgres: {enabled: false}\n  redis: {enabled: false}\n  sidekiq: {enabled: false}\n",
                                           statsd=False)
        base = subprocess.Popen([MASTIFF, "run", "--config", base_config])
        processes.append(base)
        base_result = measure("mastiff (system + processes only)", base, f"http://127.0.0.1:{port}/metrics", "nobody")
        full_port = free_port()
        full_config = write_mastiff_config(workdir, "full", full_port, f"  postgres: {{dsn: \"{dsn}\"}}\n  redis: {{url: \"{REDIS_URL}\"}}\n",
                                           statsd=False)
        full = subprocess.Popen([MASTIFF, "run", "--config", full_config])
        processes.append(full)
        full_result = measure("mastiff (all collectors)", full, f"http://127.0.0.1:{full_port}/metrics", "mastiff_bench")

        pg_port, redis_port = free_port(), free_port()
        pg_exporter = subprocess.Popen(["prometheus-postgres-exporter", f"--web.listen-address=127.0.0.1:{pg_port}"],
                                       env=dict(os.environ, DATA_SOURCE_NAME=f"host={SOCKET} port={PG_PORT} dbname=mastodon_bench user=pgexporter_bench sslmode=disable"),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(pg_exporter)
        results.append(measure("postgres_exporter 0.11 (defaults)", pg_exporter, f"http://127.0.0.1:{pg_port}/metrics", "pgexporter_bench"))
        redis_exporter = subprocess.Popen(["prometheus-redis-exporter", "-redis.addr", REDIS_URL, "-web.listen-address", f"127.0.0.1:{redis_port}",
                                           "-check-keys", "queue:*,schedule,retry,dead,stat:*"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(redis_exporter)
        results.append(measure("redis_exporter 1.45 (Sidekiq keys)", redis_exporter, f"http://127.0.0.1:{redis_port}/metrics", "nobody"))
    finally:
        for process in processes:
            process.terminate()
        sidekiq.terminate()

    print(f"# datasources: {STATUSES} statuses, {SCRAPES} scrapes each\n")
    print("| exporter | CPU ms/scrape | PostgreSQL backend CPU ms/scrape | RSS MiB | series |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in results + [base_result, full_result]:
        print(f"| {r['name']} | {r['cpu_ms']:.2f} | {r['db_ms']:.2f} | {r['rss']:.1f} | {r['series']} |")
    peers = results[2]["cpu_ms"] + results[3]["cpu_ms"]
    print()
    print(f"- mastiff CPU per scrape / (postgres_exporter + redis_exporter) = {results[0]['cpu_ms'] / peers:.2f} "
          f"({results[0]['cpu_ms']:.2f} / {peers:.2f} ms)")
    print(f"- database CPU per scrape: mastiff {results[0]['db_ms']:.2f} ms (cached), {results[1]['db_ms']:.2f} ms (Mastodon figures every scrape); "
          f"postgres_exporter {results[2]['db_ms']:.2f} ms")
    print(f"- RSS added by the postgres, redis and sidekiq collectors: {full_result['rss'] - base_result['rss']:.1f} MiB "
          f"({base_result['rss']:.1f} → {full_result['rss']:.1f})")


if __name__ == "__main__":
    main()
