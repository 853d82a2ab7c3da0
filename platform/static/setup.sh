#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# setup.sh PACKAGE...: what `make static` needs from Debian: the packages,
# apt's arm64 architecture (for musl-dev:arm64 and the arm64 kernel headers)
# and deb-src entries for bookworm and trixie (deps.sh runs apt-get source).
# Does nothing when all of it is there already; otherwise needs root and apt.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sources=/etc/apt/sources.list.d/limpet-src.sources
me="make static-deps"

missing=()
need_arch=false
need_src=false
dpkg --print-foreign-architectures 2>/dev/null | grep -qx arm64 ||
	[ "$(dpkg --print-architecture 2>/dev/null)" = arm64 ] || need_arch=true
# Whatever deb-src apt has (ours or the admin's) will do if it finds every pin.
# A "SUITE-orig" pin is a tarball apt's index does not list (deps.sh fetches
# it by name): asking apt for it would fail on every run.
specs=$(awk '!/^#/ && NF == 5 && $3 !~ /-orig$/ { print $2 "/" $3 }' "$here/versions")
# shellcheck disable=SC2086 # one word per package
apt-get source --print-uris -qq $specs >/dev/null 2>&1 || need_src=true
for p in "$@"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
$need_arch || $need_src || [ ${#missing[@]} -gt 0 ] || exit 0

todo=()
$need_arch && todo+=("dpkg --add-architecture arm64")
$need_src && todo+=("deb-src entries in $sources, apt-get update")
[ ${#missing[@]} -gt 0 ] && todo+=("apt-get install ${missing[*]}")
if ! command -v apt-get >/dev/null || [ "$(id -u)" -ne 0 ]; then
	echo "$me: needs root and apt-get (Debian 12) for: $(IFS=';'; echo "${todo[*]}")" >&2
	exit 1
fi

# It changes the system: say what, before doing it.
echo "$me: $(IFS=';'; echo "${todo[*]}")" >&2
export DEBIAN_FRONTEND=noninteractive
$need_arch && dpkg --add-architecture arm64
$need_src && install -m 0644 "$here/limpet-src.sources" "$sources"
apt-get update -q
[ ${#missing[@]} -eq 0 ] || apt-get install -y -q --no-install-recommends "${missing[@]}"
