#!/usr/bin/env bash
# The one command that runs every test on a fresh machine: installs dependencies, starts real
# PostgreSQL and Redis, builds, runs unit and integration tests, and stops the services.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

services_dir=$(mktemp -d /tmp/mastiff-services.XXXXXX)
host_dir="$services_dir/host"
trap 'scripts/host-safety.sh check "$host_dir" >/dev/null 2>&1 || true; scripts/services.sh stop "$services_dir"' EXIT
scripts/services.sh start "$services_dir"
# shellcheck disable=SC1091
source "$services_dir/env"
# Every scratch file of the run (tests, benchmarks, the build's own) goes under the services
# directory, which the trap removes: a run leaves nothing behind in /tmp. World-writable and
# sticky like /tmp, for the tests that run commands as nobody.
export TMPDIR="$services_dir/t"
mkdir -m 1777 "$TMPDIR"
# The host's own PostgreSQL, Redis and Prometheus on their default ports (stand-ins where none
# runs): the whole run, setup included, must leave them as they were (checked at the end).
scripts/host-safety.sh start "$host_dir"
scripts/setup.sh

# With the benchmark executables (Package.swift leaves them out otherwise): the smoke runs below
# use their debug builds.
export MASTIFF_BENCHMARKS=1
swift build --build-tests
export MASTIFF_BINARY="$PWD/.build/debug/mastiff"
# Unit tests run in parallel. Integration tests run one at a time: they start servers, stop and
# pause them and time scrapes, and on two cores parallel runs starve each other into timeouts.
# Swift Testing prints its own summary per run; the plain "N passed, N failed" line at the end
# adds both up for tools that read only the last line.
set +e
swift test --skip-build --skip IntegrationTests 2>&1 | tee .build/test-unit.log
unit_status=${PIPESTATUS[0]}
swift test --skip-build --filter IntegrationTests --no-parallel 2>&1 | tee .build/test-integration.log
integration_status=${PIPESTATUS[0]}
# The shipped rules through both engines, the same files: promtool's lint and unit tests, then
# mastiff's own engine; the PromQL corpus must still be what promtool computes, and the numeric
# functions equal promtool's to the last bit on 327 arguments each; and the rule
# files in the community collections' styles (alerts/corpus) must load in both, with the same
# values where tests give them.
{ promtool check rules alerts/mastiff.rules.yml && promtool test rules alerts/tests/*.yml \
    && .build/debug/mastiff rules test alerts/tests/*.yml && python3 scripts/promql-corpus.py --check && python3 scripts/promql-go-math-oracle.py \
    && promtool check rules alerts/corpus/*.yml && .build/debug/mastiff rules check alerts/corpus/*.yml \
    && promtool test rules alerts/corpus/tests/*.yml && .build/debug/mastiff rules test alerts/corpus/tests/*.yml; } >.build/rules.log 2>&1
rules_status=$?
[[ $rules_status -eq 0 ]] && echo "rule files: promtool and mastiff rules test pass on alerts/tests and alerts/corpus" || { echo "rule file checks failed:"; tail -40 .build/rules.log; }
# Each benchmark briefly, on the debug build, so that bench/ keeps working (their figures come
# from the bench/ scripts on a release build, docs/benchmarks.md).
bench_status=0
smoke() {  # smoke NAME LOG COMMAND…
  local name=$1 log=$2
  shift 2
  if "$@" >"$log" 2>&1; then
    echo "$name benchmark smoke run: ok"
  else
    echo "$name benchmark smoke run failed:"; tail -20 "$log"; bench_status=1
  fi
}
smoke statsd .build/bench-smoke.log \
  env BENCH_BUILD_DIR=.build/debug BENCH_ROUNDS=1 BENCH_SECONDS=1 BENCH_RATE=20000 python3 bench/statsd.py
smoke sampler .build/bench-sampler-smoke.log \
  env MASTIFF_RELEASE_BINARY=.build/debug/mastiff BENCH_IDLE_SECONDS=3 BENCH_INTERVAL=1 BENCH_SCRAPES=3 BENCH_RSS_SCRAPES=3 python3 bench/sampler.py
smoke rules .build/bench-rules-smoke.log env BENCH_BUILD_DIR=.build/debug BENCH_CYCLES=60 bash bench/rules.sh
smoke notifications .build/bench-notifications-smoke.log env BENCH_BUILD_DIR=.build/debug BENCH_ROUNDS=1 python3 bench/notifications.py
smoke restarts .build/bench-restarts-smoke.log env BENCH_BUILD_DIR=.build/debug BENCH_CYCLES=50 bash bench/restarts.sh
# 50 extra processes, a 60 MB database: the figures take 300 and 1 GB.
smoke status-page .build/bench-status-page-smoke.log env BENCH_BUILD_DIR=.build/debug BENCH_RENDERS=50 bash bench/status-page.sh
smoke doctor .build/bench-doctor-smoke.log env BENCH_BUILD_DIR=.build/debug BENCH_PROCESSES=50 bash bench/doctor.sh
smoke backups .build/bench-backups-smoke.log env BENCH_BUILD_DIR=.build/debug BENCH_DB_MB=60 bash bench/backups.sh
smoke tls .build/bench-tls-smoke.log env BENCH_BUILD_DIR=.build/debug BENCH_SCRAPES=5 bash bench/tls.sh
smoke mastodon-health .build/bench-mastodon-health-smoke.log \
  env BENCH_BUILD_DIR=.build/debug BENCH_KEYS=50000 BENCH_PASSES=1 BENCH_REQUESTS=100 bash bench/mastodon-health.sh
# Every parser that takes outside input under libFuzzer and AddressSanitizer, 12 s each (the
# long run is bench/fuzz.sh); a crash fails the run and keeps its input in .build-fuzz/crashes/.
fuzz_status=0
if scripts/fuzz.sh 12 >.build/fuzz.log 2>&1; then
  echo "fuzzing: no crash ($(grep 'total executions' .build/fuzz.log))"
else
  echo "fuzzing failed:"; tail -30 .build/fuzz.log; fuzz_status=1
fi
# The Debian package, from a release build as the README makes it, installed, initialised,
# upgraded and purged in a fresh Debian 12 tree (scripts/package-test.sh).
package_status=0
if swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product mastiff >.build/release-build.log 2>&1; then
  scripts/package-test.sh .build-release/release/mastiff || package_status=1
  # Two minutes of the soak (bench/soak.sh runs it for 30) on the release build, as the bench
  # does (the debug build takes minutes to settle): every feature at once, RSS flat outside
  # backups, no descriptor or thread growth, every backup good.
  smoke soak .build/bench-soak-smoke.log \
    env BENCH_BUILD_DIR=.build-release/release SOAK_SECONDS=120 SOAK_BACKUP_SCHEDULE='* * * * *' bash bench/soak.sh
else
  echo "release build failed:"; tail -20 .build/release-build.log; package_status=1
fi
# The demo on this build, stopped with Ctrl-C; then the host's services as they were.
host_status=0
scripts/host-safety.sh demo .build/debug/mastiff || host_status=1
scripts/host-safety.sh check "$host_dir" || host_status=1
set -e
count() { grep -Eo 'Test run with [0-9]+ tests?' "$1" | tail -1 | grep -Eo '[0-9]+' || echo 0; }
failures() { grep -Ec '^✘ Test .* failed after' "$1" || true; }
total=$(( $(count .build/test-unit.log) + $(count .build/test-integration.log) ))
failed=$(( $(failures .build/test-unit.log) + $(failures .build/test-integration.log) ))
echo "$((total - failed)) passed, $failed failed"
if [[ $unit_status -ne 0 || $integration_status -ne 0 || $bench_status -ne 0 || $rules_status -ne 0 || $host_status -ne 0 || $package_status -ne 0 || $fuzz_status -ne 0 ]]; then
  exit 1
fi
