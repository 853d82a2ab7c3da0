#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Hostile images against the mounts limpet makes: symlinks where /proc, /sys,
# /dev, a --device node or a volume must go. Each run is refused (one line
# naming the path, exit 125) or runs safely, and the host is left as it was:
# its /, a canary tree, core_pattern.
. "$(dirname "$0")/../lib/tap.sh"

canary=$T/canary
mkdir -p "$canary/dir"
echo known >"$canary/file"
tree() { ls -lAR "$1"; } # busybox too: the boards have no GNU find

# What a process inside would try: a core_pattern it may write, wherever proc went.
probe='for d in /proc /p /sys/x /; do f=$d/sys/kernel/core_pattern;
	[ -e $f ] && (: >>$f) 2>/dev/null && echo "core_pattern writable in $d"; done; echo ran'

n=0
# hostile: H := a fresh copy of the busybox rootfs to plant things in; and
# what the host looks like before this case.
hostile() {
	n=$((n + 1))
	H=$T/hostile$n
	cp -a "$ROOTFS" "$H"
	canary_tree=$(tree "$canary")
	host_root=$(ls -a /)
	core=$(cat /proc/sys/kernel/core_pattern)
}

host_unchanged() {
	local now
	now=$(ls -a /)
	is "$now" "$host_root" "$1: nothing new in the host's /"
	# (grep, not comm: busybox has no comm)
	[ "$now" = "$host_root" ] || diag "new in /: $(grep -vxF -f <(echo "$host_root") <<<"$now" | tr '\n' ' ')"
	is "$(tree "$canary")" "$canary_tree" "$1: the canary tree is unchanged"
	is "$(cat /proc/sys/kernel/core_pattern)" "$core" "$1: core_pattern is unchanged"
}

# refused DESC REGEX RUN-ARGS...: exit 125, one line matching REGEX; the host unchanged.
refused() {
	local desc=$1 want=$2 out rc
	shift 2
	out=$(L run --rm "$@" /bin/sh -c "$probe" 2>&1)
	rc=$?
	is "$rc" 125 "$desc: refused (exit 125)"
	is "$(wc -l <<<"$out")" 1 "$desc: in one line"
	like "$out" "$want" "$desc: naming the path"
	host_unchanged "$desc"
}

# safe DESC RUN-ARGS...: runs, nothing writable found inside; the host unchanged.
safe() {
	local desc=$1 out
	shift
	out=$(L run --rm "$@" /bin/sh -c "$probe" 2>&1)
	is "$out" ran "$desc: runs, core_pattern not writable inside"
	host_unchanged "$desc"
}

# /proc pointed where sysfs then covers it: masks would find nothing.
hostile
rmdir "$H/proc"
mkdir "$H/p"
ln -s sys/x "$H/proc"
ln -s ../p "$H/sys/x"
refused "proc -> sys/x -> ../p" '^limpet run: container [^ ]+: rootfs: /proc is a symlink \(proc -> sys/x\): refused$' "$H"

hostile
rmdir "$H/proc"
ln -s / "$H/proc"
refused "proc -> /" '/proc is a symlink \(proc -> /\): refused' "$H"

hostile
rmdir "$H/proc"
echo x >"$H/proc"
refused "proc a regular file" '/proc is not a directory: refused' "$H"

hostile
rmdir "$H/sys"
ln -s "$canary/dir" "$H/sys"
refused "sys -> a host directory" "/sys is a symlink \\(sys -> $canary/dir\\): refused" "$H"

hostile
rmdir "$H/dev"
ln -s / "$H/dev"
refused "dev -> /" '/dev is a symlink \(dev -> /\): refused' "$H"

hostile
rmdir "$H/dev"
ln -s "../../../../../../../../../../..$canary/dir" "$H/dev"
refused "dev -> ../../..(host canary)" '/dev is a symlink \(dev -> \.\./\.\./' "$H"

# Inside what limpet mounts fresh, the image's own entries are covered.
hostile
ln -s "$canary/dir" "$H/dev/pts"
ln -s "$canary/dir" "$H/dev/shm"
safe "dev/pts and dev/shm -> a host directory" "$H"

hostile
mkdir -p "$H/proc/sys/kernel"
ln -s "$canary/file" "$H/proc/sys/kernel/core_pattern"
ln -s "$canary/dir" "$H/proc/kcore"
ln -s "$canary/dir" "$H/sys/firmware"
safe "the image's own /proc/sys, /proc/kcore, /sys/firmware as symlinks" "$H"

# --device targets: resolved inside the root, never a symlink at the end.
hostile
ln -s "$canary/dir" "$H/opt"
refused "--device under opt -> a host directory" \
	"--device /dev/null: open /opt \\(opt -> $canary/dir\\): No such file or directory" \
	--device /dev/null:/opt/serial$n "$H"

hostile
ln -s "../../../../../../../../../../..$canary/dir" "$H/opt"
refused "--device under opt -> ../../..(host canary)" '--device /dev/null: open /opt \(opt -> \.\./' \
	--device /dev/null:/opt/serial$n "$H"

hostile
ln -s /tmp "$H/opt"
node=limpet-escape-probe-$$
out=$(L run --rm --device "/dev/null:/opt/$node" "$H" /bin/sh -c \
	"test -c /tmp/$node && echo x >/opt/$node && echo usable" 2>&1)
is "$out" usable "--device under opt -> /tmp: made in the container's /tmp"
check "and not in the host's" test ! -e "/tmp/$node"
rm -f "/tmp/$node" # made by the code before the fix
host_unchanged "--device under opt -> /tmp"

hostile
mkdir "$H/opt"
ln -s "$canary/file" "$H/opt/serial0"
refused "--device onto a symlink" '--device /dev/null: /opt/serial0 is a symlink \(serial0 -> .*canary/file\): refused' \
	--device /dev/null:/opt/serial0 "$H"

hostile
ln -s "$canary/dir" "$H/dev-link"
refused "--device /dev/x after the image's symlink" '--device /dev/null: /dev-link is a symlink' \
	--device /dev/null:/dev-link "$H"

# A volume onto a symlink: refused like every other mount point.
hostile
ln -s /etc "$H/data"
refused "volume onto data -> /etc" '^limpet run: container [^ ]+: volume /data: /data is a symlink \(data -> /etc\): refused$' \
	-v escdata:/data "$H"

# A volume led into the image's /proc is covered by the fresh one: the masks win.
hostile
ln -s /proc "$H/x"
out=$(L run --rm -v escdata:/x/sys "$H" /bin/sh -c \
	'(: >>/proc/sys/kernel/core_pattern) 2>/dev/null && echo writable; test -d /proc/sys/kernel && echo kernel' 2>&1)
is "$out" kernel "a volume at x/sys with x -> /proc: the fresh /proc/sys covers it, read-only"
host_unchanged "volume under x -> /proc"

# A normal image: masks in place, /proc/sys read-only.
hostile
out=$(L run --rm "$ROOTFS" /bin/sh -c '
	test -s /proc/kcore && echo kcore-readable
	test -s /proc/keys && echo keys-readable
	test -s /proc/timer_list && echo timer_list-readable
	ls /proc/acpi /sys/firmware 2>/dev/null | grep -v : | grep .
	(echo x >/proc/sys/kernel/hostname) 2>/dev/null && echo hostname-written
	(: >>/proc/sys/kernel/core_pattern) 2>/dev/null && echo core_pattern-writable
	(: >>/proc/sysrq-trigger) 2>/dev/null && echo sysrq-writable
	echo done' 2>&1)
is "$out" done "a normal image: kcore, keys, timer_list, acpi, firmware masked; /proc/sys read-only"
out=$(L run --rm "$ROOTFS" /bin/sh -c 'awk "\$5 == \"/proc/sys\" || \$5 == \"/sys/firmware\" { print \$5, \$6 }" /proc/self/mountinfo' 2>&1)
like "$out" "/proc/sys ro," "/proc/sys is a read-only mount of its own"
like "$out" "/sys/firmware ro," "/sys/firmware is covered by a read-only mount"
host_unchanged "a normal image"

# --net host in a user namespace binds the host's /sys: read-only all the way down.
chmod 711 "$T"
ufs=$T/userns-rootfs
cp -a "$ROOTFS" "$ufs" && chown -R -h 100000:100000 "$ufs"
out=$(L run --rm --net host --userns 100000:65536 "$ufs" /bin/sh -c \
	'awk "\$5 ~ \"^/sys(/|$)\" && \$6 !~ \"^ro\" { print \$5 }" /proc/self/mountinfo; echo done' 2>&1)
is "$out" done "--net host --userns: every mount under /sys is read-only"
