#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# docker-seccomp.sh OUT: Docker's default seccomp profile into OUT, the
# reference tests/unit/test_seccomp.c compares limpet's filter with. Debian
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
version=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | sed -n 's/^Version: //p')
if [ -z "$version" ]; then
	echo "docker-seccomp.sh: apt knows no $pkg (apt-get update?)" >&2
	exit 1
fi
[ -s "$out" ] && [ "$(cat "$out.version" 2>/dev/null)" = "$version" ] && exit 0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# apt's sandbox user cannot write into a private temporary directory.
(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$version" >/dev/null)
dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" "$member"
mkdir -p "$(dirname "$out")"
mv "$tmp/$member" "$out.tmp"
mv "$out.tmp" "$out"
echo "$version" >"$out.version"
echo "  SECCOMP $out (Docker's default profile, $pkg $version)"
