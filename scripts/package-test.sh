#!/usr/bin/env bash
# Tests the Debian package the way an admin meets it (docs/packaging.md), in a fresh Debian 12
# tree made with debootstrap (a chroot: no Swift toolchain inside, no systemd as PID 1):
#   install the previous build; `mastiff version`, `check-config`, `collect --once`; the account,
#   the state directory; `mastiff init` on a Mastodon 4.5 installation whose PostgreSQL and Redis
#   are the test services, then a collection with every collector succeeding (timed from
#   `dpkg -i`); an upgrade with an edited conffile (kept); systemd-analyze verify on the installed
#   unit; purge (account, state and configuration gone); lintian (no error).
#   scripts/package-test.sh BINARY      the release binary to package
# Needs the test services' environment (scripts/services.sh) and root.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:?usage: package-test.sh RELEASE_BINARY}
: "${MASTIFF_TEST_PG_PORT:?source the services env first (scripts/services.sh)}"

work=$(mktemp -d -t mastiff-package-test.XXXXXX)
chmod 755 "$work"
root="$work/debian12"
mounted=""
cleanup() {
  [[ -n "$mounted" ]] && umount "$root/proc" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
fail() { echo "package-test: FAILED: $*" >&2; failures=$((failures + 1)); }
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

version=$("$binary" version | awk '{print $2}')
previous=$(MASTIFF_PACKAGE_BINARY=$binary MASTIFF_PACKAGE_VERSION="$version~previous" scripts/package.sh "$work" 2>/dev/null)
current=$(MASTIFF_PACKAGE_BINARY=$binary scripts/package.sh "$work" 2>"$work/package.log")
cat "$work/package.log" >&2
size=$(stat -c %s "$current")
echo "package-test: $(basename "$current"): $size bytes" >&2

# lintian: no error; the warnings are listed (and justified) in docs/packaging.md.
lintian --no-tag-display-limit "$current" >"$work/lintian.log" 2>&1 || true
if grep -q '^E: ' "$work/lintian.log"; then fail "lintian reports errors:"; grep '^E: ' "$work/lintian.log" >&2; fi
echo "package-test: lintian: $(grep -c '^E: ' "$work/lintian.log" || true) errors, $(grep -c '^W: ' "$work/lintian.log" || true) warnings" >&2
grep '^W: ' "$work/lintian.log" >&2 || true

# A fresh Debian 12, without Swift. The mirror is the host's own (Debian's registry).
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
debootstrap --variant=minbase bookworm "$root" "${mirror:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap"; exit 1; }
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mount -t proc proc "$root/proc" && mounted=yes
[[ ! -e "$root/usr/bin/swift" ]] || fail "the tree has a Swift toolchain"
cp "$previous" "$current" "$root/tmp/"
in_root apt-get update -qq >/dev/null

started=$(date +%s.%N)
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "/tmp/$(basename "$previous")" >"$work/install.log" 2>&1 \
  || { tail -20 "$work/install.log" >&2; fail "apt-get install of the package"; exit 1; }
in_root mastiff version | grep -q "mastiff $version" || fail "mastiff version in the chroot"
in_root mastiff check-config >/dev/null 2>&1 || fail "check-config on the packaged configuration"
in_root mastiff collect --once >"$work/collect.txt" 2>"$work/collect.log" || fail "collect --once: $(tail -3 "$work/collect.log")"
grep -q '^mastiff_collector_success{collector="system"} 1' "$work/collect.txt" || fail "collect --once: the system collector did not succeed"
in_root getent passwd mastiff >/dev/null || fail "no mastiff account"
# Owners by name as the tree's own accounts say (the host's may give the same uid another name).
owned() { in_root stat -c "$1" "$2"; }
[[ "$(owned '%a %U' /var/lib/mastiff)" == "750 mastiff" ]] || fail "/var/lib/mastiff is $(owned '%a %U' /var/lib/mastiff)"
[[ "$(owned '%a %U:%G' /etc/mastiff/mastiff.yml)" == "640 root:mastiff" ]] || fail "/etc/mastiff/mastiff.yml is $(owned '%a %U:%G' /etc/mastiff/mastiff.yml)"
[[ -L "$root/etc/systemd/system/multi-user.target.wants/mastiff.service" ]] || fail "the unit is not enabled"

# init on a Mastodon 4.5 installation whose services are the test ones, then every collector.
installation="$root/home/mastodon/live"
mkdir -p "$installation/lib/mastodon" "$root/etc/systemd/system"
cp Tests/IntegrationTests/Fixtures/installations/4.5/live/lib/mastodon/version.rb "$installation/lib/mastodon/"
password=$(python3 -c 'import os, urllib.parse; print(urllib.parse.quote(os.environ["MASTIFF_TEST_PG_PASSWORD"], safe=""))')
sed -e "s/@PG_PASSWORD@/$password/" -e "s/@PG_HOST@/127.0.0.1/" -e "s/@PG_PORT@/$MASTIFF_TEST_PG_PORT/" -e "s/@PG_DATABASE@/postgres/" \
    -e "s/@REDIS_PORT@/$MASTIFF_TEST_REDIS_PORT/g" -e "s/LOCAL_DOMAIN=tiny.example/LOCAL_DOMAIN=localhost/" \
    Tests/IntegrationTests/Fixtures/installations/4.5/live/.env.production >"$installation/.env.production"
for unit in Tests/IntegrationTests/Fixtures/installations/4.5/systemd/*.service; do
  sed "s/@USER@/mastodon/" "$unit" >"$root/etc/systemd/system/$(basename "$unit")"
done
in_root mastiff init >"$work/init.log" 2>&1 || fail "mastiff init: $(cat "$work/init.log")"
grep -q "the packaged default, unedited" "$work/init.log" || fail "init did not replace the unedited packaged configuration: $(cat "$work/init.log")"
in_root mastiff collect --once >"$work/collect.txt" 2>"$work/collect.log" || fail "collect after init: $(tail -3 "$work/collect.log")"
for collector in system processes postgres redis sidekiq; do
  grep -q "^mastiff_collector_success{collector=\"$collector\"} 1" "$work/collect.txt" || fail "after init, the $collector collector did not succeed"
done
elapsed=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$started" "$(date +%s.%N)")
echo "package-test: from apt-get install to a collection with every collector succeeding: $elapsed s" >&2
grep -q "mastiff-test-password" "$root/etc/mastiff/mastiff.yml" "$work/init.log" && fail "a secret reached mastiff.yml or init's output"
[[ "$(owned '%a %U' /etc/mastiff/secrets/pgpass)" == "600 mastiff" ]] || fail "secrets/pgpass is $(owned '%a %U' /etc/mastiff/secrets/pgpass)"

# An upgrade keeps the admin's edits to the configuration.
echo "# the admin's own line" >>"$root/etc/mastiff/mastiff.yml"
in_root env DEBIAN_FRONTEND=noninteractive dpkg -i "/tmp/$(basename "$current")" >"$work/upgrade.log" 2>&1 || fail "upgrade: $(tail -5 "$work/upgrade.log")"
in_root dpkg-query -W -f '${Version}' mastiff | grep -qx "$version" || fail "the upgrade did not install $version"
grep -q "^# the admin's own line" "$root/etc/mastiff/mastiff.yml" || fail "the upgrade lost the admin's edit"
in_root mastiff check-config >/dev/null 2>&1 || fail "check-config after the upgrade"

# The installed unit, as systemd reads it: the host's systemd-analyze (minbase has no systemd),
# on the installed file with ExecStart pointing at the installed binary.
if command -v systemd-analyze >/dev/null; then
  sed "s|/usr/bin/mastiff|$root/usr/bin/mastiff|" "$root/lib/systemd/system/mastiff.service" >"$work/mastiff.service"
  analyze=$(systemd-analyze verify --man=no "$work/mastiff.service" 2>&1) || fail "systemd-analyze verify: $analyze"
  grep -q "mastiff.service" <<<"$analyze" && fail "systemd-analyze verify: $analyze"
fi

# Purge: account, state and configuration gone.
in_root env DEBIAN_FRONTEND=noninteractive dpkg --purge mastiff >"$work/purge.log" 2>&1 || fail "purge: $(tail -5 "$work/purge.log")"
in_root getent passwd mastiff >/dev/null && fail "the mastiff account survived the purge"
in_root getent group mastiff >/dev/null && fail "the mastiff group survived the purge"
[[ -e "$root/var/lib/mastiff" ]] && fail "/var/lib/mastiff survived the purge"
[[ -e "$root/etc/mastiff" ]] && fail "/etc/mastiff survived the purge"
[[ -e "$root/usr/bin/mastiff" ]] && fail "/usr/bin/mastiff survived the purge"

if [[ $failures -eq 0 ]]; then
  echo "package-test: ok ($(basename "$current"), $size bytes; installed, initialised, upgraded, purged in a fresh Debian 12)" >&2
fi
exit $((failures > 0))
