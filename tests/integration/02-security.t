#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Privileges, seccomp, masked paths and the device allowlist.
. "$(dirname "$0")/../lib/tap.sh"

run() { L run --rm "$ROOTFS" /bin/sh -c "$1" 2>&1; }

status=$(run 'grep -E "^(CapBnd|CapEff|CapPrm|CapInh|NoNewPrivs|Seccomp):" /proc/self/status')
# Docker's default set; on cgroup v2 (no device cgroup) CAP_MKNOD is dropped.
if grep -q ' - cgroup2 ' /proc/self/mountinfo && ! grep -q ' - cgroup ' /proc/self/mountinfo; then
	caps=00000000a00425fb
else
	caps=00000000a80425fb
fi
like "$status" "CapBnd:	$caps" "bounding set is Docker's default"
like "$status" "CapEff:	$caps" "effective set is Docker's default"
like "$status" "CapInh:	0000000000000000" "inheritable set is empty"
like "$status" "NoNewPrivs:	1" "no_new_privs is set"
like "$status" "Seccomp:	2" "seccomp filter mode"
out=$(L run --rm --user 1000 "$ROOTFS" /bin/sh -c 'grep CapEff /proc/self/status')
like "$out" "CapEff:	0000000000000000" "a non-root user has no capabilities"

out=$(run 'mkdir /mnt2; mount -t tmpfs none /mnt2 && echo mounted || echo refused')
like "$out" "refused" "mount(2) fails inside"
out=$(run 'unshare -n true && echo unshared || echo refused')
like "$out" "refused" "unshare(2) fails inside"
out=$(run 'test -s /proc/kcore && echo readable || echo hidden')
is "$out" hidden "/proc/kcore is masked (or absent from this kernel)"
out=$(run 'ls /proc/acpi 2>/dev/null | wc -l')
is "$out" 0 "/proc/acpi is masked"
out=$(run 'echo 1 > /proc/sys/vm/drop_caches && echo wrote || echo refused')
like "$out" "refused" "/proc/sys is read-only"
out=$(run 'echo x > /proc/sysrq-trigger && echo wrote || echo refused')
like "$out" "refused" "/proc/sysrq-trigger is read-only"
out=$(run 'touch /sys/kernel/x 2>&1; grep " /sys " /proc/mounts')
like "$out" "sysfs /sys sysfs ro" "/sys is read-only"
out=$(run 'ls /dev | tr "\n" " "')
is "$out" "fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero " "minimal /dev"

# Devices: a granted node works, an un-granted one does not, even if created.
out=$(L run --rm --device /dev/null:/dev/mynull "$ROOTFS" /bin/sh -c 'echo x > /dev/mynull && echo usable' 2>&1)
is "$out" usable "a --device node (host /dev/null as /dev/mynull) is usable"
out=$(L run --rm --device /dev/zero:/dev/myzero:r "$ROOTFS" /bin/sh -c 'head -c 5 /dev/myzero | wc -c' 2>&1)
is "$out" 5 "a read-only granted device reads"
out=$(run 'mknod /dev/kmsg2 c 1 11 2>/dev/null; head -c 1 /dev/kmsg2 >/dev/null 2>&1 && echo opened || echo refused')
like "$out" "refused" "an un-granted device cannot be opened even after mknod"
out=$(run 'mknod /tmp/sda b 8 0 2>/dev/null; head -c 1 /tmp/sda >/dev/null 2>&1 && echo opened || echo refused')
like "$out" "refused" "a block device node in the root filesystem is inert"
if lo=$(losetup -f 2>/dev/null) && [ -b "$lo" ]; then
	out=$(L run --rm --device "$lo:/dev/disk0:rw" "$ROOTFS" /bin/sh -c 'test -b /dev/disk0 && echo block' 2>&1)
	is "$out" block "a loop block device can be granted"
else
	ok "# SKIP no free loop device"
fi

# User namespace: container root is host uid 100000.  The rootfs must belong
# to the mapped range (idmapped image layers come with image import).
# A user namespace root must be able to walk down to its container directory.
chmod 711 "$T"
ufs=$T/userns-rootfs
cp -a "$ROOTFS" "$ufs" && chown -R -h 100000:100000 "$ufs"
out=$(L run --name uns --userns 100000:65536 "$ufs" /bin/sh -c 'tr -s " " < /proc/self/uid_map; id -u; echo hi > /tmp/x && echo wrote' 2>&1)
like "$out" "0 100000 65536" "--userns maps container root to host uid 100000"
like "$out" "wrote" "root inside writes its own root"
is "$(stat -c %u "$ROOT/containers/uns/upper/tmp/x")" 100000 "the written file belongs to host uid 100000"
L rm uns >/dev/null
