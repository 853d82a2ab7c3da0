#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What running under systemd needs: the agent speaks sd_notify to a stand-in
# for systemd's socket (READY=1 once containers are adopted, WATCHDOG=1 from
# its main loop every WATCHDOG_USEC/2, STATUS=, STOPPING=1 on SIGTERM), and
# the Debian package of platform/dist/mkdeb.sh lays out binary, unit, config
# and maintainer scripts (made here from this build instead of the static one).
. "$(dirname "$0")/../lib/tap.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
LISTENER=
trap 'rc=$?; [ -z "$LISTENER" ] || kill "$LISTENER" 2>/dev/null; (exit $rc); _finish' EXIT

# listen ADDR LOG: print each line of each datagram to ADDR (a path, or @name)
# as "SECONDS LINE"; ready once it printed "listening".
listen() {
	[ -z "$LISTENER" ] || kill "$LISTENER" 2>/dev/null
	python3 -u -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
a = sys.argv[1]
s.bind("\0" + a[1:] if a.startswith("@") else a)
print("listening")
t0 = time.monotonic()
while True:
    for line in s.recv(4096).decode().split("\n"):
        print("%.3f %s" % (time.monotonic() - t0, line))
' "$1" >"$2" 2>&1 &
	LISTENER=$!
	wait_for 30 grep -q '^listening' "$2"
}
got() { grep -q " $1\$" "$2"; }
not() { ! "$@"; }

# A container for the agent to adopt: started by an agent without systemd.
start_agent || exit 1
L run -d --init --name kept "$ROOTFS" /bin/sleep 1000 >/dev/null
wait_for 30 bash -c "$LIMPET --root $ROOT ps | grep -q '^kept .*running'"
stop_agent

check "a stand-in notify socket listens" listen "$T/notify" "$T/notify.log"
# WATCHDOG_PID is the pid the agent will have: the subshell's, kept by exec.
(
	export NOTIFY_SOCKET=$T/notify WATCHDOG_USEC=200000 WATCHDOG_PID=$BASHPID
	exec "$LIMPET" --root "$ROOT" agent
) >>"$T/agent.log" 2>&1 &
AGENT_PID=$!
check "READY=1 arrives" wait_for 10 got READY=1 "$T/notify.log"
check "only after the running container was adopted" grep -q "container kept: adopted" "$T/agent.log"
sleep 1
watchdog=$(awk '/ READY=1$/ { r = 1 } r && / WATCHDOG=1$/ { print $1 }' "$T/notify.log")
n=$(wc -l <<<"$watchdog")
check "WATCHDOG=1 keeps coming from the main loop ($n in 1 s, every 0.1 s wanted)" test "$n" -ge 5
gap=$(awk 'NR > 1 { g = $1 - p; if (g > m) m = g } { p = $1 } END { printf "%.3f", m }' <<<"$watchdog")
check "never more than WATCHDOG_USEC apart (longest gap $gap s)" awk -v g="$gap" 'BEGIN { exit !(g < 0.2) }'
check "STATUS says how many containers run" got "STATUS=1 container running" "$T/notify.log"
L run -d --name second "$ROOTFS" /bin/sleep 1000 >/dev/null
check "and follows a new one" wait_for 30 got "STATUS=2 containers running" "$T/notify.log"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
is "$?" 0 "SIGTERM ends the agent cleanly"
AGENT_PID=
check "after STOPPING=1" got STOPPING=1 "$T/notify.log"
like "$(L ps)" "kept +running" "and the containers keep running"
after=$(awk '/ STOPPING=1$/ { s = 1; next } s && / WATCHDOG=1$/' "$T/notify.log")
is "$after" "" "no WATCHDOG=1 after STOPPING=1"

# An abstract socket, and a WATCHDOG_PID that is not the agent's: ready, no watchdog.
check "an abstract notify socket listens" listen "@limpet-test-notify-$$" "$T/notify2.log"
NOTIFY_SOCKET=@limpet-test-notify-$$ WATCHDOG_USEC=200000 WATCHDOG_PID=1 \
	"$LIMPET" --root "$ROOT" agent >>"$T/agent.log" 2>&1 &
AGENT_PID=$!
check "READY=1 arrives on it" wait_for 10 got READY=1 "$T/notify2.log"
sleep 0.5
check "a watchdog meant for another pid is not fed" not grep -q WATCHDOG=1 "$T/notify2.log"
stop_agent
check "STOPPING=1 at SIGTERM there too" wait_for 30 got STOPPING=1 "$T/notify2.log"

# --- the Debian package, from this build
case $(uname -m) in
x86_64) debarch=amd64 other=arm64 ;;
aarch64) debarch=arm64 other=amd64 ;;
*) echo "1..0 # SKIP no Debian architecture for $(uname -m)"; exit 0 ;;
esac
version=$(sed -n 's/^VERSION := //p' "$top/Makefile")
deb=$T/deb/limpet_${version}_$debarch.deb
out=$("$top/platform/dist/mkdeb.sh" "$LIMPET" "$version" "$debarch" "$deb" 2>"$T/mkdeb.err")
is "$?" 0 "mkdeb.sh builds a package"
is "$out" "$deb" "and says where"
is "$(dpkg-deb -f "$deb" Package Version Architecture Depends)" \
	"$(printf 'Package: limpet\nVersion: %s\nArchitecture: %s' "$version" "$debarch")" \
	"named limpet, with the Makefile's version, for $debarch, depending on nothing"
is "$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)" /etc/limpet/limpet.conf \
	"the config is a conffile"
files=$(dpkg-deb -c "$deb" | awk '{ print $1, $2, $6 }')
for f in "-rwxr-xr-x root/root ./usr/bin/limpet" \
	"-rw-r--r-- root/root ./etc/limpet/limpet.conf" \
	"-rw-r--r-- root/root ./lib/systemd/system/limpet.service" \
	"-rw-r--r-- root/root ./usr/share/doc/limpet/copyright" \
	"-rw-r--r-- root/root ./usr/share/doc/limpet/changelog.gz" \
	"-rw-r--r-- root/root ./usr/share/man/man1/limpet.1.gz" \
	"-rw-r--r-- root/root ./usr/share/bash-completion/completions/limpet" \
	"-rw-r--r-- root/root ./usr/share/lintian/overrides/limpet"; do
	check "it holds ${f##* }" grep -qxF -- "$f" <<<"$files"
done
mkdir -p "$T/ctrl"
dpkg-deb -e "$deb" "$T/ctrl"
for s in postinst prerm postrm; do
	check "$s is a valid sh script" sh -n "$T/ctrl/$s"
done
# Lines that run commands, not comments.
code() { grep -hv '^[[:space:]]*#' "$T/ctrl/postinst" "$T/ctrl/prerm" "$T/ctrl/postrm"; }
is "$(code | grep -w systemctl | grep -vc daemon-reload)" 0 \
	"systemctl only reloads; starts and stops go through deb-systemd-invoke (policy-rc.d)"
is "$(code | grep -c 'deb-systemd-invoke')" "$(code | grep -c 'deb-systemd-invoke.*|| true')" \
	"and a failing start does not fail the install"
check "the agent is started only where systemd runs" grep -q '^	if \[ -d /run/systemd/system \]; then' "$T/ctrl/postinst"
check "only purge deletes the state" bash -c "grep -A20 '^purge)' '$T/ctrl/postrm' | grep -q 'rm -rf /var/lib/limpet' &&
	! sed -n '/^remove)/,/;;/p' '$T/ctrl/postrm' | grep -q 'rm -rf'"
err=$("$top/platform/dist/mkdeb.sh" "$LIMPET" "$version" "$other" "$T/deb/wrong.deb" 2>&1)
is "$?" 1 "a binary for another machine is refused"
like "$err" "^mkdeb: .* is not an $other binary" "in one line"
check "and no package is left" test ! -e "$T/deb/wrong.deb"
if command -v lintian >/dev/null; then
	tags=$(lintian --fail-on error "$deb" 2>/dev/null)
	is "$?" 0 "lintian finds no errors"
	[ -z "$tags" ] || diag "$tags"
fi
