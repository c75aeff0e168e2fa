#!/usr/bin/env bash
# Installs what mastiff needs to build, test and demo, idempotently (Debian 12, as root).
#   scripts/setup.sh          build + test dependencies
#   scripts/setup.sh --demo   only what scripts/demo.sh needs (build, PostgreSQL, Redis, Sidekiq,
#                             age, moto): no browser, Alertmanager, supervisord or PgBouncer
#   scripts/setup.sh --bench  also the peer exporters the benchmarks compare against
set -euo pipefail

mode=${1:-}
packages=(
  pkg-config libpq-dev libhiredis-dev libcurl4-openssl-dev libssl-dev libyaml-dev zlib1g-dev libre2-dev libcrypt-dev  # build
  postgresql redis-server ruby-sidekiq age python3 python3-pip curl procps                    # demo and tests
)
if [[ "$mode" != "--demo" ]]; then
  packages+=(
    prometheus prometheus-alertmanager python3-aiosmtpd openssl  # tests: promtool, Alertmanager, SMTP, TLS probes
    pgbouncer supervisor                                         # tests: PgBouncer, supervisord
    chromium                                                     # tests: the status page in a browser
    gcc util-linux                                               # bench smoke run: C tools, taskset
    debootstrap lintian binutils dpkg-dev                        # the package: a Debian 12 tree, lint, strip
  )
fi
if [[ "$mode" == "--bench" ]]; then
  packages+=(prometheus-node-exporter prometheus-process-exporter prometheus-postgres-exporter prometheus-redis-exporter
             netdata                                             # bench/peers.sh: the all-in-one peer
             valgrind)                                           # scripts/symbol-order.sh: the profile
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # The tests and the demo start their own instances on free loopback ports; the packaged
  # servers are not wanted. Keep the package scripts from starting them, the Debian way
  # (invoke-rc.d asks /usr/sbin/policy-rc.d; 101 = "action forbidden"), and touch nothing
  # that already runs: on a Mastodon host the packaged PostgreSQL and Redis are the instance's.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# mastiff scripts/setup.sh: no service starts while packages install\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    trap '$sudo rm -f "$policy"' EXIT
  fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Real statsd clients for the statsd tests: Etsy-style (statsd) and DogStatsD (datadog), from PyPI;
# moto's S3 server (signature checks on) and awscli, for the backup tests. moto 5.2.5, not older:
# 5.2.1 recomputes signatures wrongly for a "/" in a query value (ListObjectsV2 with prefix=a/).
python_packages=(statsd==4.0.1 datadog==0.56.0 "moto[server]==5.2.5" awscli)
python_check="import statsd, datadog, flask, moto; assert moto.__version__ == '5.2.5'"
if [[ "$mode" == "--demo" ]]; then
  # The demo's backups go to moto; it sends statsd itself (bench/statsd_corpus.py).
  python_packages=("moto[server]==5.2.5")
  python_check="import flask, moto; assert moto.__version__ == '5.2.5'"
fi
if ! python3 -c "$python_check" 2>/dev/null || ! command -v moto_server >/dev/null || { [[ "$mode" != "--demo" ]] && ! command -v aws >/dev/null; }; then
  echo "setup: installing ${python_packages[*]} (pip)" >&2
  python3 -m pip install --quiet --disable-pip-version-check "${python_packages[@]}" 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "${python_packages[@]}"
fi

exit 0
