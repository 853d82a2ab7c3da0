#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The README's first command: build a busybox rootfs and run it under limits,
# then show from the host side that the limits are in the container's cgroup.
set -eu
LIMPET=${1:?usage: demo.sh PATH/TO/limpet}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/rootfs.sh"
WORK=$(cd "$HERE/../.." && pwd)/tests/.work
mkdir -p "$WORK"
[ -x "$WORK/rootfs/bin/busybox" ] || make_busybox_rootfs "$WORK/rootfs"
STATE=$WORK/demo-state
L() { "$LIMPET" --root "$STATE" "$@"; }
L rm -f demo >/dev/null 2>&1 || true

echo "+ limpet run --name demo --memory 64M --cpus 0.5 --pids 64 --hostname demo $WORK/rootfs /bin/sh -c ..."
L run --name demo --memory 64M --cpus 0.5 --pids 64 --hostname demo "$WORK/rootfs" /bin/sh -c '
	echo "hello from $(hostname): I am PID $$ and see $(set -- /proc/[0-9]*; echo $#) process(es)"
	grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status
	sleep 2' &
run=$!
for _ in $(seq 50); do
	cg=$(L ps --json | sed -n 's/.*"cgroup": "\(.*\)".*/\1/p' | head -1)
	[ -n "$cg" ] && L ps | grep -q '^demo .*running' && break
	sleep 0.1
done
echo "+ the host's view of the container's cgroup ($cg):"
for f in memory/memory.limit_in_bytes cpu/cpu.cfs_quota_us pids/pids.max; do
	[ -f "/sys/fs/cgroup/${f%%/*}$cg/${f#*/}" ] && echo "  ${f#*/} = $(cat "/sys/fs/cgroup/${f%%/*}$cg/${f#*/}")"
done
for f in memory.max cpu.max pids.max; do
	[ -f "/sys/fs/cgroup$cg/$f" ] && echo "  $f = $(cat "/sys/fs/cgroup$cg/$f")"
done
wait $run
echo "+ limpet ps"
L ps
L rm demo >/dev/null
