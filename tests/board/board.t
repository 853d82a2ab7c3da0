#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Only on the emulated board (tests/board/run.sh): doctor on the board's
# kernel (arm64, or x86_64 with BOARD_ARCH=x86_64) with cgroup v2 and nested
# KVM, and the signed images built for the board imported and run under
# cgroup v2 limits.
. "$(dirname "$0")/../lib/tap.sh"
test_images

# run.sh says what it booted; the checks below expect exactly that.
BOARD_ARCH=${LIMPET_TEST_BOARD_ARCH:-arm64}
BOARD_GIC=${LIMPET_TEST_BOARD_GIC:-2}

out=$(L doctor)
is "$?" 0 "doctor passes on the board"
diag "$out"
case $BOARD_ARCH in
arm64) like "$out" "ok +board +aarch64," "it sees an arm64 board" ;;
x86_64) like "$out" "ok +board +x86_64," "it sees an x86_64 board" ;;
*) not_ok "LIMPET_TEST_BOARD_ARCH=$BOARD_ARCH: arm64 or x86_64" ;;
esac
cgline=$(grep '^ok *cgroup' <<<"$out")
like "$cgline" "^ok +cgroup +v2" "it reports cgroup v2"
for c in cpu memory pids io cpuset; do
	like "$cgline" "[ :]$c( |$)" "and the delegated $c controller"
done
like "$out" "ok +overlayfs +overlay in /proc/filesystems" "overlay, loaded from the Debian module, is found"
# Both boards' Debian kernels use 4K pages. A GIC has one vGIC: a GICv3
# without v2 compatibility (QEMU's) offers no v2.
kvmline=$(grep '^ok *kvm ' <<<"$out")
if [ "$BOARD_ARCH" = arm64 ]; then
	like "$kvmline" "ok +kvm +/dev/kvm: API 12, up to [0-9]+ vCPUs, [0-9]+-bit IPA, 4K pages, vGIC v$BOARD_GIC$" \
		"KVM is usable (nested, nVHE) with the board's GICv$BOARD_GIC: vGIC v$BOARD_GIC only"
else
	like "$kvmline" "ok +kvm +/dev/kvm: API 12, up to [0-9]+ vCPUs, 4K pages$" \
		"KVM is usable (nested, on the emulated AMD SVM)"
	skip "the IPA size and vGIC are arm64's"
	# Without it the board may freeze under TCG (README.md, kvm-hold.c).
	check "kvm-hold holds a VM open, so microVMs never patch the board's kernel" \
		grep -q anon_inode:kvm-vm <<<"$(ls -l /proc/"$(pidof kvm-hold)"/fd 2>/dev/null)"
fi
json=$(L doctor --json)
like "$json" '"cgroup": "v2"' "doctor --json says v2"

# The demo image, built for the board by images/build.sh and signed on the host.
L image import --trust "$IMG/demo.pub" "$IMG/hello.tar" >/dev/null
is "$?" 0 "the signed $BOARD_ARCH hello image imports"
out=$(L run --rm --memory 32M --cpus 0.5 --pids 16 hello)
like "$out" "^hello from [a-z0-9-]+ as 1000:1000 in /home/user with GREETING=hi$" \
	"it runs as its config says (user, workdir, env)"
for v in layers layers-zstd; do
	L image import --trust "$IMG/demo.pub" "$IMG/$v.tar" >/dev/null
	is "$?" 0 "$v imports"
	out=$(L run --rm "$v" /bin/sh -c 'echo $(ls /data) / $(ls /opt/dir)')
	is "$out" "keep.txt new.txt / c.txt" "$v: whiteout and opaque dir applied"
done

# Nothing unverified is unpacked: one flipped byte and the import is refused.
cp "$IMG/hello.tar" "$T/bad.tar"
cp "$IMG/hello.tar.sig" "$T/bad.tar.sig"
printf 'X' | dd of="$T/bad.tar" bs=1 seek=40000 conv=notrunc 2>/dev/null
err=$(L image import --trust "$IMG/demo.pub" --name bad "$T/bad.tar" 2>&1)
is "$?" 1 "a tampered archive is refused"
like "$err" "signature" "because of its signature"
out=$(L image ls)
is "$?" 0 "image ls works after the refusal"
check "and lists no image from it" bash -c "! grep -q '^bad ' <<<'$out'"

# Limits land in cgroup v2 files.
# hello's Entrypoint is sh -c: a command line is one script.
L run --name lim --memory 48M --cpus 0.5 --cpu-weight 200 --pids 32 hello 'exec sleep 60' &
runner=$!
check "the limited container runs" wait_for 10 bash -c "[ \"\$($LIMPET --root $ROOT inspect -f status lim)\" = running ]"
cg=/sys/fs/cgroup$(ps_field lim cgroup)
is "$(cat "$cg/memory.max")" 50331648 "memory.max"
is "$(cat "$cg/memory.swap.max")" 0 "memory.swap.max: no swap past the limit"
is "$(cat "$cg/cpu.max")" "50000 100000" "cpu.max"
is "$(cat "$cg/cpu.weight")" 200 "cpu.weight"
is "$(cat "$cg/pids.max")" 32 "pids.max"
# limpet stats reads the same cgroup v2 files back (python3 is not on the board).
stats=$(L stats --no-stream --json lim)
like "$stats" '"limit": 50331648' "stats: the memory limit, from memory.max"
like "$stats" '"usage": [1-9][0-9]*' "stats: memory in use, from memory.current"
like "$stats" '"cpu_percent": [0-9.e+-]+,' "stats: CPU over the last second, from cpu.stat"
like "$stats" '"pids": [1-9]' "stats: tasks, from pids.current"
L stop -t 0 lim >/dev/null
wait $runner
L rm lim >/dev/null
check "the container's cgroup is gone after rm" test ! -d "$cg"

# The OOM killer's kill is told apart under v2 (memory.events oom_kill).
err=$(L run --name hog --memory 16M hello 'dd if=/dev/zero of=/dev/null bs=64M count=1' 2>&1)
is "$?" 137 "an image's memory hog is killed"
like "$err" "killed by the OOM killer" "and reported as an OOM kill"
is "$(ps_field hog oom_killed)" true "inspect says oom_killed"
L rm hog >/dev/null

# A vfat USB stick, as most are formatted (the x86_64 test VM's kernel has
# no vfat): the agent sees the loop device's uevent, mounts it, checks the
# signed deployment, runs it and writes the device's status back.
now=$(date +%s)
cat >"$T/v7.json" <<JSON
{ "version": 7, "expires": "$(date -u -d "@$((now + 30 * 86400))" +%Y-%m-%dT%H:%M:%SZ)",
  "target": { "devices": ["$(hostname)"] },
  "containers": [ { "name": "app", "init": true, "command": ["exec sleep 1000"],
    "image": { "url": "images/app.tar", "size": $(stat -c %s "$IMG/hello.tar"),
               "sha256": "$(sha256sum <"$IMG/hello.tar" | cut -c1-64)" } } ] }
JSON
L bundle create --key "$IMG/demo.key" "$T/stick" "$T/v7.json" "$IMG/hello.tar" >/dev/null
is "$?" 0 "bundle create on the board"
dd if=/dev/zero of="$T/vfat.img" bs=1M count=16 2>/dev/null
mkdosfs "$T/vfat.img" >/dev/null
mkdir "$T/mnt"
mount -o loop -t vfat "$T/vfat.img" "$T/mnt" && cp -r "$T/stick/limpet" "$T/mnt/" && umount "$T/mnt"
is "$?" 0 "the bundle is copied onto a vfat image"
printf 'trust = [ "%s" ];\nusb = { write_status = true; };\n' "$IMG/demo.pub" >"$T/limpet.conf"
start_agent -c "$T/limpet.conf" || exit 1
check "the agent watches for sticks" wait_for 20 grep -q "usb: watching" "$T/agent.log"
loop=$(losetup -f) && losetup "$loop" "$T/vfat.img" # busybox: no --show
check "the vfat stick is applied: app.v7 runs" \
	wait_for 60 bash -c "$LIMPET --root $ROOT ps | grep -q '^app.v7 .* running '"
# Under emulation the health wait and the status write take a while.
check "the agent logged it" wait_for 60 grep -q "usb: $loop: applied" "$T/agent.log"
check "and let go of the stick" wait_for 10 bash -c "! grep -q ' $ROOT/run/usb/' /proc/*/mounts"
losetup -d "$loop"
mount -o ro,loop -t vfat "$T/vfat.img" "$T/mnt"
like "$(cat "$T/mnt/limpet/status/$(hostname).json" 2>&1)" '"result": "applied"' \
	"the stick got the device's status"
umount "$T/mnt"
stop_agent
L rm -f app.v7 >/dev/null
