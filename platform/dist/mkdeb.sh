#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# mkdeb.sh BINARY VERSION DEBARCH OUT.deb: a Debian package of a (static)
# limpet binary, with the unit, the commented config as a conffile and the
# maintainer scripts of platform/dist/debian.  `make deb ARCH=...` runs it on
# the static build; it needs only dpkg-deb, gzip and file.
set -euo pipefail

die() { echo "mkdeb: $*" >&2; exit 1; }
[ $# -eq 4 ] || die "usage: mkdeb.sh BINARY VERSION DEBARCH OUT.deb"
bin=$1 version=$2 arch=$3 out=$4
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dist=$top/platform/dist
maintainer=${DEB_MAINTAINER:-limpet maintainers <limpet@example.org>}

[ -f "$bin" ] || die "$bin: no such file (make static ARCH=... builds it)"
[[ $version =~ ^[0-9][0-9A-Za-z.+~]*$ ]] || die "version '$version' is not a Debian native version"
# A binary for the wrong machine would install fine and then fail to run.
case $arch in
arm64) machine="ARM aarch64" ;;
amd64) machine="x86-64" ;;
*) die "architecture '$arch': arm64 or amd64" ;;
esac
info=$(file -bL "$bin")
[[ $info == *"$machine"* ]] || die "$bin is not an $arch binary: $info"
# Depends: lists nothing, which is right only for a static binary.
[[ $info == *"dynamically linked"* ]] &&
	echo "mkdeb: warning: $bin is dynamically linked; the package declares no Depends" >&2

# Dates and mtimes from the last commit, so the same tree gives the same .deb.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

stage=$(mktemp -d "${TMPDIR:-/tmp}/limpet-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root=$stage/root
doc=$root/usr/share/doc/limpet
umask 022

install -D -m 0755 "$bin" "$root/usr/bin/limpet"
# Debian ships binaries stripped; a cross build needs the cross strip.
case $arch in
amd64) strip=x86_64-linux-gnu-strip ;;
arm64) strip=aarch64-linux-gnu-strip ;;
esac
[ "$(dpkg --print-architecture 2>/dev/null)" != "$arch" ] || strip="strip"
if [ -n "$strip" ] && command -v "$strip" >/dev/null; then
	"$strip" --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/limpet"
else
	echo "mkdeb: warning: no strip for $arch; the binary is packaged as it is" >&2
fi
install -D -m 0644 "$top/agent/limpet.conf" "$root/etc/limpet/limpet.conf"
install -D -m 0644 "$dist/limpet.service" "$root/lib/systemd/system/limpet.service"
install -D -m 0644 "$dist/limpet.bash-completion" "$root/usr/share/bash-completion/completions/limpet"
install -d -m 0755 "$root/usr/share/man/man1" "$doc"
gzip -9n <"$dist/limpet.1" >"$root/usr/share/man/man1/limpet.1.gz"
install -m 0644 "$dist/debian/copyright" "$doc/copyright"
install -D -m 0644 "$dist/debian/lintian-overrides" "$root/usr/share/lintian/overrides/limpet"
{
	echo "limpet ($version) unstable; urgency=medium"
	echo
	echo "  * limpet $version; see README.md for what it does."
	echo
	echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.gz"
chmod 0644 "$root/usr/share/man/man1/limpet.1.gz" "$doc/changelog.gz"

install -d -m 0755 "$root/DEBIAN"
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
	-e "s|@SIZE@|$(du -sk --exclude=DEBIAN "$root" | cut -f1)|" \
	"$dist/debian/control" >"$root/DEBIAN/control"
echo /etc/limpet/limpet.conf >"$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
	xargs -0 md5sum) >"$root/DEBIAN/md5sums"
install -m 0755 "$dist/debian/postinst" "$dist/debian/prerm" "$dist/debian/postrm" "$root/DEBIAN/"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

mkdir -p "$(dirname "$out")"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "$out"
