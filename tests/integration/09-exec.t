#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# limpet exec: a command inside a running container, as the container runs.
. "$(dirname "$0")/../lib/tap.sh"

start_agent
L run -d --name box --memory 32M --pids 16 --hostname boxy -e COLOR=red -w /tmp --user 1000:1000 \
	"$ROOTFS" /bin/sleep 1000 >/dev/null
L run -d --init --name boxi "$ROOTFS" /bin/sh -c 'exec sleep 1000' >/dev/null
# A process that leaves its configured directory and environment behind.
L run -d --name moved -e COLOR=red -w /tmp "$ROOTFS" /bin/sh -c 'cd / && exec env -i /bin/sleep 1000' >/dev/null
wait_for 30 bash -c "[ \$($LIMPET --root $ROOT ps | grep -c running) = 3 ]"

out=$(L exec box /bin/sh -c 'echo $(hostname) $(id -u):$(id -g) $(pwd) $COLOR')
is "$out" "boxy 1000:1000 /tmp red" "exec runs as the container's user, in its dir and env"
out=$(L exec box /bin/sh -c 'cat /proc/1/cmdline | tr "\0" " "')
is "$out" "/bin/sleep 1000 " "it sees the container's PID 1 (its PID namespace)"
out=$(L exec box /bin/sh -c 'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status | tr "\t\n" "  "')
is "$out" "CapEff: 0000000000000000 NoNewPrivs: 1 Seccomp: 2 " "with the container's restrictions"
# A command that lasts until the test ends it: a slow machine cannot outrun it.
"$LIMPET" --root "$ROOT" exec box /bin/sleep 1001 &
execer=$!
wait_for 30 newest_pid "^/bin/sleep 1001 $" >/dev/null
pid=$(newest_pid "^/bin/sleep 1001 $")
cg=$(ps_field box cgroup)
if [ -f "/sys/fs/cgroup/pids$cg/cgroup.procs" ]; then procs=/sys/fs/cgroup/pids$cg/cgroup.procs; else procs=/sys/fs/cgroup$cg/cgroup.procs; fi
check "the command is in the container's cgroup" grep -qx "${pid:-none}" "$procs"
[ -z "$pid" ] || kill "$pid"
wait $execer
is "$(L exec -e COLOR=blue box /bin/sh -c 'echo $COLOR')" blue "-e overrides the container's env"
is "$(trap '' HUP PIPE; L exec box /bin/grep SigIgn /proc/self/status)" "SigIgn:	0000000000000000" \
	"exec: no signal ignored, whatever the caller ignored"
# As Docker's: the container's configured environment and working directory,
# not what its process made of its own since.
whereami='echo "$COLOR $(pwd) $HOME $HOSTNAME $PATH"'
configured="red /tmp /root moved /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
is "$(L exec moved /bin/sh -c "$whereami")" "$configured" \
	"exec: the container's configured env (-e, defaults) and workdir, not its process's"
is "$(L exec -e COLOR=blue -e NEW=1 moved /bin/sh -c 'echo "$COLOR $NEW $HOME"')" "blue 1 /root" \
	"exec -e adds to that environment"
is "$(L exec -w /etc moved /bin/sh -c 'pwd; echo $COLOR')" "/etc"$'\n'"red" "exec -w DIR: the command's directory"
is "$(L exec --workdir /usr/bin moved /bin/pwd)" /usr/bin "exec --workdir DIR: the same"
err=$(L exec -w etc moved /bin/pwd 2>&1)
is "$?" 2 "a relative exec -w is refused (exit 2)"
like "$err" "^limpet exec: -w etc: not an absolute path" "saying so"
err=$(L exec -w /no/such moved /bin/pwd 2>&1)
is "$?" 125 "exec -w into a missing directory fails (exit 125)"
like "$err" "working directory /no/such: No such file or directory" "in one line"
# The directory is looked up inside the container's root: a link to a host path leads nowhere.
L exec moved /bin/ln -s "$T" /tmp/host
err=$(L exec -w /tmp/host moved /bin/pwd 2>&1)
is "$?" 125 "exec -w through a symlink to a host path: resolved inside the container"
L exec moved /bin/ln -s /etc /tmp/etc-link
is "$(L exec -w /tmp/etc-link moved /bin/ls passwd)" passwd "a symlink inside it is followed there"
# A container an older limpet started has no run.env: its config gives the same.
check "a start records what it gave the process in run.env" test -f "$ROOT/containers/moved/run.env"
rm -f "$ROOT/containers/moved/run.env" "$ROOT/containers/boxi/run.env"
is "$(L exec moved /bin/sh -c "$whereami")" "$configured" "without run.env: the same, from its config"
is "$(L exec boxi /bin/pwd)" / "(without a workdir: /)"
L exec box /bin/sh -c 'exit 7'
is "$?" 7 "exit status propagates"
out=$(L exec boxi /bin/sh -c 'ps -o pid,comm | tr -s " \n" " "')
like "$out" "2 sleep" "with --init, exec joins the entrypoint's container"
err=$(L exec box /no/such 2>&1)
is "$?" 127 "a missing command exits 127"
like "$err" "exec /no/such: No such file or directory" "in one line"
err=$(L exec nobox /bin/true 2>&1)
is "$?" 1 "an unknown container is an error"
L stop -t 0 box >/dev/null
err=$(L exec box /bin/true 2>&1)
is "$?" 1 "a stopped container cannot be entered"
like "$err" "not running" "and says so"
L rm -f box boxi moved >/dev/null
