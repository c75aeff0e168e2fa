#!/usr/bin/env python3
"""Issue 10's figures (bench/notifications.sh builds and runs this):

- latency from an alert turning firing (mastiff's "alert firing" log line) to a webhook
  receiving its notification, on loopback, for group_wait 0s and 2s (BENCH_ROUNDS each);
- 10,000 queued notifications in the state file: its size, and the time a restart takes to
  read and restore it (notify-bench).
"""
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BENCH_BUILD_DIR", os.path.join(ROOT, ".build-release", "release"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
RECORDER = os.path.join(ROOT, "Tests", "IntegrationTests", "Fixtures", "notifications", "recording_server.py")
sys.path.insert(0, os.path.join(ROOT, "bench"))
from exporter_measurement import free_port  # noqa: E402


def latency(group_wait, workdir):
    port = free_port()
    log = os.path.join(workdir, "requests-%s.jsonl" % time.time_ns())
    recorder = subprocess.Popen(["/usr/bin/python3", RECORDER, str(port), log, "200"])
    rules = os.path.join(workdir, "rules.yml")
    with open(rules, "w") as handle:
        handle.write("groups:\n  - name: bench\n    rules:\n      - {alert: AlwaysOn, expr: vector(1), labels: {severity: warning}}\n")
    state = tempfile.mkdtemp(dir=workdir)
    config = os.path.join(state, "mastiff.yml")
    with open(config, "w") as handle:
        handle.write(f"""listen: 127.0.0.1:0
state_dir: {state}
control_socket: ""
statsd: {{enabled: false}}
sampling: {{interval: 1s}}
collectors: {{postgres: {{enabled: false}}, redis: {{enabled: false}}, sidekiq: {{enabled: false}}, processes: {{enabled: false}}}}
alerts:
  builtin: false
  rule_files: [{rules}]
  group_wait: {group_wait}
  receivers: [{{name: hook, webhook: {{url: "http://127.0.0.1:{port}/hook"}}}}]
""")
    time.sleep(0.5)
    stderr = os.path.join(state, "stderr.log")
    with open(stderr, "w") as err:
        mastiff = subprocess.Popen([os.path.join(BUILD, "mastiff"), "run", "--config", config], stderr=err, stdout=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            if os.path.exists(log) and os.path.getsize(log) > 0:
                break
            time.sleep(0.05)
        received = json.loads(open(log).readline())["time"]
        firing = next(line for line in open(stderr) if "alert firing" in line)
        stamp = datetime.datetime.strptime(firing.split(" ")[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        return received - stamp.timestamp()
    finally:
        mastiff.terminate()
        mastiff.wait()
        recorder.terminate()
        recorder.wait()


def main():
    workdir = tempfile.mkdtemp(prefix="mastiff-bench-notify.")
    print(f"machine: {os.cpu_count()} cores; build {BUILD}; {ROUNDS} rounds")
    for group_wait, seconds in (("0s", 0), ("2s", 2)):
        values = [latency(group_wait, workdir) for _ in range(ROUNDS)]
        print(f"firing -> webhook, group_wait {group_wait}: median {statistics.median(values):.3f} s, max {max(values):.3f} s "
              f"(target <= {seconds + 1} s) [{', '.join(f'{v:.3f}' for v in values)}]")
    queue_dir = tempfile.mkdtemp(dir=workdir)
    print(subprocess.run([os.path.join(BUILD, "notify-bench"), queue_dir], capture_output=True, text=True, check=True).stdout.strip())


if __name__ == "__main__":
    main()
