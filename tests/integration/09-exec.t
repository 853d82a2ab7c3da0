#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# limpet exec: a command inside a running container, as the container runs.
. "$(dirname "$0")/../lib/tap.sh"

start_agent
L run -d --name box --memory 32M --pids 16 --hostname boxy -e COLOR=red -w /tmp --user 1000:1000 \
	"$ROOTFS" /bin/sleep 1000 >/dev/null
L run -d --init --name boxi "$ROOTFS" /bin/sh -c 'exec sleep 1000' >/dev/null
wait_for 30 bash -c "[ \$($LIMPET --root $ROOT ps | grep -c running) = 2 ]"

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
L rm -f box boxi >/dev/null
