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
