"""Helpers shared by the benchmarks: ports, per-process CPU time, scrapes."""
import os
import socket
import subprocess
import sys
import time
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid, reaped_children=False):
    """utime + stime of a process, from /proc/PID/stat; with reaped_children, plus cutime + cstime
    (what its children that have exited and been waited for used)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def scrape(url):
    """One uncompressed GET; returns the body as text."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def wait_until_up(url, process):
    for _ in range(300):
        if process.poll() is not None:
            sys.exit(f"{url}: exporter exited with {process.returncode}")
        try:
            scrape(url)
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{url} did not come up")


def memory_kib(pid):
    """RSS, PSS and private memory (Private_Clean + Private_Dirty) of a process, in KiB, from
    /proc/PID/smaps_rollup."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                values[parts[0][:-1]] = int(parts[1])
    return {"rss": values["Rss"], "pss": values["Pss"],
            "private": values.get("Private_Clean", 0) + values.get("Private_Dirty", 0)}


def write_mastiff_config(workdir, name, port, collectors, sampling="1s", statsd=True):
    """Writes {workdir}/{name}.yml for one benchmark agent: warnings only, its own state
    directory and control socket, `collectors` (YAML lines under `collectors:`), the sampling
    interval (None: the default 15 s), statsd on its default address (True), off (False) or on
    the address given. Returns the path."""
    path = f"{workdir}/{name}.yml"
    with open(path, "w") as f:
        f.write(f"listen: 127.0.0.1:{port}\nlog: {{level: warning}}\n"
                + (f"sampling: {{interval: {sampling}}}\n" if sampling else "")
                + ("" if statsd is True else f"statsd: {{udp: \"{statsd}\"}}\n" if statsd else "statsd: {enabled: false}\n")
                + f"state_dir: {workdir}/{name}-state\ncontrol_socket: {workdir}/{name}.sock\ncollectors:\n{collectors}")
    return path


def process_tree(pid):
    """pid and every process below it (through /proc/PID/task/TID/children)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    queue.extend(int(child) for child in f.read().split())
        except OSError:
            continue
    return found


def tree_cpu_seconds(pid):
    """utime + stime of a process and its live descendants, plus what its reaped children used
    (cutime + cstime), so that a plugin that ran and exited in between is counted."""
    total = 0.0
    for member in process_tree(pid):
        try:
            total += cpu_seconds(member, reaped_children=member == pid)
        except OSError:
            continue
    return total


def tree_memory_kib(pid):
    """memory_kib summed over a process and its descendants (Netdata runs as several)."""
    total = {"rss": 0, "pss": 0, "private": 0}
    for member in process_tree(pid):
        try:
            for key, value in memory_kib(member).items():
                total[key] += value
        except OSError:
            continue
    return total


def services_env():
    """The variables scripts/services.sh exported for the benchmark's services (the env file
    named by MASTIFF_BENCH_SERVICES_ENV)."""
    values = {}
    with open(os.environ["MASTIFF_BENCH_SERVICES_ENV"]) as f:
        for line in f:
            if line.startswith("export "):
                key, value = line[len("export "):].strip().split("=", 1)
                values[key] = value.strip("'")
    return values


def process_count():
    return sum(1 for name in os.listdir("/proc") if name.isdigit())


def mastodon_shaped_processes(target):
    """Processes shaped like a Mastodon host's, so the default groups have members (four titled
    like Puma and Sidekiq), then sleeping ones until the host has `target`. Returns them, for
    the caller to terminate."""
    children = []
    for title in ["puma 6.4.2 (tcp://127.0.0.1:3000) [live]", "puma: cluster worker 0: 1 [live]",
                  "puma: cluster worker 1: 1 [live]", "sidekiq 6.5.12 live [0 of 25 busy]"]:
        children.append(subprocess.Popen(["bash", "-c", f'exec -a "{title}" sleep 3600']))
    while process_count() < target:
        children.append(subprocess.Popen(["sleep", "3600"]))
    return children


def psql_command(env, database):
    """psql as postgres on the benchmark's PostgreSQL (`env`: services_env()), before its options."""
    return [f"{env['MASTIFF_TEST_PG_BIN']}/psql", "-h", env["MASTIFF_TEST_PG_SOCKET_DIR"], "-p", env["MASTIFF_TEST_PG_PORT"],
            "-U", "postgres", "-d", database]


def psql(env, sql, database="postgres"):
    """One statement; its rows as unaligned text."""
    return subprocess.run(psql_command(env, database) + ["-qAt", "-c", sql], check=True, capture_output=True, text=True).stdout.strip()


def mastodon_bench_database(env, statuses, roles):
    """mastodon_bench, created anew with Mastodon's tables and `statuses` statuses, and a
    monitoring login role for each name in `roles`."""
    psql(env, "DROP DATABASE IF EXISTS mastodon_bench")
    psql(env, "CREATE DATABASE mastodon_bench")
    subprocess.run(psql_command(env, "mastodon_bench") + ["-q", "-v", f"statuses={statuses}",
                                                          "-f", f"{ROOT}/Tests/IntegrationTests/Fixtures/mastodon/schema.sql"],
                   check=True, capture_output=True)
    for role in roles:
        psql(env, f"DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN; GRANT pg_monitor TO {role}; GRANT pg_read_all_data TO {role}")


def working_sidekiq(redis_url):
    """A real Sidekiq on Mastodon's queues with jobs enqueued; returns it, for the caller to
    terminate."""
    env = dict(os.environ, REDIS_URL=redis_url)
    fixtures = f"{ROOT}/Tests/IntegrationTests/Fixtures/sidekiq"
    sidekiq = subprocess.Popen(["sidekiq", "-r", f"{fixtures}/jobs.rb", "-c", "3", "-q", "default", "-q", "push"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["ruby", f"{fixtures}/enqueue.rb"], env=env, check=True, capture_output=True)
    return sidekiq
