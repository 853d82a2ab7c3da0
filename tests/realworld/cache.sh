#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The real images, built once per recipe and then reused; sourced by the
# tier's tests (lib.sh) and by tests/bench/import.sh.
#   realworld_cache LOG   RW := ${LIMPET_CACHE_DIR:-~/.cache/limpet}/realworld/KEY,
#                         KEY a hash of the recipe (build.sh, dockerd.sh,
#                         recipe/*). Builds it there first when it is not
#                         complete (build.sh's output goes to LOG), under a
#                         lock so that runs side by side build it once, and
#                         removes older recipes' images. Returns 1 if the build
#                         failed. Then writes info/ARCHIVE.json (archinfo.py)
#                         where it is missing or older than archinfo.py.

RWDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

realworld_cache() {
	local log=$1 base key lockfd d f rc=0
	base=${LIMPET_CACHE_DIR:-$HOME/.cache/limpet}/realworld
	key=$({
		cat "$RWDIR/build.sh" "$RWDIR/dockerd.sh" "$RWDIR"/recipe/*
		echo "arm64=${LIMPET_REALWORLD_ARM64:-1}"
	} | sha256sum | cut -c1-16)
	RW=$base/$key
	mkdir -p "$base" || return 1
	exec {lockfd}>"$base/.lock"
	flock "$lockfd"
	if [ ! -f "$RW/complete" ]; then
		echo "building the real images for recipe $key into $RW (once; 15-25 minutes)" >&2
		rm -rf "$RW.tmp"
		if "$RWDIR/build.sh" "$RW.tmp" >"$log" 2>&1; then
			touch "$RW.tmp/complete"
			mv "$RW.tmp" "$RW"
			for d in "$base"/*; do
				[[ $(basename "$d") =~ ^[0-9a-f]{16}(\.tmp)?$ ]] && [ "$d" != "$RW" ] && rm -rf "$d"
			done
		else
			rc=1
		fi
	fi
	if [ $rc = 0 ]; then
		mkdir -p "$RW/info"
		for f in "$RW"/*.tar; do
			d=$RW/info/$(basename "$f").json
			[ "$d" -nt "$RWDIR/archinfo.py" ] && continue
			python3 "$RWDIR/archinfo.py" "$f" >"$d.tmp" && mv "$d.tmp" "$d" || { rc=1; break; }
		done
	fi
	exec {lockfd}>&-
	return $rc
}
