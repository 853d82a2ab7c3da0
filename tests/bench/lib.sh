#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Shared by the benchmarks.  hyperfine_round needs $TMP, $TIMES and the
# parallel arrays NAMES and CMDS (and PREPS, optional) set by the caller.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# bench_limpet [PATH] WHY: LIMPET := PATH (default build/limpet), absolute;
# dies unless it is executable and we are root (WHY says what needs root).
bench_limpet() {
	LIMPET=${1:-$TOP/build/limpet}
	case $LIMPET in /*) ;; *) LIMPET=$PWD/$LIMPET ;; esac
	[ "$(id -u)" -eq 0 ] || die "needs root ($2)"
	[ -x "$LIMPET" ] || die "$LIMPET is not an executable (run make first)"
}

# hyperfine_round RUNS WARMUP OFFSET: one hyperfine call timing every command
# RUNS times, in an order rotated by OFFSET, so that a burst of load from other
# work on the machine hits all of them alike across rounds.  Appends one
# "NAME SECONDS" line per run to $TIMES.
hyperfine_round() {
	local runs=$1 warm=$2 off=$3 i k hf
	hf=(hyperfine --runs "$runs" --warmup "$warm" --style none --export-json "$TMP/round.json")
	for k in "${!NAMES[@]}"; do
		i=$(((k + off) % ${#NAMES[@]}))
		hf+=(--command-name "${NAMES[$i]}")
		if [ -n "${PREPS[$i]-}" ]; then hf+=(--prepare "${PREPS[$i]}"); fi
		hf+=("${CMDS[$i]}")
	done
	# Outlier warnings are expected on a shared box; show stderr only on failure.
	"${hf[@]}" >/dev/null 2>"$TMP/hyperfine.err" || { cat "$TMP/hyperfine.err" >&2; die "hyperfine failed"; }
	python3 - "$TMP/round.json" >>"$TIMES" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    for t in r["times"]:
        print(r["command"], t)
PY
}

# sleep that a trapped INT/TERM interrupts at once (a foreground sleep would
# hold the trap back until it ends); the caller's cleanup kills $NAP_PID.
nap() {
	sleep "$1" &
	NAP_PID=$!
	wait "$NAP_PID"
	NAP_PID=
}

# remove_tmp DIR: unmount whatever a run left mounted below DIR (never rm -rf
# through a live mount), then remove DIR without leaving its filesystem.
remove_tmp() {
	local d
	awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r d; do umount -l "$d" 2>/dev/null; done
	rm -rf --one-file-system "$1"
}
