"""Soak (issue 27): mastiff with every feature on for SOAK_SECONDS, asserting that it holds steady.

Runs against the private services of scripts/services.sh (whose env file is SERVICES_ENV):
- collectors: system, processes, PostgreSQL, Redis and Sidekiq's (no Sidekiq runs: it reads the
  empty queues);
- statsd at SOAK_RATE lines/s (default 20,000) from bench/c/statsd_blast, the series churning:
  every 10 s a new set of 500 series replaces the last, and a mapping ttl of 20 s expires them;
- the built-in rules plus one that fires and resolves every minute, notified to a local webhook;
- a backup of a 20 MB PostgreSQL database (age-encrypted, 5 MiB parts) to moto on
  SOAK_BACKUP_SCHEDULE (default every 10 minutes), every one kept;
- a status page request every second and a /metrics scrape every 5 s.

Every 5 s it reads mastiff's RSS (smaps_rollup), open file descriptors and threads. After a
warm-up (a quarter of the run, at least 60 s: the statsd mapping cache fills in about that), it
asserts:
- RSS does not drift: the median of the last fifth of the samples after the warm-up is within
  +-5 % of the median of the first fifth (samples in the first 30 s of a backup slot left out: a
  backup holds two 5 MiB parts by design);
- file descriptors and threads do not grow: the median of the last fifth of the samples is at
  most 2 above the median of the first fifth after the warm-up (requests in flight come and go);
- every backup it made is listed and passes `mastiff backup verify`;
- notifications arrived, statsd series churned (expired), and mastiff never exited.

Prints the figures; exits 1 on a failed assertion. bench/soak.sh runs it for 30 minutes on the
release build; scripts/test.sh for 2 minutes (also on the release build).
"""
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from exporter_measurement import free_port, memory_kib, scrape, wait_until_up  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("BENCH_BUILD_DIR", ".build-release/release"))
SECONDS = float(os.environ.get("SOAK_SECONDS", "1800"))
RATE = int(os.environ.get("SOAK_RATE", "20000"))
BACKUP_SCHEDULE = os.environ.get("SOAK_BACKUP_SCHEDULE", "*/10 * * * *")
WARMUP = max(60.0, SECONDS / 4)
CHURN_SECONDS = 10
SERIES_PER_CHURN = 500


def load_env(path):
    env = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export "):]
        if "=" in line:
            name, value = line.split("=", 1)
            env[name] = value.strip("'\"")
    return env


class Webhook(http.server.BaseHTTPRequestHandler):
    received = 0

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Webhook.received += 1
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def backup_period_minutes():
    minute = BACKUP_SCHEDULE.split()[0]
    return int(minute[2:]) if minute.startswith("*/") else 1 if minute == "*" else 60


def in_backup_window(wall):
    """Whether a scheduled backup may be running: the first 30 s of a slot's minute. A backup
    holds two part buffers (2 x 5 MiB here) by design; RSS is compared outside these windows."""
    minutes = int(wall // 60)
    return minutes % backup_period_minutes() == 0 and wall % 60 < 30


def counts(pid):
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    threads = len(os.listdir(f"/proc/{pid}/task"))
    return fds, threads


def main():
    services = load_env(os.environ["SERVICES_ENV"])
    work = tempfile.mkdtemp(prefix="mastiff-soak.")
    port, statsd_port = free_port(), free_port()
    webhook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=webhook.serve_forever, daemon=True).start()
    identity = os.path.join(work, "identity.txt")
    subprocess.run(["age-keygen", "-o", identity], check=True, capture_output=True)
    recipient = subprocess.run(["age-keygen", "-y", identity], check=True, capture_output=True, text=True).stdout.strip()
    with open(os.path.join(work, "mapping.yml"), "w") as f:
        f.write("defaults: {ttl: 20s}\nmappings:\n"
                "  - {match: 'soak.*.hits', name: soak_hits, labels: {series: '$1'}}\n"
                "  - {match: 'soak.*.time', name: soak_time_seconds, observer_type: histogram, labels: {series: '$1'}}\n"
                "  - {match: 'soak.*.level', name: soak_level, labels: {series: '$1'}}\n")
    with open(os.path.join(work, "soak.rules.yml"), "w") as f:
        f.write("groups:\n  - name: soak\n    interval: 5s\n    rules:\n"
                "      - alert: SoakMinuteFlip\n        expr: vector(time() % 60) < 30\n        labels: {severity: warning}\n"
                "        annotations: {summary: 'flips every minute'}\n")
    psql = [os.path.join(services["MASTIFF_TEST_PG_BIN"], "psql"), "-h", services["MASTIFF_TEST_PG_SOCKET_DIR"], "-p", services["MASTIFF_TEST_PG_PORT"],
            "-U", "postgres", "-qAt"]
    subprocess.run(psql + ["-d", "postgres", "-c", "CREATE DATABASE soak"], check=True)
    subprocess.run(psql + ["-d", "soak", "-c", "CREATE TABLE statuses AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS text "
                           "FROM generate_series(1, 200000) g"], check=True)
    dsn = f"host={services['MASTIFF_TEST_PG_SOCKET_DIR']} port={services['MASTIFF_TEST_PG_PORT']} user=postgres dbname=soak"
    redis = f"redis://127.0.0.1:{services['MASTIFF_TEST_REDIS_PORT']}/0"
    config = os.path.join(work, "mastiff.yml")
    with open(config, "w") as f:
        f.write(f"""listen: 127.0.0.1:{port}
log: {{level: info}}
state_dir: {work}/state
control_socket: {work}/control.sock
sampling: {{interval: 2s}}
collectors:
  postgres: {{dsn: "{dsn}", size_interval: 10s, mastodon_interval: 30s}}
  redis: {{url: "{redis}"}}
statsd: {{udp: "127.0.0.1:{statsd_port}", mapping: {work}/mapping.yml}}
alerts:
  rule_files: [{work}/soak.rules.yml]
  group_wait: 0s
  group_interval: 10s
  repeat_interval: 1m
  receivers:
    - {{name: hook, webhook: {{url: "http://127.0.0.1:{webhook.server_address[1]}/hook"}}}}
backups:
  enabled: true
  storage:
    endpoint: {services['MASTIFF_TEST_S3_ENDPOINT']}
    bucket: {services['MASTIFF_TEST_S3_BUCKET']}
    prefix: soak-{os.getpid()}/
    access_key_id: {services['MASTIFF_TEST_S3_ACCESS_KEY']}
    secret_access_key: "{services['MASTIFF_TEST_S3_SECRET_KEY']}"
    part_size: 5MiB
  encryption: {{recipients: [{recipient}], identity_file: {identity}}}
  postgres: {{schedule: "{BACKUP_SCHEDULE}", nice: 0}}
  retention: {{keep_last: 1000}}
  redis: {{enabled: false}}
""")
    blast = os.path.join(work, "statsd_blast")
    subprocess.run(["gcc", "-O2", "-o", blast, os.path.join(ROOT, "bench/c/statsd_blast.c")], check=True)
    log = open(os.path.join(work, "mastiff.log"), "w")
    mastiff = subprocess.Popen([os.path.join(BUILD, "mastiff"), "run", "--config", config], stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    failures = []
    samples = []  # (seconds since start, rss KiB, fds, threads)
    try:
        wait_until_up(base + "/healthz", mastiff)
        start = time.monotonic()
        stop = threading.Event()

        def statsd():
            churn = 0
            while not stop.is_set():
                corpus = os.path.join(work, f"corpus-{churn % 2}.txt")
                with open(corpus, "w") as f:
                    for index in range(SERIES_PER_CHURN):
                        series = churn * SERIES_PER_CHURN + index
                        f.write(f"soak.s{series}.hits:1|c\nsoak.s{series}.time:{index % 97}|ms\nsoak.s{series}.level:{index}|g\n"
                                f"Mastodon.production.web.ApiController.index.json.total_duration:{index % 50}|ms\n")
                subprocess.run([blast, "127.0.0.1", str(statsd_port), corpus, str(RATE), str(CHURN_SECONDS), "1"],
                               stdout=subprocess.DEVNULL, check=True)
                churn += 1

        def requests():
            tick = 0
            while not stop.is_set():
                try:
                    scrape(base + "/")
                    if tick % 5 == 0:
                        scrape(base + "/metrics")
                except OSError as error:
                    failures.append(f"a request failed: {error}")
                tick += 1
                stop.wait(1)

        threads = [threading.Thread(target=statsd, daemon=True), threading.Thread(target=requests, daemon=True)]
        for thread in threads:
            thread.start()
        next_sample = start
        while time.monotonic() - start < SECONDS:
            if mastiff.poll() is not None:
                failures.append(f"mastiff exited with {mastiff.returncode}")
                break
            fds, task_count = counts(mastiff.pid)
            samples.append((time.monotonic() - start, memory_kib(mastiff.pid)["rss"], fds, task_count, in_backup_window(time.time())))
            next_sample += 5
            time.sleep(max(0.0, next_sample - time.monotonic()))
        metrics = scrape(base + "/metrics")
        stop.set()
        for thread in threads:
            thread.join(timeout=CHURN_SECONDS + 5)
    finally:
        if mastiff.poll() is None:
            mastiff.terminate()
            mastiff.wait(timeout=30)
        log.close()

    def value(name):
        for line in metrics.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    with open(os.path.join(work, "samples.csv"), "w") as f:
        f.write("seconds,rss_kib,fds,threads,backup_window\n")
        for sample in samples:
            f.write(",".join(str(v) for v in sample) + "\n")
    print(f"  samples every 5 s: {work}/samples.csv")
    after = [s for s in samples if s[0] >= WARMUP]
    quiet = [s for s in after if not s[4]]
    if len(quiet) < 5:
        sys.exit(f"soak: too few samples after the warm-up ({len(quiet)}); failures: {failures}")
    # Drift is growth over the run, not a moment's height: the median of the last fifth of the
    # samples against the median of the first fifth (a leak moves both the median and the end;
    # a transient, such as a backup's memory given back some seconds after it ends, neither).
    part = max(3, len(quiet) // 5)
    baseline_rss = statistics.median(s[1] for s in quiet[:part])
    end_rss = statistics.median(s[1] for s in quiet[-part:])
    drift = abs(end_rss - baseline_rss) / baseline_rss * 100
    widest = max(abs(s[1] - baseline_rss) for s in quiet) / baseline_rss * 100
    backup_peak = max(s[1] for s in after)
    fifth = max(1, len(after) // 5)
    fd_growth = statistics.median(s[2] for s in after[-fifth:]) - statistics.median(s[2] for s in after[:fifth])
    thread_growth = statistics.median(s[3] for s in after[-fifth:]) - statistics.median(s[3] for s in after[:fifth])
    listed = json.loads(subprocess.run([os.path.join(BUILD, "mastiff"), "backup", "list", "--json", "--config", config],
                                       check=True, capture_output=True, text=True).stdout)
    backups = listed if isinstance(listed, list) else listed.get("backups", [])
    verified = 0
    for backup in backups:
        key = backup.get("key") or backup.get("data_key")
        result = subprocess.run([os.path.join(BUILD, "mastiff"), "backup", "verify", key, "--config", config], capture_output=True, text=True)
        if result.returncode == 0:
            verified += 1
        else:
            failures.append(f"backup {key} does not verify: {result.stdout}{result.stderr}")
    # Whole schedule periods in the run, less one for the start falling mid-period.
    expected_backups = max(0, int(SECONDS // (60 * backup_period_minutes())) - 1)
    if len(backups) < expected_backups:
        failures.append(f"{len(backups)} backups made, expected at least {expected_backups}")
    expired = value("statsd_series_expired_total") or 0
    lines = value("statsd_lines_total") or value("statsd_events_total") or 0
    print(f"soak: {SECONDS:.0f} s ({WARMUP:.0f} s warm-up), statsd {RATE} lines/s churning {SERIES_PER_CHURN} series every {CHURN_SECONDS} s, "
          f"backups on '{BACKUP_SCHEDULE}'")
    print(f"  RSS after warm-up {baseline_rss / 1024:.1f} MiB, at the end {end_rss / 1024:.1f} MiB (medians of {part} samples): "
          f"drift {drift:.1f} % (target <= 5 %); widest single sample {widest:.1f} % off; peak during a backup {backup_peak / 1024:.1f} MiB")
    step = max(3, len(samples) // 30)
    print(f"  RSS MiB every {step * 5} s: " + " ".join(f"{s[1] / 1024:.1f}{'*' if s[4] else ''}" for s in samples[::step]) + "  (* a backup may run)")
    print(f"  fds {after[0][2]} -> {after[-1][2]} (median growth {fd_growth:+.1f}); threads {after[0][3]} -> {after[-1][3]} (median growth {thread_growth:+.1f})")
    print(f"  webhook notifications {Webhook.received}; statsd lines {lines:.0f}, series expired {expired:.0f}; "
          f"backups {len(backups)}, verified {verified}")
    if drift > 5:
        failures.append(f"RSS drifted {drift:.1f} % after the warm-up")
    if fd_growth > 2:
        failures.append(f"file descriptors grew by {fd_growth:.1f}")
    if thread_growth > 2:
        failures.append(f"threads grew by {thread_growth:.1f}")
    if Webhook.received == 0:
        failures.append("no notification reached the webhook")
    if expired == 0:
        failures.append("no statsd series expired: the churn did not go through the ttl")
    webhook.shutdown()
    if failures:
        print("soak FAILED:\n  " + "\n  ".join(failures[:20]))
        sys.exit(1)
    print("soak: ok")


if __name__ == "__main__":
    main()
