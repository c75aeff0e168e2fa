#!/usr/bin/env bash
# Issue 12's figures: a PostgreSQL backup of a generated database (default 1 GB) into moto's S3
# (signature checks on), against pg_dump alone and against pg_dump piped into awscli, and
# mastiff's peak RSS during the backup. Needs scripts/setup.sh's packages.
#   bench/backups.sh                  1 GB database, release build
#   BENCH_DB_MB=5000 bench/backups.sh the 5 GB run
#   BENCH_DB_MB=60 BENCH_BUILD_DIR=.build/debug bench/backups.sh   (CI's smoke run)
#   BENCH_STORE_LATENCY_MS=300 bench/backups.sh   a store that takes 300 ms to answer each request
#                                                  (bench/slow_store.py in front of moto), for both uploaders
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${BENCH_DB_MB:-1000}
build_dir=${BENCH_BUILD_DIR:-}
if [[ -z "$build_dir" ]]; then
  swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product mastiff >&2
  build_dir=.build-release/release
fi
mastiff=$build_dir/mastiff

services=$(mktemp -d -t mastiff-bench-backups.XXXXXX)
trap 'bash scripts/services.sh stop "$services" >/dev/null 2>&1 || true' EXIT
bash scripts/services.sh start "$services" >/dev/null 2>&1
# shellcheck disable=SC1091
source "$services/env"
psql=("$MASTIFF_TEST_PG_BIN/psql" -h "$MASTIFF_TEST_PG_SOCKET_DIR" -p "$MASTIFF_TEST_PG_PORT" -U postgres -qAt)
"${psql[@]}" -d postgres -c "CREATE DATABASE bench"
# Mastodon-like rows: ids, short text, a timestamp, a longer body of hashes (compresses ~2:1).
rows=$((size_mb * 1000000 / 260))
batch=500000
"${psql[@]}" -d bench -c "CREATE TABLE statuses (id bigint, account_id bigint, created_at timestamptz, text text, uri text)"
for ((start = 1; start <= rows; start += batch)); do
  end=$((start + batch - 1)); ((end > rows)) && end=$rows
  "${psql[@]}" -d bench -c "INSERT INTO statuses SELECT g, g % 100000, '2024-01-01'::timestamptz + g * interval '1 second',
    md5(g::text) || ' ' || md5((g*3)::text) || ' ' || md5((g*7)::text) || ' ' || md5((g*11)::text),
    'https://example.social/users/u' || (g % 100000) || '/statuses/' || g FROM generate_series($start, $end) g"
done
"${psql[@]}" -d bench -c "CREATE INDEX ON statuses (account_id)" -c "VACUUM ANALYZE statuses"
db_bytes=$("${psql[@]}" -d bench -c "SELECT pg_database_size('bench')")
dsn="host=$MASTIFF_TEST_PG_SOCKET_DIR port=$MASTIFF_TEST_PG_PORT user=postgres dbname=bench"
pg_dump="$MASTIFF_TEST_PG_BIN/pg_dump"
endpoint=$MASTIFF_TEST_S3_ENDPOINT
latency_ms=${BENCH_STORE_LATENCY_MS:-0}
if ((latency_ms > 0)); then
  relay_port=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
  python3 bench/slow_store.py "$relay_port" "${endpoint##*:}" "$latency_ms" &
  relay_pid=$!
  trap 'kill "$relay_pid" 2>/dev/null; bash scripts/services.sh stop "$services" >/dev/null 2>&1 || true' EXIT
  endpoint=http://127.0.0.1:$relay_port
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$relay_port") 2>/dev/null && break; sleep 0.1; done
fi
export AWS_ACCESS_KEY_ID=$MASTIFF_TEST_S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$MASTIFF_TEST_S3_SECRET_KEY AWS_DEFAULT_REGION=us-east-1

cat >"$services/mastiff.yml" <<YAML
listen: 127.0.0.1:0
state_dir: $services/state
control_socket: ""
statsd: {enabled: false}
backups:
  enabled: true
  storage:
    endpoint: $endpoint
    bucket: $MASTIFF_TEST_S3_BUCKET
    prefix: bench/
    access_key_id: $MASTIFF_TEST_S3_ACCESS_KEY
    secret_access_key: "$MASTIFF_TEST_S3_SECRET_KEY"
  postgres:
    dsn: "$dsn"
    nice: 0
    ionice: best-effort:4
YAML

seconds() { local start end; start=$(date +%s.%N); "$@"; end=$(date +%s.%N); python3 -c "print(f'{$end - $start:.2f}')"; }
dump_only=$(seconds bash -c "'$pg_dump' -Fc '$dsn' >/dev/null")
dump_aws=$(seconds bash -c "'$pg_dump' -Fc '$dsn' | aws --endpoint-url '$endpoint' s3 cp - s3://$MASTIFF_TEST_S3_BUCKET/bench/awscli.pgdump >/dev/null")
# mastiff's own peak (VmHWM of its process, not pg_dump's), read every 50 ms until it exits.
read -r mastiff_seconds rss_kib < <(python3 - "$mastiff" "$services" <<'PY'
import subprocess, sys, time
mastiff, directory = sys.argv[1], sys.argv[2]
start = time.time()
with open(f"{directory}/run.log", "w") as log:
    process = subprocess.Popen([mastiff, "backup", "run", "--standalone", "--config", f"{directory}/mastiff.yml"], stdout=log, stderr=log)
    peak = 0
    while process.poll() is None:
        try:
            for line in open(f"/proc/{process.pid}/status"):
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.05)
if process.returncode != 0:
    sys.stderr.write(open(f"{directory}/run.log").read())
    sys.exit(1)
print(f"{time.time() - start:.2f} {peak}")
PY
)
dump_bytes=$(grep -o 'done: .*' "$services/run.log" | head -1)
python3 - "$db_bytes" "$dump_only" "$dump_aws" "$mastiff_seconds" "$rss_kib" "$dump_bytes" <<'PY'
import os, re, sys
db, dump_only, dump_aws, mastiff, rss_kib, done = sys.argv[1:7]
db, dump_only, dump_aws, mastiff, rss = int(db), float(dump_only), float(dump_aws), float(mastiff), int(rss_kib) / 1024
# The part size mastiff chose (part_size: auto), from its `done: … in N parts of 5MiB, …` line.
part = int(re.search(r"parts of (\d+)MiB", done).group(1))
latency = int(os.environ.get("BENCH_STORE_LATENCY_MS", "0"))
print(f"database: {db / 1e9:.2f} GB ({db} bytes); {done}" + (f"; the store answers {latency} ms late" if latency else ""))
print(f"pg_dump -Fc > /dev/null:            {dump_only:7.2f} s")
print(f"pg_dump -Fc | aws s3 cp - (moto):   {dump_aws:7.2f} s")
print(f"mastiff backup run (moto):          {mastiff:7.2f} s  = {mastiff / dump_only:.2f} x pg_dump alone (target <= 1.1), "
      f"{mastiff / dump_aws:.2f} x pg_dump | aws")
read = re.search(r"read in ([\d.]+) s", done)
if read:
    # From the first byte to pg_dump's last: whether the upload kept pace with the dump. What
    # follows (the last parts, the store's completion, HEAD and the manifest) is the rest.
    print(f"  of which pg_dump's stream:        {float(read.group(1)):7.2f} s  = {float(read.group(1)) / dump_only:.2f} x pg_dump alone")
print(f"mastiff peak RSS during the backup: {rss:7.1f} MiB (target <= 2 x {part} MiB part + 20 MiB = {2 * part + 20} MiB)")
PY
