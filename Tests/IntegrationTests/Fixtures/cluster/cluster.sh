#!/usr/bin/env bash
# A chaos.social-shaped cluster in network namespaces, for MultiHostTests (issue 28). Root only.
#
#   cluster.sh start DIR   → DIR/env (shell exports: namespaces, addresses, DSN, URLs, S3 keys)
#   cluster.sh stop DIR    → stops everything it started and deletes its namespaces
#
# Five namespaces of this run's own (ID-sw, ID-db, ID-app, ID-worker, ID-mon, ID random), nothing
# in the host's: a bridge in ID-sw, and one veth pair from it to each host, whose end is eth0 on
# 10.77.0.0/24 (db .1, app .2, worker .3, mon .4). Every process runs in its host's namespace
# and, through unshare --uts, under that host's name (what Sidekiq and mastiff report):
#   db      PostgreSQL on 10.77.0.1:5432 (scram password for 10.77.0.0/24)
#   app     Redis on 10.77.0.2:6379 (with a password), a Sidekiq, a web stand-in on 10.77.0.2:3000 (/health)
#   worker  a second Sidekiq on the app's Redis
#   mon     Prometheus (10.77.0.4:9090, scraping :9815 of db, app and worker every second over
#           HTTPS with basic auth, DIR/web-config.yml being the agents' web configuration, labelled
#           host=…), two Alertmanagers in one cluster (:9093 and :9095, mesh on :9094 and :9096)
#           notifying a recording webhook on the mon's loopback, a recorder of the agents'
#           heartbeats on 10.77.0.4:8081, and moto's S3 on :9000
# The agents themselves are started by the test (`in_host` below, through DIR/in-host).
set -euo pipefail
command=${1:?usage: cluster.sh start|stop DIR}
dir=${2:?usage: cluster.sh start|stop DIR}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
hosts=(db app worker mon)
password=cluster-pg-Passw0rd
redis_password=cluster-redis-Passw0rd
scrape_password=cluster-scrape-Passw0rd

in_host() {  # in_host HOST COMMAND…: COMMAND in HOST's namespace, under HOST's name (DIR/in-host)
  "$dir/in-host" "$@"
}

background() {  # background HOST LOG COMMAND…: started and left running, its pid recorded
  local log=$2
  set -- "$1" "${@:3}"
  # DIR/in-host execs all the way down, so $! is the command's own pid.
  "$dir/in-host" "$@" >"$log" 2>&1 &
  echo $! >>"$dir/pids"
}

wait_for() {  # wait_for HOST URL: until it answers (30 s at most)
  for _ in $(seq 300); do
    ip netns exec "$(cat "$dir/id")-$1" curl -fs -o /dev/null "$2" && return 0
    sleep 0.1
  done
  echo "cluster: $2 did not answer" >&2
  return 1
}

start() {
  mkdir -p "$dir"
  chmod 755 "$dir"
  local id
  id="mst$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  echo "$id" >"$dir/id"
  : >"$dir/pids"
  ip netns add "$id-sw"
  ip -n "$id-sw" link add br0 type bridge
  ip -n "$id-sw" link set br0 up
  local index=1
  for host in "${hosts[@]}"; do
    ip netns add "$id-$host"
    ip -n "$id-$host" link set lo up
    ip -n "$id-sw" link add "p$index" type veth peer name eth0 netns "$id-$host"
    ip -n "$id-sw" link set "p$index" master br0 up
    ip -n "$id-$host" addr add "10.77.0.$index/24" dev eth0
    ip -n "$id-$host" link set eth0 up
    index=$((index + 1))
  done
  # The wrapper the test starts agents with.
  cat >"$dir/in-host" <<SCRIPT
#!/bin/sh
# in-host HOST COMMAND…
host=\$1
shift
exec ip netns exec "$id-\$host" unshare --uts -- /bin/sh -c 'hostname "\$0" && exec "\$@"' "\$host" "\$@"
SCRIPT
  chmod 755 "$dir/in-host"

  # db: PostgreSQL.
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  # The socket's directory is short, under /tmp: a Unix socket's path holds at most 107 bytes, and
  # DIR under CI's TMPDIR is longer than that.
  local sockets
  sockets=$(mktemp -d /tmp/mst-pg.XXXXXX)
  echo "$sockets" >"$dir/pgsock-dir"
  mkdir -p "$dir/pg"
  chown postgres:postgres "$dir/pg" "$sockets"
  runuser -u postgres -- "$bin/initdb" -D "$dir/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 >"$dir/pg/initdb.log" 2>&1
  cat >>"$dir/pg/data/postgresql.conf" <<CONF
listen_addresses = '10.77.0.1'
port = 5432
unix_socket_directories = '$sockets'
fsync = off
shared_buffers = 32MB
CONF
  echo "host all all 10.77.0.0/24 scram-sha-256" >>"$dir/pg/data/pg_hba.conf"
  in_host db runuser -u postgres -- "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 start >/dev/null
  runuser -u postgres -- "$bin/psql" -h "$sockets" -p 5432 -U postgres -qAt -c "ALTER USER postgres PASSWORD '$password'" >/dev/null
  runuser -u postgres -- "$bin/psql" -h "$sockets" -p 5432 -U postgres -qAt -c "CREATE DATABASE mastodon_production" >/dev/null
  runuser -u postgres -- "$bin/psql" -h "$sockets" -p 5432 -U postgres -d mastodon_production -qAt \
    -c "CREATE TABLE statuses AS SELECT g AS id, md5(g::text) AS text FROM generate_series(1, 20000) g" >/dev/null

  # app: Redis, a Sidekiq, the web stand-in; worker: a second Sidekiq.
  in_host app redis-server --bind 10.77.0.2 --port 6379 --daemonize yes --dir "$dir" --pidfile "$dir/redis.pid" \
    --logfile "$dir/redis.log" --save "" --appendonly no --requirepass "$redis_password"
  for _ in $(seq 50); do REDISCLI_AUTH=$redis_password ip netns exec "$id-app" redis-cli -h 10.77.0.2 ping >/dev/null 2>&1 && break; sleep 0.1; done
  mkdir -p "$dir/www"
  echo OK >"$dir/www/health"
  background app "$dir/web.log" python3 -m http.server 3000 --bind 10.77.0.2 --directory "$dir/www"
  for host in app worker; do
    background "$host" "$dir/sidekiq-$host.log" env REDIS_URL="redis://:$redis_password@10.77.0.2:6379/0" \
      sidekiq -r "$root/Tests/IntegrationTests/Fixtures/sidekiq/jobs.rb" -q default -q push -c 2
  done

  # mon: moto, the webhook, two Alertmanagers in a cluster, Prometheus.
  mkdir -p "$dir/moto"
  in_host mon python3 "$root/scripts/moto-s3.py" 9000 "$dir/moto" 10.77.0.4 >"$dir/moto.env"
  background mon "$dir/webhook.server.log" python3 "$root/Tests/IntegrationTests/Fixtures/notifications/recording_server.py" 8080 "$dir/webhook.log"
  # The agents' heartbeat target (a dead man's switch, as healthchecks.io would be), on the bridge.
  background mon "$dir/heartbeats.server.log" env RECORDING_SERVER_ADDRESS=10.77.0.4 \
    python3 "$root/Tests/IntegrationTests/Fixtures/notifications/recording_server.py" 8081 "$dir/heartbeats.log"
  cat >"$dir/alertmanager.yml" <<YAML
route: {receiver: hook, group_by: [alertname], group_wait: 1s, group_interval: 5s, repeat_interval: 1h}
receivers:
  - name: hook
    webhook_configs: [{url: "http://127.0.0.1:8080/hook", send_resolved: false}]
YAML
  background mon "$dir/am1.log" prometheus-alertmanager --config.file="$dir/alertmanager.yml" --storage.path="$dir/am1" \
    --web.listen-address=10.77.0.4:9093 --cluster.listen-address=10.77.0.4:9094 --cluster.peer=10.77.0.4:9096 \
    --cluster.peer-timeout=3s --cluster.settle-timeout=2s
  background mon "$dir/am2.log" prometheus-alertmanager --config.file="$dir/alertmanager.yml" --storage.path="$dir/am2" \
    --web.listen-address=10.77.0.4:9095 --cluster.listen-address=10.77.0.4:9096 --cluster.peer=10.77.0.4:9094 \
    --cluster.peer-timeout=3s --cluster.settle-timeout=2s
  # The agents serve HTTPS with basic auth (their web configuration, DIR/web-config.yml), as a
  # cluster whose agents are scraped across a network should.
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/agent.key" -out "$dir/agent.crt" -days 2 -subj /CN=mastiff-agents \
    -addext "subjectAltName=IP:10.77.0.1,IP:10.77.0.2,IP:10.77.0.3" >/dev/null 2>&1
  local hash
  hash=$(python3 -c "import ctypes,sys; lib=ctypes.CDLL('libcrypt.so.1'); lib.crypt.restype=ctypes.c_char_p; print(lib.crypt(sys.argv[1].encode(), b'\$2y\$10\$mastiffclusterscrape.u').decode())" "$scrape_password")
  cat >"$dir/web-config.yml" <<YAML
tls_server_config: {cert_file: $dir/agent.crt, key_file: $dir/agent.key}
basic_auth_users: {prometheus: '$hash'}
YAML
  cat >"$dir/prometheus.yml" <<YAML
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: mastiff
    scheme: https
    tls_config: {ca_file: $dir/agent.crt}
    basic_auth: {username: prometheus, password: '$scrape_password'}
    static_configs:
      - {targets: ["10.77.0.1:9815"], labels: {host: db}}
      - {targets: ["10.77.0.2:9815"], labels: {host: app}}
      - {targets: ["10.77.0.3:9815"], labels: {host: worker}}
YAML
  background mon "$dir/prometheus.log" prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/prometheus" \
    --web.listen-address=10.77.0.4:9090
  wait_for mon http://10.77.0.4:9093/-/ready
  wait_for mon http://10.77.0.4:9095/-/ready
  wait_for mon http://10.77.0.4:9090/-/ready
  wait_for app http://10.77.0.2:3000/health

  cat >"$dir/env" <<ENV
export CLUSTER_ID='$id'
export CLUSTER_PG_BIN='$bin'
export CLUSTER_PG_DSN='host=10.77.0.1 port=5432 user=postgres dbname=mastodon_production password=$password'
export CLUSTER_REDIS_URL='redis://:$redis_password@10.77.0.2:6379/0'
export CLUSTER_WEB_URL='http://10.77.0.2:3000/health'
export CLUSTER_PROMETHEUS='http://10.77.0.4:9090'
export CLUSTER_ALERTMANAGERS='http://10.77.0.4:9093 http://10.77.0.4:9095'
export CLUSTER_WEBHOOK_LOG='$dir/webhook.log'
export CLUSTER_WEB_CONFIG='$dir/web-config.yml'
export CLUSTER_HEARTBEAT_URL='http://10.77.0.4:8081'
export CLUSTER_HEARTBEAT_LOG='$dir/heartbeats.log'
ENV
  cat "$dir/moto.env" >>"$dir/env"
}

stop() {
  [[ -f "$dir/id" ]] || return 0
  local id
  id=$(cat "$dir/id")
  if [[ -f "$dir/pids" ]]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$dir/pids"
  fi
  [[ -f "$dir/moto/moto.pid" ]] && { kill -- "-$(cat "$dir/moto/moto.pid")" 2>/dev/null || kill "$(cat "$dir/moto/moto.pid")" 2>/dev/null || true; }
  [[ -f "$dir/redis.pid" ]] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  if [[ -f "$dir/pg/data/postmaster.pid" ]]; then
    runuser -u postgres -- "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/pg_ctl" -D "$dir/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  sleep 0.5
  # Anything still running in the namespaces was started here: end it before they go.
  for host in "${hosts[@]}"; do
    for pid in $(ip netns pids "$id-$host" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  done
  for host in "${hosts[@]}" sw; do ip netns del "$id-$host" 2>/dev/null || true; done
  if [[ -f "$dir/pgsock-dir" ]]; then rm -rf "$(cat "$dir/pgsock-dir")"; fi
}

case "$command" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
