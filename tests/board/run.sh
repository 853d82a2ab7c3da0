#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tests/board/run.sh LIMPET [TEST...]
#
# The emulated board tier. By default (BOARD_ARCH=arm64) it boots a
# Raspberry-Pi-4-like arm64 machine (QEMU virt, Cortex-A72, GIC-400, KVM
# available in nVHE mode) with Debian's arm64 kernel; BOARD_ARCH=x86_64 boots
# a q35 PC whose emulated CPU has AMD SVM, so KVM works there too. The
# initramfs holds busybox, bash, the static limpet of that architecture, the
# test scripts, signed images built for it and a guest kernel for microVMs.
# Inside, the tests run on cgroup v2; their TAP comes back over the serial
# console and prove judges it here.
#
# TEST names a script under tests/ (default: $BOARD_TESTS). BOARD_SHELL=1
# boots to a shell instead. BOARD_GIC=2|3 picks the arm64 board's GIC
# (default 2, a Pi 4's GIC-400). BOARD_BENCH=bench/vm.sh runs that benchmark
# instead of the tests (make bench-vm): only then does the initramfs also hold
# tests/bench and QEMU (tests/board/qemu.sh), and its output is printed as it
# is. Debian's packages are cached in ${LIMPET_CACHE_DIR:-~/.cache/limpet}/board.
# To look into a board that hangs: BOARD_APPEND adds to the kernel command
# line (loglevel=4 shows lockups; limpet.watch=SECONDS makes /init print its
# processes that often) and BOARD_QEMU_ARGS to QEMU's (-monitor unix:SOCK,...).
set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
LIMPET=$(realpath "${1:?usage: run.sh PATH/TO/limpet [TEST...]}")
shift
DEFAULT_TESTS="board/board.t integration/01-run.t integration/02-security.t
	integration/03-limits.t integration/04-agent.t integration/09-exec.t
	integration/10-deploy-check.t integration/11-volumes.t integration/13-deploy-apply.t
	integration/17-vm.t integration/18-escape-exec.t integration/19-escape-mounts.t
	integration/20-escape-state.t integration/21-seccomp.t integration/24-tty.t"
TESTS=${*:-${BOARD_TESTS:-$DEFAULT_TESTS}}
BENCH=${BOARD_BENCH:-}
[ -z "$BENCH" ] || TESTS=$BENCH
CACHE=${LIMPET_CACHE_DIR:-${HOME:-/root}/.cache/limpet}/board
ARCH=${BOARD_ARCH:-arm64}
GIC=${BOARD_GIC:-2}
# The board's RAM in MiB. With everything on the tmpfs, about 840 MiB of
# 1024 are still available when the tests start (README.md).
MEM=${BOARD_MEM:-1024}

# Per board: Debian's architecture, its musl triplet, what `file` says of its static binary,
# the kernel packages (board, guest: the newest ABI of each is used), the
# QEMU machine, its console, and the modules the tests need in load order
# (the packages have no modules.dep). Built-in features need no module.
case $ARCH in
arm64)
	DEBARCH=arm64
	MUSL=aarch64-linux-musl
	FILE_RE='ARM aarch64.*statically linked'
	BOARD_KPKG_RE='^linux-image-6\.1\.0-[0-9]+-arm64-unsigned$'
	GUEST_KPKG_RE='^linux-image-6\.1\.0-[0-9]+-cloud-arm64-unsigned$'
	QEMU=qemu-system-aarch64
	QEMU_PKG=qemu-system-arm
	case $GIC in 2 | 3) ;; *) echo "board: BOARD_GIC=$GIC: 2 or 3" >&2; exit 2 ;; esac
	MACHINE=(-M "virt,virtualization=on,gic-version=$GIC" -cpu cortex-a72)
	CONSOLE=ttyAMA0
	MODULES="fs/overlayfs/overlay drivers/block/loop fs/fat/fat fs/fat/vfat fs/nls/nls_cp437
		fs/nls/nls_ascii fs/nls/nls_utf8"
	WORK=$TOP/tests/.work/board$([ "$GIC" = 2 ] || echo "-gic$GIC")
	;;
x86_64)
	DEBARCH=amd64
	MUSL=x86_64-linux-musl
	FILE_RE='x86-64.*statically linked'
	# The cloud kernel is both the board's and the guest's: it has KVM
	# as modules and needs no ccp.ko for kvm-amd (the generic one does).
	BOARD_KPKG_RE='^linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned$'
	GUEST_KPKG_RE=$BOARD_KPKG_RE
	QEMU=qemu-system-x86_64
	QEMU_PKG=qemu-system-x86
	# TCG emulates AMD SVM (not Intel VMX): kvm-amd works inside.
	MACHINE=(-M q35 -cpu max -vga none)
	# A VM held open from boot (kvm-hold.c) keeps KVM from patching the
	# board kernel's text at each microVM; multi-threaded TCG now and then
	# runs the stale int3 of such a patch for good.
	HOLD_KVM=1
	CONSOLE=ttyS0
	MODULES="virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-amd fs/overlayfs/overlay
		drivers/block/loop fs/fat/fat fs/fat/vfat fs/nls/nls_cp437 fs/nls/nls_ascii
		fs/nls/nls_utf8"
	WORK=$TOP/tests/.work/board-x86_64
	;;
*)
	echo "board: BOARD_ARCH=$ARCH: arm64 or x86_64" >&2
	exit 2
	;;
esac
# One work directory per board, so that different boards can run side by side.
[ -z "$BENCH" ] || WORK=$WORK-bench
WORK=${BOARD_WORK:-$WORK}

die() { echo "board: $*" >&2; exit 1; }
log() { echo "board: $*" >&2; }

[ "$(id -u)" = 0 ] || die "run as root (the initramfs holds root-owned files, images/build.sh needs root)"
file -b "$LIMPET" | grep -q "$FILE_RE" ||
	die "$LIMPET is not a static $ARCH binary (make static ARCH=$ARCH)"
command -v "$QEMU" >/dev/null || die "$QEMU is missing (apt-get install $QEMU_PKG)"

# apt_download PKG:ARCH...: the .deb of the first of these packages that can
# be had, at the newest version apt lists that the mirror really serves (the
# lists may name an upload whose file is not served yet, or any more), in
# $CACHE, fetched once (apt's file names carry the architecture, so arm64 and
# amd64 packages sit side by side).
apt_download() {
	local p ver deb tried=""
	for p in "$@"; do
		while read -r ver; do
			deb=$CACHE/${p%%:*}_${ver//:/%3a}_${p##*:}.deb
			if [ ! -s "$deb" ]; then
				log "downloading $p $ver"
				(cd "$CACHE" && apt-get download -q "$p=$ver" >/dev/null 2>&1) || true
			fi
			if [ -s "$deb" ]; then
				echo "$deb"
				return 0
			fi
			tried+=" $p=$ver"
		done < <(apt-cache madison "$p" 2>/dev/null |
			awk -F'|' '$3 ~ / Packages$/ { gsub(/ /, "", $2); print $2 }')
	done
	[ -n "$tried" ] || die "apt lists no version of $* (dpkg --add-architecture ${1##*:} && apt-get update)"
	die "none could be downloaded:$tried"
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

# kernel_pkgs REGEX: the 6.1 kernel packages in the archive, newest ABI
# first (its number changes with updates), each as NAME:$DEBARCH.
kernel_pkgs() {
	local pkgs p
	pkgs=$(apt-cache search --names-only "$1" | cut -d' ' -f1 | sort -rV)
	[ -n "$pkgs" ] || die "no package matching $1 in apt's lists"
	for p in $pkgs; do
		echo "$p:$DEBARCH"
	done
}

prepare_debs() {
	mkdir -p "$CACHE"
	# Whole outputs, not pipes: grep -q exits at the first match, and
	# pipefail would count the writer's SIGPIPE as a failure.
	local archs policy guest_kdir
	if [ "$DEBARCH" != "$(dpkg --print-architecture)" ]; then
		archs=$(dpkg --print-foreign-architectures)
		policy=$(apt-cache policy "busybox-static:$DEBARCH" 2>/dev/null)
		if ! grep -qx "$DEBARCH" <<<"$archs" || ! grep -q 'Candidate: [^(]' <<<"$policy"; then
			log "adding the $DEBARCH architecture to apt"
			dpkg --add-architecture "$DEBARCH"
			apt-get update -q >/dev/null || die "apt-get update failed"
		fi
	fi
	# shellcheck disable=SC2046 # one word per package
	KDIR=$(unpack "$(apt_download $(kernel_pkgs "$BOARD_KPKG_RE"))")
	# shellcheck disable=SC2046
	guest_kdir=$(unpack "$(apt_download $(kernel_pkgs "$GUEST_KPKG_RE"))")
	BBDIR=$(unpack "$(apt_download "busybox-static:$DEBARCH")")
	BASHDIR=$(unpack "$(apt_download "bash-static:$DEBARCH")")
	KERNEL=$(echo "$KDIR"/boot/vmlinuz-*)
	[ -f "$KERNEL" ] || die "no vmlinuz in $KDIR"
	GUEST_KERNEL=$(echo "$guest_kdir"/boot/vmlinuz-*)
	[ -f "$GUEST_KERNEL" ] || die "no vmlinuz in $guest_kdir"
}

# build_tools DIR: the tests' static programs (tests/lib/*.c, which tap.sh's
# test_tool takes from $LIMPET_TEST_TOOLS) for the board, which has no
# compiler: built with musl's for its architecture. Debian names that wrapper
# musl-gcc for the native architecture and TRIPLET-gcc for the others, as
# platform/static/deps.sh picks it.
build_tools() {
	local dir=$1 cc=$MUSL-gcc src
	[ "$DEBARCH" != "$(dpkg --print-architecture)" ] || cc=musl-gcc
	command -v "$cc" >/dev/null || die "$cc is missing (make static-deps installs it)"
	mkdir -p "$dir"
	for src in "$TOP"/tests/lib/*.c; do
		"$cc" -static -O2 -Wall -Wextra -Werror -o "$dir/$(basename "$src" .c)" "$src" ||
			die "cannot build $src with $cc"
	done
}

build_initramfs() {
	local root=$WORK/root m mod applet
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib/modules,etc,proc,sys,dev,mnt,tmp,root,limpet/images,limpet/guest}
	chmod 1777 "$root/tmp"
	cp "$BBDIR/bin/busybox" "$root/bin/busybox"
	for applet in $(busybox --list-full); do
		[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
	done
	cp "$BASHDIR/bin/bash-static" "$root/bin/bash"
	cp "$LIMPET" "$root/usr/bin/limpet"
	if [ -n "${HOLD_KVM:-}" ]; then
		"${BOARD_CC:-cc}" -static -O2 -Wall -Wextra -Werror -o "$root/usr/bin/kvm-hold" \
			"$TOP/tests/board/kvm-hold.c" || die "cannot build kvm-hold (BOARD_CC=${BOARD_CC:-cc})"
	fi
	: >"$root/lib/modules/load.order"
	for m in $MODULES; do
		mod=$(find "$KDIR/lib/modules" -path "*/kernel/$m.ko" | head -1)
		[ -n "$mod" ] || die "module $m.ko is not in $KDIR"
		cp "$mod" "$root/lib/modules/"
		basename "$m" >>"$root/lib/modules/load.order"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	cp "$TOP/tests/board/init" "$root/init"
	mkdir -p "$root/limpet/tests"
	cp -a "$TOP/tests/lib" "$TOP/tests/integration" "$TOP/tests/board" "$root/limpet/tests/"
	build_tools "$root/limpet/tools"
	cp "$WORK"/images/*.tar "$WORK"/images/*.tar.sig "$WORK"/images/demo.{pub,key} "$root/limpet/images/"
	# The kernel of the tests' microVMs (LIMPET_TEST_GUEST_KERNEL).
	cp "$GUEST_KERNEL" "$root/limpet/guest/vmlinuz"
	if [ -n "$BENCH" ]; then
		cp -a "$TOP/tests/bench" "$root/limpet/tests/"
		# shellcheck source=tests/board/qemu.sh
		. "$TOP/tests/board/qemu.sh"
		board_qemu "$root"
		log "bench: qemu-system-aarch64 and its libraries from $QEMU_BENCH_DEBS"
	fi
	(cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) | gzip -1 >"$WORK/initrd.gz"
}

# console_lines: the console's lines without carriage returns and terminal
# escapes (the PC's firmware clears the screen on the line the tests' first
# marker lands on).
console_lines() { sed -u 's/\r//g; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1b[c78]//g'; }

# boot LOG [APPEND...]: the board until it powers off.
boot() {
	local log=$1
	shift
	local board=limpet.arch=$ARCH
	[ "$ARCH" != arm64 ] || board="$board limpet.gic=$GIC"
	# shellcheck disable=SC2086 # BOARD_QEMU_ARGS is a list of words
	timeout "${BOARD_TIMEOUT:-1800}" "$QEMU" "${MACHINE[@]}" -smp 2 -m "$MEM" \
		-accel tcg,thread=${TCG_THREAD:-multi} -nographic -no-reboot -nic none \
		${BOARD_QEMU_ARGS:-} \
		-kernel "$KERNEL" -initrd "$WORK/initrd.gz" \
		-append "console=$CONSOLE rdinit=/init panic=-1 quiet loglevel=1 limpet.date=$(date +%s) $board ${BOARD_APPEND:-} $*" |
		tee "$log" | if [ -n "${BOARD_SHELL:-}" ]; then
			cat
		elif [ -n "$BENCH" ]; then
			console_lines | sed -un '/^@@limpet-test-begin/,/^@@limpet-test-end/p'
		else
			console_lines | sed -n 's/^\(ok\|not ok\|@@limpet\)/&/p'
		fi
}

main() {
	mkdir -p "$WORK"
	prepare_debs
	# The same signed images as the host's tests, built with the board's busybox.
	"$TOP/images/build.sh" "$WORK/images" --arch "$DEBARCH" --busybox "$BBDIR/bin/busybox" >/dev/null
	build_initramfs
	log "$ARCH$([ "$ARCH" != arm64 ] || echo " GICv$GIC"): $(basename "$KERNEL"), guest $(basename "$GUEST_KERNEL"), initramfs $(($(stat -c %s "$WORK/initrd.gz") / 1024)) KiB, limpet $(stat -c %s "$LIMPET") bytes"
	if [ -n "${BOARD_SHELL:-}" ]; then
		boot "$WORK/console.log" limpet.shell=1
		return
	fi
	local names=() t tapdir=$WORK/tap rc=0
	# shellcheck disable=SC2086 # TESTS is a list of words
	set -- $TESTS
	boot "$WORK/console.log" "limpet.tests=$(IFS=,; echo "$*")" || true
	# The emulated board's own kernel panicking mid-run (multi-threaded TCG
	# now and then corrupts it, as with the text patching kvm-hold avoids)
	# says nothing about limpet: boot once more, and say so.  A second
	# panic fails the run like any other unfinished board.
	if ! grep -q '^@@limpet-board-done' <(console_lines <"$WORK/console.log") &&
		grep -q 'Kernel panic - not syncing' "$WORK/console.log"; then
		mv "$WORK/console.log" "$WORK/console-panic.log"
		log "the board's kernel panicked (console: $WORK/console-panic.log): booting it once more"
		grep -m1 -A3 'Kernel panic - not syncing' "$WORK/console-panic.log" | sed 's/^/board| /' >&2
		boot "$WORK/console.log" "limpet.tests=$(IFS=,; echo "$*")" || true
	fi
	rm -rf "$tapdir" && mkdir -p "$tapdir"
	console_lines <"$WORK/console.log" | awk -v dir="$tapdir" '
		/^@@limpet-test-begin / { f = dir "/" $2; printf "" > f; next }
		/^@@limpet-test-end / { print $3 > (dir "/" $2 ".rc"); close(f); f = ""; next }
		f != "" { print >> f }'
	grep -q '^@@limpet-board-done' <(console_lines <"$WORK/console.log") ||
		{
			log "the board did not finish its tests (console: $WORK/console.log); its last lines:"
			console_lines <"$WORK/console.log" | tail -n 25 | sed 's/^/board| /' >&2
			rc=1
		}
	for t in "$@"; do
		t=$(basename "$t")
		names+=("$t")
		[ -f "$tapdir/$t" ] || { log "$t did not run"; rc=1; continue; }
		[ "$(cat "$tapdir/$t.rc" 2>/dev/null)" = 0 ] || { log "$t exited $(cat "$tapdir/$t.rc" 2>/dev/null || echo '?')"; rc=1; }
	done
	[ -z "$BENCH" ] || return $rc
	(cd "$tapdir" && prove --exec cat "${names[@]}") || rc=1
	return $rc
}

main
