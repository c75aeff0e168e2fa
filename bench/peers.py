#!/usr/bin/env python3
"""The headline table (issue 29): mastiff beside the stack it stands in for, on the same targets,
in one window.

    bench/peers.sh                # builds the release binary, installs the peers, runs this

Peers (Debian 12's packages): node_exporter 1.5, process-exporter 0.7 (smaps on, every process
grouped by name), postgres_exporter 0.11, redis_exporter 1.45 (Sidekiq's keys), and Netdata 1.37
on its default configuration (its own port and directories, every process it starts counted).
Targets: a PostgreSQL with Mastodon's tables and BENCH_STATUSES statuses, a Redis with a real
Sidekiq working Mastodon's queues, and a host topped up to BENCH_PROCESSES processes, four of
them titled like Puma and Sidekiq.

Busy window: every exporter and mastiff (all collectors, sampling every second) started
together; for BENCH_ROUNDS rounds a second apart each exporter is scraped once (Netdata is not
scraped: it collects every second by itself, which is how it runs). CPU per collection = CPU time
over the window / rounds; RSS and PSS after it, from smaps_rollup (summed over a process tree).

Idle window: the same peers and two more mastiffs, on its default 15 s sampling: one with every
collector, one on the embedded defaults (no collectors configured; PostgreSQL and Redis at their
default addresses, which do not answer here unless this host runs them). Everything is scraped
every 15 s for BENCH_IDLE_SECONDS; CPU time over wall time.

Prints a Markdown section; bench/peers.sh puts it into docs/benchmarks.md.
"""
import datetime
import os
import subprocess
import tempfile
import time

from exporter_measurement import (cpu_seconds, free_port, mastodon_bench_database, mastodon_shaped_processes, memory_kib, process_count,
                                  scrape, services_env, tree_cpu_seconds, tree_memory_kib, wait_until_up, working_sidekiq,
                                  write_mastiff_config)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MASTIFF = os.environ.get("MASTIFF_RELEASE_BINARY", f"{ROOT}/.build-release/release/mastiff")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "60"))
IDLE_SECONDS = int(os.environ.get("BENCH_IDLE_SECONDS", "120"))
STATUSES = int(os.environ.get("BENCH_STATUSES", "200000"))
TARGET_PROCESSES = int(os.environ.get("BENCH_PROCESSES", "150"))
ENV = services_env()
PG_PORT, SOCKET = ENV["MASTIFF_TEST_PG_PORT"], ENV["MASTIFF_TEST_PG_SOCKET_DIR"]
REDIS_URL = f"redis://127.0.0.1:{ENV['MASTIFF_TEST_REDIS_PORT']}/0"
FOUR_PEERS = ["node_exporter", "process_exporter", "postgres_exporter", "redis_exporter"]


class Exporter:
    """One process (or, for Netdata, a tree) under measurement, with the URL it is scraped at."""

    def __init__(self, name, argv, url=None, env=None, tree=False, health=None):
        # health: where it answers once up, when it is not scraped (Netdata).
        self.name, self.url, self.tree, self.health = name, url, tree, health or url
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def cpu(self):
        return tree_cpu_seconds(self.process.pid) if self.tree else cpu_seconds(self.process.pid)

    def memory(self):
        return tree_memory_kib(self.process.pid) if self.tree else memory_kib(self.process.pid)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def netdata(workdir):
    """Netdata on Debian's default configuration, moved to a private port and directories (its
    statsd listener stays on its default 8125, as installed; if that port is taken it goes without)."""
    base = f"{workdir}/netdata"
    for sub in ["etc", "cache", "lib", "log"]:
        os.makedirs(f"{base}/{sub}", exist_ok=True)
    subprocess.run(["cp", "-r", "/etc/netdata/.", f"{base}/etc/"], check=True)
    # Nothing leaves this host: no anonymous statistics.
    open(f"{base}/etc/.opt-out-from-anonymous-statistics", "w").close()
    port = free_port()
    with open(f"{base}/etc/netdata.conf", "w") as f:
        f.write(f"[global]\n\trun as user = netdata\n[directories]\n\tconfig = {base}/etc\n\tcache = {base}/cache\n"
                f"\tlib = {base}/lib\n\tlog = {base}/log\n\thome = {base}/lib\n[web]\n\tbind to = 127.0.0.1:{port}\n")
    subprocess.run(["chown", "-R", "netdata:netdata", base], check=True)
    os.chmod(workdir, 0o755)
    return Exporter("Netdata 1.37", ["netdata", "-D", "-c", f"{base}/etc/netdata.conf"], tree=True,
                    health=f"http://127.0.0.1:{port}/api/v1/info")


def start_peers(workdir, dsn_peer):
    node_port, process_port, pg_port, redis_port = free_port(), free_port(), free_port(), free_port()
    with open(f"{workdir}/process-exporter.yml", "w") as f:
        f.write('process_names:\n  - name: "{{.Comm}}"\n    cmdline: [".+"]\n')
    return [
        Exporter("node_exporter", ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{node_port}"],
                 f"http://127.0.0.1:{node_port}/metrics"),
        Exporter("process_exporter", ["prometheus-process-exporter", "-web.listen-address", f"127.0.0.1:{process_port}",
                                      "-config.path", f"{workdir}/process-exporter.yml", "-gather-smaps=true"],
                 f"http://127.0.0.1:{process_port}/metrics"),
        Exporter("postgres_exporter", ["prometheus-postgres-exporter", f"--web.listen-address=127.0.0.1:{pg_port}"],
                 f"http://127.0.0.1:{pg_port}/metrics", env=dict(os.environ, DATA_SOURCE_NAME=dsn_peer)),
        Exporter("redis_exporter", ["prometheus-redis-exporter", "-redis.addr", REDIS_URL, "-web.listen-address", f"127.0.0.1:{redis_port}",
                                    "-check-keys", "queue:*,schedule,retry,dead,stat:*"],
                 f"http://127.0.0.1:{redis_port}/metrics"),
        netdata(workdir),
    ]


def mastiff(workdir, name, collectors, sampling):
    port = free_port()
    if collectors is None:
        # The embedded defaults: only what must differ to run beside the others.
        path = f"{workdir}/{name}.yml"
        with open(path, "w") as f:
            f.write(f"listen: 127.0.0.1:{port}\nlog: {{level: warning}}\nstate_dir: {workdir}/{name}-state\n"
                    f"control_socket: {workdir}/{name}.sock\nstatsd: {{udp: 127.0.0.1:0}}\n")
    else:
        # statsd beside Netdata's (both default to 8125): on a port of its own.
        path = write_mastiff_config(workdir, name, port, collectors, sampling=sampling, statsd="127.0.0.1:0")
    return Exporter(name, [MASTIFF, "run", "--config", path], f"http://127.0.0.1:{port}/metrics")


def wait_for(exporters):
    for exporter in exporters:
        wait_until_up(exporter.health, exporter.process)
        if exporter.url:
            for _ in range(3):
                scrape(exporter.url)


def window(exporters, rounds, spacing):
    """Scrapes every exporter with a URL once per round, rounds `spacing` apart; returns each
    one's CPU seconds over the window and the window's length."""
    before = {e.name: e.cpu() for e in exporters}
    started = time.monotonic()
    for index in range(rounds):
        time.sleep(max(0.0, started + (index + 1) * spacing - time.monotonic()))
        for exporter in exporters:
            if exporter.url:
                scrape(exporter.url)
    elapsed = time.monotonic() - started
    return {e.name: e.cpu() - before[e.name] for e in exporters}, elapsed


def main():
    workdir = tempfile.mkdtemp(prefix="mastiff-bench-peers-")
    children = mastodon_shaped_processes(TARGET_PROCESSES)

    mastodon_bench_database(ENV, STATUSES, ["mastiff_bench", "pgexporter_bench"])
    children.append(working_sidekiq(REDIS_URL))
    time.sleep(3)

    dsn = f"host={SOCKET} port={PG_PORT} dbname=mastodon_bench user=mastiff_bench"
    every_collector = f"  postgres: {{dsn: \"{dsn}\"}}\n  redis: {{url: \"{REDIS_URL}\"}}\n"
    peer_dsn = f"host={SOCKET} port={PG_PORT} dbname=mastodon_bench user=pgexporter_bench sslmode=disable"
    exporters = []
    try:
        # Busy: a collection a second.
        exporters = [mastiff(workdir, "mastiff", every_collector, "1s")] + start_peers(workdir, peer_dsn)
        wait_for(exporters)
        time.sleep(5)
        busy_cpu, busy_seconds = window(exporters, ROUNDS, 1.0)
        busy_memory = {e.name: e.memory() for e in exporters}
        for exporter in exporters:
            exporter.stop()

        # Idle: sampling and scrapes every 15 s.
        exporters = [mastiff(workdir, "mastiff-idle", every_collector, None), mastiff(workdir, "mastiff-defaults", None, None)]
        exporters += start_peers(workdir, peer_dsn)
        wait_for(exporters)
        idle_cpu, idle_seconds = window(exporters, max(1, IDLE_SECONDS // 15), 15.0)
        idle_memory = {e.name: e.memory() for e in exporters}
    finally:
        for exporter in exporters:
            exporter.stop()
        for child in children:
            child.terminate()

    mib = lambda kib: kib / 1024
    names = ["mastiff"] + FOUR_PEERS + ["Netdata 1.37"]
    peers_rss = sum(busy_memory[n]["rss"] for n in FOUR_PEERS)
    peers_pss = sum(busy_memory[n]["pss"] for n in FOUR_PEERS)
    peers_cpu = sum(busy_cpu[n] for n in FOUR_PEERS)
    m_rss, m_pss, m_cpu = busy_memory["mastiff"]["rss"], busy_memory["mastiff"]["pss"], busy_cpu["mastiff"]
    n_rss, n_pss, n_cpu = busy_memory["Netdata 1.37"]["rss"], busy_memory["Netdata 1.37"]["pss"], busy_cpu["Netdata 1.37"]
    defaults_rss = idle_memory["mastiff-defaults"]["rss"]
    today = datetime.date.today().isoformat()
    out = []
    out.append(f"Last run: {today}, {process_count()} processes on the host after the run, {STATUSES} statuses, "
               f"{ROUNDS} rounds a second apart, idle window {int(idle_seconds)} s at 15 s.\n")
    out.append("| process | CPU ms per collection | idle CPU % of a core | RSS MiB | PSS MiB |")
    out.append("| --- | ---: | ---: | ---: | ---: |")
    for name in names:
        idle_name = "mastiff-idle" if name == "mastiff" else name
        out.append(f"| {name} | {busy_cpu[name] / ROUNDS * 1000:.1f} | {idle_cpu[idle_name] / idle_seconds * 100:.3f} | "
                   f"{mib(busy_memory[name]['rss']):.1f} | {mib(busy_memory[name]['pss']):.1f} |")
    out.append(f"| the four exporters | {peers_cpu / ROUNDS * 1000:.1f} | "
               f"{sum(idle_cpu[n] for n in FOUR_PEERS) / idle_seconds * 100:.3f} | {mib(peers_rss):.1f} | {mib(peers_pss):.1f} |")
    out.append(f"| mastiff, embedded defaults, idle | | {idle_cpu['mastiff-defaults'] / idle_seconds * 100:.3f} | "
               f"{mib(defaults_rss):.1f} | {mib(idle_memory['mastiff-defaults']['pss']):.1f} |")
    out.append("")
    out.append("| figure | target | measured |")
    out.append("| --- | --- | --- |")
    verdict = lambda ok: "" if ok else " (missed)"
    out.append(f"| mastiff RSS / the four exporters' | ≤ 0.25× | **{m_rss / peers_rss:.2f}×** ({mib(m_rss):.1f} / {mib(peers_rss):.1f} MiB; "
               f"PSS {m_pss / peers_pss:.2f}×){verdict(m_rss / peers_rss <= 0.25)} |")
    out.append(f"| mastiff RSS / Netdata's | ≤ 0.2× | **{m_rss / n_rss:.2f}×** ({mib(m_rss):.1f} / {mib(n_rss):.1f} MiB; "
               f"PSS {m_pss / n_pss:.2f}×){verdict(m_rss / n_rss <= 0.2)} |")
    out.append(f"| mastiff CPU per collection / the four exporters' | ≤ 0.15× | **{m_cpu / peers_cpu:.2f}×** "
               f"({m_cpu / ROUNDS * 1000:.1f} / {peers_cpu / ROUNDS * 1000:.1f} ms; Netdata {n_cpu / ROUNDS * 1000:.1f} ms a second)"
               f"{verdict(m_cpu / peers_cpu <= 0.15)} |")
    out.append(f"| embedded defaults, idle, RSS | ≤ 16 MiB | **{mib(defaults_rss):.1f} MiB**{verdict(mib(defaults_rss) <= 16)} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
