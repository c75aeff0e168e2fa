#!/usr/bin/env bash
# Issue 27's fuzzing figures: every target for BENCH_FUZZ_SECONDS each (default 300), the
# executions and coverage of each, and the total (target: 10 million or more, no crash). CI runs
# the same targets for 12 s each (scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
exec scripts/fuzz.sh "${BENCH_FUZZ_SECONDS:-300}"
