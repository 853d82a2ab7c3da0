#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A hostile process inside a running container against every way limpet
# reaches into it: exec, health probes, the --init PID 1, the entrypoint. It
# races for the limpet process's /proc/PID/exe (CVE-2019-5736's class) and
# /proc/PID/fd (CVE-2024-21626's), for /proc/1 of --init, and pushes input
# into the operator's terminal with TIOCSTI. The host must come out unchanged:
# the limpet binary (a copy, so that a successful attack spoils only that),
# a canary tree, and no file created through a stolen directory fd.
. "$(dirname "$0")/../lib/tap.sh"
. "$LIB/oci.sh"

rf=$T/rootfs
cp -a "$ROOTFS" "$rf"
test_tool attack "$rf/attack"
test_tool pty-run "$T/pty-run"

cp "$LIMPET" "$T/limpet"
LIMPET=$T/limpet
sum=$(sha256sum <"$LIMPET")
mkdir -p "$T/canary"
echo untouched >"$T/canary/file"
# Every failed candidate of a PATH search keeps limpet's process waiting longer.
longpath=$(printf '/no/such/dir%04d:' $(seq 3000))/bin

# wins NAME: what the racer in container NAME logged, read on the host side.
wins() { cat "$ROOT/containers/$1/upper/tmp/wins" 2>/dev/null; }
# stolen NAME: the racer's successes (all but its "racing" line).
stolen() { wins "$1" | grep -v '^racing$'; }
racing() { wins "$1" | grep -q '^racing$'; }

# --------------------------------------------------------- no host fd inside
is "$(L run --rm "$rf" /attack fds)" "0 1 2" "run: the entrypoint holds only fds 0, 1, 2"
is "$(L run --rm --init "$rf" /attack fds)" "0 1 2" "run --init: the entrypoint holds only fds 0, 1, 2"

start_agent
L run -d --name box -e "PATH=$longpath" "$rf" /attack race /tmp/wins >/dev/null
L run -d --name box1k --user 1000:1000 "$rf" /bin/sleep 1000 >/dev/null
check "the racer runs in box" wait_for 10 racing box
is "$(L exec box /attack fds)" "0 1 2" "exec: the command holds only fds 0, 1, 2"
is "$(L exec box1k /attack fds)" "0 1 2" "exec as uid 1000: the same"
# A working directory through a magic link would be one of limpet's own fds:
# a host directory handed in as stdin (CVE-2024-21626's WorkingDir trick).
mkdir -p "$T/hostdir" && echo secret >"$T/hostdir/host-secret"
# fd_cwd DESC ARGS...: limpet ARGS /bin/ls, its stdin a host directory.
fd_cwd() {
	local desc=$1 err
	shift
	err=$(L "$@" /bin/ls <"$T/hostdir" 2>&1)
	is "$?" 125 "$desc -w /proc/self/fd/0, stdin a host directory: refused"
	like "$err" "working directory /proc/self/fd/0: (Too many levels of symbolic links|Symbolic link loop)" \
		"$desc: the magic link is not followed, nothing of the host is listed"
}
fd_cwd run run --rm -w /proc/self/fd/0 "$rf"
fd_cwd "run --init" run --rm --init -w /proc/self/fd/0 "$rf"
fd_cwd exec exec -w /proc/self/fd/0 box
# A user namespace root must be able to walk down to its container directory.
chmod 711 "$T"
urf=$T/userns-rootfs
cp -a "$rf" "$urf" && chown -R -h 100000:100000 "$urf"
L run -d --name ubox --userns 100000:65536 "$urf" /bin/sleep 1000 >/dev/null
is "$(L exec ubox /bin/sh -c 'id -u; /attack fds')" "0
0 1 2" "exec in a --userns container: as its root, with fds 0, 1, 2"

# ------------------------------------------------- exec against a racer inside
fails=0
for i in $(seq 30); do
	L exec box true || fails=$((fails + 1))
done
is "$fails" 0 "30 execs of a command found through a 3000-entry PATH"
is "$(stolen box)" "" "the racer reached neither the exe nor an fd of limpet's process"

# ------------------------------------------ exec cannot type into our terminal
# tty_run CMD: CMD run by bash in a new session on a new pty; prints the pty's output.
tty_run() { "$T/pty-run" bash -c "$1"; }
for ct in box box1k; do
	out=$(tty_run "'$LIMPET' --root '$ROOT' exec $ct /attack tiocsti; read -t 1 line; echo \"read [\$line]\"")
	like "$out" "TIOCSTI: " "exec in $ct: TIOCSTI on the terminal is refused"
	like "$out" "read \[\]" "and nothing was typed into the shell that ran exec"
done
out=$(tty_run "'$LIMPET' --root '$ROOT' exec box sh -c '/attack tiocsti'; read -t 1 line; echo \"read [\$line]\"")
like "$out" "read \[\]" "nor through the container's /bin/sh"

# ------------------------------------------------ health probes against a racer
key=$T/deploy
L keygen "$key" >/dev/null
D=$T/bundle
mkdir -p "$D/images"
oci_archive "$rf" "$D/images/attack.tar" || { echo "Bail out! oci_archive"; exit 1; }
SHA=$(sha256sum <"$D/images/attack.tar" | cut -c1-64)
SIZE=$(stat -c %s "$D/images/attack.tar")
probepath=$(printf '/no/such/dir%04d:' $(seq 1000))/bin
# The probe fails twice (inside the start period) and then passes: three probes.
cat >"$D/deployment.json" <<EOF
{ "version": 1, "expires": "$(date_in 30)", "target": { "devices": ["$(hostname)"] },
  "containers": [ { "name": "app", "user": "0:0",
    "image": { "url": "images/attack.tar", "size": $SIZE, "sha256": "$SHA" },
    "command": ["/attack", "race", "/tmp/wins"], "env": ["PATH=$probepath"],
    "health": { "command": ["sh", "-c", "/attack fds >>/tmp/probe-fds; [ \$(wc -l </tmp/probe-fds) -ge 3 ]"],
      "interval": "1s", "start_period": "30s" } } ] }
EOF
L image sign "$key.key" "$D/deployment.json" >/dev/null
L deploy --trust "$key.pub" "$D/deployment.json" >/dev/null 2>"$T/deploy.err"
is "$?" 0 "a deployment whose container races its health probes is applied"
is "$(cat "$ROOT/containers/app.v1/upper/tmp/probe-fds" 2>/dev/null | sort -u)" "0 1 2" \
	"every probe held only fds 0, 1, 2"
is "$(stolen app.v1)" "" "the racer reached nothing of the probes"

# ---------------------------------------------------- --init: PID 1 at the start
won=0
for i in $(seq 30); do
	out=$(L run --rm --init "$rf" /attack init 2>&1)
	if [ "$out" != refused ]; then
		won=$((won + 1))
		diag "start $i: $out"
	fi
done
is "$won" 0 "30 --init entrypoints found /proc/1/exe and /proc/1/mem closed from the start"
L run -d --init --name ibox "$rf" /bin/sleep 1000 >/dev/null
pid1=$(ps_field ibox pid)
like "$(readlink "/proc/$pid1/exe")" "^/memfd:" "the --init PID 1 runs a sealed copy, not the host's binary"
exe_sum=$(sha256sum <"/proc/$pid1/exe")
is "$exe_sum" "$sum" "(a copy of this very limpet)"
is "$("$rf/attack" seals "/proc/$pid1/exe")" "write grow shrink seal" \
	"which is sealed against writes, growing, shrinking and unsealing"
is "$(ls /proc/$pid1/fd | sort -n | tr '\n' ' ')" "0 1 2 4 " "PID 1 holds its stdio and the exit file, nothing else"
is "$(readlink /proc/$pid1/fd/4)" "$ROOT/containers/ibox/exit" "(fd 4 is the exit file)"
check "its root and working directory are the container's" \
	test -x "/proc/$pid1/root/attack" -a -x "/proc/$pid1/cwd/attack"
L rm -f ibox >/dev/null

# ------------------------------------------------------------ the host is intact
stop_agent
# A stolen exe is written as soon as no process runs the binary any more.
if stolen box | grep -q '^exe' || stolen app.v1 | grep -q '^exe'; then
	wait_for 10 sh -c "cat '$ROOT'/containers/*/upper/tmp/wins | grep -q '^wrote'"
fi
is "$(sha256sum <"$LIMPET")" "$sum" "the limpet binary is untouched"
is "$(cat "$T/canary/file")" untouched "the canary is untouched"
is "$(find "$T" -name escaped-by-exec 2>/dev/null)" "" \
	"no file was created through a stolen directory fd"
diag "$(stolen box; stolen app.v1)"
L rm -f box box1k ubox app.v1 >/dev/null 2>&1
