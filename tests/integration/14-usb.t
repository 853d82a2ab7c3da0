#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Offline updates: `limpet bundle create` makes the limpet/ folder of a stick,
# `limpet import` applies one by hand, and the agent applies a stick it sees
# through kernel uevents: a real loop device with an ext4 file system made by
# mkfs.ext4 -d (this kernel has no vfat; the board tier covers vfat). Tampered
# and older sticks are ignored and never left mounted; a stick pulled out
# mid-import (its loop device shrunk to nothing) leaves the store and the
# running deployment as they were, and the next insert starts clean.
. "$(dirname "$0")/../lib/tap.sh"
test_images
command -v mkfs.ext4 >/dev/null && command -v losetup >/dev/null && [ -e /dev/loop-control ] ||
	{ echo "1..0 # SKIP needs mkfs.ext4, losetup and loop devices"; exit 0; }
host=$(hostname)
future=$(date_in 30)
past=$(date_in -1)
LOOPS=()
cleanup_loops() { local l; for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done; }
# a stick pulled out: detach its loop device (the agent may still be letting go of it)
unplug() { wait_for 10 losetup -d "$LOOP" 2>/dev/null; }
trap 'rc=$?; cleanup_loops; (exit $rc); _finish' EXIT

# doc FILE VERSION EXPIRES ARCHIVE: one container "app" from ARCHIVE as images/app.tar
doc() {
	cat >"$1" <<EOF
{ "version": $2, "expires": "$3", "target": { "devices": ["$host"] },
  "containers": [ { "name": "app", "init": true, "command": ["exec sleep 1000"],
    "image": { "url": "images/app.tar", "size": $(stat -c %s "$4"),
               "sha256": "$(sha256sum <"$4" | cut -c1-64)" },
    "health": { "start_period": "1s" } } ] }
EOF
}
# stick NAME DIR: an ext4 image of DIR, attached to a loop device ($LOOP)
stick() {
	mark
	mkfs.ext4 -q -F -d "$2" "$T/$1.img" $((8 + $(du -sm "$2" | cut -f1) * 2))M >/dev/null 2>&1 &&
		LOOP=$(losetup -f --show "$T/$1.img") && LOOPS+=("$LOOP")
}
running() { L ps | grep -q "^$1 .* running "; }
updater() { # the agent's child in our PID namespace (containers have their own)
	local c
	for c in $(pgrep -P "$AGENT_PID"); do
		[ "$(readlink "/proc/$c/ns/pid")" = "$(readlink /proc/self/ns/pid)" ] && echo "$c"
	done
}
unmounted() { ! grep -q " $ROOT/run/usb/" "/proc/$(updater)/mounts"; }
# logged REGEX: the agent said so since the last stick went in (loop names repeat)
MARK=1
mark() { MARK=$(($(wc -l <"$T/agent.log") + 1)); }
logged() { tail -n +"$MARK" "$T/agent.log" | grep -q -- "$1"; }

# --- bundle create
doc "$T/v1.json" 1 "$future" "$IMG/hello.tar"
out=$(L bundle create --key "$IMG/demo.key" "$T/b1" "$T/v1.json" "$IMG/hello.tar")
is "$?" 0 "bundle create writes the folder"
is "$out" "$T/b1/limpet" "and says where"
check "with the deployment, its signature and the image where the document points" \
	test -s "$T/b1/limpet/deployment.json" -a -s "$T/b1/limpet/deployment.json.sig" -a \
	-s "$T/b1/limpet/images/app.tar"
check "a signature openssl verifies" openssl dgst -sha256 -verify "$IMG/demo.pub" \
	-signature "$T/b1/limpet/deployment.json.sig" "$T/b1/limpet/deployment.json"
err=$(L bundle create --key "$IMG/demo.key" "$T/b2" "$T/v1.json" "$IMG/hello-docker.tar" 2>&1)
is "$?" 1 "an image that matches no pin is an error"
like "$err" "no IMAGE given has the pinned sha256" "naming the container and the pin"
check "and leaves nothing behind" test ! -e "$T/b2/limpet"
err=$(L bundle create --key "$IMG/demo.key" "$T/b1" "$T/v1.json" "$IMG/hello.tar" 2>&1)
is "$?" 1 "an existing limpet/ folder is not overwritten"
err=$(L bundle create "$T/b3" "$T/v1.json" "$IMG/hello.tar" 2>&1)
like "$err" "is not signed: give --key" "without a key or a .sig it says what to do"

# --- limpet import of a folder or a block device, by hand (the agent not watching)
echo 'usb = { enabled = false; };' >"$T/nousb.conf"
start_agent -c "$T/nousb.conf" || exit 1
err=$(L import "$T/b1" 2>&1)
is "$?" 1 "import without a trusted key refuses the bundle"
like "$err" "no trusted keys configured" "as nothing can check its signature"
L import --trust "$IMG/demo.pub" "$T/b1" 2>"$T/err"
is "$?" 0 "import --trust applies a folder by hand"
check "app.v1 runs" running app.v1
doc "$T/v2.json" 2 "$future" "$IMG/hello-docker.tar"
L bundle create --key "$IMG/demo.key" "$T/b2" "$T/v2.json" "$IMG/hello-docker.tar" >/dev/null
stick hand "$T/b2" || exit 1
node=$LOOP
if [ ! -b "$node" ]; then # a /dev that is not devtmpfs has no node for a new loop device
	node=$T/loop.node
	mknod "$node" b $(tr ':' ' ' <"/sys/class/block/${LOOP#/dev/}/dev")
fi
L import --trust "$IMG/demo.pub" "$node" 2>"$T/err"
is "$?" 0 "import --trust of a block device mounts it and applies version 2"
diag "$(tail -n 2 "$T/err")"
check "app.v2 runs" running app.v2
check "and its mount point is gone (unmounted, then removed)" \
	sh -c "! ls '$ROOT/run/usb' 2>/dev/null | grep -q '^import-'"
unplug
stop_agent
L rm -f app.v2 >/dev/null
rm -rf "$ROOT/deployments"

# --- the agent and real uevents
cat >"$T/limpet.conf" <<EOF
trust = [ "$IMG/demo.pub" ];
usb = { write_status = true; };
EOF
new_agent_log
start_agent -c "$T/limpet.conf" || exit 1
check "the agent watches for sticks" wait_for 10 logged "usb: watching"
# the updater is supervised: killed, it comes back and watches again
first=$(updater)
mark
kill -9 "$first"
check "a killed updater is noticed" wait_for 30 logged "updater (fleet, USB) was killed by signal 9"
check "and started again" wait_for 10 logged "usb: watching"
again=$(updater)
check "as a new process ($first, now $again)" test -n "$again" -a "$again" != "$first"
stick s1 "$T/b1" || exit 1
check "a stick on a loop device is applied: app.v1 runs" wait_for 30 running app.v1
check "the agent logged it" wait_for 10 logged "usb: $LOOP: applied"
check "and unmounted it" wait_for 30 unmounted
unplug
check "the stick got the device's status" sh -c \
	"debugfs -R 'cat /limpet/status/$host.json' '$T/s1.img' 2>/dev/null | grep -q '\"result\": \"applied\"'"
v1_pid=$(ps_field app.v1 pid)

# a stick without limpet/ on it
mkdir -p "$T/plain/photos"
echo hi >"$T/plain/photos/a.txt"
stick plain "$T/plain" || exit 1
check "a stick without a bundle is left alone" wait_for 20 logged "usb: $LOOP: nothing for limpet on it"
check "and unmounted" wait_for 30 unmounted

# uevents a process sends (here a "remove" then a "change" for that stick)
# are not the kernel's: not believed.  A real stick inserted after them is
# the barrier: the agent reads its socket in order.
spoof() { # ACTION DEVNAME
	python3 - "$@" <<'PY'
import socket, sys
a, d = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 15)  # NETLINK_KOBJECT_UEVENT
s.sendto(("%s@/devices/virtual/block/%s\0ACTION=%s\0DEVPATH=/devices/virtual/block/%s\0"
          "SUBSYSTEM=block\0DEVNAME=%s\0DEVTYPE=disk\0SEQNUM=4000000000\0"
          % (a, d, a, d, d)).encode(), (0, 1))
PY
}
plain_loop=$LOOP
since=$(($(wc -l <"$T/agent.log") + 1))
spoof remove "${plain_loop#/dev/}" && spoof change "${plain_loop#/dev/}"
stick plain2 "$T/plain" || exit 1
check "a real stick inserted after them is handled" wait_for 20 logged "usb: $LOOP: nothing for limpet on it"
is "$(tail -n +"$since" "$T/agent.log" | grep -c "usb: $plain_loop: ")" 0 \
	"uevents sent by a process, not the kernel, are ignored"
unplug
LOOP=$plain_loop
unplug

# tampered: the signature no longer matches
cp -a "$T/b1" "$T/bt"
sed -i 's/"start_period": "1s"/"start_period": "2s"/' "$T/bt/limpet/deployment.json"
sed -i 's/"version": 1/"version": 2/' "$T/bt/limpet/deployment.json"
stick st "$T/bt" || exit 1
check "a tampered stick is ignored" wait_for 20 logged "usb: $LOOP: ignored (refused): .*signature"
check "and not left mounted" wait_for 30 unmounted
is "$(ps_field app.v1 pid)" "$v1_pid" "app.v1 runs on"
unplug

# a newer version, then the older one again
doc "$T/v3.json" 3 "$future" "$IMG/hello-docker.tar"
L bundle create --key "$IMG/demo.key" "$T/b3" "$T/v3.json" "$IMG/hello-docker.tar" >/dev/null
stick s3 "$T/b3" || exit 1
check "version 3 from a stick replaces version 1" wait_for 30 running app.v3
unplug
stick s1again "$T/b1" || exit 1
check "the older stick is ignored" wait_for 20 logged "usb: $LOOP: ignored (refused): version 1 is not newer"
check "app.v3 runs on" running app.v3
unplug

# --- a vfat stick, where the kernel has vfat (this VM's has not; the board tier has)
if grep -qw vfat /proc/filesystems && command -v mkfs.vfat >/dev/null && command -v mcopy >/dev/null; then
	doc "$T/v35.json" 35 "$future" "$IMG/hello.tar"
	L bundle create --key "$IMG/demo.key" "$T/bv" "$T/v35.json" "$IMG/hello.tar" >/dev/null
	rm -f "$T/vfat.img"
	mark
	mkfs.vfat -C "$T/vfat.img" 16384 >/dev/null && mcopy -s -i "$T/vfat.img" "$T/bv/limpet" ::/ &&
		LOOP=$(losetup -f --show "$T/vfat.img") && LOOPS+=("$LOOP")
	check "a vfat stick made with mkfs.vfat and mtools is applied" wait_for 30 running app.v35
	unplug
else
	ok "# SKIP vfat: this kernel has no vfat (or mkfs.vfat/mcopy are missing)"
fi

# --- pulled out mid-import: the loop device shrinks to nothing under the reader.
# The stick is read at 16 MB/s (blkio throttle on the updater), as a slow stick
# is: the page cache would otherwise read 64 MB before the test could pull it.
BLKIO=/sys/fs/cgroup/blkio
if [ ! -e "$BLKIO/blkio.throttle.read_bps_device" ]; then
	echo "# SKIP the pull-out test needs the cgroup v1 blkio throttle (the board tier has v2)"
	stop_agent
	exit 0
fi
# random, not zeros: mkfs.ext4 -d would make zeros a hole that reads without the device
{ cat "$IMG/hello.tar"; head -c $((64 << 20)) /dev/urandom; } >"$T/big.tar"
doc "$T/v4.json" 40 "$future" "$T/big.tar"
L bundle create --key "$IMG/demo.key" "$T/b4" "$T/v4.json" "$T/big.tar" >/dev/null
before=$(L image ls | sort | md5sum)
live=$(L ps | awk '$2 == "running" { print $1 }')
slow=$BLKIO/limpet-test-usb-$$
mkdir "$slow"
up=$(updater)
home=$(awk -F: '$2 == "blkio" { print $3 }' "/proc/$up/cgroup")
mkfs.ext4 -q -F -d "$T/b4" "$T/s4.img" 160M >/dev/null 2>&1
LOOP=$(losetup -f)
echo "$(cat "/sys/class/block/${LOOP#/dev/}/dev") $((16 << 20))" >"$slow/blkio.throttle.read_bps_device"
echo "$up" >"$slow/cgroup.procs"
mark
losetup "$LOOP" "$T/s4.img" && LOOPS+=("$LOOP")
check "the big stick's apply starts" wait_for 20 logged "applying deployment version 40"
sleep 1
truncate -s 0 "$T/s4.img"
losetup -c "$LOOP"
check "pulled out mid-import, the stick is given up" \
	wait_for 60 logged "usb: $LOOP: ignored"
diag "$(tail -n +"$MARK" "$T/agent.log" | grep "usb: $LOOP: ignored")"
check "not left mounted" wait_for 30 unmounted
check "$live runs on" running "$live"
is "$(L image ls | sort | md5sum)" "$before" "the store has no part of the pulled-out image"
check "no import left in staging" sh -c "[ -z \"\$(ls -A '$ROOT/store/staging' 2>/dev/null)\" ]"
check "no deployment left staged" test ! -e "$ROOT/deployments/staging"
unplug
echo "$up" >"$BLKIO$home/cgroup.procs"
rmdir "$slow"
# the same stick, intact again: a clean start
stick s4 "$T/b4" || exit 1
check "the next insert of it starts clean and applies" wait_for 60 running app.v40
unplug
stop_agent
