#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# TAP helpers for the integration tests: each test script sources this file,
# gets a private state directory ($ROOT) and a shared busybox rootfs ($ROOTFS).
set -u
: "${LIMPET:?set LIMPET to the limpet binary (make check does)}"
LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$LIB/rootfs.sh"

T=$(mktemp -d /tmp/limpet-test.XXXXXX)
ROOT=$T/state
WORK=$(cd "$LIB/../.." && pwd)/tests/.work
ROOTFS=$WORK/rootfs
AGENT_PID=
_n=0
_failed=0

if [ ! -x "$ROOTFS/bin/busybox" ]; then
	mkdir -p "$WORK"
	make_busybox_rootfs "$ROOTFS" || exit 1
fi

# L ARGS: limpet on this test's private state directory.
L() { "$LIMPET" --root "$ROOT" "$@"; }

# While TODO is set (todo REASON CHECK...), a failing check is a TAP TODO:
# reported with REASON, not counted as a failure (prove: "TODO passed" once it holds).
TODO=
ok() { _n=$((_n + 1)); echo "ok $_n - $*${TODO:+ # TODO $TODO}"; }
not_ok() {
	_n=$((_n + 1))
	[ -n "$TODO" ] || _failed=$((_failed + 1))
	echo "not ok $_n - $*${TODO:+ # TODO $TODO}"
}
todo() { local TODO=$1; shift; "$@"; }
diag() { sed 's/^/# /' <<<"$*"; }

# check DESC CMD...: passes when CMD succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; diag "command failed: $*"; fi
}

# is GOT WANT DESC
is() {
	if [ "$1" = "$2" ]; then ok "$3"; else not_ok "$3"; diag "got:  '$1'"; diag "want: '$2'"; fi
}

# like GOT REGEX DESC
like() {
	if [[ $1 =~ $2 ]]; then ok "$3"; else not_ok "$3"; diag "got:  '$1'"; diag "want: /$2/"; fi
}

# shellcheck source=tests/lib/wait.sh
. "$(dirname "${BASH_SOURCE[0]}")/wait.sh"

# start_agent [ARGS...]: the agent on $ROOT in the background, ready when its socket is.
# Without -c, a config of its own that leaves USB sticks alone: another
# test's loop-device stick (or the machine's own) is not this test's business.
start_agent() {
	if [[ " $* " != *" -c "* ]]; then
		[ -e "$T/quiet.conf" ] || echo 'usb = { enabled = false; };' >"$T/quiet.conf"
		set -- -c "$T/quiet.conf" "$@"
	fi
	# a stopped agent leaves its socket: waiting for it would not wait for this one
	rm -f "$ROOT/run/agent.sock"
	"$LIMPET" --root "$ROOT" "$@" agent >>"$T/agent.log" 2>&1 &
	AGENT_PID=$!
	wait_for 60 agent_up
	# an agent that could not start says why, here rather than in a later check
	if agent_gone; then
		diag "the agent exited at its start: $(tail -n 3 "$T/agent.log")"
		wait "$AGENT_PID" 2>/dev/null
		AGENT_PID=
		return 1
	fi
	test -S "$ROOT/run/agent.sock"
}
agent_up() { [ -S "$ROOT/run/agent.sock" ] || agent_gone; }
# agent_gone: the agent of start_agent has ended (a zombie not yet reaped too)
agent_gone() { ! grep -qs '^State:[[:space:]]*[^Z]' "/proc/$AGENT_PID/status"; }

# new_agent_log: start $T/agent.log afresh; what it held is kept for the
# diagnostics of a failed test.
new_agent_log() {
	cat "$T/agent.log" >>"$T/agent.earlier.log" 2>/dev/null
	: >"$T/agent.log"
}

stop_agent() {
	[ -n "$AGENT_PID" ] || return 0
	kill -TERM "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
}

# test_images: IMG := the signed images of images/build.sh, built for this
# test, or the prebuilt ones in $LIMPET_TEST_IMAGES (the board has no umoci).
test_images() {
	if [ -n "${LIMPET_TEST_IMAGES:-}" ]; then
		IMG=$LIMPET_TEST_IMAGES
		return
	fi
	IMG=$T/images
	"$LIB/../../images/build.sh" "$IMG" >"$T/build.log" 2>&1 || { cat "$T/build.log"; exit 1; }
}

# test_tool NAME OUT: the static test program tests/lib/NAME.c at OUT. A board
# has no compiler: run.sh builds them for it into $LIMPET_TEST_TOOLS. Elsewhere
# cc -static builds it; if this machine cannot link static programs at all, the
# whole script is skipped (it must call this before its first check), except
# in CI (CI=true), where that is a failure.
test_tool() {
	local name=$1 out=$2 why
	if [ -n "${LIMPET_TEST_TOOLS:-}" ]; then
		cp "$LIMPET_TEST_TOOLS/$name" "$out" && return 0
		echo "Bail out! $name is not in LIMPET_TEST_TOOLS=$LIMPET_TEST_TOOLS"
		exit 1
	fi
	cc -static -O2 -Wall -Wextra -Werror -o "$out" "$LIB/$name.c" 2>"$T/cc-$name.log" && return 0
	cat "$T/cc-$name.log" >&2
	if ! command -v cc >/dev/null; then
		why="no cc"
	elif ! echo 'int main(void) { return 0; }' | cc -static -x c -o "$T/cc-static" - 2>/dev/null; then
		why="cc cannot link static programs"
	else
		echo "Bail out! cannot build tests/lib/$name.c"
		exit 1
	fi
	skip_all "tests/lib/$name.c: $why, and no LIMPET_TEST_TOOLS"
}

# skip_all WHY: this machine lacks something the whole script needs: TAP's
# skip_all, before the first check (later, or in CI (CI=true), where the
# tools are installed, it is a failure).
skip_all() {
	[ "${CI:-}" != true ] || { echo "Bail out! $1 (CI=true)"; exit 1; }
	[ $_n -eq 0 ] || { echo "Bail out! $1"; exit 1; }
	echo "1..0 # SKIP $1"
	trap - EXIT
	rm -rf "$T"
	exit 0
}

# skip REASON: a check that cannot be made here, reported as skipped
skip() { _n=$((_n + 1)); echo "ok $_n # skip $*"; }
# have_python: python3 reads JSON here (the boards have none: checks that
# need it skip there, and run on the host)
have_python() { command -v python3 >/dev/null; }

# free_port: a TCP port nobody on this machine holds right now, below the
# ephemeral range so that no outgoing connection takes it meanwhile (busybox
# and bash only: the boards have no python3).
free_port() {
	local port used try
	used=$(awk 'NR > 1 { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null)
	for try in $(seq 100); do
		port=$((20000 + RANDOM % 12000))
		grep -qx "$(printf %04X "$port")" <<<"$used" || { echo "$port"; return 0; }
	done
	return 1
}

# date_in DAYS: an RFC 3339 time DAYS (may be negative) from now; GNU and busybox date.
date_in() { date -u -d "@$(($(date +%s) + $1 * 86400))" +%Y-%m-%dT%H:%M:%SZ; }

# now_ms: milliseconds since the epoch (busybox date has no %N).
now_ms() { local us=${EPOCHREALTIME/./}; echo $((us / 1000)); }

# newest_pid REGEX: the newest process whose command line (arguments joined by
# spaces, one trailing) matches; fails if none. busybox-static has no pgrep.
# Builtins only: a fork per process would make one scan take about a second.
newest_pid() {
	local p args cmd found=0
	for p in /proc/[0-9]*; do
		mapfile -d '' args 2>/dev/null <"$p/cmdline" || continue
		cmd="${args[*]} "
		[[ $cmd =~ $1 ]] && [ "${p#/proc/}" -gt "$found" ] && found=${p#/proc/}
	done
	[ "$found" != 0 ] && echo "$found"
}

# ps_field NAME FIELD: one field of container NAME (limpet inspect -f).
ps_field() { L inspect -f "$2" "$1"; }

_finish() {
	local rc=$?
	stop_agent
	# What the agent said is the first thing to read when a test failed.
	if [ $_failed -ne 0 ] && [ -s "$T/agent.earlier.log" ]; then
		diag "the agent's log before the last new_agent_log (last 60 lines):"
		diag "$(tail -60 "$T/agent.earlier.log")"
	fi
	if [ $_failed -ne 0 ] && [ -s "$T/agent.log" ]; then
		diag "last lines of the agent's log:"
		diag "$(tail -40 "$T/agent.log")"
	fi
	if [ -d "$ROOT/containers" ]; then
		for c in "$ROOT"/containers/*; do
			[ -e "$c" ] && "$LIMPET" --root "$ROOT" rm -f "$(basename "$c")" >/dev/null 2>&1
		done
	fi
	rm -rf "$T"
	echo "1..$_n"
	[ $_failed -eq 0 ] && [ $rc -eq 0 ]
}
trap _finish EXIT
