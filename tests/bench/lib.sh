#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Shared by the benchmarks.  hyperfine_round needs $TMP, $TIMES and the
# parallel arrays NAMES and CMDS (and PREPS, optional) set by the caller
# (add and bench_rounds below set them).

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

# For the benchmarks that time commands writing into a directory each:
#   add NAME PREPARE COMMAND  one more command for bench_rounds
#   fresh ID                  a --prepare that syncs (so the run's own sync
#                             flushes only its own files), then makes a new
#                             directory under $R and names it in $R/ID.cur
#   count DIR                 the regular files below DIR
NAMES=() CMDS=() PREPS=()
add() { NAMES+=("$1") PREPS+=("$2") CMDS+=("$3"); }
fresh() { echo "sync && mktemp -d $R/$1.XXXXXX >$R/$1.cur"; }
count() { find "$1" -type f | wc -l; }

# bench_rounds RUNS WARMUP: RUNS rounds of hyperfine_round, one run of each
# command a round, the order rotated each round, the warm-up runs in the
# first: a burst of load from other work on the box then hits all of them
# alike. TIMES := the file of "NAME SECONDS" lines; LOAD0 and LOAD1 := the
# load average before and after.
# shellcheck disable=SC2034 # the caller reads LOAD0 and LOAD1
bench_rounds() {
	local r warm
	TIMES=$TMP/times.txt
	: >"$TIMES"
	LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
	for r in $(seq 0 $(($1 - 1))); do
		warm=0
		[ "$r" -eq 0 ] && warm=$2
		hyperfine_round 1 "$warm" "$r"
	done
	LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
}

# bench_disk DIR MB: dies unless DIR's file system has MB (+1000) free for
# the runs' output.
bench_disk() {
	local have
	have=$(df -Pm "$1" | awk 'NR == 2 { print $4 }')
	[ "$have" -gt $(($2 + 1000)) ] ||
		die "needs about $2 MB free in $BASE for the runs' output, there are $have MB (LIMPET_BENCH_DIR, LIMPET_BENCH_RUNS)"
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
