#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# images/verify.sh OUTDIR [--pub PUB.pem]
#
# Checks what images/build.sh wrote with tools limpet does not share code
# with: skopeo and umoci must read every archive, umoci's unpack must show
# the whiteouts applied, openssl must verify every signature, and the archives
# tests/lib/ocitool.py and hostile.py make (good and broken) must be read or
# refused by skopeo/umoci as intended. Prints TAP; exits 1 if anything failed.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
LIB=$(cd "$HERE/../tests/lib" && pwd)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1704067200}

[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [--pub PUB.pem]" >&2; exit 2; }
OUT=$(cd "$1" && pwd)
PUB=$OUT/demo.pub
[ "${2:-}" = --pub ] && PUB=$(realpath "$3")

T=$(mktemp -d /tmp/limpet-images-verify.XXXXXX)
trap 'rm -rf "$T"' EXIT
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
# check DESC CMD...: passes when CMD succeeds; its output is shown only on failure.
check() {
	local desc=$1
	shift
	if "$@" >"$T/out" 2>&1; then ok "$desc"; else not_ok "$desc"; sed 's/^/# /' "$T/out" | tail -5; fi
}
# refuses DESC CMD...: passes when CMD fails.
refuses() {
	local desc=$1
	shift
	if "$@" >"$T/out" 2>&1; then not_ok "$desc (it was accepted)"; else ok "$desc"; fi
}
ocitool() { python3 "$LIB/ocitool.py" "$@"; }
# json FILE EXPR: a value from a JSON file (EXPR in Python, the document is j).
json() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

UNPACK=(umoci unpack)
[ "$(id -u)" = 0 ] || UNPACK+=(--rootless)

# layout ARCHIVE NAME: the archive untarred as an OCI layout dir (umoci reads only those).
layout() { rm -rf "$T/$2.oci" && mkdir "$T/$2.oci" && tar -xf "$1" -C "$T/$2.oci"; }
# unpack ARCHIVE NAME: umoci's bundle of the archive in $T/NAME.b.
unpack() { layout "$1" "$2" && rm -rf "$T/$2.b" && "${UNPACK[@]}" --image "$T/$2.oci:latest" "$T/$2.b"; }

# ---------------------------------------------------------------- signatures
for f in "$OUT"/*.tar; do
	b=${f##*/}
	check "$b: openssl verifies $b.sig with ${PUB##*/}" openssl dgst -sha256 -verify "$PUB" -signature "$f.sig" "$f"
	check "$b: ocitool check (blob digests, sizes, diff_ids)" ocitool check -q "$f"
done
cp "$OUT/hello.tar" "$T/tampered.tar"
printf '\x00' | dd of="$T/tampered.tar" bs=1 seek=100000 conv=notrunc status=none
refuses "a one-byte change to hello.tar fails openssl's signature check" \
	openssl dgst -sha256 -verify "$PUB" -signature "$OUT/hello.tar.sig" "$T/tampered.tar"

# ---------------------------------------------------------------- skopeo
for b in hello layers layers-zstd layers-plain; do
	check "$b.tar: skopeo inspect oci-archive" skopeo inspect "oci-archive:$OUT/$b.tar"
done
for b in hello-docker layers-docker; do
	check "$b.tar: skopeo inspect docker-archive" skopeo inspect "docker-archive:$OUT/$b.tar"
done
skopeo inspect --raw "oci-archive:$OUT/layers.tar" >"$T/m-gzip.json"
skopeo inspect --raw "oci-archive:$OUT/layers-zstd.tar" >"$T/m-zstd.json"
skopeo inspect --raw "oci-archive:$OUT/layers-plain.tar" >"$T/m-plain.json"
for v in gzip:+gzip zstd:+zstd plain:; do
	got=$(json "$T/m-${v%%:*}.json" '" ".join(sorted({l["mediaType"] for l in j["layers"]}))')
	check "layers (${v%%:*}): all 3 layers are application/vnd.oci.image.layer.v1.tar${v#*:} (got $got)" \
		test "$got" = "application/vnd.oci.image.layer.v1.tar${v#*:}"
done
skopeo inspect --config "oci-archive:$OUT/hello.tar" >"$T/hello-config.json"
check "hello: config User is the name \"user\" (the importer resolves it)" \
	test "$(json "$T/hello-config.json" 'j["config"]["User"]')" = user
check "hello: Entrypoint [/bin/sh -c], WorkingDir /home/user, GREETING=hi" \
	test "$(json "$T/hello-config.json" 'j["config"]["Entrypoint"], j["config"]["WorkingDir"], "GREETING=hi" in j["config"]["Env"]')" = "(['/bin/sh', '-c'], '/home/user', True)"
# skopeo decodes zstd itself: its uncompressed layers must hash to the diff_ids.
skopeo copy -q --dest-decompress "oci-archive:$OUT/layers-zstd.tar" "dir:$T/zstd-dir"
skopeo inspect --config "oci-archive:$OUT/layers-zstd.tar" >"$T/zstd-config.json"
for id in $(json "$T/zstd-config.json" '" ".join(j["rootfs"]["diff_ids"])'); do
	check "layers-zstd: skopeo's decompression of layer ${id:7:12} hashes to its diff_id" \
		test "$(sha256sum <"$T/zstd-dir/${id#sha256:}" | cut -d' ' -f1)" = "${id#sha256:}"
done

# ---------------------------------------------------------------- umoci
check "hello.tar: umoci unpack" unpack "$OUT/hello.tar" hello
check "hello: umoci resolves User \"user\" to 1000:1000 via the image's /etc/passwd" \
	test "$(json "$T/hello.b/config.json" 'j["process"]["user"]["uid"], j["process"]["user"]["gid"]')" = "(1000, 1000)"
for b in layers layers-plain; do
	check "$b.tar: umoci unpack" unpack "$OUT/$b.tar" "$b"
	r=$T/$b.b/rootfs
	refuses "$b: /data/gone.txt is whited out" test -e "$r/data/gone.txt"
	check "$b: /opt/dir holds only c.txt (opaque whiteout)" test "$(ls -A "$r/opt/dir")" = c.txt
	check "$b: /data/new.txt and /data/keep.txt are there" test "$(cat "$r/data/new.txt" "$r/data/keep.txt")" = "$(printf 'new\nkeep')"
done
ocitool extract-layer "$OUT/layers.tar" 1 "$T/layer2.tar"
check "layers: layer 2 carries opt/dir/.wh..wh..opq and data/.wh.gone.txt" \
	test "$(tar -tf "$T/layer2.tar" | grep -c -e '^opt/dir/\.wh\.\.wh\.\.opq$' -e '^data/\.wh\.gone\.txt$')" = 2

# ---------------------------------------------------------------- ocitool's own archives
ocitool extract-layer "$OUT/hello.tar" 0 "$T/base.tar"
ocitool mklayer "$T/top.tar" dir:etc "file:etc/motd=hi"$'\n' dir:bin wh:bin/vi
for spec in oci:gzip:blobs-first oci:zstd:index-first oci:none:index-first docker:none:blobs-first docker-oci:none:index-first; do
	IFS=: read -r fmt comp order <<<"$spec"
	f=$T/own-$fmt-$comp-$order.tar
	ocitool build "$f" --layer "$T/base.tar" --layer "$T/top.tar" --format "$fmt" --compression "$comp" \
		--order "$order" --entrypoint '["/bin/sh","-c"]' --cmd '["echo hi"]' --user user --repo-tag limpet/own:latest
	check "ocitool $spec: ocitool check" ocitool check -q "$f"
	case $fmt in
	oci | docker-oci) check "ocitool $spec: skopeo inspect oci-archive" skopeo inspect "oci-archive:$f" ;;
	esac
	case $fmt in
	docker | docker-oci) check "ocitool $spec: skopeo inspect docker-archive" skopeo inspect "docker-archive:$f" ;;
	esac
	if [ "$fmt" = docker ]; then
		# umoci reads only OCI layouts: skopeo converts first.
		skopeo copy -q "docker-archive:$f" "oci-archive:$T/converted.tar:latest"
		f=$T/converted.tar
	fi
	[ "$comp" = zstd ] && continue   # umoci 0.4.7 cannot read zstd layers
	if unpack "$f" own >"$T/out" 2>&1 && [ "$(cat "$T/own.b/rootfs/etc/motd")" = hi ] &&
		[ ! -L "$T/own.b/rootfs/bin/vi" ] && [ -L "$T/own.b/rootfs/bin/sh" ]; then
		ok "ocitool $spec: umoci unpacks it, with layer 2's motd and whiteout of /bin/vi"
	else
		not_ok "ocitool $spec: umoci unpacks it, with layer 2's motd and whiteout of /bin/vi"
	fi
done

# ---------------------------------------------------------------- broken archives
for how in "--flip-layer 0" "--flip-layer 2" "--wrong-diffid 1" "--truncate" "--manifest-digest"; do
	# shellcheck disable=SC2086  # $how is an option and its argument
	ocitool break "$OUT/layers.tar" "$T/broken.tar" $how
	refuses "break $how: ocitool check refuses it" ocitool check -q "$T/broken.tar"
	layout "$T/broken.tar" broken 2>/dev/null || true
	refuses "break $how: umoci unpack refuses it" "${UNPACK[@]}" --image "$T/broken.oci:latest" "$T/broken-$n.b"
done
for how in "--flip-layer 0" "--truncate"; do
	# shellcheck disable=SC2086
	ocitool break "$OUT/layers.tar" "$T/broken.tar" $how
	refuses "break $how: skopeo copy refuses it" skopeo copy -q "oci-archive:$T/broken.tar" "oci:$T/broken-copy:latest"
done
for how in "--flip-layer 1" "--wrong-diffid 0"; do
	# shellcheck disable=SC2086
	ocitool break "$OUT/layers-docker.tar" "$T/broken.tar" $how
	refuses "docker-archive break $how: ocitool check refuses it" ocitool check -q "$T/broken.tar"
	refuses "docker-archive break $how: skopeo copy refuses it" skopeo copy -q "docker-archive:$T/broken.tar" "oci:$T/broken-dcopy-$n:latest"
done

# ---------------------------------------------------------------- hostile archives
python3 "$LIB/hostile.py" "$T/hostile" >"$T/hostile.list"
count=$(wc -l <"$T/hostile.list")
check "hostile.py wrote $count archives, one cases.txt line each" \
	test "$(grep -vc '^#' "$T/hostile/cases.txt")" = "$count"
check "cases.txt: every expectation is refuse, neutralise or accept" \
	test -z "$(grep -v '^#' "$T/hostile/cases.txt" | awk '$2 !~ /^(refuse|neutralise|accept)$/')"
bad=
while read -r f; do
	ocitool check -q "$f" >/dev/null 2>&1 && skopeo inspect "oci-archive:$f" >/dev/null 2>&1 || bad="$bad ${f##*/}"
done <"$T/hostile.list"
check "every hostile archive is a valid OCI image (ocitool check, skopeo inspect)${bad:+: not$bad}" test -z "$bad"

echo "1..$n"
echo "$((n - failed)) passed, $failed failed"
[ "$failed" = 0 ]
