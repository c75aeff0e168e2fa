#!/usr/bin/env bash
# Starts (and stops) real PostgreSQL and Redis on free loopback ports in a scratch directory, for
# the tests and the demo. No systemd needed.
#   scripts/services.sh start DIR   → writes DIR/env with MASTIFF_TEST_* variables
#   scripts/services.sh stop DIR
set -euo pipefail

command=${1:?usage: services.sh start|stop DIR}
dir=${2:?usage: services.sh start|stop DIR}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [[ -n "$bin" ]] || { echo "services: PostgreSQL is not installed (run scripts/setup.sh)" >&2; exit 1; }
  echo "$bin"
}

# initdb refuses to run as root; the cluster belongs to the postgres user when we are root.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  mkdir -p "$dir"
  chmod 755 "$dir"
  local bin pg_port redis_port
  bin=$(pg_bin)
  pg_port=$(free_port)
  redis_port=$(free_port)

  mkdir -p "$dir/pg" "$dir/pgsock"
  [[ $(id -u) -eq 0 ]] && chown postgres:postgres "$dir/pg" "$dir/pgsock"
  as_pg "$bin/initdb" -D "$dir/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 >"$dir/pg/initdb.log" 2>&1
  # Host connections need a password, so wrong-password handling is testable; the socket trusts.
  cat >>"$dir/pg/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$dir/pgsock'
fsync = off
shared_buffers = 32MB
CONF
  as_pg "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 start >/dev/null
  as_pg "$bin/psql" -h "$dir/pgsock" -p "$pg_port" -U postgres -qAt -c "ALTER USER postgres PASSWORD 'mastiff-test-password'" >/dev/null

  redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes --dir "$dir" \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save "" --appendonly no
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

  cat >"$dir/env" <<ENV
export MASTIFF_TEST_SERVICES_DIR='$dir'
export MASTIFF_TEST_PG_BIN='$bin'
export MASTIFF_TEST_PG_PORT='$pg_port'
export MASTIFF_TEST_PG_SOCKET_DIR='$dir/pgsock'
export MASTIFF_TEST_PG_DSN='host=$dir/pgsock port=$pg_port user=postgres dbname=postgres'
export MASTIFF_TEST_PG_TCP_DSN='host=127.0.0.1 port=$pg_port user=postgres dbname=postgres'
export MASTIFF_TEST_PG_PASSWORD='mastiff-test-password'
export MASTIFF_TEST_REDIS_PORT='$redis_port'
ENV
  # moto's S3 server with signature checks on (backups); its exports go into the same env file.
  python3 "$(dirname "$0")/moto-s3.py" "$(free_port)" "$dir" >>"$dir/env"
  echo "services: PostgreSQL on 127.0.0.1:$pg_port (socket $dir/pgsock), Redis on 127.0.0.1:$redis_port, S3 (moto) on $(grep -o "http://[0-9.:]*" "$dir/env" | head -1); env in $dir/env" >&2
}

stop() {
  [[ -d "$dir" ]] || return 0
  if [[ -f "$dir/pg/data/postmaster.pid" ]]; then
    as_pg "$(pg_bin)/pg_ctl" -D "$dir/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [[ -f "$dir/moto.pid" ]]; then
    kill -- "-$(cat "$dir/moto.pid")" 2>/dev/null || kill "$(cat "$dir/moto.pid")" 2>/dev/null || true
  fi
  if [[ -f "$dir/redis.pid" ]]; then
    kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

case "$command" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: services.sh start|stop DIR" >&2; exit 2 ;;
esac
