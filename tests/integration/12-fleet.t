#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The agent's fleet poller against nginx over mutual TLS (a real fleet
# server): from an empty device to a running deployment, updates one
# container at a time, 304 polls, refusals (tampered, older, expired, other
# device) that leave the running deployment alone, a failing health check
# rolled back, downloads cut by a server restart and by killing the agent
# (resumed: nginx's log counts the bytes), status reports PUT on nginx, and
# the wrong server CA or no client certificate refused.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/nginx.sh"
. "$(dirname "$0")/../lib/fleet.sh"
test_images
SIZE=$(stat -c %s "$IMG/hello.tar")
# /slow/ sends one archive in about 4 s: time enough to cut it
NGINX_SLOW_RATE=$((SIZE / 4 / 1024))k
nginx_start || exit 1
P=$NGINX_PKI
DEV=$FLEET_DEV
STATUS=$FLEET_STATUS
mkdir -p "$DEV/images"
future=$(date_in 30)
past=$(date_in -1)

# variant NAME KIB: hello.tar and KIB KiB of zeros past the tar's end: the
# same image in a different archive file (another sha256 to pin and fetch)
variant() {
	{ cat "$IMG/hello.tar"; head -c "$(($2 * 1024))" /dev/zero; } >"$DEV/images/$1"
}
# ct NAME ARCHIVE ENV [HEALTH] [URL]: one container entry of a deployment
ct() {
	local f=$DEV/images/$2
	printf '{ "name": "%s", "init": true, "command": ["echo up; exec sleep 1000"], "env": ["V=%s"],
	  "image": { "url": "%s", "size": %s, "sha256": "%s" },
	  "limits": { "memory": "32M", "pids": 64 }, "health": %s }' \
		"$1" "$3" "${5:-images/$2}" "$(stat -c %s "$f")" "$(sha256sum <"$f" | cut -c1-64)" \
		"${4:-{ \"command\": [\"/bin/true\"], \"interval\": \"1s\" \}}"
}
# publish VERSION EXPIRES DEVICE CONTAINER...: signature first, then the
# document, each by rename, as an operator's upload should
publish() {
	local v=$1 exp=$2 dev=$3 IFS=,
	shift 3
	printf '{ "version": %s, "expires": "%s", "target": { "devices": ["%s"] },\n  "containers": [ %s ] }\n' \
		"$v" "$exp" "$dev" "$*" >"$T/doc.json"
	L image sign "$IMG/demo.key" "$T/doc.json" >/dev/null
	# TAMPER (a sed script) changes the document after it was signed
	[ -z "${TAMPER-}" ] || sed -i "$TAMPER" "$T/doc.json"
	fleet_upload "$T/doc.json"
}
status() { fleet_status "$@"; }
running() { L ps | grep -q "^$1 .* running "; }
conf() { # CA [CERT KEY]
	cat >"$T/limpet.conf" <<EOF
trust = [ "$IMG/demo.pub" ];
usb = { enabled = false; };
stop_timeout = "5s";
$(fleet_settings "$@")
EOF
}
conf "$P/ca.pem" "$P/device.pem" "$P/device.key"
start() { start_agent -c "$T/limpet.conf"; }
doc_requests() { nginx_requests fleet/pi-0042/deployment.json; }

# --- empty device: nothing published yet is not an error worth backing off for
start || exit 1
check "the agent starts its fleet poller" wait_for 10 grep -q 'fleet: polling' "$T/agent.log"
check "with nothing published, the device reports so" \
	wait_for 10 sh -c "grep -q '404' '$STATUS' 2>/dev/null"

# --- happy path: from nothing to a running deployment
variant web1.tar 1
variant side1.tar 2
publish 1 "$future" pi-0042 "$(ct web web1.tar a)" "$(ct side side1.tar a)"
v1_runs() { running web.v1 && running side.v1; }
check "version 1 runs: web.v1 and side.v1" wait_for 30 v1_runs
check "the status report on nginx says version 1 is current" \
	wait_for 10 sh -c "grep -q '\"result\": \"applied\"' '$STATUS'"
is "$(status deployment current version)" 1 "status: deployment.current.version"
like "$(status agent_version)" '^[0-9]' "status: agent_version"
like "$(status board)" '.' "status: board model"
like "$(status uptime_s) $(status disk_free_bytes)" '^[0-9]+ [0-9]+$' "status: uptime and free disk"
is "$(status deployment containers 0 state)" running "status: per-container state"
is "$(L exec web.v1 sh -c 'echo $V')" a "the container runs with the deployment's env"
cg=$(ps_field web.v1 cgroup)
mem=$(cat "/sys/fs/cgroup/memory/$cg/memory.limit_in_bytes" 2>/dev/null || cat "/sys/fs/cgroup/$cg/memory.max")
is "$mem" 33554432 "and under the deployment's memory limit (its cgroup says so)"
check "the archives were removed after the import" sh -c "! ls '$ROOT/downloads/' 2>/dev/null | grep -q ."

# --- an unchanged deployment costs a 304
n200=$(doc_requests | grep -c ' 200 ')
sleep 3
is "$(doc_requests | grep -c ' 200 ')" "$n200" "no new 200 for the document while it is unchanged"
like "$(doc_requests | tail -1)" ' 304 ' "polls are answered 304 Not Modified"

# --- an update replaces only what changed, one at a time
web1_pid=$(ps_field web.v1 pid)
side1_pid=$(ps_field side.v1 pid)
variant web2.tar 3
publish 2 "$future" pi-0042 "$(ct web web2.tar b)" "$(ct side side1.tar a)"
check "version 2 runs web.v2" wait_for 30 running web.v2
gone() { ! L ps | grep -q "^$1 "; }
check "web.v1 is gone once web.v2 was healthy" wait_for 10 gone web.v1
is "$(ps_field side.v1 pid)" "$side1_pid" "side did not change: side.v1 kept running, same process"
check "status: previous is version 1" \
	wait_for 10 sh -c "grep -A2 '\"previous\"' '$STATUS' | grep -q '\"version\": 1'"
like "$(grep 'applying deployment version 2\|web.v2 replaces web.v1\|side: unchanged' "$T/agent.log" | wc -l)" '^3$' \
	"the agent log tells the switch step by step"

# --- refusals: each leaves version 2 running and says why in the status
web2_pid=$(ps_field web.v2 pid)
refused() { # DESC REGEX
	if wait_for 15 sh -c "grep -q -- '$2' '$STATUS'" && [ "$(ps_field web.v2 pid)" = "$web2_pid" ] &&
		[ "$(ps_field side.v1 pid)" = "$side1_pid" ]; then
		ok "$1"
		diag "$(status last_error)"
	else
		not_ok "$1"
		diag "last_error: $(status last_error)"
	fi
}
TAMPER='s/"V=c"/"V=x"/' publish 3 "$future" pi-0042 "$(ct web web2.tar c)" "$(ct side side1.tar a)"
refused "a tampered deployment is refused, version 2 keeps running" "signature does not match"
publish 2 "$future" pi-0042 "$(ct web web2.tar old)"
refused "an older (or equal) version is refused: no rollback by replay" "not newer than the running 2"
publish 4 "$past" pi-0042 "$(ct web web2.tar d)"
refused "an expired deployment is refused: no freezing a device on an old one" "expired at"
publish 5 "$future" pi-0001 "$(ct web web2.tar e)"
refused "a deployment for another device is refused" "not pi-0042"
is "$(status deployment current version)" 2 "the status still reports version 2 as current"

# --- a new container whose health check fails: the whole device rolls back
variant side6.tar 4
publish 6 "$future" pi-0042 "$(ct side side6.tar f '{ "start_period": "1s" }')" \
	"$(ct web web2.tar f '{ "command": ["/bin/false"], "interval": "1s", "retries": 2, "start_period": "0s" }')"
check "a failing health check is reported as rolled back" \
	wait_for 60 sh -c "grep -q '\"result\": \"rolled back\"' '$STATUS'"
like "$(status deployment last_result error)" 'health check of web.v6 exited with code 1' \
	"the status names the container and the check"
check "web.v2 runs untouched" test "$(ps_field web.v2 pid)" = "$web2_pid"
check "side.v1, replaced by side.v6 before web failed, runs again" running side.v1
check "nothing of version 6 is left" sh -c "! '$LIMPET' --root '$ROOT' ps | grep -q '[.]v6 '"
side1_pid=$(ps_field side.v1 pid)
is "$(status deployment current version)" 2 "version 2 is still current"

# --- a download cut by the server mid-way resumes where it stopped
# publish_slow VERSION: web from a new archive served by /slow/ (sets SIZE and
# partial), side unchanged; returns once the download is under way
publish_slow() {
	variant "web$1.tar" "$1"
	SIZE=$(stat -c %s "$DEV/images/web$1.tar")
	publish "$1" "$future" pi-0042 \
		"$(ct web "web$1.tar" "$1" "" "$(nginx_url "slow/fleet/pi-0042/images/web$1.tar")")" \
		"$(ct side side1.tar a)"
	partial=$ROOT/downloads/deploy-$(sha256sum <"$DEV/images/web$1.tar" | cut -c1-64).tar.partial
	check "the download of web$1.tar starts" \
		wait_for 20 sh -c "[ \$(stat -c %s '$partial' 2>/dev/null || echo 0) -gt 100000 ]"
}
# resumed_from URL: the first byte the last (Range) request for URL asked for,
# after checking that nginx answered it 206 with exactly the bytes missing;
# counts of bytes sent in all would also count what was in flight at the cut.
resumed_from() {
	local last from
	last=$(nginx_requests "$1" | tail -1)
	[[ $last =~ \ 206\ [0-9]+\ ([0-9]+)\ \"bytes=([0-9]+)-\"$ ]] || return 1
	from=${BASH_REMATCH[2]}
	[ "${BASH_REMATCH[1]}" -eq $((SIZE - from)) ] || return 1
	echo "$from"
}
publish_slow 7
had=$(stat -c %s "$partial")
nginx_restart
check "after nginx restarted, version 7 runs" wait_for 60 running web.v7
reqs=$(nginx_requests slow/fleet/pi-0042/images/web7.tar)
from=$(resumed_from slow/fleet/pi-0042/images/web7.tar)
check "the retry asked for the rest only (Range from byte ${from:-?}, 206, the bytes missing)" \
	test "${from:-0}" -ge "$had"
diag "$reqs"

# --- the agent killed mid-download resumes after its restart
publish_slow 8
# the agent's children in our PID namespace: the poller (containers have their own)
for c in $(pgrep -P "$AGENT_PID"); do
	[ "$(readlink "/proc/$c/ns/pid")" = "$(readlink /proc/self/ns/pid)" ] && poller=$c
done
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=
check "the poller (pid ${poller:-none}) dies with the agent" wait_for 30 sh -c "[ -n '$poller' ] && ! kill -0 $poller 2>/dev/null"
check "the partial download is kept" test -s "$partial"
had=$(stat -c %s "$partial" 2>/dev/null || echo 0)
check "the container it was replacing still runs" running web.v7
start
check "the restarted agent finishes version 8" wait_for 60 running web.v8
is "$(resumed_from slow/fleet/pi-0042/images/web8.tar)" "$had" \
	"it resumed with a Range request for exactly the $((SIZE - had)) bytes it lacked"
check "side.v1 was adopted by the new agent and still runs" test "$(ps_field side.v1 pid)" = "$side1_pid"
# web.v8 runs before its health check passes and the switch is committed; an
# agent stopped before that rolls version 8 back when it starts again.
current_is() { [ "$(status deployment current version)" = "$1" ]; }
check "version 8 is committed (the status says it is current)" wait_for 60 current_is 8
stop_agent

# --- the wrong server CA: nothing is fetched, the agent says why
conf "$P/other-ca.pem" "$P/device.pem" "$P/device.key"
new_agent_log
start
check "a server whose certificate does not chain to fleet.ca is refused" \
	wait_for 15 grep -q 'fleet: .*deployment.json: .*certificate' "$T/agent.log"
diag "$(grep 'fleet: https' "$T/agent.log" | head -1)"
stop_agent

# --- no client certificate: nginx refuses the device, the agent says so
conf "$P/ca.pem"
new_agent_log
start
check "without a client certificate nginx refuses the poll and the agent reports it" \
	wait_for 15 grep -q 'fleet: .*deployment.json: .*HTTP 400' "$T/agent.log"
diag "$(grep 'fleet: https' "$T/agent.log" | head -1)"
check "and version 8 keeps running" running web.v8
stop_agent


# --- one archive named by three containers is fetched (and imported) once
variant same.tar 9
conf "$P/ca.pem" "$P/device.pem" "$P/device.key"
start
publish 9 "$future" pi-0042 "$(ct web same.tar 9)" "$(ct side same.tar 9)" "$(ct third same.tar 9)"
v9_runs() { running web.v9 && running side.v9 && running third.v9; }
check "version 9 runs three containers made from one archive" wait_for 60 v9_runs
is "$(nginx_requests fleet/pi-0042/images/same.tar | grep -c '^GET ')" 1 "nginx served that archive once"
stop_agent
