#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# oci_archive DIR OUT: an OCI image archive (oci-layout, index.json, blobs) at
# OUT whose one uncompressed layer is DIR, for this machine's architecture,
# made with tar and sha256sum only: the boards have neither python3
# (tests/lib/ocitool.py) nor umoci. The image has no config of its own: a
# deployment gives the command.

# _oci_blob FILE: FILE moved to blobs/sha256/DIGEST beside it; DIGEST and SIZE
# := its digest and size.
_oci_blob() {
	DIGEST=$(sha256sum <"$1" | cut -c1-64) && SIZE=$(stat -c %s "$1") &&
		mv "$1" "$(dirname "$1")/blobs/sha256/$DIGEST"
}

oci_archive() {
	local dir=$1 out=$2 lay arch layer config DIGEST SIZE rc
	case $(uname -m) in
	x86_64) arch=amd64 ;;
	aarch64) arch=arm64 ;;
	arm*) arch=arm ;;
	*) echo "oci_archive: $(uname -m): which OCI architecture?" >&2; return 1 ;;
	esac
	lay=$(mktemp -d "${TMPDIR:-/tmp}/oci.XXXXXX") || return 1
	mkdir -p "$lay/blobs/sha256" &&
		tar -C "$dir" -cf "$lay/layer" . && _oci_blob "$lay/layer" &&
		layer="\"digest\":\"sha256:$DIGEST\",\"size\":$SIZE" &&
		printf '{"architecture":"%s","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
			"$arch" "$DIGEST" >"$lay/config" && _oci_blob "$lay/config" &&
		config="\"digest\":\"sha256:$DIGEST\",\"size\":$SIZE" &&
		printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json",%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar",%s}]}' \
			"$config" "$layer" >"$lay/manifest" && _oci_blob "$lay/manifest" &&
		printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s}]}' \
			"$DIGEST" "$SIZE" >"$lay/index.json" &&
		printf '{"imageLayoutVersion":"1.0.0"}' >"$lay/oci-layout" &&
		tar -C "$lay" -cf "$out" oci-layout index.json blobs
	rc=$?
	rm -rf "$lay"
	return $rc
}
