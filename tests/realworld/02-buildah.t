#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The Debian image as buildah and podman write it: buildah bud of the
# Dockerfile's stages on a base from `buildah add`, then `buildah push
# oci-archive:`, `podman save`, and a two-architecture manifest list
# (amd64 and arm64) pushed with `buildah manifest push --all`.
. "$(dirname "$0")/lib.sh"
realworld_images

is "$(marks buildah-oci.tar 1)" "(1, 1)" \
	"buildah's layer 2 holds a whiteout and the opaque directory (.wh..wh..opq)"

archive_checks buildah-oci.tar buildah rw-buildah all
archive_checks podman-docker.tar podman rw-podman

# The manifest list: this host's platform by default, another by --platform.
if [ -f "$RW/buildah-multi.skip" ]; then
	ok "# skip two-architecture manifest list: not built ($(cat "$RW/buildah-multi.skip"))"
else
	is "$(info buildah-multi.tar '" ".join(sorted(i["platform"] for i in d["images"]))')" \
		"linux/amd64 linux/arm64" "buildah-multi.tar is an index of amd64 and arm64 images"
	out=$(rw_import buildah-multi.tar --name rw-multi 2>&1)
	is "$?:$out" "0:rw-multi" "the manifest list imports (this host's platform)"
	is "$(R rw-multi dpkg --print-architecture)" amd64 "and runs the amd64 image"
	is "$(R -u alice rw-multi id)" "$ID_ALICE" "as -u alice with her groups"
	out=$(rw_import buildah-multi.tar --name rw-multi-arm64 --platform linux/arm64 2>&1)
	is "$?:$out" "0:rw-multi-arm64" "--platform linux/arm64 imports the other one"
	is "$(L image inspect rw-multi-arm64 | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["platform"], d["config"]["architecture"])')" \
		"linux/arm64 arm64" "its record and config say arm64"
	# Its perl is an arm64 ELF (e_machine 183); running it would need qemu-user.
	perl=$(for l in $(L image inspect rw-multi-arm64 | python3 -c 'import json, sys; print(" ".join(json.load(sys.stdin)["layers"]))'); do
		find "$ROOT/store/layers/$l" -path '*/usr/bin/perl' -type f; done | head -n 1)
	is "$(od -An -t u2 -j 18 -N 2 "$perl" 2>/dev/null | tr -d ' ')" 183 "and its /usr/bin/perl is an aarch64 binary"
fi
