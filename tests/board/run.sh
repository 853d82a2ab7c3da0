#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tests/board/run.sh LIMPET_ARM64 [TEST...]
#
# The emulated board tier: boots a Raspberry-Pi-4-like arm64 machine (QEMU
# virt, Cortex-A72, GIC-400, KVM available in nVHE mode) with Debian's arm64
# kernel and an initramfs holding busybox, bash, the static arm64 limpet, the
# test scripts and signed arm64 images. Inside, the tests run on cgroup v2;
# their TAP comes back over the serial console and prove judges it here.
#
# TEST names a script under tests/ (default: $BOARD_TESTS). BOARD_SHELL=1
# boots to a shell instead. Debian's packages are cached in
# ${LIMPET_CACHE_DIR:-~/.cache/limpet}/board.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
LIMPET=$(realpath "${1:?usage: run.sh PATH/TO/arm64/limpet [TEST...]}")
shift
DEFAULT_TESTS="board/board.t integration/01-run.t integration/02-security.t
	integration/03-limits.t integration/04-agent.t integration/09-exec.t
	integration/10-deploy-check.t integration/11-volumes.t integration/13-deploy-apply.t"
TESTS=${*:-${BOARD_TESTS:-$DEFAULT_TESTS}}
CACHE=${LIMPET_CACHE_DIR:-${HOME:-/root}/.cache/limpet}/board
WORK=$TOP/tests/.work/board
# Modules the tests need, in load order (no modules.dep in the package).
MODULES="fs/overlayfs/overlay drivers/block/loop fs/fat/fat fs/fat/vfat fs/nls/nls_cp437
	fs/nls/nls_ascii fs/nls/nls_utf8"

die() { echo "board: $*" >&2; exit 1; }
log() { echo "board: $*" >&2; }

[ "$(id -u)" = 0 ] || die "run as root (the initramfs holds root-owned files, images/build.sh needs root)"
file -b "$LIMPET" | grep -q 'ARM aarch64.*statically linked' ||
	die "$LIMPET is not a static arm64 binary (make static ARCH=arm64)"
command -v qemu-system-aarch64 >/dev/null || die "qemu-system-aarch64 is missing (apt-get install qemu-system-arm)"

# apt_download PKG:arm64: the .deb in $CACHE, fetched once.
apt_download() {
	local name=${1%%:*} ver deb
	ver=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p')
	if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
		die "no candidate for $1 (dpkg --add-architecture arm64 && apt-get update)"
	fi
	deb=$CACHE/${name}_${ver//:/%3a}_arm64.deb
	if [ ! -s "$deb" ]; then
		log "downloading $1 $ver"
		(cd "$CACHE" && apt-get download -q "$1=$ver" >/dev/null 2>&1) ||
			die "apt-get download $1=$ver failed"
	fi
	[ -s "$deb" ] || die "apt-get download $1 left no $deb"
	echo "$deb"
}

# unpack DEB: its files in $CACHE/x/NAME, extracted once.
unpack() {
	local dir
	dir=$CACHE/x/$(basename "$1" .deb)
	if [ ! -e "$dir/.done" ]; then
		rm -rf "$dir" && mkdir -p "$dir"
		dpkg-deb -x "$1" "$dir"
		: >"$dir/.done"
	fi
	echo "$dir"
}

prepare_debs() {
	mkdir -p "$CACHE"
	# Whole outputs, not pipes: grep -q exits at the first match, and
	# pipefail would count the writer's SIGPIPE as a failure.
	local archs policy
	archs=$(dpkg --print-foreign-architectures)
	policy=$(apt-cache policy busybox-static:arm64 2>/dev/null)
	if ! grep -qx arm64 <<<"$archs" || ! grep -q 'Candidate: [^(]' <<<"$policy"; then
		log "adding the arm64 architecture to apt"
		dpkg --add-architecture arm64
		apt-get update -q >/dev/null || die "apt-get update failed"
	fi
	# The newest 6.1 kernel ABI in the archive (its number changes with updates).
	KPKG=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-arm64-unsigned$' |
		cut -d' ' -f1 | sort -V | tail -1)
	[ -n "$KPKG" ] || die "no linux-image-6.1.0-*-arm64-unsigned package in apt's lists"
	KDIR=$(unpack "$(apt_download "$KPKG:arm64")")
	BBDIR=$(unpack "$(apt_download busybox-static:arm64)")
	BASHDIR=$(unpack "$(apt_download bash-static:arm64)")
	KERNEL=$(echo "$KDIR"/boot/vmlinuz-*)
	[ -f "$KERNEL" ] || die "no vmlinuz in $KPKG"
}

build_initramfs() {
	local root=$WORK/root m mod applet
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib/modules,etc,proc,sys,dev,mnt,tmp,root,limpet/images}
	chmod 1777 "$root/tmp"
	cp "$BBDIR/bin/busybox" "$root/bin/busybox"
	for applet in $(busybox --list-full); do
		[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
	done
	cp "$BASHDIR/bin/bash-static" "$root/bin/bash"
	cp "$LIMPET" "$root/usr/bin/limpet"
	: >"$root/lib/modules/load.order"
	for m in $MODULES; do
		mod=$(find "$KDIR/lib/modules" -path "*/kernel/$m.ko" | head -1)
		[ -n "$mod" ] || die "module $m.ko is not in $KPKG"
		cp "$mod" "$root/lib/modules/"
		basename "$m" >>"$root/lib/modules/load.order"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	cp "$TOP/tests/board/init" "$root/init"
	mkdir -p "$root/limpet/tests"
	cp -a "$TOP/tests/lib" "$TOP/tests/integration" "$TOP/tests/board" "$root/limpet/tests/"
	cp "$WORK"/images/*.tar "$WORK"/images/*.tar.sig "$WORK"/images/demo.{pub,key} "$root/limpet/images/"
	(cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) | gzip -1 >"$WORK/initrd.gz"
}

# boot LOG [APPEND...]: the board until it powers off.
boot() {
	local log=$1
	shift
	timeout "${BOARD_TIMEOUT:-1800}" qemu-system-aarch64 \
		-M virt,virtualization=on,gic-version=2 -cpu cortex-a72 -smp 2 -m 1024 \
		-accel tcg,thread=multi -nographic -no-reboot -nic none \
		-kernel "$KERNEL" -initrd "$WORK/initrd.gz" \
		-append "console=ttyAMA0 rdinit=/init panic=-1 quiet loglevel=1 limpet.date=$(date +%s) $*" |
		tee "$log" | if [ -n "${BOARD_SHELL:-}" ]; then cat; else sed -n 's/^\(ok\|not ok\|@@limpet\)/&/p'; fi
}

main() {
	mkdir -p "$WORK"
	prepare_debs
	# The same signed images as the x86_64 tests, built for arm64.
	"$TOP/images/build.sh" "$WORK/images" --arch arm64 --busybox "$BBDIR/bin/busybox" >/dev/null
	build_initramfs
	log "$(basename "$KERNEL"), initramfs $(($(stat -c %s "$WORK/initrd.gz") / 1024)) KiB, limpet $(stat -c %s "$LIMPET") bytes"
	if [ -n "${BOARD_SHELL:-}" ]; then
		boot "$WORK/console.log" limpet.shell=1
		return
	fi
	local names=() t tapdir=$WORK/tap rc=0
	# shellcheck disable=SC2086 # TESTS is a list of words
	set -- $TESTS
	boot "$WORK/console.log" "limpet.tests=$(IFS=,; echo "$*")" || true
	rm -rf "$tapdir" && mkdir -p "$tapdir"
	tr -d '\r' <"$WORK/console.log" | awk -v dir="$tapdir" '
		/^@@limpet-test-begin / { f = dir "/" $2; printf "" > f; next }
		/^@@limpet-test-end / { print $3 > (dir "/" $2 ".rc"); close(f); f = ""; next }
		f != "" { print >> f }'
	grep -q '^@@limpet-board-done' <(tr -d '\r' <"$WORK/console.log") ||
		{ log "the board did not finish its tests (console: $WORK/console.log)"; rc=1; }
	for t in "$@"; do
		t=$(basename "$t")
		names+=("$t")
		[ -f "$tapdir/$t" ] || { log "$t did not run"; rc=1; continue; }
		[ "$(cat "$tapdir/$t.rc" 2>/dev/null)" = 0 ] || { log "$t exited $(cat "$tapdir/$t.rc" 2>/dev/null || echo '?')"; rc=1; }
	done
	(cd "$tapdir" && prove --exec cat "${names[@]}") || rc=1
	return $rc
}

main
