#!/usr/bin/env python3
"""The redesign of issue 23 against the commit before it, side by side in one run.

    bench/architecture.sh         # builds both release binaries, starts PostgreSQL and Redis, runs this

Environment: MASTIFF_RELEASE_BINARY (after), BASELINE_BINARY (before; required), BENCH_SECONDS
(default 120), MASTIFF_TEST_PG_DSN and MASTIFF_TEST_REDIS_PORT (from scripts/services.sh).

Both binaries run at once with the same configuration: every default collector (system,
processes with PSS, postgres, redis, sidekiq), the built-in rules, statsd on, sampling every
second, and a scraper on each every second. Measured per binary:
- CPU per collection: utime+stime over the window / samples taken in it
  (mastiff_sample_runs_total), so sampling, rule evaluation and the scrapes are all in it;
- RSS, PSS and private memory from smaps_rollup at the end.
"""
import os
import subprocess
import sys
import tempfile
import time

from exporter_measurement import cpu_seconds, free_port, memory_kib, scrape, wait_until_up, write_mastiff_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AFTER = os.environ.get("MASTIFF_RELEASE_BINARY", f"{ROOT}/.build-release/release/mastiff")
BEFORE = os.environ.get("BASELINE_BINARY") or sys.exit("BASELINE_BINARY: the release binary of the commit before (bench/architecture.sh builds it)")
SECONDS = float(os.environ.get("BENCH_SECONDS", "120"))


def sample_runs(text):
    for line in text.splitlines():
        if line.startswith("mastiff_sample_runs_total "):
            return float(line.split()[1])
    sys.exit("no mastiff_sample_runs_total in the scrape")


def main():
    dsn = os.environ["MASTIFF_TEST_PG_DSN"]
    redis = f"redis://127.0.0.1:{os.environ['MASTIFF_TEST_REDIS_PORT']}/0"
    collectors = (f"  processes: {{pss: true}}\n  postgres: {{dsn: \"{dsn}\"}}\n  redis: {{url: \"{redis}\"}}\n"
                  f"  sidekiq: {{enabled: true}}\n")
    with tempfile.TemporaryDirectory() as workdir:
        agents = {}
        for name, binary in (("before", BEFORE), ("after", AFTER)):
            port = free_port()
            path = write_mastiff_config(workdir, name, port, collectors)
            with open(path, "a") as f:
                f.write(f"statsd: {{udp: \"127.0.0.1:{free_port()}\", tcp: \"\"}}\n")
            process = subprocess.Popen([binary, "run", "--config", path])
            url = f"http://127.0.0.1:{port}/metrics"
            wait_until_up(url, process)
            agents[name] = (process, url)
        time.sleep(5)  # past the first samples and rule loads
        start = {name: (cpu_seconds(p.pid), sample_runs(scrape(url))) for name, (p, url) in agents.items()}
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            for _, url in agents.values():
                scrape(url)
            time.sleep(1)
        rows = {}
        for name, (process, url) in agents.items():
            cpu = cpu_seconds(process.pid) - start[name][0]
            samples = sample_runs(scrape(url)) - start[name][1]
            rows[name] = (cpu * 1000 / max(samples, 1), samples, memory_kib(process.pid))
        for process, _ in agents.values():
            process.terminate()
            process.wait(timeout=15)
    print(f"{SECONDS:.0f} s, sampling and scraping every second, both binaries side by side\n")
    print("| build | CPU ms/collection | samples | RSS MiB | PSS MiB | private MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in ("before", "after"):
        cpu, samples, memory = rows[name]
        print(f"| {name} | {cpu:.2f} | {samples:.0f} | {memory['rss'] / 1024:.1f} | {memory['pss'] / 1024:.1f} | {memory['private'] / 1024:.1f} |")
    print(f"\nafter / before: CPU {rows['after'][0] / rows['before'][0]:.2f}×, RSS {rows['after'][2]['rss'] / rows['before'][2]['rss']:.2f}×")


if __name__ == "__main__":
    main()
