#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The agent: detached containers, stop, restart policies, bounded logs,
# config-declared containers, and an agent restart that kills nothing.
. "$(dirname "$0")/../lib/tap.sh"

cat >"$T/limpet.conf" <<CONF
usb = { enabled = false; };
log = { max_size = "16K"; files = 2; };
stop_timeout = "2s";
containers = (
	{ name = "svc"; rootfs = "$ROOTFS"; command = [ "/bin/sh", "-c", "echo svc up; exec sleep 1000" ];
	  memory = "32M"; pids = 16; restart = "always"; init = true; }
);
CONF

err=$(L run -d "$ROOTFS" /bin/true 2>&1)
is "$?" 125 "run -d without an agent fails"
like "$err" "no agent is running" "and says so"

# what an rm killed half way leaves: renamed out of the listing, not yet gone
mkdir -p "$ROOT/containers/.removing-cut/upper/a/b"
# and what a run killed while making its container leaves
LIMPET_TEST_CRASH_IN_CREATE=1 L run --name half "$ROOTFS" /bin/true >/dev/null 2>&1
check "a run cut short left its container half made" \
	bash -c "ls -d $ROOT/containers/.creating-* >/dev/null"
check "the agent starts" start_agent -c "$T/limpet.conf"
check "and finishes a removal that was cut short" test ! -e "$ROOT/containers/.removing-cut"
check "and clears the container that was never made" \
	bash -c "! ls -d $ROOT/containers/.creating-* 2>/dev/null"
check "the config's container runs" wait_for 10 bash -c "$LIMPET --root $ROOT ps | grep -q '^svc .*running'"
check "its output is in the log" wait_for 30 bash -c "$LIMPET --root $ROOT logs svc | grep -q 'svc up'"

is "$(L run -d --name bg "$ROOTFS" /bin/sh -c 'echo started; exec sleep 1000')" bg "run -d prints the name"
check "run -d container is running" wait_for 30 bash -c "$LIMPET --root $ROOT ps | grep -q '^bg .*running'"
pid=$(ps_field bg pid)
check "its PID 1 is a real host process" test -d "/proc/$pid"

# stop: SIGTERM is ignored by a PID 1 without a handler, so stop escalates.
t0=$(now_ms)
L stop -t 1 bg >/dev/null
t1=$(now_ms)
ms=$((t1 - t0))
check "stop waited about the timeout before SIGKILL (${ms} ms)" test $ms -ge 900 -a $ms -lt 5000
check "the container is gone" test ! -d "/proc/$pid"
check "ps says killed by signal 9" wait_for 30 bash -c "$LIMPET --root $ROOT ps | grep -q '^bg .*killed(9)'"
sleep 0.5
like "$(L ps)" "bg +killed\(9\)" "and the agent did not restart it"

# With --init, SIGTERM reaches the entrypoint and stop is quick.
L run -d --init --name graceful "$ROOTFS" /bin/sleep 1000 >/dev/null
wait_for 30 bash -c "$LIMPET --root $ROOT ps | grep -q '^graceful .*running'"
t0=$(now_ms)
L stop -t 60 graceful >/dev/null
ms=$(($(now_ms) - t0))
# quick: well before the timeout, however loaded the machine
check "with --init SIGTERM is forwarded and stop is quick (${ms} ms)" test $ms -lt 30000
check "exit recorded as signal 15" wait_for 30 bash -c "$LIMPET --root $ROOT ps | grep -q '^graceful .*killed(15)'"

# Restart policy: on-failure:3 restarts three times, then gives up.
L run -d --name flaky --restart on-failure:3 "$ROOTFS" /bin/sh -c 'echo attempt; exit 1' >/dev/null
check "on-failure:3 gives up after 3 restarts" wait_for 15 bash -c "$LIMPET --root $ROOT ps | grep -qE '^flaky +exited\(1\) +- +3 '"
is "$(L logs flaky | grep -c attempt)" 4 "it ran four times in all"
sleep 1
is "$(ps_field flaky restarts)" 3 "and stays given up"
like "$(cat "$T/agent.log")" "giving up after 3 restarts" "the agent says it gave up"

# A stop wins over a restart the agent has planned: stop, caught at any
# point of a flapping container's exits and restarts, is never undone.
lost=""
for i in $(seq 10); do
	L run -d --name flap$i --restart always "$ROOTFS" /bin/sh -c 'exit 1' >/dev/null
	sleep "0.$((RANDOM % 5))"
	L stop -t 1 "flap$i" >/dev/null
	before=$(ps_field "flap$i" restarts)
	# nothing may happen now: a slow machine only makes this pass sooner
	sleep 1
	after="$(ps_field "flap$i" restarts) $(ps_field "flap$i" status)"
	[ "$after" = "$before exited" ] || lost+=" flap$i: $before -> $after;"
	L rm -f "flap$i" >/dev/null
done
is "$lost" "" "stop is never undone by a restart the agent had planned (10 rounds)"

L run -d --name okonce --restart on-failure:3 "$ROOTFS" /bin/true >/dev/null
check "okonce ran and exited 0" wait_for 30 bash -c "$LIMPET --root $ROOT ps | grep -qE '^okonce +exited\(0\)'"
sleep 1
is "$(ps_field okonce restarts)" 0 "on-failure does not restart a clean exit"

# Logs are bounded: 1 MB of output, 16K files, 2 kept.
L run -d --name chatty "$ROOTFS" /bin/sh -c 'i=0; while [ $i -lt 20000 ]; do echo "line $i of chatter ......................"; i=$((i+1)); done; exec sleep 1000' >/dev/null
check "chatty wrote its last line" wait_for 30 bash -c "$LIMPET --root $ROOT logs --tail 1 chatty | grep -q 'line 19999 '"
size=$(cat "$ROOT"/containers/chatty/container.log "$ROOT"/containers/chatty/container.log.1 | wc -c)
check "its logs stay within 2 x 16K ($size bytes)" test "$size" -le 32768
is "$(ls "$ROOT"/containers/chatty/ | grep -c '^container\.log\(\.[0-9]*\)\?$')" 2 "two log files"
is "$(ls "$ROOT"/containers/chatty/ | grep -c '^container\.log.*\.idx$')" 2 "each with its times beside it"
is "$(L logs --tail 3 chatty | wc -l)" 3 "logs --tail 3 gives 3 lines"

# The agent restarts; the containers keep running and are adopted.
svc_pid=$(ps_field svc pid)
chatty_pid=$(ps_field chatty pid)
stop_agent
check "agent stopped, svc still running" test -d "/proc/$svc_pid"
check "agent stopped, chatty still running" test -d "/proc/$chatty_pid"
check "the agent starts again" start_agent -c "$T/limpet.conf"
check "it adopts svc" wait_for 30 grep -q "container svc: adopted (pid $svc_pid)" "$T/agent.log"
is "$(ps_field svc pid)" "$svc_pid" "svc kept its process"
is "$(ps_field svc restarts)" 0 "svc was not restarted"

# An adopted container's exit is still seen (with --init, even its status).
kill -TERM "$(cat /proc/$svc_pid/task/$svc_pid/children | awk '{print $1}')"
check "the adopted svc exit is noticed and it restarts (policy always)" wait_for 10 bash -c "[ \"\$($LIMPET --root $ROOT inspect -f restarts svc)\" = 1 ]"
like "$(cat "$T/agent.log")" "container svc was killed by signal 15" "the agent knew how it ended (exit file)"
# Without --init nobody can know how an adopted container ended: unknown everywhere.
is "$(ps_field chatty exit_code)" null "a running container has no exit code (null)"
kill -KILL "$chatty_pid"
check "the adopted chatty's exit is noticed: exited(?)" \
	wait_for 10 bash -c "$LIMPET --root $ROOT ps | grep -q '^chatty .*exited(?)'"
is "$(ps_field chatty exit_code) $(ps_field chatty signal)" "null null" "inspect says its exit code and signal are unknown (null)"
if have_python; then
	is "$(L ps --json | python3 -c 'import json,sys; print([c for c in json.load(sys.stdin) if c["name"] == "chatty"][0]["exit_code"])')" \
		None "and so does ps --json"
else
	skip "ps --json is read with python3, which this machine lacks"
fi

# logs -f follows a container's output and ends when the container does.
L run -d --name talker "$ROOTFS" /bin/sh -c 'echo first; sleep 1; echo second' >/dev/null
out=$(timeout 15 "$LIMPET" --root "$ROOT" logs -f talker)
is "$?" 0 "logs -f returns once the container has exited"
is "$(echo "$out" | tr '\n' ' ')" "first second " "and showed what was written meanwhile"

# run -d --rm: the agent removes the container when it ends.
L run -d --rm --name shortlived "$ROOTFS" /bin/true >/dev/null
check "run -d --rm removes the container after it exits" wait_for 10 test ! -e "$ROOT/containers/shortlived"

# A changed config entry replaces the running container at the next agent start.
svc_pid=$(ps_field svc pid)
stop_agent
sed -i 's/memory = "32M"/memory = "48M"/' "$T/limpet.conf"
start_agent -c "$T/limpet.conf"
check "the agent says the config changed" wait_for 10 grep -q "container svc: config changed, replacing it" "$T/agent.log"
check "and runs the new svc" wait_for 10 bash -c "$LIMPET --root $ROOT ps | grep -q '^svc .*running'"
# Orphaned by the earlier agent, its zombie is reaped by the host's init, in its own time.
gone() { [ ! -d "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
check "in place of the old process" wait_for 30 gone "$svc_pid"
is "$(ps_field svc limits.memory)" 50331648 "with the new limit"
err=$(L inspect -f limits.nope svc 2>&1)
is "$?" 1 "inspect of a field that is not there fails"
is "$err" "limpet inspect: svc has no field limits.nope" "and names the field"

# `run -d --restart always` outlives the agent: if it ended while no agent
# ran, the next one starts it again.
L run -d --name lasting --restart always "$ROOTFS" /bin/sleep 1000 >/dev/null
check "lasting runs" wait_for 10 bash -c "$LIMPET --root $ROOT ps | grep -q '^lasting .*running'"
lasting_pid=$(ps_field lasting pid)
stop_agent
kill -KILL "$lasting_pid"
check "lasting ended while the agent was down" wait_for 30 gone "$lasting_pid"
new_agent_log
start_agent -c "$T/limpet.conf"
check "the next agent notes how it ended" \
	wait_for 10 grep -q "container lasting: exited while no agent was running" "$T/agent.log"
check "and starts it again (policy always)" wait_for 10 bash -c \
	"$LIMPET --root $ROOT ps | grep -q '^lasting .*running' && [ \"\$($LIMPET --root $ROOT inspect -f restarts lasting)\" = 1 ]"

# A stop that lands while the agent starts up is heeded: the agent decides
# under the container's lock on what its state says then, not on what it
# read before. Here the lock is held across that moment and the stop
# recorded in it.
if have_python; then
	lasting_pid=$(ps_field lasting pid)
	stop_agent
	kill -KILL "$lasting_pid"
	wait_for 30 gone "$lasting_pid"
	new_agent_log
	python3 - "$ROOT/containers/lasting" "$T/agent.log" "$T/locked" <<'PY' &
import fcntl, json, os, sys, time
ct, log, locked = sys.argv[1:4]
with open(os.path.join(ct, "state.lock"), "a+") as lock:
    fcntl.lockf(lock, fcntl.LOCK_EX)
    open(locked, "w").close()
    deadline = time.monotonic() + 60
    while "container lasting: exited while no agent" not in open(log).read():
        if time.monotonic() > deadline:
            sys.exit("the agent never got to lasting")
        time.sleep(0.05)
    path = os.path.join(ct, "state.json")
    state = json.load(open(path))
    state["stop_requested"] = True
    with open(path + ".tmp", "w") as f:
        json.dump(state, f)
    os.rename(path + ".tmp", path)
PY
	holder=$!
	wait_for 10 test -e "$T/locked"
	start_agent -c "$T/limpet.conf"
	wait "$holder"
	is "$?" 0 "(the stop was recorded while the agent started)"
	# run -d is served once the agent is in its loop: the start-up is over.
	L run -d --rm --name synced "$ROOTFS" /bin/true >/dev/null
	is "$(ps_field lasting status) $(ps_field lasting restarts)" "exited 1" \
		"a container stopped while the agent started up is not started again"
else
	skip "the lock is held with python3, which this machine lacks"
fi
L rm -f lasting >/dev/null

# A second agent on the same state directory is refused.
err=$(L -c "$T/limpet.conf" agent 2>&1)
is "$?" 1 "a second agent is refused"
like "$err" "another agent is running" "and says why"

# Bad config: file:line and setting, exit 2, the running agent is unaffected.
printf 'log = { max_size = "12Q"; };\n' >"$T/bad.conf"
err=$(L -c "$T/bad.conf" ps 2>&1)
is "$?" 2 "a bad config exits 2"
like "$err" "bad.conf:1.*max_size" "naming file:line and the setting"

L rm -f svc chatty okonce flaky graceful bg talker >/dev/null
stop_agent
