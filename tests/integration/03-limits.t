#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# cgroup limits (v1 or v2, whichever this kernel runs): files, OOM, pids.
. "$(dirname "$0")/../lib/tap.sh"

cg_file() { # CONTROLLER V1FILE V2FILE: the limit file of container "lim"
	local cg base=/sys/fs/cgroup
	cg=$(ps_field lim cgroup)
	if [ -d "$base/$1$cg" ]; then cat "$base/$1$cg/$2"; else cat "$base$cg/$3"; fi
}

L run --name lim --memory 48M --cpus 0.5 --cpu-weight 200 --pids 32 "$ROOTFS" /bin/sleep 30 &
runner=$!
wait_for 10 bash -c "[ \"\$($LIMPET --root $ROOT inspect -f status lim 2>/dev/null)\" = running ]"
is "$(cg_file memory memory.limit_in_bytes memory.max)" 50331648 "memory limit is in the cgroup"
if [ -d /sys/fs/cgroup/cpu/limpet ]; then
	is "$(cg_file cpu cpu.cfs_quota_us x)" 50000 "cpu quota is in the cgroup (v1)"
	is "$(cg_file cpu cpu.cfs_period_us x)" 100000 "cpu period is in the cgroup (v1)"
	is "$(cg_file cpu cpu.shares x)" 5219 "cpu weight becomes cpu.shares (v1)"
else
	is "$(cg_file cpu x cpu.max)" "50000 100000" "cpu.max holds the quota (v2)"
	is "$(cg_file cpu x cpu.weight)" 200 "cpu.weight (v2)"
fi
is "$(cg_file pids pids.max pids.max)" 32 "pids limit is in the cgroup"
# Inside, as Docker shows it: the container's own cgroup at the top of a
# read-only /sys/fs/cgroup, so a runtime in it can size itself to its limits.
if [ -d /sys/fs/cgroup/memory ]; then
	is "$(L exec lim /bin/cat /sys/fs/cgroup/memory/memory.limit_in_bytes)" 50331648 \
		"the container sees its memory limit at /sys/fs/cgroup/memory (v1)"
	is "$(L exec lim /bin/cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)" 50000 "and its CPU quota (v1)"
	is "$(L exec lim /bin/cat /sys/fs/cgroup/pids/pids.max)" 32 "and its pids limit (v1)"
	is "$(L exec lim /bin/sh -c 'ls /sys/fs/cgroup/memory | grep -c "^memory.limit_in_bytes$"; ls -d /sys/fs/cgroup/blkio 2>&1 | grep -c "No such"')" \
		"1"$'\n'"1" "only the hierarchies it joins; nothing of the host's other cgroups"
else
	is "$(L exec lim /bin/cat /sys/fs/cgroup/memory.max)" 50331648 \
		"the container sees its memory limit at /sys/fs/cgroup/memory.max (v2)"
	is "$(L exec lim /bin/cat /sys/fs/cgroup/cpu.max)" "50000 100000" "and cpu.max (v2)"
	is "$(L exec lim /bin/cat /sys/fs/cgroup/pids.max)" 32 "and pids.max (v2)"
fi
is "$(L exec lim /bin/cat /proc/self/cgroup | grep -c -v ':/$')" 0 \
	"its cgroups are / in its own cgroup namespace"
err=$(L exec lim /bin/sh -c 'echo 999999999 > /sys/fs/cgroup/pids/pids.max || echo 999999999 > /sys/fs/cgroup/pids.max; mkdir /sys/fs/cgroup/x' 2>&1)
like "$err" "Read-only file system" "and it cannot change them: read-only"
is "$(cg_file pids pids.max pids.max)" 32 "the limit holds"
cg=$(ps_field lim cgroup)
L stop -t 0 lim >/dev/null
wait $runner
is "$?" 137 "stopped with SIGKILL, the foreground run exits 137"
check "the cgroup is removed after the container ends" bash -c "! ls -d /sys/fs/cgroup/*$cg /sys/fs/cgroup$cg 2>/dev/null | grep -q ."
L rm lim >/dev/null

# The same view when the container's root is a user namespace's, and with
# --net host, where /sys is a copy of the host's: the host's cgroup mounts
# under it are hidden.
chmod 711 "$T"
urf=$T/userns-rootfs
cp -a "$ROOTFS" "$urf" && chown -R -h 100000:100000 "$urf"
for net in none host; do
	out=$(L run --rm --userns 100000:65536 --net $net --memory 40M "$urf" /bin/sh -c \
		'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; ls /sys/fs/cgroup | grep -c -x blkio')
	is "$out" "41943040"$'\n'"0" "--userns --net $net: its own memory limit, none of the host's cgroups"
done

# A memory hog is OOM-killed and reported as such.
err=$(L run --name hog --memory 32M "$ROOTFS" /bin/sh -c 'dd if=/dev/zero of=/dev/null bs=100M count=1' 2>&1)
is "$?" 137 "the memory hog is killed (137)"
like "$err" "killed by the OOM killer" "and reported as an OOM kill"
is "$(ps_field hog oom_killed)" true "ps --json says oom_killed"
like "$(L ps)" "hog +oom-killed" "ps says oom-killed"
L rm hog >/dev/null

# A fork bomb stops at --pids: ash gives up with "can't fork"; the counter is
# written by a builtin (no fork needed) into the container's upper dir.
err=$(L run --name bomb --pids 20 "$ROOTFS" /bin/sh -c '
	i=0; while [ $i -lt 100 ]; do sleep 5 & i=$((i+1)); echo $i > /tmp/count; done' 2>&1)
count=$(cat "$ROOT/containers/bomb/upper/tmp/count" 2>/dev/null)
like "$err" "can't fork" "the fork bomb hits the pids limit"
check "it got no further than 20 tasks (started $count sleeps)" test "${count:-99}" -lt 20
check "but forks below the limit worked" test "${count:-0}" -ge 10
L rm -f bomb >/dev/null

# Without limits nothing is limited: no memory limit file value below the host's.
out=$(L run --rm "$ROOTFS" /bin/sh -c 'dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null && echo fine')
is "$out" fine "no --memory: a 64M buffer is fine"
