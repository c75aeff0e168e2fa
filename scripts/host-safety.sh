#!/usr/bin/env bash
# Proves that the scripts leave a host's own services alone: a PostgreSQL, a Redis and a
# Prometheus on their default ports (5432, 6379, 9090) keep their PIDs and their data through
# scripts/test.sh and scripts/demo.sh. Where something already listens on such a port (a real
# Mastodon host), that process is only looked at: its PID recorded, then compared. Where nothing
# does, a stand-in is started here, in DIR, with a marker in its data, and stopped by `check`.
#   scripts/host-safety.sh start DIR     record (or start) the host's services
#   scripts/host-safety.sh demo BINARY   run scripts/demo.sh on BINARY until its first full
#                                        sample, stop it with Ctrl-C (SIGINT), and check that
#                                        nothing it started is left
#   scripts/host-safety.sh check DIR     compare; exit 1 naming what changed; stop the stand-ins
set -euo pipefail
cd "$(dirname "$0")/.."

command=${1:?usage: host-safety.sh start DIR | demo BINARY | check DIR}
argument=${2:?usage: host-safety.sh start DIR | demo BINARY | check DIR}

# The PID listening on 127.0.0.1 (or any address) at a TCP port, or nothing.
listener() { ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true; }
as_postgres() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1; }

start() {
  local dir=$1
  mkdir -p "$dir"
  chmod 755 "$dir"
  : >"$dir/services"
  if [[ -z "$(listener 5432)" ]]; then
    mkdir -p "$dir/pg" "$dir/pgsock"
    [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$dir/pg" "$dir/pgsock"
    as_postgres "$(pg_bin)/initdb" -D "$dir/pg/data" -U postgres --auth-local=trust >"$dir/pg-initdb.log" 2>&1
    as_postgres "$(pg_bin)/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 \
      -o "-p 5432 -k $dir/pgsock -c listen_addresses=127.0.0.1" start >/dev/null
    as_postgres "$(pg_bin)/psql" -h "$dir/pgsock" -p 5432 -U postgres -qAt \
      -c "CREATE TABLE host_marker AS SELECT 'still here' AS marker" >/dev/null
    echo "postgres stand-in" >>"$dir/services"
  fi
  if [[ -z "$(listener 6379)" ]]; then
    redis-server --port 6379 --bind 127.0.0.1 --daemonize yes --dir "$dir" --pidfile "$dir/redis.pid" \
      --logfile "$dir/redis.log" --save "" --appendonly no
    for _ in $(seq 50); do redis-cli -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p 6379 set host_marker "still here" >/dev/null
    echo "redis stand-in" >>"$dir/services"
  fi
  if [[ -z "$(listener 9090)" ]] && command -v prometheus >/dev/null; then
    printf 'global: {scrape_interval: 1m}\nscrape_configs: []\n' >"$dir/prometheus.yml"
    setsid prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/prometheus" \
      --web.listen-address=127.0.0.1:9090 --log.level=warn >"$dir/prometheus.log" 2>&1 &
    echo $! >"$dir/prometheus.pid"
    for _ in $(seq 100); do [[ -n "$(listener 9090)" ]] && break; sleep 0.1; done
    echo "prometheus stand-in" >>"$dir/services"
  fi
  for port in 5432 6379 9090; do
    echo "$port $(listener "$port")" >>"$dir/pids"
  done
  echo "host-safety: on the default ports: $(tr '\n' ' ' <"$dir/pids")($(paste -sd, "$dir/services" 2>/dev/null || true) started here)" >&2
}

check() {
  local dir=$1 failed=0
  while read -r port pid; do
    [[ -z "$pid" ]] && continue
    local now
    now=$(listener "$port")
    if [[ "$now" != "$pid" ]]; then
      echo "host-safety: FAILED: port $port was served by PID $pid, now by '${now:-nothing}'" >&2
      failed=1
    fi
  done <"$dir/pids"
  if grep -q "postgres stand-in" "$dir/services"; then
    local marker
    marker=$(as_postgres "$(pg_bin)/psql" -h "$dir/pgsock" -p 5432 -U postgres -qAt -c "SELECT marker FROM host_marker" 2>&1 || true)
    [[ "$marker" == "still here" ]] || { echo "host-safety: FAILED: the PostgreSQL on 5432 lost its data: $marker" >&2; failed=1; }
    as_postgres "$(pg_bin)/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if grep -q "redis stand-in" "$dir/services"; then
    local marker
    marker=$(redis-cli -p 6379 get host_marker 2>&1 || true)
    [[ "$marker" == "still here" ]] || { echo "host-safety: FAILED: the Redis on 6379 lost its data: $marker" >&2; failed=1; }
    kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  fi
  if grep -q "prometheus stand-in" "$dir/services"; then
    curl -fsS http://127.0.0.1:9090/-/healthy >/dev/null 2>&1 || { echo "host-safety: FAILED: the Prometheus on 9090 is not healthy" >&2; failed=1; }
    kill "$(cat "$dir/prometheus.pid")" 2>/dev/null || true
  fi
  # The stand-ins gone before their directory is removed.
  for entry in postgres:5432 redis:6379 prometheus:9090; do
    grep -q "^${entry%%:*} stand-in" "$dir/services" || continue
    for _ in $(seq 100); do [[ -z "$(listener "${entry##*:}")" ]] && break; sleep 0.1; done
  done
  [[ $failed -eq 0 ]] && echo "host-safety: the services on 5432, 6379 and 9090 kept their PIDs and data" >&2
  return $failed
}

demo() {
  local binary=$1 log pgid demo_dir metrics
  log=$(mktemp -t mastiff-host-safety-demo.XXXXXX)
  MASTIFF_DEMO_BINARY=$binary setsid scripts/demo.sh >"$log" 2>&1 &
  pgid=$!
  local up=""
  for _ in $(seq 240); do
    # Read whole, then searched: grep -q leaving early would fail curl's write (pipefail).
    metrics=$(curl -fsS http://127.0.0.1:9815/metrics 2>/dev/null || true)
    if grep -q '^postgres_up 1' <<<"$metrics"; then up=yes; break; fi
    kill -0 "$pgid" 2>/dev/null || break
    sleep 0.5
  done
  demo_dir=$(grep -o 'config in [^ ]*/mastiff.yml' "$log" | head -1 | sed 's/config in //; s|/mastiff.yml||' || true)
  kill -INT -- "-$pgid" 2>/dev/null || true
  for _ in $(seq 120); do kill -0 "$pgid" 2>/dev/null || break; sleep 0.5; done
  local failed=0
  if [[ -z "$up" ]]; then echo "host-safety: FAILED: the demo never served postgres_up 1:" >&2; tail -20 "$log" >&2; failed=1; fi
  if kill -0 "$pgid" 2>/dev/null; then echo "host-safety: FAILED: the demo did not stop at Ctrl-C" >&2; kill -KILL -- "-$pgid" 2>/dev/null || true; failed=1; fi
  if [[ -n "$demo_dir" ]]; then
    sleep 1
    local left
    left=$(pgrep -c -f -- "$demo_dir" || true)
    [[ $left -eq 0 ]] || { echo "host-safety: FAILED: $left process(es) of the demo are left" >&2; failed=1; }
    [[ ! -e "$demo_dir" ]] || { echo "host-safety: FAILED: the demo left $demo_dir" >&2; failed=1; }
  fi
  rm -f "$log"
  [[ $failed -eq 0 ]] && echo "host-safety: the demo ran, answered, stopped at Ctrl-C and left nothing behind" >&2
  return $failed
}

case "$command" in
  start) start "$argument" ;;
  check) check "$argument" ;;
  demo) demo "$argument" ;;
  *) echo "usage: host-safety.sh start DIR | demo BINARY | check DIR" >&2; exit 2 ;;
esac
