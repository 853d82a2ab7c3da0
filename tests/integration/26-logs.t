#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# logs -t, --since and --until: the times the agent keeps beside each log
# (container.log.idx), across a rotation, with -f, and for a log written
# before limpet kept them.  No fixed sleeps order the lines: each container
# waits for a file the test makes, after the test has taken its time.
. "$(dirname "$0")/../lib/tap.sh"

cat >"$T/limpet.conf" <<CONF
usb = { enabled = false; };
log = { max_size = "4K"; files = 2; };
CONF
check "the agent starts" start_agent -c "$T/limpet.conf"

STAMP='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z '
# stamped TEXT: every line starts with a time, and the times never go back
stamped() {
	local line prev=
	while IFS= read -r line; do
		[[ $line =~ $STAMP ]] || { diag "no time: '$line'"; return 1; }
		[[ ! ${line:0:30} < $prev ]] || { diag "back in time: '$line' after $prev"; return 1; }
		prev=${line:0:30}
	done <<<"$1"
}
# rfc3339 UNIX.FRACTION: the same time as RFC 3339, UTC
rfc3339() { echo "$(date -u -d "@${1%.*}" +%Y-%m-%dT%H:%M:%S).${1#*.}Z"; }
# a time after what the log holds now, and before what comes next
take_time() {
	sleep 1.1
	now=$EPOCHREALTIME
	sleep 0.2
}
go() { L exec "$1" /bin/touch /tmp/go; }

WAITS='while [ ! -e /tmp/go ]; do sleep 0.1; done'
L run -d --name x "$ROOTFS" /bin/sh -c "echo early; $WAITS; echo late" >/dev/null
check "x wrote early" wait_for 30 grep -q '^early' "$ROOT/containers/x/container.log"
check "the agent keeps its times beside the log" test -e "$ROOT/containers/x/container.log.idx"
take_time
t=$now
check "x is told to go on" go x
check "x wrote late" wait_for 30 grep -q '^late' "$ROOT/containers/x/container.log"
check "and ended" wait_for 30 bash -c "[ \"\$($LIMPET --root $ROOT inspect -f status x)\" = exited ]"
is "$(L logs --since "$t" x)" late "--since UNIX.FRACTION shows what came after it"
is "$(L logs --since "$(rfc3339 "$t")" x)" late "--since RFC 3339 the same"
is "$(L logs --until "$(rfc3339 "$t")" x)" early "--until what came before"
is "$(L logs --since 1h x | tr '\n' ' ')" "early late " "--since 1h: both"
is "$(L logs --since 10m --tail 1 x)" late "--since with --tail"
out=$(L logs -t x)
check "-t: each line after its RFC 3339 time, never going back" stamped "$out"
like "$(sed -n 2p <<<"$out")" "${STAMP}late$" "the line itself follows"
ago=$((${t%.*} - $(date -u -d "$(head -c 19 <<<"$out")" +%s)))
check "-t: early's time is a second or two before the time taken after it (${ago}s)" \
	test "$ago" -ge 1 -a "$ago" -lt 60

err=$(L logs --since yesterday x 2>&1)
is "$?" 2 "a bad --since is a usage error"
is "$(wc -l <<<"$err")" 1 "in one line"
like "$err" "^limpet logs: --since: 'yesterday' is not a time" "naming it"
err=$(L logs --until 5x x 2>&1)
is "$?:$(wc -l <<<"$err")" "2:1" "so is a bad --until"

# Rotation moves the times with the bytes: two batches, a rotation in the second.
L run -d --name rot "$ROOTFS" /bin/sh -c "i=0; while [ \$i -lt 60 ]; do echo \"a \$i ....................................................\"; i=\$((i+1)); done; $WAITS; i=0; while [ \$i -lt 60 ]; do echo \"b \$i ....................................................\"; i=\$((i+1)); done" >/dev/null
check "rot wrote its first batch" wait_for 30 grep -q '^a 59 ' "$ROOT/containers/rot/container.log"
take_time
t=$now
check "rot is told to go on" go rot
check "rot wrote its second batch" wait_for 30 bash -c "$LIMPET --root $ROOT logs --tail 1 rot | grep -q '^b 59 '"
check "and its log was rotated, with its times" wait_for 30 test -s "$ROOT/containers/rot/container.log.1.idx"
check "rot ended" wait_for 30 bash -c "[ \"\$($LIMPET --root $ROOT inspect -f status rot)\" = exited ]"
out=$(L logs --since "$t" rot)
is "$(grep -c '^b ' <<<"$out"):$(grep -c '^a ' <<<"$out")" "60:0" "--since across the rotated files: the second batch whole, none of the first"
out=$(L logs -t rot)
is "$(wc -l <<<"$out")" 120 "-t across the rotated files: every line"
check "each with its time, never going back" stamped "$out"

# -f -t: lines that come while following get their times too.
L run -d --name f "$ROOTFS" /bin/sh -c "echo one; $WAITS; echo two" >/dev/null
check "f wrote one" wait_for 30 grep -q '^one' "$ROOT/containers/f/container.log"
timeout 30 "$LIMPET" --root "$ROOT" logs -f -t f >"$T/follow.out" &
follower=$!
check "logs -f -t printed the first line" wait_for 30 grep -q 'one' "$T/follow.out"
take_time
go f
wait "$follower"
is "$?" 0 "logs -f -t ends when the container does"
out=$(cat "$T/follow.out")
is "$(sed 's/^[^ ]* //' <<<"$out" | tr '\n' ' ')" "one two " "it showed both lines"
check "each after its time, never going back" stamped "$out"
check "the second over a second after the first" \
	test "$(date -u -d "$(sed -n 2p <<<"$out" | cut -c1-19)" +%s)" -gt \
	"$(date -u -d "$(head -c 19 <<<"$out")" +%s)"

# A log written before limpet kept times: said once, then the file's mtime for every line.
rm "$ROOT/containers/x/container.log.idx"
out=$(L logs -t x 2>"$T/err")
is "$(cat "$T/err")" "limpet logs: x: no times recorded for this log (written before limpet kept them)" \
	"a log without times says so, once"
mtime=$(date -u -r "$ROOT/containers/x/container.log" +%Y-%m-%dT%H:%M:%S.%NZ)
is "$out" "$mtime early
$mtime late" "and dates its lines by the file's mtime"
is "$(L logs x 2>&1)" "early
late" "without -t or --since it says nothing of it"

L run --name fg "$ROOTFS" /bin/echo hi >/dev/null
is "$(L logs -t fg 2>&1)" "limpet logs: fg ran in the foreground; its output went to the terminal" \
	"a foreground container has no log, with -t too"
