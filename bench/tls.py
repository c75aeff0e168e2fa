#!/usr/bin/env python3
"""HTTPS against plain HTTP (issue 25): scrape latency with a new connection per scrape (so the
TLS handshake is in it, as Prometheus pays it when its connection is not reused), and resident
memory with TLS on and off. Same binary, same collectors (system, processes with PSS), sampling
every second; both agents run side by side.

    bench/tls.sh                  # builds the release binary and certificates, runs this

Environment: MASTIFF_RELEASE_BINARY, BENCH_SCRAPES (default 200), BENCH_CERT_DIR (ca.pem,
server.pem, server.key; bench/tls.sh makes them).
"""
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from exporter_measurement import free_port, memory_kib, wait_until_up, write_mastiff_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MASTIFF = os.environ.get("MASTIFF_RELEASE_BINARY", f"{ROOT}/.build-release/release/mastiff")
SCRAPES = int(os.environ.get("BENCH_SCRAPES", "200"))
CERTS = os.environ.get("BENCH_CERT_DIR") or sys.exit("BENCH_CERT_DIR: a directory with ca.pem, server.pem, server.key (bench/tls.sh)")
COLLECTORS = "  processes: {pss: true}\n  postgres: {enabled: false}\n  redis: {enabled: false}\n  sidekiq: {enabled: false}\n"


def timed_scrapes(url, context):
    durations = []
    for _ in range(SCRAPES):
        started = time.monotonic()
        request = urllib.request.Request(url, headers={"Accept-Encoding": "identity", "Connection": "close"})
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            response.read()
        durations.append((time.monotonic() - started) * 1000)
        time.sleep(0.05)
    return durations


def main():
    with tempfile.TemporaryDirectory() as workdir:
        web = f"{workdir}/web.yml"
        with open(web, "w") as f:
            f.write(f"tls_server_config:\n  cert_file: {CERTS}/server.pem\n  key_file: {CERTS}/server.key\n")
        agents = {}
        for name, tls in (("plain", False), ("tls", True)):
            port = free_port()
            path = write_mastiff_config(workdir, name, port, COLLECTORS, statsd=False)
            if tls:
                with open(path, "a") as f:
                    f.write(f"web_config: {web}\n")
            process = subprocess.Popen([MASTIFF, "run", "--config", path])
            scheme = "https" if tls else "http"
            agents[name] = (process, f"{scheme}://127.0.0.1:{port}/metrics")
        context = ssl.create_default_context(cafile=f"{CERTS}/ca.pem")
        for _ in range(100):
            try:
                for name, (_, url) in agents.items():
                    urllib.request.urlopen(url, timeout=5, context=context if url.startswith("https") else None).read()
                break
            except OSError:
                time.sleep(0.1)
        idle = {name: memory_kib(process.pid) for name, (process, _) in agents.items()}
        results = {}
        for name, (process, url) in agents.items():
            durations = timed_scrapes(url, context if url.startswith("https") else None)
            results[name] = (statistics.median(durations), sorted(durations)[int(len(durations) * 0.99) - 1], memory_kib(process.pid))
        for process, _ in agents.values():
            process.terminate()
            process.wait(timeout=15)
    print(f"{SCRAPES} scrapes each, a new connection per scrape, side by side\n")
    print("| agent | scrape ms (median) | p99 ms | RSS MiB before scrapes | RSS MiB after | private MiB after |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in ("plain", "tls"):
        median, p99, memory = results[name]
        print(f"| {name} | {median:.2f} | {p99:.2f} | {idle[name]['rss'] / 1024:.1f} | {memory['rss'] / 1024:.1f} | {memory['private'] / 1024:.1f} |")
    print(f"\nTLS adds {results['tls'][0] - results['plain'][0]:.2f} ms per scrape (median) and "
          f"{(results['tls'][2]['rss'] - results['plain'][2]['rss']) / 1024:+.1f} MiB RSS")


if __name__ == "__main__":
    main()
