#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Sourced by tests/board/run.sh for BOARD_BENCH only (make bench-vm): Debian's
# qemu-system-aarch64 with its shared libraries, for the board's initramfs,
# so that tests/bench/vm.sh can time QEMU beside limpet's VMM on the board's
# KVM. Uses run.sh's apt_download, unpack, die, log and $CACHE, $DEBARCH.
#
# The library closure is found from the binary itself: the NEEDED entries of
# qemu-system-aarch64 and of every library it pulls in, looked up in the
# unpacked .debs of the packages met so far. A soname not found there sends
# the search into the Depends of the package whose file needs it (shlibs
# dependencies name the package of each NEEDED library), until every NEEDED
# is found. Only the files of that closure go into the initramfs.

# qemu_needed FILE: its NEEDED sonames.
qemu_needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

# qemu_lib_deps PKG: the library packages PKG depends on (first of each
# alternative; Pre-Depends too), with the board's architecture.
qemu_lib_deps() {
	apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances "$1" 2>/dev/null |
		sed -n 's/^ *|\?\(Pre\)\?Depends: \([^<>]*\)$/\2/p' | sed 's/:.*//' |
		grep -E '^(lib|zlib)' | sed "s/\$/:$DEBARCH/"
}

# qemu_closure DIR: resolve the closure into DIR/opt/qemu; DIR/debs lists the
# packages unpacked on the way.
qemu_closure() {
	local root=$1 dir f so pkg found
	local -A pkgdir=() expanded=() owner=() libpath=() needed=() visited=()
	local -a search=() closure=() more=()
	local bin
	pkgdir[qemu-system-arm:arm64]=$(unpack "$(apt_download qemu-system-arm:arm64)")
	bin=${pkgdir[qemu-system-arm:arm64]}/usr/bin/qemu-system-aarch64
	[ -x "$bin" ] || die "no qemu-system-aarch64 in qemu-system-arm:arm64"
	owner[$bin]=qemu-system-arm:arm64
	while :; do
		# Every library the packages met so far hold, by file name.
		for pkg in "${!pkgdir[@]}"; do
			for f in "${pkgdir[$pkg]}"/{lib,usr/lib}/aarch64-linux-gnu/*.so*; do
				[ -e "$f" ] || continue
				so=$(basename "$f")
				[ -n "${libpath[$so]:-}" ] || { libpath[$so]=$f; owner[$f]=$pkg; }
			done
		done
		# The closure from the binary, walked afresh each round: a library
		# whose NEEDED are all found is walked through.
		more=() closure=()
		visited=()
		search=("$bin")
		while [ ${#search[@]} -gt 0 ]; do
			f=${search[0]}
			search=("${search[@]:1}")
			[ -z "${visited[$f]:-}" ] || continue
			visited[$f]=1
			closure+=("$f")
			[ -n "${needed[$f]+set}" ] || needed[$f]=$(qemu_needed "$f" | paste -sd' ')
			for so in ${needed[$f]}; do
				if [ -n "${libpath[$so]:-}" ]; then
					search+=("${libpath[$so]}")
				else
					more+=("${owner[$f]}")
				fi
			done
		done
		[ ${#more[@]} -gt 0 ] || break
		# Something is missing: fetch what its packages depend on.
		found=0
		for pkg in $(printf '%s\n' "${more[@]}" | sort -u); do
			[ -z "${expanded[$pkg]:-}" ] || continue
			expanded[$pkg]=1
			for dir in $(qemu_lib_deps "$pkg"); do
				[ -z "${pkgdir[$dir]:-}" ] || continue
				pkgdir[$dir]=$(unpack "$(apt_download "$dir")")
				found=1
			done
		done
		if [ $found = 0 ]; then
			for f in "${closure[@]}"; do
				for so in ${needed[$f]}; do
					[ -n "${libpath[$so]:-}" ] || echo "$so (for $(basename "$f"))"
				done
			done | sort -u >&2
			die "qemu-system-aarch64: these libraries are in no package its dependencies name"
		fi
	done
	mkdir -p "$root/opt/qemu/bin" "$root/opt/qemu/lib" "$root/opt/qemu/share"
	cp "$bin" "$root/opt/qemu/bin/"
	for f in "${closure[@]:1}"; do
		cp -L "$f" "$root/opt/qemu/lib/$(basename "$f")"
	done
	[ -e "$root/opt/qemu/lib/ld-linux-aarch64.so.1" ] || die "the closure has no ld-linux-aarch64.so.1"
	printf '%s\n' "${!pkgdir[@]}" | sed 's/:.*//' | sort | paste -sd' ' >"$root/debs"
}

# board_qemu ROOT: qemu-system-aarch64 as ROOT/opt/qemu/bin/qemu-system-aarch64,
# its libraries and the dynamic loader in ROOT/opt/qemu/lib (run it as
# /opt/qemu/lib/ld-linux-aarch64.so.1 --library-path /opt/qemu/lib ...).
# The resolved tree is kept in $CACHE/x beside the unpacked .debs, once per
# qemu-system-arm version (each apt-cache call takes a second or two, and the
# closure takes about 50 packages). Sets QEMU_BENCH_DEBS (for the log).
board_qemu() {
	local deb tree
	[ "$DEBARCH" = arm64 ] || die "BOARD_BENCH: the QEMU bench is for the arm64 board"
	command -v readelf >/dev/null || die "readelf is missing (apt-get install binutils)"
	deb=$(apt_download qemu-system-arm:arm64)
	tree=$CACHE/x/$(basename "$deb" .deb).closure
	if [ ! -e "$tree/.done" ]; then
		log "resolving the shared libraries of qemu-system-aarch64 (arm64)"
		rm -rf "$tree" && mkdir -p "$tree"
		qemu_closure "$tree"
		: >"$tree/.done"
	fi
	cp -a "$tree/opt" "$1/"
	# shellcheck disable=SC2034 # for run.sh's log line
	QEMU_BENCH_DEBS=$(cat "$tree/debs")
}
