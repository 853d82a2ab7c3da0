#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make_busybox_rootfs DIR [BUSYBOX]: a minimal root filesystem from Debian's
# busybox-static, or from BUSYBOX (another architecture's, for a board).
make_busybox_rootfs() {
	local dir=$1 bb=${2:-} host_bb applet
	host_bb=$(command -v busybox) || { echo "busybox-static is not installed (make deps)" >&2; return 1; }
	bb=${bb:-$host_bb}
	# Build beside the target and rename: a half-built rootfs is never used.
	rm -rf "$dir.tmp"
	mkdir -p "$dir.tmp"/{bin,etc,tmp,root,proc,sys,dev,var/log,home/user}
	cp "$bb" "$dir.tmp/bin/busybox"
	# A foreign busybox may not run here; the same Debian version has the same applets.
	for applet in $("$host_bb" --list); do
		[ -e "$dir.tmp/bin/$applet" ] || ln -s busybox "$dir.tmp/bin/$applet"
	done
	mkdir -p "$dir.tmp/usr/bin" "$dir.tmp/sbin" "$dir.tmp/usr/sbin"
	printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n' >"$dir.tmp/etc/passwd"
	printf 'root:x:0:\nuser:x:1000:\n' >"$dir.tmp/etc/group"
	chmod 1777 "$dir.tmp/tmp"
	chown 1000:1000 "$dir.tmp/home/user"
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
}

# make_accounts_rootfs SRC DIR: a copy of the rootfs SRC whose /etc/passwd
# and /etc/group give named users homes and supplementary groups: alice
# (1234: video 44, crew 1500), bob (1300: 44, 1500, other 1600), root (wheel 10).
make_accounts_rootfs() {
	cp -a "$1" "$2"
	cat >"$2/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
alice:x:1234:1234:Alice:/home/alice:/bin/sh
bob:x:1300:1300::/home/bob:/bin/sh
PW
	cat >"$2/etc/group" <<'GR'
root:x:0:
wheel:x:10:root
video:x:44:bob,alice
alice:x:1234:
crew:x:1500:alice,bob
other:x:1600:bob
GR
}
