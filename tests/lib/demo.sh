#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The README's first command: build a busybox rootfs and run it under limits.
set -eu
LIMPET=${1:?usage: demo.sh PATH/TO/limpet}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/rootfs.sh"
WORK=$HERE/../.work
mkdir -p "$WORK"
[ -x "$WORK/rootfs/bin/busybox" ] || make_busybox_rootfs "$WORK/rootfs"
STATE=$(cd "$WORK" && pwd)/demo-state
echo "+ limpet run --rm --memory 64M --cpus 0.5 --pids 64 --hostname demo rootfs ..."
"$LIMPET" --root "$STATE" run --rm --memory 64M --cpus 0.5 --pids 64 --hostname demo \
	"$WORK/rootfs" /bin/sh -c '
	echo "hello from $(hostname), PID $$ in my own namespace"
	echo "memory limit: $(cat /sys/fs/cgroup/memory.max 2>/dev/null || echo "see the host cgroup")"
	echo "processes I can see: $(ls /proc | grep -c "^[0-9]")"
	grep -E "^(CapEff|Seccomp|NoNewPrivs):" /proc/self/status'
