#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The Debian image as Debian's docker.io makes it: `docker import` of the
# stage-1 tree, `docker build` of the Dockerfile on it, `docker save` (one
# image, and two in one archive). Then Docker itself as the oracle: dockerd
# started here (dockerd.sh), and the same commands run by `docker run` and
# `limpet run` on the same image, option by option, must answer alike.
. "$(dirname "$0")/lib.sh"
realworld_images

check "docker import keeps GNU tar's permission-only hard links ($(perm_only docker-save.tar))" \
	test "$(perm_only docker-save.tar)" -gt 0
like "$(marks docker-save.tar 1)" '^\([1-9][0-9]*, [1-9][0-9]*\)$' \
	"docker build's layer 2 holds a whiteout and opaque directories (.wh..wh..opq)"

archive_checks docker-save.tar docker rw-docker all

# docker save IMG1 IMG2: both images are in the archive, sharing layer 1.
is "$(info docker-multi.tar '" ".join(i["ref"] for i in d["images"])')" \
	"realworld/base:docker realworld/debian:docker" "docker-multi.tar holds two images"
like "$(rw_import docker-multi.tar 2>&1; echo "exit $?")" "^realworld/base:docker"$'\n'"realworld/debian:docker"$'\n'"exit 0$" \
	"without --name, importing it imports every image in it"
names=$(L image ls | awk 'NR > 1 { print $1 }' | sort | paste -sd' ')
like "$names" "realworld/base:docker .*realworld/debian:docker" "both, under their own names"
is "$(rw_import docker-multi.tar --name realworld/debian:docker 2>&1; echo "exit $?")" \
	"realworld/debian:docker"$'\n'"exit 0" "--name realworld/debian:docker imports that one"
is "$(R -u alice realworld/debian:docker sh -c 'id; pwd')" "$ID_ALICE"$'\n'/srv/realworld \
	"and it is the built image (its config, its user)"

# ---------------------------------------------------------------- the oracle
if ! dockerd_start "$T/docker" 2>"$T/dockerd.err"; then
	ok "# skip docker run as the oracle: $(tail -n 1 "$T/dockerd.err")"
	exit 0
fi
finish() {
	local rc=$?
	dockerd_stop
	(exit "$rc")
	_finish
}
trap finish EXIT
D load -q -i "$RW/docker-save.tar" >/dev/null
is "$?" 0 "docker load of docker-save.tar"
DIMG=realworld/debian:docker
mkdir -p "$T/oracle"
ORACLE=()
ORACLE_TODO=()
DOCKER_JOBS=()

# oracle DESC LIMPET-OPTS DOCKER-OPTS CMD...: CMD in the image under
# `limpet run --rm LIMPET-OPTS` now and `docker run --rm --network none
# DOCKER-OPTS` in the background (docker run takes seconds here; they run
# side by side). oracle_report compares output and exit status.
oracle() {
	local i=${#ORACLE[@]} lo dk
	read -ra lo <<<"$2"
	read -ra dk <<<"$3"
	ORACLE+=("$1")
	ORACLE_TODO+=("$TODO")
	(D run --rm --network none "${dk[@]}" "$DIMG" "${@:4}" >"$T/oracle/$i.d" 2>"$T/oracle/$i.derr" </dev/null
	 echo "exit $?" >>"$T/oracle/$i.d") &
	DOCKER_JOBS+=($!)
	L run --rm "${lo[@]}" rw-docker "${@:4}" >"$T/oracle/$i.l" 2>"$T/oracle/$i.lerr" </dev/null
	echo "exit $?" >>"$T/oracle/$i.l"
}

oracle_report() {
	local i
	wait "${DOCKER_JOBS[@]}"
	for i in "${!ORACLE[@]}"; do
		todo "${ORACLE_TODO[$i]}" is "$(cat "$T/oracle/$i.l")" "$(cat "$T/oracle/$i.d")" \
			"limpet run answers as docker run: ${ORACLE[$i]}"
		if [ -s "$T/oracle/$i.derr" ] && ! cmp -s "$T/oracle/$i.l" "$T/oracle/$i.d"; then
			diag "docker's stderr: $(head -c 400 "$T/oracle/$i.derr")"
		fi
	done
}

oracle "no options: id, HOME, pwd, Env" "" "" sh -c "$WHOAMI"
oracle "the whole environment (but HOSTNAME)" "" "" sh -c 'env | grep -v ^HOSTNAME= | sort'
oracle "-u alice" "-u alice" "-u alice" sh -c "$WHOAMI"
oracle "-u 1234" "-u 1234" "-u 1234" sh -c "$WHOAMI"
oracle "-u alice:crew" "-u alice:crew" "-u alice:crew" sh -c "$WHOAMI"
oracle "-u 1234:1500" "-u 1234:1500" "-u 1234:1500" sh -c "$WHOAMI"
oracle "-u 4242 (in no /etc/passwd)" "-u 4242" "-u 4242" sh -c "$WHOAMI"
oracle "-u 4242:1500 (in no /etc/passwd)" "-u 4242:1500" "-u 4242:1500" sh -c "$WHOAMI"
oracle "-u 4242:crew (a uid in no /etc/passwd, a group by name)" "-u 4242:crew" "-u 4242:crew" sh -c "$WHOAMI"
oracle "-u alice -w /tmp" "-u alice -w /tmp" "-u alice -w /tmp" sh -c "$WHOAMI"
oracle "-e overrides and adds" "-e REALWORLD_GREETING=cli -e EXTRA=1" \
	"-e REALWORLD_GREETING=cli -e EXTRA=1" sh -c "$WHOAMI"'; echo "EXTRA=$EXTRA"'
oracle "the image's Cmd (nginx) replaced by -- an exit 3" "" "" sh -c 'exit 3'
oracle "--init, the command killed by SIGTERM" "--init" "--init" sh -c 'kill -TERM $$'
oracle "a missing command" "" "" /no/such/command
oracle "a file that is not executable" "" "" /etc/passwd
oracle "--pids 20 (--pids-limit 20)" "--pids 20" "--pids-limit 20" perl -e "$FORK_COUNT"
oracle "--memory 32M, a 64 MiB hog" "--memory 32M" "--memory 32m" perl -e "$MEMORY_HOG"
oracle "--memory 64M: the limit the container sees" "--memory 64M" "--memory 64m" \
	sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'
oracle_report

# OOM in inspect: Docker's State.OOMKilled, limpet's oom_killed.
D run --name oom --network none --memory 32m "$DIMG" perl -e "$MEMORY_HOG" >/dev/null 2>&1
L run --name oom --memory 32M rw-docker perl -e "$MEMORY_HOG" >/dev/null 2>&1
is "$(ps_field oom oom_killed)" "$(D inspect -f '{{.State.OOMKilled}}' oom)" \
	"OOM kill in inspect: limpet's oom_killed is docker's State.OOMKilled"
D rm oom >/dev/null
L rm oom >/dev/null

# stop: SIGTERM, then SIGKILL after the timeout; PID 1 without a handler
# ignores SIGTERM, --init forwards it to the command.
docker_running() { [ "$(D inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }
limpet_running() { [ "$(ps_field "$1" status 2>/dev/null)" = running ]; }
stopped() { # NAME LIMPET-OR-DOCKER-OPTS...: exit status of the foreground run after stop -t 1
	local name=$1 who=$2 pid
	shift 2
	if [ "$who" = docker ]; then
		D run --name "$name" --network none "$@" "$DIMG" sleep 1000 >/dev/null 2>&1 </dev/null &
		pid=$!
		wait_for 60 docker_running "$name"
		D stop -t 1 "$name" >/dev/null
	else
		L run --name "$name" "$@" rw-docker sleep 1000 >/dev/null 2>&1 </dev/null &
		pid=$!
		wait_for 30 limpet_running "$name"
		L stop -t 1 "$name" >/dev/null
	fi
	wait "$pid"
	echo $?
}
is "$(stopped st1 limpet)" "$(stopped st1 docker)" "stop: PID 1 ignores SIGTERM, SIGKILL after 1 s: same exit status"
is "$(stopped st2 limpet --init)" "$(stopped st2 docker --init)" "stop with --init: same exit status"
D rm st1 st2 >/dev/null
L rm st1 st2 >/dev/null

# exec: Docker's takes the container's config (Env, -e, WorkingDir, -w, the
# user's HOME), not what its process left of its own environment and directory.
start_agent || exit 1
LEFT='cd / && exec env -i sleep 1000'
D run -d --name ex --network none -e EXTRA=1 -w /tmp -u alice "$DIMG" sh -c "$LEFT" >/dev/null
L run -d --name ex -e EXTRA=1 -w /tmp -u alice rw-docker sh -c "$LEFT" >/dev/null
wait_for 60 docker_running ex
wait_for 30 limpet_running ex
ENVPWD='id; env | grep -v ^HOSTNAME= | sort; pwd'
is "$(L exec ex sh -c "$ENVPWD" 2>&1)" "$(D exec ex sh -c "$ENVPWD" 2>&1)" \
	"limpet exec answers as docker exec: user, environment (but HOSTNAME), directory"
is "$(L exec -e EXTRA=2 -e NEW=3 -w /opt ex sh -c "$ENVPWD" 2>&1)" \
	"$(D exec -e EXTRA=2 -e NEW=3 -w /opt ex sh -c "$ENVPWD" 2>&1)" "the same with exec -e and -w"
D rm -f ex >/dev/null
L rm -f ex >/dev/null
stop_agent
