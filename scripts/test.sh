#!/usr/bin/env bash
# The one command that runs every test on a fresh machine: installs dependencies, starts real
# PostgreSQL and Redis, builds, runs unit and integration tests, and stops the services.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

services_dir=$(mktemp -d /tmp/mastiff-services.XXXXXX)
trap 'scripts/services.sh stop "$services_dir"' EXIT
scripts/services.sh start "$services_dir"
# shellcheck disable=SC1091
source "$services_dir/env"

swift build --build-tests
export MASTIFF_BINARY="$PWD/.build/debug/mastiff"
# Swift Testing prints its own summary; the plain "N passed, N failed" line after it is for
# tools that read only the last line.
set +e
swift test --skip-build 2>&1 | tee .build/test-output.log
status=${PIPESTATUS[0]}
set -e
summary=$(grep -Eo 'Test run with [0-9]+ tests?' .build/test-output.log | tail -1 | grep -Eo '[0-9]+' || echo 0)
failed=$(grep -Ec '^✘ Test .* failed after' .build/test-output.log || true)
if [[ $status -eq 0 ]]; then
  echo "$summary passed, 0 failed"
else
  echo "$((summary - failed)) passed, $failed failed"
fi
exit "$status"
