#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kill -9 during a deployment switch, of the applier (`limpet deploy`), of
# the agent (the applier lives on), or of both (a fleet poller dies with its
# agent; a power cut takes both): at every journaled step (the test-only
# LIMPET_TEST_CRASH_AT hook), in a rollback, and at random times. After each
# kill the agent's start or the next apply settles the switch, and exactly
# one complete deployment runs: every container of `deploy status`'s current
# version running, one per entry, each volume mounted in one container at
# most (looking at every process on the machine), nothing else deployed, no
# switch left in progress. Also: a switch cut short is tried again, and given
# up after 3 attempts; the two reports of issue 14 (item 10) reproduced
# without the hook; a process left by a start cut short is removed by rm.
. "$(dirname "$0")/../lib/tap.sh"
test_images
D=$T/bundle
mkdir -p "$D/images" "$T/docs"
cp "$IMG/hello.tar" "$D/images/"
SHA=$(sha256sum <"$D/images/hello.tar" | cut -c1-64)
SIZE=$(stat -c %s "$D/images/hello.tar")
future=$(date_in 30)
host=$(hostname)
RANDOM_ROUNDS=${RANDOM_ROUNDS:-8}

# ct NAME ENV [HEALTH]: an entry with a volume of its own, NAME-data
ct() {
	printf '{ "name": "%s", "init": true, "user": "0:0", "env": ["V=%s"],
	  "command": ["echo $V >>/data/log; exec sleep 1000"],
	  "image": { "url": "images/hello.tar", "size": %s, "sha256": "%s" },
	  "volumes": [ { "name": "%s-data", "path": "/data" } ], "health": %s }' \
		"$1" "$2" "$SIZE" "$SHA" "$1" "${3:-{ \"start_period\": \"0s\" \}}"
}
# publish VERSION ENTRY...: sign it into $D, keep a copy for the checks
publish() {
	local v=$1 IFS=,
	shift
	printf '{ "version": %s, "expires": "%s", "target": { "devices": ["%s"] },\n  "containers": [ %s ] }\n' \
		"$v" "$future" "$host" "$*" >"$D/deployment.json"
	L image sign "$IMG/demo.key" "$D/deployment.json" >/dev/null
	cp "$D/deployment.json" "$T/docs/v$v.json"
}
# publish_next [HEALTH]: version V+1 of the test's deployment, a switch of
# the same shape from whatever runs: a changes, b does not, and of c and d
# the one that runs goes and the other one comes
V=0
publish_next() {
	local cur
	V=$((V + 1))
	cur=$(L deploy status | python3 -c 'import json,sys; print((json.load(sys.stdin)["current"] or {}).get("version", 0))')
	if grep -qs '"name": "c"' "$T/docs/v$cur.json"; then
		publish "$V" "$(ct a "$V" "${1-}")" "$(ct b 1)" "$(ct d 1)"
	else
		publish "$V" "$(ct a "$V" "${1-}")" "$(ct b 1)" "$(ct c 1)"
	fi
}
deploy() { L deploy --trust "$IMG/demo.pub" "$D/deployment.json"; }
# deploy_bg [CRASH_AT]: an applier in the background, APPLIER its pid
deploy_bg() {
	LIMPET_TEST_CRASH_AT=${1-} "$LIMPET" --root "$ROOT" deploy --trust "$IMG/demo.pub" \
		"$D/deployment.json" >>"$T/deploy.log" 2>&1 &
	APPLIER=$!
}
# alive PID: runs and is not a zombie waiting for us
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
# Sticks other tests attach on this machine are no business of this one.
echo 'usb = { enabled = false; };' >"$T/limpet.conf"
agent() { start_agent -c "$T/limpet.conf"; }
# the socket a dead agent left would look like the new agent's
restart_agent() {
	stop_agent
	rm -f "$ROOT/run/agent.sock"
	agent
}
# agent_killed: the agent is gone (kill -9): reap it and start another
agent_killed() {
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
	rm -f "$ROOT/run/agent.sock"
	agent
}
# no_switch: whoever settles it (the agent's start, an applier) is done
no_switch() { wait_for 60 test ! -e "$ROOT/deployments/journal.json"; }

# consistent: exactly one complete deployment runs (prints what is wrong)
consistent() {
	L deploy status >"$T/status.json" && L ps --json >"$T/ps.json" &&
		python3 - "$T/status.json" "$T/ps.json" "$T/docs" "$(basename "$T")" <<'PY'
import json, os, sys
status = json.load(open(sys.argv[1]))
cts = [c for c in json.load(open(sys.argv[2])) if "deployment" in c]
bad = []
cur = (status.get("current") or {}).get("version")
if status.get("switching") is not None:
    bad.append("a switch is still in progress: %s" % status["switching"])
if cur is None:
    bad.append("no current deployment")
    wanted = []
else:
    doc = json.load(open("%s/v%d.json" % (sys.argv[3], cur)))
    wanted = sorted(c["name"] for c in doc["containers"])
entries = sorted(c["deployment"]["name"] for c in cts)
if entries != wanted:
    bad.append("deployed containers %s, version %s has %s"
               % (sorted(c["name"] for c in cts), cur, wanted))
# Every process on the machine that has one of our volumes mounted, by mount
# namespace: a container (probes join its namespace) or one left behind
tag = "/%s/state/volumes/" % sys.argv[4]
users = {}
for p in os.listdir("/proc"):
    try:
        ns = os.readlink("/proc/%s/ns/mnt" % p)
        for line in open("/proc/%s/mountinfo" % p):
            root = line.split()[3]
            if tag in root:
                users.setdefault(root.split(tag)[1].split("/")[0], {})[ns] = p
    except (OSError, IndexError):
        pass
for vol, nss in sorted(users.items()):
    if len(nss) > 1:
        bad.append("volume %s is mounted by %d containers (pids %s)"
                   % (vol, len(nss), sorted(nss.values())))
for c in cts:
    name, entry = c["name"], c["deployment"]["name"]
    if c["status"] != "running":
        bad.append("%s is %s" % (name, c["status"]))
        continue
    if entry == "a" and name != "a.v%s" % cur:
        bad.append("%s runs a, but version %s is current" % (name, cur))
    if entry == "b" and name != "b.v1":
        bad.append("%s runs b, unchanged since b.v1" % name)
    try:
        ns = os.readlink("/proc/%d/ns/mnt" % c["pid"])
    except OSError as e:
        bad.append("%s: %s" % (name, e))
        continue
    mine = sorted(v for v, nss in users.items() if ns in nss)
    if mine != [entry + "-data"]:
        bad.append("%s mounts %s" % (name, mine))
print("; ".join(bad) if bad else "version %s: %s" % (cur, sorted(c["name"] for c in cts)))
sys.exit(1 if bad else 0)
PY
}
# settled DESC: consistent once the switch is settled, as a test line
settled() {
	local out
	no_switch
	if out=$(consistent 2>&1); then
		ok "$1"
	else
		not_ok "$1"
		diag "$out"
		diag "$(tail -15 "$T/deploy.log")"
	fi
}
current() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["current"]["version"])' "$T/status.json"; }
last_result() { no_switch; L deploy status | python3 -c 'import json,sys; r = json.load(sys.stdin)["last_result"]; print(r["result"], r.get("attempts", 0), r.get("error") or "")'; }

agent || exit 1
publish_next
deploy 2>>"$T/deploy.log"
is "$?" 0 "version 1 (a, b, c) is applied"
settled "version 1 runs: a.v1, b.v1, c.v1, each on its volume"

# --- the issue's first report: the agent killed mid-switch, the applier lives on
publish_next '{ "start_period": "5s" }'
deploy_bg
check "a.v2 starts next to a.v1 (its health check waits 5 s)" \
	wait_for 30 sh -c "'$LIMPET' --root '$ROOT' ps | grep -q '^a.v2 .* running '"
kill -9 "$AGENT_PID"
# the agent comes back only once the applier has needed it
wait_for 60 sh -c "! kill -0 $APPLIER 2>/dev/null || grep -q 'cut short: .*no agent' '$T/deploy.log'"
agent_killed
wait "$APPLIER"
rc=$?
settled "after the agent was killed mid-switch, one deployment runs (a.v1 was not lost)"
like "$rc $(last_result)" "^4 interrupted 1 .*cut short" \
	"the applier exits 4: cut short, not the version's fault (attempt 1)"
deploy 2>>"$T/deploy.log"
is "$?" 0 "the same document is tried again and applied"
settled "version 2 runs"

# --- the issue's second report: the applier killed mid-switch
publish_next '{ "start_period": "5s" }'
deploy_bg
wait_for 30 sh -c "'$LIMPET' --root '$ROOT' ps | grep -q '^a.v3 .* running '"
kill -9 "$APPLIER"
wait "$APPLIER" 2>/dev/null
publish_next
out=$(deploy 2>&1)
is "$?" 0 "the next apply (version 4) succeeds"
like "$out" "cut short: rolling back to version 2" "after settling the cut-short version 3"
settled "version 4 runs, nothing of versions 2 and 3 beside it"

# --- every step, killing the applier, the agent, or both
# round MODE N: a switch to the next version killed at its Nth step; 1 when
# the switch ran through (N is past its last step)
round() {
	local mode=$1 n=$2 rc desc="version $((V + 1)), kill -9 of the $1 at step $2"
	local agent_died= how=
	[ "$mode" = applier ] || how=:$mode
	publish_next
	deploy_bg "$n$how"
	case $mode in
	applier)
		wait "$APPLIER"
		rc=$?
		[ $rc = 0 ] && return 1
		[ $rc = 137 ] || diag "$desc: the applier exited $rc"
		# no new apply: the agent's start settles it
		restart_agent
		;;
	*)
		wait_for 60 sh -c "! kill -0 $APPLIER 2>/dev/null || grep -qs '^State:.*Z' /proc/$AGENT_PID/status || [ ! -e /proc/$AGENT_PID ]"
		if ! alive "$AGENT_PID"; then
			agent_died=1
			agent_killed
		fi
		wait "$APPLIER"
		rc=$?
		[ -z "$agent_died" ] && [ $rc = 0 ] && return 1
		;;
	esac
	settled "$desc: settled"
	return 0
}
for mode in applier agent both; do
	n=1
	while round "$mode" "$n"; do
		n=$((n + 1))
		[ $n -le 30 ] || break
	done
	is "$((n - 1))" 11 "$mode: a switch has 11 steps, each was cut"
done
# the last round ran through: nothing cut short is left
settled "after all that, version $V runs"

# --- every step of a rollback (a new container's health check fails)
n=1
while :; do
	publish_next '{ "command": ["false"], "interval": "1s", "start_period": "0s", "retries": 1 }'
	deploy_bg "$n"
	wait "$APPLIER"
	rc=$?
	if [ $rc = 3 ]; then
		is "$rc" 3 "a failing version runs through its rollback after $((n - 1)) cuts"
		break
	fi
	deploy 2>>"$T/deploy.log"
	rc=$?
	# cut before its health check: interrupted, tried again, rolled back now;
	# cut in its rollback: the rollback is finished, and the document refused
	like "$rc" '^[13]$' "rollback cut at step $n: the next apply settles it (exit $rc)"
	like "$(last_result)" "^rolled back [12] .*health check of a.v$V" "and records it rolled back, for its health check"
	settled "rollback cut at step $n: the version before runs"
	n=$((n + 1))
	[ $n -le 20 ] || break
done

# --- cut short three times: given up
publish_next
for attempt in 1 2 3; do
	deploy_bg 3 # step 3: a.vN was asked for and is waited for
	wait "$APPLIER"
	restart_agent
	[ $attempt = 3 ] || like "$(last_result)" "^interrupted $attempt .*attempt $attempt of 3" \
		"attempt $attempt cut short: interrupted, to be tried again"
done
like "$(last_result)" "^rolled back 3 .*given up: its switch was cut short 3 times" \
	"the third time it is given up"
out=$(deploy 2>&1)
is "$?" 1 "and not tried again"
like "$out" "rolled back before" "saying why"
settled "the version before runs on"

# --- a kill during the settling itself: settled again by the next one
publish_next
deploy_bg 5
wait "$APPLIER"
# the next apply settles (remove ..., restart ...) and is cut in the middle of it
LIMPET_TEST_CRASH_AT=2 "$LIMPET" --root "$ROOT" deploy --trust "$IMG/demo.pub" "$D/deployment.json" >>"$T/deploy.log" 2>&1
is "$?" 137 "an apply killed while it settles the switch before"
restart_agent
settled "the agent's start settles it all the same"

# --- random times: applier, agent or both, during switches
for r in $(seq "$RANDOM_ROUNDS"); do
	publish_next
	deploy_bg
	sleep "$((RANDOM % 25 / 10)).$((RANDOM % 10))"
	case $((RANDOM % 3)) in
	0) who=applier; kill -9 "$APPLIER" 2>/dev/null ;;
	1) who=agent; kill -9 "$AGENT_PID" ;;
	2) who=both; kill -9 "$AGENT_PID" "$APPLIER" 2>/dev/null ;;
	esac
	[ "$who" = applier ] || agent_killed
	wait "$APPLIER" 2>/dev/null
	# an applier killed with its agent alive is settled by the next apply
	[ "$who" = applier ] && deploy 2>>"$T/deploy.log"
	settled "random round $r: kill -9 of the $who, then version $(consistent >/dev/null; current) runs whole"
done

# --- the agent killed between a container's start and the record of its
# pid (as in a switch's "start"): rm ends what runs in its cgroup
L run -d --name stray -v stray-data:/data "$ROOTFS" /bin/sleep 1000 >/dev/null
stray=$(ps_field stray pid)
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=
python3 - "$ROOT/containers/stray/state.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s.update(status="created", pid=0, starttime=0, supervisor=0, supervisor_start=0)
json.dump(s, open(sys.argv[1], "w"))
PY
L rm stray >/dev/null
is "$?" 0 "a container whose record names no process is removed"
check "and the process its start left in its cgroup is gone" \
	wait_for 10 sh -c "! kill -0 $stray 2>/dev/null"
