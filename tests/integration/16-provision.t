#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# images/provision on a synthetic board image laid out like Raspberry Pi OS
# (partition 1 vfat with cmdline.txt, partition 2 ext4 with a merged /usr):
# what lands in the root file system and with which modes, the memory cgroup
# on the kernel command line exactly once after two runs, a clean fsck, no
# loop device left behind, and bad inputs refused in one line with the image
# untouched.  The root is read with debugfs and the boot partition with
# mtools, so nothing needs mounting here (provision itself loop-mounts).
. "$(dirname "$0")/../lib/tap.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
P=$top/images/provision
for t in sfdisk mkfs.vfat mkfs.ext4 debugfs e2fsck mtype mcopy losetup openssl; do
	command -v $t >/dev/null || { echo "1..0 # SKIP needs $t"; exit 0; }
done
[ -e /dev/loop-control ] || { echo "1..0 # SKIP needs loop devices"; exit 0; }
export MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null

# image FILE: 1 MiB gap, 4 MiB vfat boot, 11 MiB ext4 root
BOOT=2048 ROOTP=10240
image() {
	local d=$T/mk
	rm -rf "$d" && mkdir -p "$d/r/etc/systemd/system" "$d/r/usr/bin" "$d/r/usr/lib"
	truncate -s 16M "$1"
	printf 'label: dos\nstart=%d, size=8192, type=c, bootable\nstart=%d, type=83\n' \
		$BOOT $ROOTP | sfdisk -q "$1"
	truncate -s 4M "$d/boot" && mkfs.vfat -n BOOT "$d/boot" >/dev/null
	printf 'console=serial0,115200 root=PARTUUID=0bb6f3a2-02 rootfstype=ext4 rootwait\n' >"$d/cmdline.txt"
	mcopy -i "$d/boot" "$d/cmdline.txt" ::cmdline.txt
	ln -s usr/bin "$d/r/bin" && ln -s usr/lib "$d/r/lib"
	cp /bin/dash "$d/r/usr/bin/dash"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n' >"$d/r/etc/hosts"
	echo raspberrypi >"$d/r/etc/hostname"
	mkfs.ext4 -q -F -d "$d/r" "$d/root" 11M >/dev/null
	dd if="$d/boot" of="$1" bs=512 seek=$BOOT conv=notrunc status=none
	dd if="$d/root" of="$1" bs=512 seek=$ROOTP conv=notrunc status=none
}
IMGF=$T/pi.img
root() { echo "$IMGF?offset=$((ROOTP * 512))"; }
dbg() { debugfs -R "$1" "$(root)" 2>/dev/null; }
mode() { dbg "stat $1" | sed -n 's/.*Mode: *\([0-7]*\).*/\1/p'; }
quiet() { "$@" >/dev/null 2>&1; }
cmdline() { mtype -i "$IMGF@@$((BOOT * 512))" ::cmdline.txt; }
loops() { losetup -n -O NAME -j "$IMGF"; }

image "$IMGF"
cd "$T" || exit 1
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out release.key 2>/dev/null
openssl pkey -in release.key -pubout -out release.pub
cp release.pub second.pub
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout dev.key \
	-out dev.pem -subj /CN=pi-0042 -days 30 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
	-out ca.pem -subj /CN=fleet-ca -days 30 2>/dev/null
args=(--binary "$LIMPET" --trust release.pub --trust second.pub --cert dev.pem --key dev.key
	--ca ca.pem --server https://fleet.example.com/devices/pi-0042/ --hostname pi-0042)

"$P" "${args[@]}" "$IMGF" >"$T/out" 2>"$T/err"
is "$?" 0 "provision writes the image"
diag "$(cat "$T/out" "$T/err")"
is "$(dbg 'cat /usr/bin/limpet' | cmp - "$LIMPET" && echo same)" same "the binary is /usr/bin/limpet"
for f in /usr/bin/limpet:0755 /etc/systemd/system/limpet.service:0644 /etc/limpet/limpet.conf:0644 \
	/etc/limpet/trusted/release.pub:0644 /etc/limpet/trusted/second.pub:0644 \
	/etc/limpet/device.pem:0644 /etc/limpet/device.key:0600 /etc/limpet/fleet-ca.pem:0644 \
	/var/lib/limpet:0700 /etc/hostname:0644; do
	is "$(mode "${f%:*}")" "${f#*:}" "${f%:*} is there, mode ${f#*:}"
done
is "$(dbg 'stat /etc/limpet/device.key' | awk '/User:/ { print $2, $4; exit }')" "0 0" \
	"the key belongs to root"
is "$(dbg 'cat /etc/limpet/device.key')" "$(cat dev.key)" "and is the one given"
is "$(dbg 'stat /etc/systemd/system/multi-user.target.wants/limpet.service' |
	sed -n 's/^Fast link dest: "\(.*\)"/\1/p')" /etc/systemd/system/limpet.service \
	"the unit is enabled for multi-user.target"
is "$(dbg 'cat /etc/systemd/system/limpet.service')" "$(cat "$top/platform/dist/limpet.service")" \
	"the unit is platform/dist's"
dbg 'cat /etc/limpet/limpet.conf' >"$T/got.conf"
like "$(grep -E '^trust|^	(server|ca|cert|key) = ' "$T/got.conf" | tr '\n' '|')" \
	'^trust = \[ "/etc/limpet/trusted/release.pub", "/etc/limpet/trusted/second.pub" \];\|	server = "https://fleet.example.com/devices/pi-0042/";\|	ca = "/etc/limpet/fleet-ca.pem";.*\|	cert = "/etc/limpet/device.pem";.*\|	key = "/etc/limpet/device.key";' \
	"the config names the keys, the server, the CA and the identity"
L -c "$T/got.conf" ps >/dev/null
is "$?" 0 "and limpet loads it"
is "$(dbg 'cat /etc/hostname')" pi-0042 "the hostname is set"
is "$(dbg 'cat /etc/hosts' | tr '\t' ' ')" "$(printf '127.0.0.1 localhost\n127.0.1.1 pi-0042')" \
	"and /etc/hosts follows"
is "$(cmdline)" "console=serial0,115200 root=PARTUUID=0bb6f3a2-02 rootfstype=ext4 rootwait cgroup_enable=memory cgroup_memory=1" \
	"cmdline.txt gains the memory cgroup on its one line"
is "$(loops)" "" "no loop device is left attached"
check "the root file system is clean (e2fsck -fn)" quiet e2fsck -fn "$(root)"
dd if="$IMGF" of="$T/boot.check" bs=512 skip=$BOOT count=8192 status=none
check "and so is the boot file system (fsck.vfat -n)" quiet fsck.vfat -n "$T/boot.check"

# Twice gives the same image (file contents, modes, one set of flags).
listing() { dbg 'ls -l /etc/limpet' | awk '{ print $2, $NF }'; dbg 'cat /etc/limpet/limpet.conf' | md5sum; }
before=$(listing)
"$P" "${args[@]}" "$IMGF" >/dev/null 2>&1
is "$?" 0 "a second run succeeds"
is "$(listing)" "$before" "and changes nothing in /etc/limpet"
is "$(cmdline | grep -o 'cgroup_enable=memory' | wc -l)$(cmdline | grep -o 'cgroup_memory=1' | wc -l)" 11 \
	"the cgroup flags are there exactly once"
is "$(cmdline | wc -l)" 1 "on one line"
check "the file system is still clean" quiet e2fsck -fn "$(root)"
is "$(loops)" "" "and no loop device is left"

# Bad inputs: one line, non-zero, the image untouched.
bad() { # bad DESC REGEX ARGS... IMAGE: provision fails with one line matching REGEX
	local desc=$1 want=$2 img=${!#} err rc sum=
	shift 2
	[ ! -f "$img" ] || sum=$(md5sum <"$img")
	err=$("$P" "$@" 2>&1 >/dev/null)
	rc=$?
	# this build is dynamically linked, and provision says so first
	err=$(grep -v '^provision: warning: --binary .* is dynamically linked' <<<"$err")
	if [ $rc -ne 0 ] && [ "$(wc -l <<<"$err")" -eq 1 ] && [[ $err =~ $want ]] &&
		{ [ -z "$sum" ] || [ "$(md5sum <"$img")" = "$sum" ]; } &&
		[ -z "$(losetup -n -O NAME -j "$img")" ]; then
		ok "$desc"
	else
		not_ok "$desc"
		diag "exit $rc: $err"
		[ -z "$sum" ] || [ "$(md5sum <"$img")" = "$sum" ] || diag "and $img changed"
	fi
}
bad "a missing image" "provision: $T/none.img: no such file" --binary "$LIMPET" "$T/none.img"
bad "no image at all" "^provision: no IMAGE given" --binary "$LIMPET"
bad "an unknown option" "unknown option --frobnicate" --frobnicate "$IMGF"
bad "a missing binary" "^provision: --binary $T/nolimpet: no such readable file" --binary "$T/nolimpet" "$IMGF"
bad "a key that is no public key" "--trust dev.key: not a PEM public key" \
	--binary "$LIMPET" --trust dev.key "$IMGF"
bad "a certificate without its key" "--cert needs --key as well" --binary "$LIMPET" --cert dev.pem "$IMGF"
bad "a certificate with another key" "are not a pair" --binary "$LIMPET" --cert dev.pem --key ca.key "$IMGF"
bad "an http:// server" "--server http://x/: not an https:// URL" \
	--binary "$LIMPET" --server http://x/ "$IMGF"
bad "a bad hostname" "--hostname pi_0042: letters, digits" --binary "$LIMPET" --hostname pi_0042 "$IMGF"
printf '\177ELF\2\1\1\0\0\0\0\0\0\0\0\0\2\0\267\0' >"$T/arm64-limpet"
bad "a binary the image cannot run" "--binary $T/arm64-limpet is for ELF machine 183, the image's /usr/bin/dash for 62" \
	--binary "$T/arm64-limpet" "$IMGF"
cp "$IMGF" "$T/three.img"
printf 'label: dos\nstart=2048, size=8192, type=c\nstart=10240, size=12288, type=83\nstart=22528, type=83\n' |
	sfdisk -q "$T/three.img" >/dev/null 2>&1
bad "three partitions" "three.img has 3 partitions, not 2" --binary "$LIMPET" "$T/three.img"
truncate -s 16M "$T/blank.img"
bad "no partition table" "blank.img has 0 partitions, not 2|blank.img: no partition table" \
	--binary "$LIMPET" "$T/blank.img"
cp "$IMGF" "$T/swapped.img"
printf 'label: dos\nstart=10240, type=83\nstart=2048, size=8192, type=c\n' | sfdisk -q "$T/swapped.img" >/dev/null 2>&1
bad "root first, boot second" "swapped.img: partition 1 is ext4, not vfat" --binary "$LIMPET" "$T/swapped.img"
cp "$IMGF" "$T/noext4.img"
dd if=/dev/zero of="$T/noext4.img" bs=512 seek=$ROOTP count=4096 conv=notrunc status=none
bad "a root partition that is not ext4" "noext4.img: partition 2 is not a file system, not ext4" \
	--binary "$LIMPET" "$T/noext4.img"
sum=$(md5sum <"$IMGF")
LOOP=$(losetup -f --show "$IMGF")
err=$("$P" --binary "$LIMPET" "$IMGF" 2>&1 >/dev/null | grep -v 'dynamically linked')
like "$err" "^provision: $IMGF is attached to $LOOP: detach it first$" \
	"an image attached elsewhere (mounted?) is refused"
is "$(loops)" "$LOOP" "and left as it was"
losetup -d "$LOOP"
is "$(md5sum <"$IMGF")" "$sum" "untouched"
