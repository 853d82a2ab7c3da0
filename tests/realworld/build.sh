#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tests/realworld/build.sh OUTDIR
#
# The real-image tier's images, made the way users make theirs, with Debian's
# own tools (see README.md). One Debian bookworm rootfs in three stages
# (recipe/stage{1,2,3}.sh): mmdebstrap --variant=minbase plus a user alice
# (uid 1234) in groups crew (1500) and dialout; procps installed, a file
# deleted and a directory replaced; nginx-light with a start script. Packed:
#   umoci-oci.tar      umoci (one repack per stage) + skopeo copy oci-archive:
#   umoci-docker.tar   the same layout, skopeo copy docker-archive:
#   buildah-oci.tar    buildah from scratch + add stage 1, buildah bud of
#                      a Dockerfile whose RUNs are stages 2 and 3, buildah push
#                      oci-archive:
#   podman-docker.tar  the same image, podman save (docker-archive)
#   buildah-multi.tar  buildah manifest: that image (amd64) and stage 1 made
#                      for arm64 (mmdebstrap --architectures=arm64 under
#                      qemu-user), manifest push --all oci-archive:
#   docker-save.tar    docker import of stage 1, docker build of stages 2 and
#                      3 on it, docker save
#   docker-multi.tar   docker save of both images (base and built) at once
# Each archive gets ARCHIVE.sig (key.pem, made here). OUTDIR/build.log says
# what ran and how long it took.
# Needs root, network access to the Debian mirror, mmdebstrap, umoci, skopeo,
# buildah, podman, docker.io, qemu-user-static (arm64), openssl.
# About 15 to 25 minutes on 2 busy cores: mmdebstrap under qemu-user (arm64)
# is half of it.
# Knobs: LIMPET_DEBIAN_MIRROR (http://deb.debian.org/debian),
#   LIMPET_REALWORLD_ARM64=0 (skip the arm64 half of the manifest list),
#   LIMPET_REALWORLD_WORK (where the build's scratch goes, /var/tmp).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF=$HERE/$(basename "${BASH_SOURCE[0]}")
TOP=$(cd "$HERE/../.." && pwd)
RECIPE=$HERE/recipe
# shellcheck source=tests/lib/wait.sh
. "$TOP/tests/lib/wait.sh"
# shellcheck source=tests/realworld/dockerd.sh
. "$HERE/dockerd.sh"

MIRROR=${LIMPET_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# The mirror here is a snapshot whose Release files are past Valid-Until.
APTOPT='Acquire::Check-Valid-Until "false"'
PATH_ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
GREETING='hello from the image config'
export LC_ALL=C

die() { echo "build.sh: $*" >&2; exit 1; }
T0=$SECONDS
log() { printf '[%4ds] %s\n' $((SECONDS - T0)) "$*" >&2; }

# snapshot SRC DEST: a copy of a tree mmdebstrap is still building, as a
# layer should hold it: without the /dev nodes of a root-mode tree, the
# mounted /proc and /sys (tar would see them change) and mmdebstrap's own
# apt config and temp files; /dev, /proc and /sys as Debian makes them.
snapshot() {
	mkdir -p "$2"
	tar -C "$1" --one-file-system --xattrs --numeric-owner \
		--exclude=./dev --exclude=./proc --exclude=./sys --exclude='./tmp/*' \
		--exclude=./etc/apt/apt.conf.d/00mmdebstrap -cf - . |
		tar -C "$2" --xattrs --xattrs-include='*' --numeric-owner -xpf -
	mkdir -m 0755 "$2/dev"
	mkdir -m 0555 "$2/proc" "$2/sys"
}

# stage N: recipe/stageN.sh without its comments, one command per line.
stage() { grep -v -e '^#' -e '^$' "$RECIPE/stage$1.sh"; }

# run_line N: stage N as one `sh -c` argument (a Dockerfile RUN).
run_line() {
	local l out='set -e'
	while IFS= read -r l; do
		case $l in *\\) die "recipe/stage$1.sh: a line continues ($l); one command per line" ;; esac
		out+="; $l"
	done < <(stage "$1")
	printf '%s\n' "$out"
}

# ---------------------------------------------------------------- the rootfs

# debian_amd64: $W/stage1, stage2, stage3 from one mmdebstrap run, each
# stage's script run in the chroot by a customize hook and then snapshot.
debian_amd64() {
	local hooks=() n
	for n in 1 2 3; do
		hooks+=(--customize-hook="chroot \"\$1\" /bin/sh -ec \"\$(grep -v '^#' '$RECIPE/stage$n.sh')\"")
		hooks+=(--customize-hook="'$SELF' --snapshot \"\$1\" '$W/stage$n'")
	done
	mmdebstrap --variant=minbase --mode=root --aptopt="$APTOPT" "${hooks[@]}" \
		--format=null "$SUITE" /dev/null "$MIRROR" >"$W/mmdebstrap-amd64.log" 2>&1 ||
		{ tail -n 30 "$W/mmdebstrap-amd64.log" >&2; die "mmdebstrap (amd64) failed"; }
}

# in_userns CMD...: CMD as root of a new user namespace that maps every id to
# itself, with its own binfmt_misc (Linux >= 6.7) holding qemu-aarch64: arm64
# binaries run inside, and the host's binfmt_misc is left alone.
in_userns() {
	local fifo pid me rc=0
	fifo=$(mktemp -u "$W/userns.XXXXXX")
	mkfifo "$fifo"
	# shellcheck disable=SC2016  # expanded by the inner shell
	unshare --user --mount --pid --fork --mount-proc --propagation private -- sh -c '
		read -r _ <"$0" && rm -f "$0" &&
		mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc &&
		cat /usr/lib/binfmt.d/qemu-aarch64.conf >/proc/sys/fs/binfmt_misc/register &&
		exec "$@"' "$fifo" "$@" &
	pid=$!
	me=$(readlink /proc/self/ns/user)
	wait_for 10 sh -c '[ "$(readlink /proc/$1/ns/user)" != "$2" ]' sh "$pid" "$me" || rc=1
	if [ $rc = 0 ]; then
		echo "0 0 4294967295" >"/proc/$pid/uid_map" && echo "0 0 4294967295" >"/proc/$pid/gid_map" || rc=1
	fi
	[ $rc = 0 ] && echo go >"$fifo" || kill "$pid" 2>/dev/null
	wait "$pid" || rc=$?
	return $rc
}

# debian_arm64: $W/arm64-stage1, layer 1 for arm64; or ARM64_SKIP says why not.
debian_arm64() {
	ARM64_SKIP=
	if [ "${LIMPET_REALWORLD_ARM64:-1}" = 0 ]; then
		ARM64_SKIP="LIMPET_REALWORLD_ARM64=0"
		return
	fi
	[ -r /usr/lib/binfmt.d/qemu-aarch64.conf ] || { ARM64_SKIP="qemu-user-static is not installed"; return; }
	if ! in_userns true 2>"$W/userns.err"; then
		ARM64_SKIP="no binfmt_misc in a user namespace here (Linux >= 6.7): $(tail -n 1 "$W/userns.err")"
		return
	fi
	# /sys cannot be mounted in a user namespace that does not own the network namespace.
	if ! in_userns mmdebstrap --variant=minbase --mode=root --architectures=arm64 --skip=check/qemu \
		--skip=chroot/mount/sys --aptopt="$APTOPT" \
		--customize-hook="chroot \"\$1\" /bin/sh -ec \"\$(grep -v '^#' '$RECIPE/stage1.sh')\"" \
		--customize-hook="'$SELF' --snapshot \"\$1\" '$W/arm64-stage1'" \
		--format=null "$SUITE" /dev/null "$MIRROR" >"$W/mmdebstrap-arm64.log" 2>&1; then
		tail -n 30 "$W/mmdebstrap-arm64.log" >&2
		die "mmdebstrap (arm64, under qemu-user in a user namespace) failed"
	fi
	[ -x "$W/arm64-stage1/usr/bin/perl" ] || die "arm64 stage 1 has no /usr/bin/perl"
}

# ---------------------------------------------------------------- umoci + skopeo

pack_umoci() {
	local L=$W/umoci b=$W/umoci-bundle n
	umoci init --layout "$L"
	umoci new --image "$L:debian"
	umoci unpack --image "$L:debian" "$b"
	for n in 1 2 3; do
		# The bundle's rootfs becomes stage N; umoci diffs it against its
		# record of the last unpack: new files, and whiteouts for the gone.
		rm -rf --one-file-system "$b/rootfs"
		mkdir "$b/rootfs"
		cp -a "$W/stage$n/." "$b/rootfs/"
		umoci repack --refresh-bundle --image "$L:debian" \
			--history.created_by "recipe/stage$n.sh (mmdebstrap $SUITE, umoci repack)" "$b"
	done
	umoci config --image "$L:debian" --config.env "$PATH_ENV" --config.env LANG=C.UTF-8 \
		--config.env "REALWORLD_GREETING=$GREETING" --config.workingdir /srv/realworld \
		--config.cmd /usr/local/bin/realworld-nginx
	skopeo copy -q "oci:$L:debian" "oci-archive:$OUT/umoci-oci.tar:realworld/debian:umoci"
	skopeo copy -q "oci:$L:debian" "docker-archive:$OUT/umoci-docker.tar:realworld/debian:umoci"
}

# ---------------------------------------------------------------- Dockerfile

# dockerfile BASE DIR: DIR/Dockerfile, stages 2 and 3 on BASE, with the
# config umoci gets (PATH comes with the base).
dockerfile() {
	mkdir -p "$2"
	{
		echo "FROM $1"
		echo "RUN $(run_line 2)"
		echo "RUN $(run_line 3)"
		echo "ENV LANG=C.UTF-8 REALWORLD_GREETING=\"$GREETING\""
		echo "WORKDIR /srv/realworld"
		echo 'CMD ["/usr/local/bin/realworld-nginx"]'
	} >"$2/Dockerfile"
}

# ---------------------------------------------------------------- buildah + podman

pack_buildah() {
	local S=(--root "$W/cs/root" --runroot "$W/cs/run" --storage-driver overlay)
	local P=(--signature-policy "$W/policy.json") c
	B() { buildah "${S[@]}" "$@"; }
	echo '{"default": [{"type": "insecureAcceptAnything"}]}' >"$W/policy.json"
	c=$(B from "${P[@]}" scratch)
	B add "$c" "$W/stage1.tar" / >/dev/null
	B config --env "$PATH_ENV" --os linux --arch amd64 "$c"
	B commit -q "${P[@]}" "$c" localhost/realworld/base:buildah >/dev/null
	B rm "$c" >/dev/null
	dockerfile localhost/realworld/base:buildah "$W/ctx-buildah"
	# chroot isolation: no OCI runtime needed (crun refuses this host's
	# hybrid cgroups); host network to reach the mirror.
	B bud "${P[@]}" --isolation chroot --network host --layers --pull=never \
		-t localhost/realworld/debian:buildah "$W/ctx-buildah" >"$W/buildah-bud.log" 2>&1 ||
		{ tail -n 30 "$W/buildah-bud.log" >&2; die "buildah bud failed"; }
	B push -q "${P[@]}" localhost/realworld/debian:buildah \
		"oci-archive:$OUT/buildah-oci.tar:realworld/debian:buildah"
	podman "${S[@]}" save -q -o "$OUT/podman-docker.tar" localhost/realworld/debian:buildah

	if [ -n "$ARM64_SKIP" ]; then
		log "buildah-multi.tar: not made ($ARM64_SKIP)"
		echo "$ARM64_SKIP" >"$OUT/buildah-multi.skip"
		return
	fi
	c=$(B from "${P[@]}" scratch)
	B add "$c" "$W/arm64-stage1.tar" / >/dev/null
	B config --env "$PATH_ENV" --os linux --arch arm64 --env LANG=C.UTF-8 \
		--env "REALWORLD_GREETING=$GREETING" --workingdir /home/alice --cmd /bin/bash "$c"
	B commit -q "${P[@]}" "$c" localhost/realworld/base:arm64 >/dev/null
	B rm "$c" >/dev/null
	B manifest create localhost/realworld/multi >/dev/null
	B manifest add localhost/realworld/multi containers-storage:localhost/realworld/debian:buildah >/dev/null
	B manifest add localhost/realworld/multi containers-storage:localhost/realworld/base:arm64 >/dev/null
	B manifest push -q "${P[@]}" --all localhost/realworld/multi \
		"oci-archive:$OUT/buildah-multi.tar:realworld/multi:latest"
}

# ---------------------------------------------------------------- docker

pack_docker() {
	dockerd_start "$W/docker" || die "dockerd did not start"
	D import --change "ENV $PATH_ENV" "$W/stage1.tar" realworld/base:docker >/dev/null
	dockerfile realworld/base:docker "$W/ctx-docker"
	D build -q --network host -t realworld/debian:docker "$W/ctx-docker" >"$W/docker-build.log" 2>&1 ||
		{ tail -n 30 "$W/docker-build.log" >&2; dockerd_stop; die "docker build failed"; }
	D save -o "$OUT/docker-save.tar" realworld/debian:docker
	D save -o "$OUT/docker-multi.tar" realworld/base:docker realworld/debian:docker
	dockerd_stop
}

# ---------------------------------------------------------------- main

cleanup() {
	local rc=$? m
	set +e
	dockerd_stop
	if [ -n "${W:-}" ] && [ -d "$W" ]; then
		awk -v p="$W/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r |
			while read -r m; do umount -l "$m"; done
		rm -rf --one-file-system "$W"
	fi
	exit $rc
}

main() {
	[ $# = 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
	[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap --mode=root, dockerd)"
	local t
	for t in mmdebstrap umoci skopeo buildah podman dockerd openssl unshare; do
		command -v "$t" >/dev/null || die "$t is not installed (make deps)"
	done
	mkdir -p "$1"
	OUT=$(cd "$1" && pwd)
	exec > >(tee -a "$OUT/build.log") 2>&1
	W=$(mktemp -d "${LIMPET_REALWORLD_WORK:-/var/tmp}/limpet-realworld-build.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	log "mmdebstrap --variant=minbase $SUITE (amd64), stages 1-3 in its hooks"
	debian_amd64
	log "mmdebstrap --variant=minbase $SUITE (arm64), stage 1"
	debian_arm64
	for t in stage1 arm64-stage1; do
		[ -d "$W/$t" ] && tar -C "$W/$t" --xattrs --numeric-owner -cf "$W/$t.tar" .
	done
	log "umoci + skopeo"
	pack_umoci
	log "buildah + podman"
	pack_buildah
	log "docker"
	pack_docker

	log "signing"
	(umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$OUT/key.pem")
	openssl pkey -in "$OUT/key.pem" -pubout -out "$OUT/key.pub"
	for t in "$OUT"/*.tar; do
		openssl dgst -sha256 -sign "$OUT/key.pem" -out "$t.sig" "$t"
	done
	log "done: $(cd "$OUT" && ls -- *.tar | paste -sd' ')"
}

if [ "${1:-}" = --snapshot ]; then
	snapshot "$2" "$3"
else
	main "$@"
fi
