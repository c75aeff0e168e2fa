#!/usr/bin/env python3
"""Memory and CPU of `mastiff run` (system + process collectors) against Debian's
prometheus-node-exporter and prometheus-process-exporter, measured in the same run.

    bench/footprint.sh            # builds the release binary, installs the peers, runs this

Environment: BENCH_SCRAPES (default 100), BENCH_IDLE_SECONDS (default 120), BENCH_PROCESSES
(default 150: sleeping processes are added until the host has this many), MASTIFF_RELEASE_BINARY.

What is measured, per exporter process:
- CPU per scrape: utime+stime from /proc/PID/stat across BENCH_SCRAPES sequential scrapes of
  /metrics (uncompressed), divided by the count. Includes the exporter's idle work in that time.
- RSS, PSS and private memory (Private_Clean + Private_Dirty) from smaps_rollup after the scrapes.
- mastiff's idle CPU: one scrape every 15 s for BENCH_IDLE_SECONDS, CPU time / wall time.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from exporter_measurement import (cpu_seconds, free_port, mastodon_shaped_processes, memory_kib, process_count, scrape, wait_until_up,
                                  write_mastiff_config)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MASTIFF = os.environ.get("MASTIFF_RELEASE_BINARY", f"{ROOT}/.build-release/release/mastiff")
SCRAPES = int(os.environ.get("BENCH_SCRAPES", "100"))
IDLE_SECONDS = int(os.environ.get("BENCH_IDLE_SECONDS", "120"))
TARGET_PROCESSES = int(os.environ.get("BENCH_PROCESSES", "150"))
# mastiff answers scrapes from samples taken every sampling.interval (ADR 10): scrapes are spaced
# by the interval (1 s here) so that each one costs a collection, as a scrape did before.
SPACING = float(os.environ.get("BENCH_SPACING", "1"))


def main():
    workdir = tempfile.mkdtemp(prefix="mastiff-bench-")
    children = mastodon_shaped_processes(TARGET_PROCESSES)
    time.sleep(0.5)
    processes_seen = process_count()

    mastiff_port, node_port, process_port = free_port(), free_port(), free_port()
    # The system and process collectors, as the issue measures them (bench/datasources.py
    # measures the database and Redis collectors).
    system_and_processes = "  postgres: {enabled: false}\n  redis: {enabled: false}\n  sidekiq: {enabled: false}\n"
    mastiff_config = write_mastiff_config(workdir, "mastiff", mastiff_port, system_and_processes)
    with open(f"{workdir}/process-exporter.yml", "w") as f:
        f.write('process_names:\n  - name: "{{.Comm}}"\n    cmdline: [".+"]\n')

    exporters = {
        "mastiff": (subprocess.Popen([MASTIFF, "run", "--config", mastiff_config]), mastiff_port),
        "node_exporter": (subprocess.Popen(["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{node_port}"],
                                           stderr=subprocess.DEVNULL), node_port),
        "process_exporter": (subprocess.Popen(["prometheus-process-exporter", "-web.listen-address", f"127.0.0.1:{process_port}",
                                               "-config.path", f"{workdir}/process-exporter.yml", "-gather-smaps=true"],
                                              stderr=subprocess.DEVNULL), process_port),
    }
    try:
        results = {}
        for name, (process, port) in exporters.items():
            url = f"http://127.0.0.1:{port}/metrics"
            wait_until_up(url, process)
            for _ in range(3):
                scrape(url)
            before = cpu_seconds(process.pid)
            wall = 0.0
            size = 0
            for _ in range(SCRAPES):
                time.sleep(SPACING)
                started = time.monotonic()
                size = len(scrape(url))
                wall += time.monotonic() - started
            cpu = cpu_seconds(process.pid) - before
            results[name] = {"cpu_ms_per_scrape": cpu / SCRAPES * 1000, "wall_ms_per_scrape": wall / SCRAPES * 1000,
                             "bytes": size, **memory_kib(process.pid)}

        # Idle: only mastiff, at the default sampling interval (15 s), one scrape every 15 s as
        # Prometheus would.
        for process, _ in exporters.values():
            process.terminate()
        port = free_port()
        idle_config = write_mastiff_config(workdir, "mastiff-idle", port, system_and_processes, sampling=None)
        mastiff = subprocess.Popen([MASTIFF, "run", "--config", idle_config])
        exporters["mastiff-idle"] = (mastiff, port)
        url = f"http://127.0.0.1:{port}/metrics"
        wait_until_up(url, mastiff)
        before = cpu_seconds(mastiff.pid)
        started = time.monotonic()
        while time.monotonic() - started < IDLE_SECONDS:
            scrape(url)
            time.sleep(15)
        idle_percent = (cpu_seconds(mastiff.pid) - before) / (time.monotonic() - started) * 100
    finally:
        for process, _ in exporters.values():
            process.terminate()
        for child in children:
            child.terminate()

    m, n, p = results["mastiff"], results["node_exporter"], results["process_exporter"]
    peers_rss = n["rss"] + p["rss"]
    print(f"# footprint: {processes_seen} processes on the host, {SCRAPES} scrapes each, idle window {IDLE_SECONDS} s\n")
    print("| exporter | CPU ms/scrape | wall ms/scrape | RSS MiB | PSS MiB | private MiB | body KiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        print(f"| {name} | {r['cpu_ms_per_scrape']:.2f} | {r['wall_ms_per_scrape']:.2f} | {r['rss'] / 1024:.1f} | "
              f"{r['pss'] / 1024:.1f} | {r['private'] / 1024:.1f} | {r['bytes'] / 1024:.0f} |")
    print()
    print(f"- mastiff RSS / (node_exporter + process_exporter RSS) = {m['rss'] / peers_rss:.2f} "
          f"({m['rss'] / 1024:.1f} / {peers_rss / 1024:.1f} MiB)")
    print(f"- mastiff CPU per scrape / process_exporter's = {m['cpu_ms_per_scrape'] / p['cpu_ms_per_scrape']:.2f}")
    print(f"- mastiff idle CPU with a scrape every 15 s: {idle_percent:.3f}% of one core")


if __name__ == "__main__":
    main()
