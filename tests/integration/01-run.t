#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# limpet run in the foreground: output, exit codes, namespaces, overlay, bad input.
. "$(dirname "$0")/../lib/tap.sh"

out=$(L run --rm "$ROOTFS" /bin/echo hello world)
is "$out" "hello world" "stdout of the container reaches us"

L run --rm "$ROOTFS" /bin/sh -c 'exit 3'
is "$?" 3 "exit code propagates"

# PID 1 is immune to its own namespace's SIGKILL: --init makes the entrypoint PID 2.
L run --rm --init "$ROOTFS" /bin/sh -c 'kill -KILL $$; sleep 1'
is "$?" 137 "an entrypoint killed by SIGKILL exits 128+9"

err=$(L run --rm "$ROOTFS" /no/such/cmd 2>&1)
rc=$?
is "$rc" 127 "a missing command exits 127"
like "$err" "exec /no/such/cmd: No such file or directory" "and says why in one line"

out=$(L run --rm --hostname box1 "$ROOTFS" /bin/hostname)
is "$out" box1 "--hostname sets the UTS name"
is "$(hostname)" "$(hostname)" "host hostname untouched"

out=$(L run --rm "$ROOTFS" /bin/sh -c 'echo $$')
is "$out" 1 "the container sees itself as PID 1"

# A glob is expanded by the shell itself: no other process exists to be seen.
out=$(L run --rm "$ROOTFS" /bin/sh -c 'set -- /proc/[0-9]*; echo $#')
is "$out" 1 "it sees no host processes (only itself)"

out=$(L run --rm "$ROOTFS" /bin/sh -c "test -d /proc/$$ && echo visible || echo hidden")
is "$out" hidden "the test's own host pid is not visible"

out=$(L run --rm -e GREETING=hi -e EMPTY= "$ROOTFS" /bin/sh -c 'echo "$GREETING:$EMPTY:$PATH"')
is "$out" "hi::/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "-e sets env, PATH defaults"

out=$(L run --rm --workdir /tmp --user 1000:1000 "$ROOTFS" /bin/sh -c 'echo $(pwd) $(id -u) $(id -g)')
is "$out" "/tmp 1000 1000" "--workdir and --user"

out=$(L run --rm "$ROOTFS" /bin/sh -c 'ls /sys/class/net | tr "\n" " "')
is "$out" "lo " "own network namespace with only loopback"
out=$(L run --rm "$ROOTFS" /bin/sh -c 'ip link show lo | grep -c UP')
is "$out" 1 "loopback is up"
out=$(L run --rm --net host "$ROOTFS" /bin/sh -c 'ls /sys/class/net | wc -l')
is "$out" "$(ls /sys/class/net | wc -l)" "--net host shares the host's interfaces"

# Overlay: writes land in the upper dir, the lower rootfs is never written.
before=$(cd "$ROOTFS" && find . -newer bin/busybox | sort | md5sum)
L run --name writer "$ROOTFS" /bin/sh -c 'echo data > /etc/newfile; rm /bin/ls; echo x >> /etc/passwd'
is "$?" 0 "container writes to its root"
is "$(cat "$ROOT/containers/writer/upper/etc/newfile")" data "the write is in the upper dir"
check "deleting a lower file leaves a whiteout in the upper dir" test -c "$ROOT/containers/writer/upper/bin/ls"
check "the lower file is untouched" test -L "$ROOTFS/bin/ls"
check "the lower has no new file" test ! -e "$ROOTFS/etc/newfile"
is "$(grep -c x "$ROOTFS/etc/passwd")" 2 "the lower /etc/passwd is unchanged"
after=$(cd "$ROOTFS" && find . -newer bin/busybox | sort | md5sum)
is "$after" "$before" "nothing in the lower changed"
like "$(L ps)" "writer +exited\(0\)" "ps lists the exited container"
L rm writer >/dev/null
is "$?" 0 "rm removes it"
check "and its directory" test ! -e "$ROOT/containers/writer"

L run --rm --read-only "$ROOTFS" /bin/sh -c 'touch /x' 2>/dev/null
isnt=$?
check "--read-only root refuses writes" test "$isnt" -ne 0
out=$(L run --rm --read-only "$ROOTFS" /bin/sh -c 'echo ok > /tmp/x 2>/dev/null || echo ro')
is "$out" ro "--read-only covers /tmp too (it is part of the image)"

L run --rm --name gone "$ROOTFS" /bin/true
check "--rm removes the container after it exits" test ! -e "$ROOT/containers/gone"

L run --name twice "$ROOTFS" /bin/true
err=$(L run --name twice "$ROOTFS" /bin/true 2>&1)
rc=$?
is "$rc" 125 "a name in use is refused"
like "$err" "container name twice is already in use" "with the reason"
L rm twice >/dev/null

# Killed while the container was being made (a power cut, kill -9): the name stays free.
LIMPET_TEST_CRASH_IN_CREATE=1 L run --name cut "$ROOTFS" /bin/true >/dev/null 2>&1
is "$?" 137 "a run killed while making its container dies (test hook)"
is "$(L ps 2>&1 | grep -c cut)" 0 "what it left is not listed, and ps has nothing to say about it"
out=$(L run --rm --name cut "$ROOTFS" /bin/echo made 2>&1)
is "$?: $out" "0: made" "and the name can be used at once"

# What its starter ignores (nohup's SIGHUP, systemd's SIGPIPE) a container does not:
# an ignored signal survives exec, and a shell could not even trap it.
out=$(trap '' HUP PIPE; L run --rm "$ROOTFS" /bin/grep SigIgn /proc/self/status)
is "$out" "SigIgn:	0000000000000000" "a container starts with no signal ignored, whatever its starter ignored"

# Bad input: one line, exit 2, nothing created.
err=$(L run --memory 12X "$ROOTFS" /bin/true 2>&1)
is "$?" 2 "bad --memory exits 2"
is "$(echo "$err" | wc -l)" 1 "in one line"
like "$err" "^limpet run: --memory: .*12X" "naming the option and the value"
err=$(L run --cpus -1 "$ROOTFS" /bin/true 2>&1)
is "$?" 2 "bad --cpus exits 2"
err=$(L run --restart sometimes "$ROOTFS" /bin/true 2>&1)
is "$?" 2 "bad --restart exits 2"
err=$(L run --bogus "$ROOTFS" /bin/true 2>&1)
is "$?" 2 "unknown option exits 2"
err=$(L run /does/not/exist /bin/true 2>&1)
is "$?" 2 "missing rootfs exits 2"
like "$err" "ROOTFS_DIR /does/not/exist" "naming the rootfs"
err=$(L run --device /dev/nonexistent "$ROOTFS" /bin/true 2>&1)
is "$?" 2 "a missing --device exits 2"
err=$("$LIMPET" frobnicate 2>&1)
is "$?" 2 "unknown command exits 2"
# what a container is given is saved as JSON, which carries only UTF-8
err=$(L run -e "$(printf 'A=\360x')" "$ROOTFS" /bin/true 2>&1)
is "$?: $err" "2: limpet run: env: variable 1 is not valid UTF-8 text; see 'limpet run --help'" \
	"an environment that is not UTF-8 is refused, naming it"
err=$(L run "$ROOTFS" /bin/echo "$(printf '\377')" 2>&1)
is "$?: $err" "2: limpet run: command: argument 2 is not valid UTF-8 text; see 'limpet run --help'" \
	"so is an argument"
is "$(L ps | wc -l)" 1 "bad input created no container"

# Signals reach PID 1: a foreground run forwards SIGTERM to the container.
# (limpet itself, not the L function: a backgrounded function is a subshell.)
"$LIMPET" --root "$ROOT" run --rm --name sig "$ROOTFS" /bin/sh -c 'trap "echo got TERM; exit 7" TERM; echo ready; while :; do sleep 0.1; done' >"$T/sig.out" &
runner=$!
wait_for 30 grep -q ready "$T/sig.out"
kill -TERM $runner
wait $runner
is "$?" 7 "SIGTERM to limpet run is forwarded to PID 1 (its trap exits 7)"
is "$(grep -c 'got TERM' "$T/sig.out")" 1 "PID 1 saw the signal once"

# With --init, orphans are reaped: no zombie is left behind.
out=$(L run --rm --init "$ROOTFS" /bin/sh -c '(sleep 0.2 &); sleep 1; grep -l "^State:.*Z" /proc/[0-9]*/status 2>/dev/null | wc -l')
is "$out" 0 "--init reaps orphaned children (no zombies)"
out=$(L run --rm --init "$ROOTFS" /bin/sh -c 'echo $$; cat /proc/1/cmdline | tr "\0" " "')
like "$out" "^2" "--init: the entrypoint is PID 2 under limpet's init"

# --- who a named user is: its home and groups come from the root's own files, as in Docker
A=$T/accounts
make_accounts_rootfs "$ROOTFS" "$A"
ids() { L run --rm "$@" /bin/sh -c 'echo "$(id -u):$(id -g) $(id -G | tr " " "\n" | sort -n | tr "\n" " ")$HOME"'; }
is "$(ids -u alice "$A")" "1234:1234 44 1234 1500 /home/alice" \
	"-u NAME: the user's gid, the groups /etc/group lists it in, HOME from /etc/passwd"
is "$(ids "$A")" "0:0 0 10 /root" "root gets its groups and home the same way"
is "$(ids -u alice:crew "$A")" "1234:1500 1500 /home/alice" "-u NAME:GROUP: that group only (as Docker)"
is "$(ids -u 1300 "$A")" "1300:1300 44 1300 1500 1600 /home/bob" "-u UID of a user in /etc/passwd: the same as its name"
# Docker's answer for a uid the image does not know: the root group, HOME=/
is "$(ids -u 4321 "$A")" "4321:0 0 /" "-u UID not in /etc/passwd: gid 0 and no other group, HOME=/"
is "$(ids -u 4321:1500 "$A")" "4321:1500 1500 /" "-u UID:GID not in /etc/passwd: that gid"
is "$(ids -u 4321:crew "$A")" "4321:1500 1500 /" "-u UID:GROUP: the group by its name (as Docker)"
is "$(ids -u alice:1600 "$A")" "1234:1600 1600 /home/alice" "-u NAME:GID: that gid only"
err=$(L run --rm -u 4321:nosuch "$A" /bin/true 2>&1)
is "$?" 125 "-u UID:GROUP with a group /etc/group lacks fails at start"
like "$err" "nosuch" "naming the group"
cp -a "$A" "$T/nopasswd" && rm "$T/nopasswd/etc/passwd"
is "$(ids -u 4321 "$T/nopasswd")" "4321:0 0 /" "-u UID with no /etc/passwd at all: gid 0 too"
is "$(ids -u alice -e HOME=/work "$A")" "1234:1234 44 1234 1500 /work" "-e HOME wins over /etc/passwd"
# running NAME ARGS...: limpet run --name NAME ARGS in the background, until it runs
running() {
	L run --name "$@" >/dev/null &
	runner=$!
	wait_for 10 bash -c "$LIMPET --root $ROOT ps 2>/dev/null | grep -q '^$1 .*running'"
}
# gone NAME: stop it, let its limpet run finish, remove it
gone() {
	L stop -t 0 "$1" >/dev/null
	wait "$runner"
	L rm "$1" >/dev/null
}
gids='id -G | tr " " "\n" | sort -n | tr "\n" " "'
running grp -u alice "$A" /bin/sleep 1000
is "$(L exec grp /bin/sh -c "$gids")" "44 1234 1500 " \
	"exec gets the supplementary groups of the container's process"
gone grp
cp -a "$A" "$T/many"
for g in $(seq 2000 2064); do echo "g$g:x:$g:alice"; done >>"$T/many/etc/group"
err=$(L run --rm -u alice "$T/many" /bin/true 2>&1)
is "$?" 125 "a user in more groups than limpet takes is refused"
like "$err" "user 'alice': in more than 64 groups \(limpet's limit\)" "saying so"
# --init: PID 1 stays root; the entrypoint, and what exec joins, is alice with her groups
is "$(ids --init -u alice "$A")" "1234:1234 44 1234 1500 /home/alice" \
	"--init: the entrypoint gets the groups too"
running grpi --init -u alice "$A" /bin/sleep 1000
is "$(L exec grpi /bin/sh -c "id -u; $gids")" "1234
44 1234 1500 " "exec into an --init container: the entrypoint's user and groups"
gone grpi
# --userns: the kernel denies setgroups; the user, gid and HOME still apply, exec too
chmod 711 "$T"
cp -a "$A" "$T/uaccounts" && chown -R -h 100000:100000 "$T/uaccounts"
out=$(L run --rm --userns 100000:65536 -u alice "$T/uaccounts" /bin/sh -c \
	'echo "$(id -u):$(id -g) $HOME"' 2>&1)
is "$out" "1234:1234 /home/alice" "--userns -u NAME: its uid, gid and HOME (no setgroups)"
running grpu --userns 100000:65536 -u alice "$T/uaccounts" /bin/sleep 1000
is "$(L exec grpu /bin/sh -c 'echo "$(id -u):$(id -g)"' 2>&1)" "1234:1234" \
	"exec into a --userns container as NAME"
gone grpu
# the files are read inside the root: a symlink out of it is not followed
mkdir -p "$T/hostetc"
printf 'mallory:x:777:777::/m:/bin/sh\n' >"$T/hostetc/passwd"
cp -a "$A" "$T/escape"
rm -rf "$T/escape/etc"
ln -s "$T/hostetc" "$T/escape/etc"
err=$(L run --rm -u mallory "$T/escape" /bin/id -u 2>&1)
is "$?" 125 "a user is never looked up through a symlink out of the root"
like "$err" "user 'mallory': the container's /etc/passwd goes through a symlink \(not followed\)" "and says why"
