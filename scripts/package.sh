#!/usr/bin/env bash
# Builds mastiff_<version>_<arch>.deb with dpkg-deb (docs/packaging.md).
#   scripts/package.sh [OUTDIR]      the .deb goes to OUTDIR (default .build-release/)
# The binary is the release build as the README builds it (-Osize, the Swift runtime linked in
# statically), so the package runs on a Debian 12 without a Swift toolchain. Environment:
#   MASTIFF_PACKAGE_BINARY=path      package that binary instead of building one
#   MASTIFF_PACKAGE_VERSION=v        the package's version (default: `mastiff version`)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.build-release}
for tool in objdump strings strip dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "package: $tool is missing (apt install binutils dpkg-dev)" >&2; exit 1; }
done
mkdir -p "$out"

if [[ -n "${MASTIFF_PACKAGE_BINARY:-}" ]]; then
  binary=$MASTIFF_PACKAGE_BINARY
else
  swift build -c release -Xswiftc -Osize --static-swift-stdlib --scratch-path .build-release
  binary=.build-release/release/mastiff
fi
version=${MASTIFF_PACKAGE_VERSION:-$("$binary" version | awk '{print $2}')}
arch=$(dpkg --print-architecture)
root=$(mktemp -d -t mastiff-package.XXXXXX)
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"

# Files, with the modes and owners dpkg-deb --root-owner-group records.
install -D -m 0755 "$binary" "$root/usr/bin/mastiff"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/mastiff"
install -D -m 0644 etc/mastiff.yml "$root/etc/mastiff/mastiff.yml"
# The pristine copy `mastiff init` compares with: an unedited packaged default may be replaced.
install -D -m 0644 etc/mastiff.yml "$root/usr/share/mastiff/mastiff.yml"
install -D -m 0644 etc/systemd/mastiff.service "$root/lib/systemd/system/mastiff.service"
install -D -m 0644 alerts/mastiff.rules.yml "$root/usr/share/mastiff/alerts/mastiff.rules.yml"
for dashboard in dashboards/*.json; do install -D -m 0644 "$dashboard" "$root/usr/share/mastiff/$dashboard"; done
doc="$root/usr/share/doc/mastiff"
install -D -m 0644 README.md "$doc/README.md"
for page in docs/*.md; do install -D -m 0644 "$page" "$doc/$page"; done
for page in docs/adr/*.md; do install -D -m 0644 "$page" "$doc/$page"; done
# Examples an admin installs by hand, each where its comment says.
install -D -m 0644 etc/mastiff.yml "$doc/examples/mastiff.yml"
install -D -m 0644 etc/polkit-1/rules.d/60-mastiff.rules "$doc/examples/60-mastiff.rules"
install -D -m 0644 etc/sysctl.d/60-mastiff.conf "$doc/examples/60-mastiff.conf"
install -D -m 0644 etc/systemd/mastodon-sidekiq.service.d/mastiff-timeout.conf "$doc/examples/mastodon-sidekiq.service.d/mastiff-timeout.conf"
install -D -m 0644 etc/systemd/mastiff.service.d/jobs-as-other-users.conf "$doc/examples/mastiff.service.d/jobs-as-other-users.conf"
install -D -m 0644 etc/statsd-mapping-mastodon.yml "$doc/examples/statsd-mapping-mastodon.yml"
cat >"$doc/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: mastiff
Source: the mastiff repository

Files: *
Copyright: 2026 the mastiff developers
License: Apache-2.0
 On Debian systems, the complete text of the Apache License, Version 2.0 can be
 found in /usr/share/common-licenses/Apache-2.0.
EOF
chmod 0644 "$doc/copyright"
printf 'mastiff (%s) unstable; urgency=medium\n\n  * Package of mastiff %s (git %s).\n\n -- mastiff developers <maintainers@mastiff.example.org>  %s\n' \
  "$version" "$version" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" \
  | gzip -9n >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

# The manual page: each command's --help, as `mastiff help COMMAND` prints it.
man="$root/usr/share/man/man1/mastiff.1"
mkdir -p "$(dirname "$man")"
roff() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/" -e 's/^-/\\-/'; }
{
  echo ".TH MASTIFF 1 \"$(date -u -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}" +%Y-%m-%d)\" \"mastiff $version\" \"User Commands\""
  echo ".SH NAME"
  echo "mastiff \\- a watchdog for Mastodon servers"
  echo ".SH SYNOPSIS"
  echo ".B mastiff"
  echo ".I command"
  echo "[options]"
  echo ".SH DESCRIPTION"
  echo "mastiff scrapes PostgreSQL, PgBouncer, Redis and Sidekiq, per-process memory, system pressure,"
  echo "the instance's HTTP health, statsd and Mastodon's own Prometheus endpoints, exposes them on one"
  echo "/metrics, evaluates alert rules, notifies, restarts leaking workers, and backs up the database."
  echo "Start with \\fBmastiff init\\fR on a Mastodon host."
  echo ".SH COMMANDS"
  for command in run check-config collect status init doctor rules alerts maintenance silence restarts backup version; do
    echo ".SS $command"
    echo ".nf"
    "$binary" help "$command" | roff
    echo ".fi"
  done
  echo ".SH FILES"
  echo ".TP"
  echo ".I /etc/mastiff/mastiff.yml"
  echo "the configuration; \\fI/usr/share/doc/mastiff/examples/mastiff.yml\\fR documents every key"
  echo ".TP"
  echo ".I /var/lib/mastiff"
  echo "state that survives a restart (state.json)"
  echo ".SH SEE ALSO"
  echo "/usr/share/doc/mastiff/README.md, /usr/share/doc/mastiff/docs/"
} >"$man"
gzip -9n "$man"
chmod 0644 "$man.gz"

# Depends: exactly the shared libraries the binary loads. Those it links (the ELF NEEDED
# entries) and those it opens on first use (dlopen of a versioned soname: libpq.so.5,
# libcurl.so.4, libcrypto.so.3; docs/adr/0009) are the same kind of dependency; each soname is
# found with ldconfig, its package with dpkg -S, and the versioned dependency in that package's
# shlibs file (what dpkg-shlibdeps would read), else the package name alone.
sonames=$( { objdump -p "$binary" | awk '/NEEDED/ {print $2}'; strings -a "$binary" | grep -E '^lib[a-z0-9_+-]+\.so\.[0-9]+$' || true; } | sort -u)
depends=()
# Read whole, then searched (an early exit of the reader would fail the writer under pipefail).
cache=$(/sbin/ldconfig -p)  # /sbin: not on an ordinary user's PATH
for soname in $sonames; do
  path=$(awk -v name="$soname" '$1 == name && !found {print $NF; found = 1}' <<<"$cache")
  [[ -n "$path" ]] || { echo "package: $soname: not found by ldconfig" >&2; exit 1; }
  # dpkg knows the path it installed (/lib/… on a merged /usr), not always the resolved one.
  owners=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null || true)
  package=$(awk -F: 'NR == 1 {print $1}' <<<"$owners")
  [[ -n "$package" ]] || { echo "package: $soname ($path): no Debian package owns it" >&2; exit 1; }
  library=${soname%%.so.*}
  major=${soname##*.so.}
  shlibs=""
  for candidate in /var/lib/dpkg/info/"$package".shlibs /var/lib/dpkg/info/"$package":"$arch".shlibs; do
    [[ -f "$candidate" ]] && shlibs=$candidate
  done
  dependency=""
  if [[ -n "$shlibs" ]]; then
    dependency=$(awk -v lib="$library" -v major="$major" '$1 == lib && $2 == major && !found {$1 = ""; $2 = ""; sub(/^ +/, ""); print; found = 1}' "$shlibs")
  fi
  depends+=("${dependency:-$package}")
done
depends_line=$(printf '%s\n' "adduser" "${depends[@]}" | sort -u | paste -sd, | sed 's/,/, /g')

mkdir -p "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<EOF
Package: mastiff
Version: $version
Architecture: $arch
Maintainer: mastiff developers <maintainers@mastiff.example.org>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depends_line
Recommends: postgresql-client
Section: admin
Priority: optional
Description: watchdog for Mastodon servers
 One small daemon that measures what a Mastodon admin needs — PostgreSQL and
 PgBouncer, Redis and Sidekiq's queues, per-process memory (RSS and PSS),
 system memory pressure, the instance's HTTP health, statsd and Mastodon's
 own Prometheus endpoints — and exposes it on one Prometheus /metrics.
 .
 It acts on it too: alert rules evaluated in the agent and sent by e-mail,
 ntfy, Matrix and more; rolling restarts of leaking Sidekiq and Puma workers;
 scheduled pg_dump backups to S3-compatible storage with retention and
 restore drills; a status page. "mastiff init" writes its configuration from
 the Mastodon installation.
EOF
echo "/etc/mastiff/mastiff.yml" >"$root/DEBIAN/conffiles"
install -m 0755 scripts/packaging/postinst scripts/packaging/prerm scripts/packaging/postrm "$root/DEBIAN/"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print0 | sort -z | xargs -0 md5sum | sed 's| \./| |') >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

deb="$out/mastiff_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "package: $deb ($(du -h "$deb" | cut -f1); Depends: $depends_line)" >&2
echo "$deb"
