#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# images/build.sh OUTDIR [--key KEY.pem] [--arch ARCH --busybox PATH]
#
# Builds limpet's example and test images with umoci and skopeo, as an
# operator would, and signs each archive (see images/README.md):
#   hello.tar          OCI archive: one busybox layer; Entrypoint/Cmd/Env/WorkingDir/User "user"
#   hello-docker.tar   the same image as a classic docker-save archive
#   layers.tar         OCI archive, 3 gzip layers: files, then a whiteout and an opaque dir, then a new file
#   layers-zstd.tar    the same image, layers tar+zstd
#   layers-plain.tar   the same image, layers uncompressed (tar)
#   layers-docker.tar  the same image as a docker-save archive
# --arch (an OCI architecture: amd64, arm64, arm) builds the images for
# another board, with that architecture's busybox binary (e.g. from
# busybox-static:arm64).
# Each gets FILE.sig (openssl dgst -sha256 -sign, DER). Without --key a demo
# EC P-256 key pair OUTDIR/demo.key + OUTDIR/demo.pub is made once and used.
#
# Rebuilding gives byte-identical archives: every time stamp is
# SOURCE_DATE_EPOCH (default 2024-01-01), file lists are sorted, and the time
# skopeo stamps into an archive's tar headers is reset. ECDSA signatures are
# randomised, so a signature is only remade when it no longer verifies.
# Needs root (the rootfs has files owned by 1000, umoci unpacks as root).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
OCITOOL=$TOP/tests/lib/ocitool.py
# shellcheck source-path=SCRIPTDIR source=../tests/lib/rootfs.sh
. "$TOP/tests/lib/rootfs.sh"

export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1704067200}
CREATED=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
export LC_ALL=C
PATH_ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "build.sh: $*" >&2; exit 1; }
log() { echo "+ $*" >&2; }
ocitool() { python3 "$OCITOOL" "$@"; }

usage() { echo "usage: $0 OUTDIR [--key KEY.pem] [--arch ARCH --busybox PATH]" >&2; exit 2; }

# ---------------------------------------------------------------- helpers

# umoci records each file's mtime in the layer: give them all the same one.
stamp() { find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +; }

# new_bundle TAG BUNDLE: an empty image TAG in the work layout, unpacked.
new_bundle() {
	umoci new --image "$LAYOUT:$1"
	umoci unpack --image "$LAYOUT:$1" "$2"
}

# repack TAG BUNDLE WHAT: the bundle's changes become one new layer of TAG.
repack() {
	stamp "$2/rootfs"
	umoci repack --refresh-bundle --image "$LAYOUT:$1" \
		--history.created "$CREATED" --history.created_by "$3" "$2"
}

# configure TAG UMOCI-CONFIG-OPTIONS...: set the run-time config; --created
# pins the config's own date, which umoci new set to now.
configure() {
	local tag=$1
	shift
	umoci config --image "$LAYOUT:$tag" --created "$CREATED" --architecture "$ARCH" \
		--history.created "$CREATED" --history.created_by "umoci config" "$@"
}

# to_oci_archive SRC-LAYOUT:TAG FILE [SKOPEO-OPTIONS...]: skopeo writes the
# archive (it is what operators use); its tar headers carry the time of the
# copy, which retime replaces so the bytes (and signature) are reproducible.
to_oci_archive() {
	local src=$1 file=$2
	shift 2
	rm -f "$WORK/$file"
	skopeo copy -q "$@" "oci:$src" "oci-archive:$WORK/$file:latest"
	ocitool retime "$WORK/$file"
	mv -f "$WORK/$file" "$OUT/$file"
	PRODUCED+=("$file")
}

# to_docker_archive SRC-LAYOUT:TAG FILE REPO:TAG: classic docker-save layout
# (skopeo already writes it with zero times and sorted members).
to_docker_archive() {
	rm -f "$WORK/$2"
	skopeo copy -q "oci:$1" "docker-archive:$WORK/$2:$3"
	mv -f "$WORK/$2" "$OUT/$2"
	PRODUCED+=("$2")
}

# ---------------------------------------------------------------- images

# hello: the busybox rootfs as one layer. User is a name, not a number: the
# importer has to look "user" up in the image's /etc/passwd (1000:1000).
image_hello() {
	local b=$WORK/b-hello
	new_bundle hello "$b"
	cp -a "$WORK/rootfs/." "$b/rootfs/"
	repack hello "$b" "busybox-static rootfs (images/build.sh)"
	# shellcheck disable=SC2016  # $(...) and $GREETING are for the container's shell
	configure hello \
		--config.entrypoint /bin/sh --config.entrypoint -c \
		--config.cmd 'echo hello from $(hostname) as $(id -u):$(id -g) in $(pwd) with GREETING=$GREETING' \
		--config.env "$PATH_ENV" --config.env GREETING=hi \
		--config.workingdir /home/user --config.user user
	to_oci_archive "$LAYOUT:hello" hello.tar
	to_docker_archive "$LAYOUT:hello" hello-docker.tar limpet/hello:latest
}

# layers: three layers that exercise the unpacker's whiteout handling.
#   1: busybox + /data/keep.txt /data/gone.txt /opt/dir/a.txt /opt/dir/b.txt
#   2: /data/.wh.gone.txt, and /opt/dir replaced (opaque: /opt/dir/.wh..wh..opq + c.txt)
#   3: /data/new.txt
image_layers() {
	local b=$WORK/b-layers r
	new_bundle layers "$b"
	r=$b/rootfs
	cp -a "$WORK/rootfs/." "$r/"
	mkdir -p "$r/data" "$r/opt/dir"
	echo keep >"$r/data/keep.txt"
	echo gone >"$r/data/gone.txt"
	echo a >"$r/opt/dir/a.txt"
	echo b >"$r/opt/dir/b.txt"
	repack layers "$b" "layer 1: busybox rootfs, /data/{keep,gone}.txt, /opt/dir/{a,b}.txt"

	# Layer 2 as an operator would make it: delete one file, replace a
	# directory. Written to a side tag first, because what umoci emits for
	# the directory decides whether its layer can be used.
	rm "$r/data/gone.txt"
	rm -rf "$r/opt/dir"
	mkdir "$r/opt/dir"
	echo c >"$r/opt/dir/c.txt"
	stamp "$r"
	umoci repack --image "$LAYOUT:layers-umoci" --history.created "$CREATED" \
		--history.created_by "layer 2 (umoci)" "$b"
	ocitool extract-layer "$LAYOUT:layers-umoci" -1 "$WORK/layer2-umoci.tar"
	if tar -tf "$WORK/layer2-umoci.tar" | grep -q '\.wh\.\.wh\.\.opq$'; then
		log "layers: umoci wrote an opaque whiteout for /opt/dir; using its layer 2"
		umoci tag --image "$LAYOUT:layers-umoci" layers
	else
		# umoci 0.4.x diffs file by file and so whites out a.txt and b.txt
		# one by one; the opaque form needs a layer made by hand, which umoci
		# then appends verbatim (gzip, digests, diff_id, manifest, index).
		log "layers: umoci wrote per-file whiteouts ($(tar -tf "$WORK/layer2-umoci.tar" | grep '\.wh\.' | paste -sd' ')), not .wh..wh..opq; layer 2 is made by hand"
		ocitool mklayer "$WORK/layer2.tar" dir:data wh:data/gone.txt dir:opt dir:opt/dir opq:opt/dir \
			"file:opt/dir/c.txt=c"$'\n'
		umoci raw add-layer --image "$LAYOUT:layers" --history.created "$CREATED" \
			--history.created_by "layer 2: whiteout /data/gone.txt, opaque /opt/dir with c.txt" "$WORK/layer2.tar"
	fi

	# Layer 3 on a fresh unpack, which also shows that umoci itself applies
	# layer 2's whiteouts the way limpet must.
	b=$WORK/b-layers3
	umoci unpack --image "$LAYOUT:layers" "$b"
	r=$b/rootfs
	[ ! -e "$r/data/gone.txt" ] || die "umoci did not apply the whiteout of /data/gone.txt"
	[ "$(ls -A "$r/opt/dir")" = c.txt ] || die "umoci did not apply the opaque /opt/dir: $(ls -A "$r/opt/dir")"
	echo new >"$r/data/new.txt"
	repack layers "$b" "layer 3: /data/new.txt"
	configure layers \
		--config.cmd /bin/sh --config.cmd -c \
		--config.cmd 'cat /data/keep.txt /data/new.txt; ls -A /data /opt/dir' \
		--config.env "$PATH_ENV"
	to_oci_archive "$LAYOUT:layers" layers.tar
	to_docker_archive "$LAYOUT:layers" layers-docker.tar limpet/layers:latest

	# Same config and diff_ids, other layer compression. umoci writes gzip
	# only, so ocitool recompresses (zstd CLI) and rewrites the manifest;
	# skopeo then writes the archive.
	ocitool recompress "$LAYOUT:layers" "$WORK/zstd" --layout-dir --compression zstd
	to_oci_archive "$WORK/zstd:latest" layers-zstd.tar
	ocitool recompress "$LAYOUT:layers" "$WORK/plain" --layout-dir --compression none
	# Without this flag skopeo would gzip the uncompressed layers on the way.
	to_oci_archive "$WORK/plain:latest" layers-plain.tar --dest-oci-accept-uncompressed-layers
}

# ---------------------------------------------------------------- signing

# setup_key: KEY (private) and PUB for signing and checking old signatures.
setup_key() {
	if [ -n "$KEY" ]; then
		[ -r "$KEY" ] || die "cannot read key $KEY"
		PUB=$WORK/key.pub
	else
		KEY=$OUT/demo.key
		PUB=$OUT/demo.pub
		if [ ! -s "$KEY" ]; then
			log "no --key: making the demo key pair $KEY / $PUB (EC P-256)"
			(umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$KEY.tmp")
			mv "$KEY.tmp" "$KEY"
		fi
	fi
	openssl pkey -in "$KEY" -pubout -out "$PUB.tmp"
	mv "$PUB.tmp" "$PUB"
}

# sign FILE: FILE.sig over the whole file. An existing signature that still
# verifies is kept, so an unchanged archive keeps an unchanged signature.
sign() {
	local f=$OUT/$1
	if [ -s "$f.sig" ] && openssl dgst -sha256 -verify "$PUB" -signature "$f.sig" "$f" >/dev/null 2>&1; then
		return
	fi
	openssl dgst -sha256 -sign "$KEY" -out "$f.sig.tmp" "$f"
	mv "$f.sig.tmp" "$f.sig"
}

# ---------------------------------------------------------------- main

# go_arch MACHINE: the OCI name of a uname -m architecture.
go_arch() {
	case $1 in
	x86_64) echo amd64 ;;
	aarch64) echo arm64 ;;
	armv7l | armv6l) echo arm ;;
	*) echo "$1" ;;
	esac
}

main() {
	[ $# -ge 1 ] || usage
	OUT=$1
	shift
	KEY=
	ARCH=
	BUSYBOX=
	while [ $# -gt 0 ]; do
		case $1 in
		--key) [ $# -ge 2 ] || usage; KEY=$(realpath "$2"); shift 2 ;;
		--key=*) KEY=$(realpath "${1#--key=}"); shift ;;
		--arch) [ $# -ge 2 ] || usage; ARCH=$2; shift 2 ;;
		--busybox) [ $# -ge 2 ] || usage; BUSYBOX=$(realpath "$2"); shift 2 ;;
		*) usage ;;
		esac
	done
	if [ -z "$ARCH" ]; then
		[ -z "$BUSYBOX" ] || die "--busybox needs --arch (the architecture of that busybox)"
		ARCH=$(go_arch "$(uname -m)")
	fi
	[ -z "$BUSYBOX" ] || [ -x "$BUSYBOX" ] || die "--busybox $BUSYBOX is not an executable file"
	[ "$(id -u)" = 0 ] || die "run as root: the rootfs has files owned by uid 1000 and umoci unpacks as root"
	local t
	for t in umoci skopeo openssl python3 zstd tar busybox; do
		command -v "$t" >/dev/null || die "$t is not installed (apt-get install umoci skopeo openssl python3 zstd busybox-static)"
	done

	mkdir -p "$OUT"
	OUT=$(cd "$OUT" && pwd)
	WORK=$(mktemp -d "$OUT/.build.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT
	LAYOUT=$WORK/oci
	PRODUCED=()

	make_busybox_rootfs "$WORK/rootfs" "$BUSYBOX"
	umoci init --layout "$LAYOUT"
	image_hello
	image_layers
	setup_key

	local f
	echo "Built in $OUT (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH, signed with $KEY):"
	for f in "${PRODUCED[@]}"; do
		sign "$f"
		printf '\n%s  %s bytes  sha256:%s  (+ %s.sig)\n' "$f" "$(stat -c %s "$OUT/$f")" \
			"$(sha256sum <"$OUT/$f" | cut -d' ' -f1)" "$f"
		ocitool check "$OUT/$f" | tail -n +2
	done
	if [ "$PUB" = "$OUT/demo.pub" ]; then
		printf '\nverify: openssl dgst -sha256 -verify %s -signature %s/hello.tar.sig %s/hello.tar\n' "$PUB" "$OUT" "$OUT"
	else
		printf '\nverify: openssl pkey -in %s -pubout -out key.pub && openssl dgst -sha256 -verify key.pub -signature %s/hello.tar.sig %s/hello.tar\n' "$KEY" "$OUT" "$OUT"
	fi
}

main "$@"
