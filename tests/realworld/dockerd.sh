#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Debian's docker.io daemon, started by hand for one build or one test and
# stopped by its pid: its own data root, exec root, socket, pid file and
# daemon config, no bridge, no iptables, no IP forwarding, so it touches
# nothing of the host's network and no other dockerd. Sourced by build.sh and
# the tests (wait.sh's wait_for must be loaded).
#   dockerd_start DIR   start it (state in DIR); fails if it does not answer
#   D ARGS...           Debian's client (/usr/bin/docker) on that daemon
#   dockerd_stop        stop it (SIGTERM, then SIGKILL), unmount, clean up

DOCKERD_PID=
DOCKERD_DIR=
DOCKERD_EXEC=

# Another docker client may come first on PATH; only Debian's matches the daemon.
D() { DOCKER_CONFIG=$DOCKERD_DIR/client DOCKER_BUILDKIT=0 /usr/bin/docker -H "unix://$DOCKERD_DIR/docker.sock" "$@"; }

dockerd_start() {
	DOCKERD_DIR=$1
	command -v dockerd >/dev/null && [ -x /usr/bin/docker ] || {
		echo "dockerd_start: Debian's docker.io is not installed (make deps)" >&2
		return 1
	}
	mkdir -p "$DOCKERD_DIR/client"
	echo '{}' >"$DOCKERD_DIR/daemon.json"
	# containerd's sockets live under the exec root: keep its path short.
	DOCKERD_EXEC=$(mktemp -d /run/limpet-dockerd.XXXXXX) || return 1
	dockerd --config-file "$DOCKERD_DIR/daemon.json" --data-root "$DOCKERD_DIR/data" \
		--exec-root "$DOCKERD_EXEC" -H "unix://$DOCKERD_DIR/docker.sock" \
		--pidfile "$DOCKERD_DIR/docker.pid" --bridge=none --iptables=false \
		--ip-forward=false --ip-masq=false >"$DOCKERD_DIR/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	if ! wait_for 120 D version >/dev/null 2>&1; then
		echo "dockerd_start: dockerd did not answer on $DOCKERD_DIR/docker.sock; its log ends:" >&2
		tail -n 15 "$DOCKERD_DIR/dockerd.log" >&2
		dockerd_stop
		return 1
	fi
}

dockerd_stop() {
	local d m killed=
	[ -n "$DOCKERD_PID" ] || return 0
	kill -TERM "$DOCKERD_PID" 2>/dev/null
	if ! wait_for 60 sh -c '! kill -0 "$1" 2>/dev/null' sh "$DOCKERD_PID"; then
		kill -KILL "$DOCKERD_PID" 2>/dev/null
		killed=1
	fi
	wait "$DOCKERD_PID" 2>/dev/null
	DOCKERD_PID=
	# A dockerd stopped by SIGTERM stops the containerd it started; one that
	# had to be killed leaves it running (checked by name: pids are reused).
	if [ -n "$killed" ] && [ -s "$DOCKERD_EXEC/containerd/containerd.pid" ]; then
		read -r d <"$DOCKERD_EXEC/containerd/containerd.pid"
		if [ "$(cat "/proc/$d/comm" 2>/dev/null)" = containerd ]; then
			kill -KILL "$d"
		fi
	fi
	# ... and can leave its containers' mounts behind.
	for d in "$DOCKERD_EXEC" "$DOCKERD_DIR"; do
		[ -n "$d" ] || continue
		awk -v p="$d/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r |
			while read -r m; do umount -l "$m" 2>/dev/null; done
	done
	[ -z "$DOCKERD_EXEC" ] || rm -rf --one-file-system "$DOCKERD_EXEC"
	DOCKERD_EXEC=
}
