#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# docker-seccomp.sh OUT: Docker's default seccomp profile into OUT, the
# reference tests/unit/platform/linux/test_seccomp_docker.c compares limpet's filter with. Debian
# ships it among Docker's Go sources (golang-github-docker-docker-dev, all
# architectures); installing that package would bring in some 250 others (Go,
# systemd), so only its .deb is downloaded and the one file taken out of it.
# OUT.version names the package version it came from: a newer one replaces it.
set -euo pipefail

out=${1:?usage: docker-seccomp.sh OUT}
pkg=golang-github-docker-docker-dev
member=./usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json

if ! command -v apt-get >/dev/null; then
	echo "docker-seccomp.sh: needs apt-get (Debian 12) to download $pkg" >&2
	exit 1
fi
# Every version apt lists, newest first: the newest may not be served (yet,
# or any more) by a snapshot mirror, while an older one still is.
versions=$(apt-cache madison "$pkg" 2>/dev/null | awk -F'|' '$3 ~ / Packages$/ { gsub(/ /, "", $2); print $2 }')
if [ -z "$versions" ]; then
	echo "docker-seccomp.sh: apt knows no $pkg (apt-get update?)" >&2
	exit 1
fi
have=$(cat "$out.version" 2>/dev/null || true)
if [ -s "$out" ] && grep -qxF -- "$have" <<<"$versions"; then
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for version in $versions; do
	# apt's sandbox user cannot write into a private temporary directory.
	if (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$version" >/dev/null 2>&1); then
		break
	fi
	echo "docker-seccomp.sh: $pkg $version could not be downloaded; trying an older one" >&2
	version=
done
if [ -z "$version" ]; then
	echo "docker-seccomp.sh: no version of $pkg could be downloaded" >&2
	exit 1
fi
dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" "$member"
mkdir -p "$(dirname "$out")"
mv "$tmp/$member" "$out.tmp"
mv "$out.tmp" "$out"
echo "$version" >"$out.version"
echo "  SECCOMP $out (Docker's default profile, $pkg $version)"
