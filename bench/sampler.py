#!/usr/bin/env python3
"""The sampler's cost (issue 8), on the release binary, against the binary before the sampler.

    bench/sampler.sh              # builds both release binaries, starts PostgreSQL and Redis, runs this

Environment: MASTIFF_RELEASE_BINARY (with the sampler), BASELINE_BINARY (without: each scrape
collects; optional, the A/B figures are skipped without it), BENCH_IDLE_SECONDS (default 300),
BENCH_INTERVAL (seconds between scrapes and samples, default 15), BENCH_SCRAPES (default 20),
BENCH_RSS_SCRAPES (default 30),
MASTIFF_TEST_PG_DSN and MASTIFF_TEST_REDIS_PORT (from scripts/services.sh).

What is measured:
1. Idle CPU: the default collectors (system, processes, postgres, redis, sidekiq) sampling every
   BENCH_INTERVAL s and nothing scraping, for BENCH_IDLE_SECONDS: CPU time / wall time.
2. Collection CPU with a Prometheus-like scraper at BENCH_INTERVAL: BENCH_SCRAPES scrapes of both
   binaries, running side by side and scraped together; the ratio of their CPU over the same
   window, sampler / baseline. With the sampler at the scrape interval, scrapes are served from
   the samples.
3. RSS added: both binaries with the footprint benchmark's collectors (system + processes),
   scraped every second for 30 s (sampling every second), RSS from smaps_rollup at the end.
"""
import os
import subprocess
import sys
import tempfile
import time

from exporter_measurement import cpu_seconds, free_port, memory_kib, scrape, wait_until_up

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MASTIFF = os.environ.get("MASTIFF_RELEASE_BINARY", f"{ROOT}/.build-release/release/mastiff")
BASELINE = os.environ.get("BASELINE_BINARY", "")
IDLE_SECONDS = float(os.environ.get("BENCH_IDLE_SECONDS", "300"))
INTERVAL = float(os.environ.get("BENCH_INTERVAL", "15"))
SCRAPES = int(os.environ.get("BENCH_SCRAPES", "20"))
RSS_SCRAPES = int(os.environ.get("BENCH_RSS_SCRAPES", "30"))


def sample_value(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def start(binary, workdir, name, collectors, interval):
    port = free_port()
    path = f"{workdir}/{name}.yml"
    # The baseline predates the sampler and the control socket, and refuses their keys.
    agent = "" if binary == BASELINE else (f"control_socket: {workdir}/{name}.sock\n"
                                           f"sampling: {{interval: {int(interval)}s}}\n")
    with open(path, "w") as f:
        f.write(f"listen: 127.0.0.1:{port}\nlog: {{level: warning}}\nstate_dir: {workdir}/{name}-state\n"
                f"statsd: {{enabled: false}}\n{agent}collectors:\n{collectors}")
    process = subprocess.Popen([binary, "run", "--config", path])
    url = f"http://127.0.0.1:{port}/metrics"
    return process, url


def stop(process):
    process.terminate()
    process.wait(timeout=10)


def wait_for_first_sample(url, process):
    wait_until_up(url, process)
    time.sleep(0.5)


def main():
    dsn = os.environ.get("MASTIFF_TEST_PG_DSN")
    redis_port = os.environ.get("MASTIFF_TEST_REDIS_PORT")
    if not dsn or not redis_port:
        sys.exit("run through bench/sampler.sh (or source scripts/services.sh's env): PostgreSQL and Redis are needed")
    workdir = tempfile.mkdtemp(prefix="mastiff-sampler-bench-")
    defaults = (f'  postgres: {{dsn: "{dsn}"}}\n  redis: {{url: "redis://127.0.0.1:{redis_port}/0"}}\n')
    footprint = "  postgres: {enabled: false}\n  redis: {enabled: false}\n  sidekiq: {enabled: false}\n"

    # 1. Idle: nothing scrapes. The CPU is read from /proc; one scrape at the very end says how
    # many samples were taken. BENCH_IDLE_SECONDS=0 skips it.
    if IDLE_SECONDS > 0:
        measure_idle(workdir, defaults)
    measure_ratio_and_memory(workdir, defaults, footprint)


def measure_idle(workdir, defaults):
    process, url = start(MASTIFF, workdir, "idle", defaults, INTERVAL)
    wait_for_first_sample(url, process)
    cpu0, t0 = cpu_seconds(process.pid), time.monotonic()
    time.sleep(IDLE_SECONDS)
    cpu1, t1 = cpu_seconds(process.pid), time.monotonic()
    text = scrape(url)
    stop(process)
    idle_percent = 100 * (cpu1 - cpu0) / (t1 - t0)
    runs = sample_value(text, "mastiff_sample_runs_total")
    up = {name: sample_value(text, f"{name}_up") for name in ["postgres", "redis", "sidekiq"]}
    print(f"idle, default collectors sampling every {INTERVAL:g} s, no scrapes, {t1 - t0:.0f} s: "
          f"{idle_percent:.3f} % of a core ({runs:.0f} samples; sources up: {up})", flush=True)


def measure_ratio_and_memory(workdir, defaults, footprint):
    # 2. Collection CPU with scrapes at the interval, sampler vs baseline, both running at once
    # and scraped together, so that whatever else the host does weighs on both alike (a 10 ms
    # CPU tick makes short runs of one binary after the other vary by ±15 %).
    running = {}
    for name, binary in [("sampler", MASTIFF), ("baseline", BASELINE)]:
        if binary:
            running[name] = start(binary, workdir, f"ratio-{name}", defaults, INTERVAL)
    for process, url in running.values():
        wait_for_first_sample(url, process)
        scrape(url)
    cpu0 = {name: cpu_seconds(process.pid) for name, (process, _) in running.items()}
    texts = {}
    for _ in range(SCRAPES):
        time.sleep(INTERVAL)
        for name, (_, url) in running.items():
            texts[name] = scrape(url)
    cpu_per_binary = {name: cpu_seconds(process.pid) - cpu0[name] for name, (process, _) in running.items()}
    for name, (process, _) in running.items():
        stop(process)
        collections = sample_value(texts[name], "mastiff_sample_runs_total")
        print(f"{name}: {SCRAPES} scrapes every {INTERVAL:g} s: {1000 * cpu_per_binary[name] / SCRAPES:.2f} ms CPU per scrape"
              + (f" ({collections:.0f} collections in all)" if collections is not None else " (one collection per scrape)"), flush=True)
    if "baseline" in cpu_per_binary and cpu_per_binary["baseline"] > 0:
        print(f"collection CPU ratio, sampler / scrapes alone: {cpu_per_binary['sampler'] / cpu_per_binary['baseline']:.2f}")

    # 3. RSS with the footprint benchmark's collectors.
    rss = {}
    for name, binary in [("sampler", MASTIFF), ("baseline", BASELINE)]:
        if not binary:
            continue
        process, url = start(binary, workdir, f"rss-{name}", footprint, 1)
        wait_for_first_sample(url, process)
        for _ in range(RSS_SCRAPES):
            scrape(url)
            time.sleep(1)
        rss[name] = memory_kib(process.pid)
        stop(process)
        print(f"{name}: RSS {rss[name]['rss'] / 1024:.1f} MiB, PSS {rss[name]['pss'] / 1024:.1f} MiB, "
              f"private {rss[name]['private'] / 1024:.1f} MiB (system + processes, {RSS_SCRAPES} scrapes, 1 s apart)")
    if "baseline" in rss:
        print(f"RSS added by the sampler, snapshot and empty history: {(rss['sampler']['rss'] - rss['baseline']['rss']) / 1024:+.2f} MiB")


if __name__ == "__main__":
    main()
