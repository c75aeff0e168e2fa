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
swift test --skip-build
