#!/usr/bin/env bash
# The soak (issue 27): mastiff with every feature on for SOAK_SECONDS (default 30 minutes) on the
# release build, against private PostgreSQL, Redis and moto; bench/soak.py says what runs and
# what is asserted (RSS within ±5 % after warm-up, no fd or thread growth, every backup good).
#   bench/soak.sh                                   30 minutes, backups every 10 minutes
#   SOAK_SECONDS=120 SOAK_BACKUP_SCHEDULE='* * * * *' BENCH_BUILD_DIR=.build-release/release bench/soak.sh   (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${BENCH_BUILD_DIR:-}" ]]; then
  swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product mastiff >&2
fi
services=$(mktemp -d -t mastiff-soak-services.XXXXXX)
trap 'bash scripts/services.sh stop "$services" >/dev/null 2>&1 || true' EXIT
bash scripts/services.sh start "$services" >/dev/null 2>&1
SERVICES_ENV=$services/env python3 bench/soak.py
