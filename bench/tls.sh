#!/usr/bin/env bash
# Issue 25's figures: HTTPS scrape latency against plain HTTP, and RSS with TLS on and off.
# Builds the release binary (BENCH_BUILD_DIR reuses one), makes a CA and a server certificate
# with openssl in a scratch directory, and runs bench/tls.py.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BENCH_BUILD_DIR:-}
if [[ -z "$build_dir" ]]; then
  scripts/setup.sh
  swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release --product mastiff
  build_dir=.build-release/release
fi
certs=$(mktemp -d -t mastiff-bench-tls.XXXXXX)
trap 'rm -rf "$certs"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$certs/ca.key" -out "$certs/ca.pem" \
  -days 2 -subj "/CN=mastiff bench CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$certs/server.key" -out "$certs/server.csr" \
  -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$certs/server.ext"
openssl x509 -req -in "$certs/server.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca.key" -set_serial 1 -days 2 \
  -extfile "$certs/server.ext" -out "$certs/server.pem" 2>/dev/null
MASTIFF_RELEASE_BINARY="$build_dir/mastiff" BENCH_CERT_DIR="$certs" python3 bench/tls.py
