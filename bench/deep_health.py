#!/usr/bin/env python3
"""Issue 26's /health/deep figure: the time to answer it, on a running agent (release build) with
PostgreSQL, Redis and web/streaming probes of a local HTTP server. Keep-alive requests, as an
uptime checker or a load balancer sends them.

    MASTIFF_RELEASE_BINARY=... BENCH_REQUESTS=2000 python3 bench/deep_health.py
"""
import http.client
import http.server
import json
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time

binary = os.environ.get("MASTIFF_RELEASE_BINARY", ".build-release/release/mastiff")
requests = int(os.environ.get("BENCH_REQUESTS", "2000"))


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *arguments):
        pass


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
threading.Thread(target=server.serve_forever, daemon=True).start()
base = "http://127.0.0.1:%d" % server.server_address[1]
port = free_port()
directory = tempfile.mkdtemp(prefix="mastiff-bench-health.")
config = os.path.join(directory, "mastiff.yml")
with open(config, "w") as handle:
    handle.write(f"""listen: 127.0.0.1:{port}
state_dir: {directory}/state
control_socket: ""
statsd: {{enabled: false}}
sampling: {{interval: 5s}}
collectors:
  postgres: {{dsn: "{os.environ['MASTIFF_TEST_PG_DSN']}"}}
  redis: {{url: "redis://127.0.0.1:{os.environ['MASTIFF_TEST_REDIS_PORT']}/0"}}
  # No Sidekiq runs here: its part would fail the check (no live process).
  sidekiq: {{enabled: false}}
  probes: [{{name: web, url: "{base}/health", body_contains: OK}}, {{name: streaming, url: "{base}/health", body_contains: OK}}]
""")
agent = subprocess.Popen([binary, "run", "--config", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    deadline = time.time() + 30
    status, body = None, ""
    while time.time() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/health/deep")
            response = connection.getresponse()
            body = response.read().decode()
            status = response.status
            if status == 200:
                break
        except OSError:
            pass
        time.sleep(0.2)
    assert status == 200, f"/health/deep answered {status}: {body}"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        connection.request("GET", "/health/deep")
        response = connection.getresponse()
        response.read()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    print("/health/deep: %d keep-alive requests, median %.3f ms, p99 %.3f ms, max %.3f ms (client included)"
          % (requests, statistics.median(times), times[int(len(times) * 0.99) - 1], times[-1]))
finally:
    agent.terminate()
    agent.wait(10)
    server.shutdown()
