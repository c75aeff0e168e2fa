#!/usr/bin/env bash
# Runs mastiff's main job on a fresh machine, against real local services: installs dependencies,
# builds a release binary, starts PostgreSQL (with Mastodon's tables and some rows) and Redis on
# free loopback ports, a real Sidekiq working Mastodon's queues, Mastodon ≤ 4.2-shaped statsd
# traffic, and `mastiff run` with every collector on 127.0.0.1:9815 (statsd on a free UDP port).
# Ctrl-C stops it all.
#   scripts/demo.sh --defaults    runs `mastiff run` on the embedded defaults instead
# MASTIFF_DEMO_BINARY=path uses that binary instead of building one (scripts/host-safety.sh).
# Everything it starts is private, on free loopback ports (mastiff itself on 127.0.0.1:9815), and
# stopped on exit; nothing that already runs on this host is touched.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --demo
if [[ -n "${MASTIFF_DEMO_BINARY:-}" ]]; then
  binary=$MASTIFF_DEMO_BINARY
else
  swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release
  binary=.build-release/release/mastiff
fi

if [[ "${1:-}" == "--defaults" ]]; then
  echo "demo: mastiff on its embedded defaults; open http://127.0.0.1:9815/ (the status page), or: curl -s http://127.0.0.1:9815/metrics | head" >&2
  exec "$binary" run
fi

dir=$(mktemp -d -t mastiff-demo.XXXXXX)
chmod 755 "$dir"   # the postgres user must reach the cluster inside it
sidekiq_pid=""
statsd_pid=""
web_pid=""
cleanup() {
  [[ -n "$web_pid" ]] && kill "$web_pid" 2>/dev/null || true
  [[ -n "$sidekiq_pid" ]] && kill "$sidekiq_pid" 2>/dev/null || true
  [[ -n "$statsd_pid" ]] && kill "$statsd_pid" 2>/dev/null || true
  scripts/services.sh stop "$dir/services"
  rm -rf "$dir"
}
trap cleanup EXIT
scripts/services.sh start "$dir/services"
# shellcheck disable=SC1091
source "$dir/services/env"

psql() { "$MASTIFF_TEST_PG_BIN/psql" -h "$MASTIFF_TEST_PG_SOCKET_DIR" -p "$MASTIFF_TEST_PG_PORT" -U postgres -qAt "$@"; }
psql -c "CREATE DATABASE mastodon_production"
psql -d mastodon_production -v statuses=20000 -f Tests/IntegrationTests/Fixtures/mastodon/schema.sql >/dev/null

export REDIS_URL="redis://127.0.0.1:$MASTIFF_TEST_REDIS_PORT/0"
fixtures=Tests/IntegrationTests/Fixtures/sidekiq
sidekiq -r "./$fixtures/jobs.rb" -c 3 -q default -q push >"$dir/sidekiq.log" 2>&1 &
sidekiq_pid=$!
ruby "$fixtures/enqueue.rb" >/dev/null

statsd_port=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# What a Mastodon ≤ 4.2 with STATSD_ADDR set sends: web actions, queries, Sidekiq jobs.
python3 bench/statsd_corpus.py 127.0.0.1 "$statsd_port" 200 &
statsd_pid=$!

# A stand-in for the instance's web front end, so that the default probes (instance.url) answer:
# stop it (kill the PID printed below) and InstanceDown fires 45 s later in mastiff's log.
mkdir -p "$dir/www/api/v1/streaming" "$dir/www/api/v2"
echo OK >"$dir/www/health"
echo OK >"$dir/www/api/v1/streaming/health"
echo '{"domain": "demo.example"}' >"$dir/www/api/v2/instance"
web_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$web_port" --bind 127.0.0.1 --directory "$dir/www" >/dev/null 2>&1 &
web_pid=$!

age-keygen -o "$dir/backup-key.txt" 2>/dev/null
cat >"$dir/mastiff.yml" <<YAML
listen: 127.0.0.1:9815
state_dir: $dir/state
control_socket: $dir/control.sock
collectors:
  system: {filesystems: [/, /tmp]}
  postgres: {dsn: "host=$MASTIFF_TEST_PG_SOCKET_DIR port=$MASTIFF_TEST_PG_PORT user=postgres dbname=mastodon_production"}
  redis: {url: "$REDIS_URL"}
statsd:
  udp: 127.0.0.1:$statsd_port
instance:
  url: "http://127.0.0.1:$web_port"
alerts:
  group_wait: 5s
# Backups to the demo's moto S3 server (signature checks on): every 10 minutes, encrypted to a
# key made here, Redis too, retention as shipped, a restore drill every hour.
backups:
  enabled: true
  storage:
    endpoint: $MASTIFF_TEST_S3_ENDPOINT
    bucket: $MASTIFF_TEST_S3_BUCKET
    access_key_id: $MASTIFF_TEST_S3_ACCESS_KEY
    secret_access_key: "$MASTIFF_TEST_S3_SECRET_KEY"
  encryption:
    recipients: [$(age-keygen -y "$dir/backup-key.txt")]
    identity_file: $dir/backup-key.txt
  postgres:
    schedule: "*/10 * * * *"
  redis:
    enabled: true
    schedule: "*/10 * * * *"
  drill:
    schedule: "@hourly"
jobs:
  - {name: vacuum-analyze, schedule: "*/15 * * * *", timeout: 5m,
     command: [$MASTIFF_TEST_PG_BIN/psql, -h, $MASTIFF_TEST_PG_SOCKET_DIR, -p, "$MASTIFF_TEST_PG_PORT", -U, postgres, -d, mastodon_production, -c, "VACUUM ANALYZE"]}
YAML
echo "demo: config in $dir/mastiff.yml; open the status page at http://127.0.0.1:9815/ (or curl -s http://127.0.0.1:9815/api/v1/status); try:" >&2
echo "        curl -s http://127.0.0.1:9815/metrics | grep -E '^(postgres_up|redis_up|sidekiq_queue_size|mastodon_)'" >&2
echo "        curl -s http://127.0.0.1:9815/metrics | grep -E '^(mastodon_web_requests_total|mastodon_sidekiq_jobs_total|statsd_)' | head -20" >&2
echo "        curl -s http://127.0.0.1:9815/metrics | promtool check metrics   # promtool: apt install prometheus" >&2
echo "        $binary status --config $dir/mastiff.yml" >&2
echo "        $binary doctor --config $dir/mastiff.yml    # tuning checks of this host (ok / warn / fail)" >&2
echo "        $binary alerts list --config $dir/mastiff.yml" >&2
echo "        $binary backup run --config $dir/mastiff.yml     # now, with progress; then: backup list, verify latest, drill" >&2
echo "        kill $web_pid   # the probed web server goes away: InstanceDown fires after 45 s, notified to the log" >&2
"$binary" run --config "$dir/mastiff.yml"
