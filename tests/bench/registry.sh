#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tests/bench/registry.sh [PATH/TO/limpet ...]
#
# limpet image pull from an OCI registry next to the standard tools, side by
# side in one run. The registry is Debian's docker-registry 2.8 on 127.0.0.1
# with TLS and no auth (tests/lib/registry.sh); the image is bench_image.sh's
# (~108 MB of layer tars in 4 gzip layers, ~61 MB), pushed by skopeo with a
# cosign signature (tests/lib/cosign_sig.py) as bench:1, and its update
# (the last layer changed) as bench:2.
#   1. time, median of LIMPET_BENCH_RUNS interleaved runs after a warm-up,
#      each run into a fresh directory made (and everything synced) by
#      hyperfine --prepare outside the timing; nothing is deleted until the end:
#        a. limpet --root R image pull --ca CA --trust PUB localhost:P/bench:1,
#           for each binary given (the first that exists is required; a
#           missing one, such as a static build never made, is skipped):
#           manifest, signature, config, then every blob downloaded and
#           hashed by one thread while the last one unpacks, diff_ids
#           hashed, syncfs, commit
#        b. skopeo copy docker://localhost:P/bench:1 oci:R/oci:bench &&
#           umoci unpack --image R/oci:bench R/bundle (digests checked, no
#           signature, no sync)
#        c. the floor: curl -s --cacert CA .../v2/bench/blobs/D | tar -xzf -
#           -C R/root for each layer in manifest order (worked out before):
#           verifies nothing, applies no whiteout, no sync
#        e. (breakdown) curl -o of the same blobs: the network alone
#      Targets: time(b)/time(a) >= 2, time(c)/time(a) >= 1.0.
#   2. peak RSS of one pull (/usr/bin/time -f %M), each binary: <= 16 MB.
#   3. shared layers: after pull bench:1, pull bench:2 into the same root; the
#      registry's access log must show, for GET /v2/bench/blobs/*, exactly
#      the new layer + the config + the signature payload.
#
# Needs root, docker-registry, skopeo, umoci, curl, tar, hyperfine, openssl,
# python3, /usr/bin/python3 with python3-cryptography, /usr/bin/time.
# About 2 minutes on 2 cores (+25 s to generate the images when they are not
# cached), ~4 GB of disk in LIMPET_BENCH_DIR until the end. Leaves nothing
# behind.
# Knobs: LIMPET_BENCH_RUNS (5), LIMPET_BENCH_WARMUP (1), LIMPET_BENCH_DIR
#   (/var/tmp; keep it on a disk, not a tmpfs), LIMPET_BENCH_IMAGE_CACHE (the
#   directory import.sh and fleet.sh keep the generated images in).
set -euo pipefail

RUNS=${LIMPET_BENCH_RUNS:-5}
WARMUP=${LIMPET_BENCH_WARMUP:-1}
BASE=${LIMPET_BENCH_DIR:-/var/tmp}
CACHE=${LIMPET_BENCH_IMAGE_CACHE:-}
[ "$RUNS" -ge 3 ] || { echo "registry.sh: LIMPET_BENCH_RUNS must be >= 3" >&2; exit 1; }

# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"

# The binaries: each as NAME (limpet-static or limpet-dynamic) and path.
BINS=() BIN_NAMES=() MISSING=()
for b in "${@:-$TOP/build/limpet}"; do
	case $b in /*) ;; *) b=$PWD/$b ;; esac
	if [ ! -x "$b" ]; then
		MISSING+=("$b")
		continue
	fi
	n=limpet-dynamic
	file -b "$b" | grep -q 'statically linked' && n=limpet-static
	for x in "${BIN_NAMES[@]}"; do [ "$x" != "$n" ] || n=$n-${#BINS[@]}; done
	BINS+=("$b") BIN_NAMES+=("$n")
done
[ ${#BINS[@]} -gt 0 ] || die "none of $* is an executable (run make first)"
bench_limpet "${BINS[0]}" "layer files are owned by root, umoci unpack wants root"
for t in docker-registry skopeo umoci curl tar hyperfine openssl python3 file /usr/bin/time; do
	command -v "$t" >/dev/null || die "needs $t"
done
/usr/bin/python3 -c 'import cryptography' 2>/dev/null || die "needs /usr/bin/python3 with python3-cryptography"

TMP=$(mktemp -d "$BASE/limpet-registry-bench.XXXXXX")
NAP_PID=

# ------------------------------------------------------------------ registry
# tests/lib/registry.sh keeps everything under $T/registry (and its PKI under
# $T/nginx) and needs wait_for and diag; not tap.sh, which prints TAP and
# sets its own traps.
# shellcheck disable=SC2034 # registry.sh and nginx.sh read T and LIB
T=$TMP LIB=$TOP/tests/lib
diag() { sed 's/^/# /' <<<"$*" >&2; }
# shellcheck source=tests/lib/wait.sh
. "$LIB/wait.sh"
# shellcheck source=tests/lib/registry.sh
. "$LIB/registry.sh"

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	[ -n "$NAP_PID" ] && kill "$NAP_PID" 2>/dev/null
	registry_stop_all
	remove_tmp "$TMP"
	exit "$rc"
}
# Replaces registry.sh's EXIT trap (which ends in tap.sh's _finish).
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

load() { cut -d' ' -f1-3 /proc/loadavg; }
: >"$TMP/empty.conf" # whatever /etc/limpet holds does not count

echo "limpet registry pull benchmark: ${BINS[*]}"
for b in "${MISSING[@]}"; do echo "   skipped $b: not built (make static builds build-static-ARCH/limpet)"; done
echo "host: $(uname -r), $(nproc) CPUs, docker-registry $(dpkg-query -W -f '${Version}' docker-registry 2>/dev/null || echo '?'), $(skopeo --version), $(curl --version | head -1 | cut -d' ' -f1-2,4-5)"
echo "load average at start: $(load)"

# ------------------------------------------------------------------ 1. images
# shellcheck source=tests/bench/bench_image.sh
. "$(dirname "$0")/bench_image.sh"
bench_image

registry_start none bench || { registry_diag bench; die "docker-registry did not start"; }
A=$(registry_addr bench)
CA=$(registry_ca)
CS=(/usr/bin/python3 "$LIB/cosign_sig.py")
"${CS[@]}" keygen "$TMP/sign.key" "$TMP/sign.pub" || die "cosign_sig.py keygen failed"
# As 28-registry-pull.t's push_signed: a dir: copy, its signature-1 made for
# the reference limpet will be given, and skopeo pushes both.
push_signed() {
	local d=$TMP/push-$2
	skopeo copy -q "oci-archive:$1" "dir:$d" &&
		"${CS[@]}" sign --key "$TMP/sign.key" --ref "$A/bench:$2" --manifest "$d/manifest.json" >/dev/null &&
		registry_push bench "dir:$d" "bench:$2" &&
		rm -rf "$d"
}
t0=$EPOCHREALTIME
push_signed "$IMG" 1 || die "skopeo could not push bench:1"
push_signed "$IMG2" 2 || die "skopeo could not push bench:2"
PUSH_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')

# What each tag is, from the registry (outside the timing): the layer blobs
# in manifest order, the config, and the signature's payload blob.
reg_get() { curl -sS --fail --cacert "$CA" -H "Accept: application/vnd.oci.image.manifest.v1+json" "$(registry_url bench)/v2/bench/$1"; }
for tag in 1 2; do
	reg_get "manifests/$tag" >"$TMP/manifest-$tag.json" || die "GET manifest bench:$tag failed"
	hex=$(sha256sum <"$TMP/manifest-$tag.json" | cut -c1-64)
	reg_get "manifests/sha256-$hex.sig" >"$TMP/sig-$tag.json" || die "bench:$tag has no .sig tag"
done
python3 - "$TMP" "$META" >"$TMP/layout.txt" <<'EOF'
import json, sys
tmp, meta_path = sys.argv[1:3]
meta = json.load(open(meta_path))
m1, m2 = (json.load(open("%s/manifest-%d.json" % (tmp, t))) for t in (1, 2))
s2 = json.load(open("%s/sig-2.json" % tmp))
d1 = [l["digest"] for l in m1["layers"]]
new = [l for l in m2["layers"] if l["digest"] not in d1]
assert len(new) == 1, "bench:2 shares all but one layer with bench:1"
# line 1: files, merged files, tar bytes, blob bytes; line 2: the figures of
# the shared-layer check; then bench:1's layer digests in manifest order
print(meta["files"], meta["merged_files"], meta["tar_bytes"], sum(l["size"] for l in m1["layers"]))
print(new[0]["size"], m2["config"]["size"], s2["layers"][0]["size"], len(m2["layers"]))
for d in d1:
    print(d)
EOF
{
	read -r FILES MERGED TAR_BYTES BLOB_BYTES
	read -r NEW_LAYER CONFIG2 SIGPAYLOAD2 NLAYERS2
} <"$TMP/layout.txt"
mapfile -t LAYERS < <(tail -n +3 "$TMP/layout.txt")

# ------------------------------------------------------------------ 2. commands
# Every run writes into a directory of its own that --prepare makes (and names
# in $R/ID.cur) after a sync; nothing is deleted until the end (see import.sh:
# deleting the last run's files just before the next run times ext4 instead).
R=$TMP/run
mkdir -p "$R"
BLOB_URL=$(registry_url bench)/v2/bench/blobs

bench_disk "$R" $(((RUNS + WARMUP + 1) * (TAR_BYTES * (${#BINS[@]} + 2) + BLOB_BYTES * 2) / 1000000))

# ------------------------------------------------------------------ 3. check once
# Each command once, untimed, and a look at what it wrote: a benchmark of a
# command that fails or writes half the image would be worthless. limpet's
# check run gives its peak RSS and CPU time.
: >"$TMP/rss.txt"
for i in "${!BINS[@]}"; do
	b=${BINS[$i]} n=${BIN_NAMES[$i]}
	prep=$(fresh "$n")
	add "$n" "$prep" "read -r d <$R/$n.cur && $b --root \$d -c $TMP/empty.conf image pull --ca $CA --trust $TMP/sign.pub $A/bench:1 >/dev/null"
	sh -c "$prep"
	d=$(cat "$R/$n.cur")
	l0=$(load)
	/usr/bin/time -f "%M %e %U %S" -o "$TMP/rss" \
		"$b" --root "$d" -c "$TMP/empty.conf" image pull --ca "$CA" --trust "$TMP/sign.pub" "$A/bench:1" >/dev/null ||
		die "$n: limpet image pull failed"
	echo "$n $(tail -n 1 "$TMP/rss") $l0" >>"$TMP/rss.txt"
	k=$(count "$d/store/layers")
	[ "$k" -eq "$FILES" ] || die "$n: $k regular files in its layers, the image has $FILES"
	k=$(find "$d/downloads" -type f 2>/dev/null | wc -l)
	[ "$k" -eq 0 ] || die "$n: the pull left $k files in $d/downloads"
done

mkdir -p "$TMP/policy.d"
cat >"$TMP/policy.json" <<'EOF'
{"default": [{"type": "insecureAcceptAnything"}]}
EOF
# Our own policy and registries.d: what /etc/containers holds is not ours to
# depend on (and no signature lookup: skopeo verifies none here; limpet does).
SKU_PREP=$(fresh sku)
SKU_CMD="read -r d <$R/sku.cur && skopeo --policy $TMP/policy.json --registries.d $TMP/policy.d copy -q --src-cert-dir $(registry_certdir) docker://$A/bench:1 oci:\$d/oci:bench && umoci unpack --image \$d/oci:bench \$d/bundle >/dev/null"
sh -c "$SKU_PREP"
sh -c "$SKU_CMD" || die "skopeo + umoci failed: $SKU_CMD"
k=$(count "$(cat "$R/sku.cur")/bundle/rootfs")
[ "$k" -eq "$MERGED" ] || die "skopeo + umoci: $k regular files in the rootfs, the image has $MERGED"
add "skopeo+umoci" "$SKU_PREP" "$SKU_CMD"

CT_PREP=$(fresh curltar)
CT_CMD="read -r d <$R/curltar.cur"
CO_PREP=$(fresh curlo)
CO_CMD="read -r d <$R/curlo.cur"
for l in "${LAYERS[@]}"; do
	CT_CMD+=" && curl -sS --fail --cacert $CA $BLOB_URL/$l | tar -xzf - -C \$d"
	CO_CMD+=" && curl -sS --fail --cacert $CA -o \$d/${l#sha256:} $BLOB_URL/$l"
done
sh -c "$CT_PREP"
bash -o pipefail -c "$CT_CMD" || die "curl | tar failed: $CT_CMD"
k=$(count "$(cat "$R/curltar.cur")")
[ "$k" -eq "$MERGED" ] || die "curl | tar: $k regular files, the image has $MERGED"
add "curl|tar" "$CT_PREP" "$CT_CMD"
sh -c "$CO_PREP"
sh -c "$CO_CMD" || die "curl -o failed: $CO_CMD"
k=$(du -cb "$(cat "$R/curlo.cur")"/* | tail -n 1 | cut -f1)
[ "$k" -eq "$BLOB_BYTES" ] || die "curl -o: $k bytes, the blobs are $BLOB_BYTES"
add curl-o "$CO_PREP" "$CO_CMD"

# ------------------------------------------------------------------ 4. shared layers
# bench:2 into a root that has bench:1: only the new layer's blob, the config
# and the signature's payload may come (manifests are not blobs).
: >"$TMP/shared.txt"
for i in "${!BINS[@]}"; do
	b=${BINS[$i]} n=${BIN_NAMES[$i]}
	d=$(mktemp -d "$R/shared-$n.XXXXXX")
	# A request is logged once it has ended, maybe after the client exits:
	# all of bench:1's blob GETs (layers, config, signature) before the reset.
	registry_log_reset bench
	"$b" --root "$d" -c "$TMP/empty.conf" image pull --ca "$CA" --trust "$TMP/sign.pub" "$A/bench:1" >/dev/null ||
		die "$n: pull bench:1 failed"
	registry_wait_count bench "^GET /v2/bench/blobs/" $((${#LAYERS[@]} + 2)) 10 ||
		die "$n: the registry did not log bench:1's $((${#LAYERS[@]} + 2)) blob GETs"
	registry_log_reset bench
	l0=$(load)
	"$b" --root "$d" -c "$TMP/empty.conf" image pull --json --ca "$CA" --trust "$TMP/sign.pub" "$A/bench:2" \
		>"$TMP/shared-$n.json" || die "$n: pull bench:2 after bench:1 failed"
	registry_wait_count bench "^GET /v2/bench/blobs/" 3 10 || :
	got=$(registry_blob_bytes bench '^GET /v2/bench/') || :
	nget=$(registry_count bench '^GET /v2/bench/blobs/') || :
	skipped=$(python3 -c 'import json, sys; print(sum(l["skipped"] for l in json.load(open(sys.argv[1]))["layers"]))' \
		"$TMP/shared-$n.json")
	echo "$n ${got:-0} ${nget:-0} $skipped $l0" >>"$TMP/shared.txt"
done

# ------------------------------------------------------------------ 5. time
# Interleaved: one run of each command a round, the order rotated (lib.sh).
bench_rounds "$RUNS" "$WARMUP"

# ------------------------------------------------------------------ 6. report
fstype=$(findmnt -no FSTYPE -T "$TMP" 2>/dev/null || stat -f -c %T "$TMP")
python3 - "$TIMES" "$RUNS" "$WARMUP" "$GEN_NOTE" "$LOAD0" "$LOAD1" "$BLOB_BYTES" "$TAR_BYTES" "$FILES" \
	"$MERGED" "${#LAYERS[@]}" "$BASE ($fstype)" "$TMP/rss.txt" "$TMP/shared.txt" \
	"$NEW_LAYER $CONFIG2 $SIGPAYLOAD2 $NLAYERS2" "$PUSH_S" "${BIN_NAMES[@]}" <<'EOF'
import statistics, sys
(times_path, runs, warmup, gen_note, load0, load1, blob_bytes, tar_bytes, files, merged, nlayers,
 where, rss_path, shared_path, want, push_s) = sys.argv[1:17]
bins = sys.argv[17:]
blob_bytes, tar_bytes = int(blob_bytes), int(tar_bytes)
new_layer, config2, sig2, nlayers2 = map(int, want.split())
MB = lambda b: b / 1e6
times = {}
for line in open(times_path):
    name, t = line.split()
    times.setdefault(name, []).append(float(t))
print()
print("1. pull over loopback TLS (docker-registry 2.8, no auth; HTTP/2 for the clients whose library")
print("   has it: curl, skopeo, limpet built on Debian's libcurl; HTTP/1.1 for the static limpet)")
print("   image: bench_image.sh's (%s), pushed signed as bench:1 by skopeo in %s s (both tags):"
      % (gen_note, push_s))
print("   %.1f MB of %s gzip blobs, %.1f MB of layer tars, %s files (%s after the layers merge)"
      % (MB(blob_bytes), nlayers, MB(tar_bytes), files, merged))
print("   %s runs each after %s warm-up, interleaved; fresh output dir per run in %s, sync before each"
      % (runs, warmup, where))
print("   (outside the timing); the registry's files in the page cache; load average %s -> %s" % (load0, load1))
what = {
    "skopeo+umoci": "b. skopeo copy docker:// oci: && umoci unpack: digests checked, no signature, no sync",
    "curl|tar": "c. curl | tar -xzf each blob in manifest order: verifies nothing, no sync (the floor)",
    "curl-o": "e. (breakdown) curl -o each blob: the network alone",
}
for b in bins:
    what[b] = "a. limpet image pull (%s): signature, config, blobs hashed, unpacked, syncfs" % b.split("-", 1)[1]
order = bins + ["skopeo+umoci", "curl|tar", "curl-o"]
print("   %-15s %8s %8s %8s %8s %9s" % ("", "median", "mean", "min", "max", "blobs"))
med = {}
for n in order:
    t = times[n]
    med[n] = statistics.median(t)
    print("   %-15s %6.2f s %6.2f s %6.2f s %6.2f s %5.0f MB/s   %s"
          % (n, med[n], statistics.mean(t), min(t), max(t), MB(blob_bytes) / med[n], what[n]))
print()
rss = {l.split()[0]: l.split()[1:] for l in open(rss_path)}
shared = {l.split()[0]: l.split()[1:] for l in open(shared_path)}
want_bytes = new_layer + config2 + sig2
print("%-46s" % ("median of %s, load %s -> %s" % (runs, load0, load1)) + "".join("%17s" % b for b in bins))
print("%-46s" % "a. limpet image pull" + "".join("%15.2f s" % med[b] for b in bins))
for n in ("skopeo+umoci", "curl|tar", "curl-o"):
    print("%-46s" % n + "%15.2f s" % med[n])
def cell(v, fmt, good):
    return (fmt % v) + (" met" if good(v) else " NOT met")
print("%-46s" % "target time(b)/time(a) >= 2 (skopeo+umoci)" +
      "".join("%17s" % cell(med["skopeo+umoci"] / med[b], "%.2f", lambda v: v >= 2) for b in bins))
print("%-46s" % "target time(c)/time(a) >= 1.0 (curl | tar)" +
      "".join("%17s" % cell(med["curl|tar"] / med[b], "%.2f", lambda v: v >= 1.0) for b in bins))
print("%-46s" % "target peak RSS of one pull <= 16 MB" +
      "".join("%17s" % cell(int(rss[b][0]) * 1024 / 1e6, "%.1f MB", lambda v: v <= 16) for b in bins))
dyn_over = [b for b in bins if b.startswith("limpet-dynamic") and int(rss[b][0]) * 1024 / 1e6 > 16]
print("%-46s" % ("shared layers: blob bytes, want %d" % want_bytes) +
      "".join("%17s" % ("%s %s" % (shared[b][0], "met" if int(shared[b][0]) == want_bytes else "NOT met"))
              for b in bins))
if dyn_over:
    print("(%s: most of that RSS is Debian's shared libraries mapped in; the target is the static build's)"
          % ", ".join(dyn_over))
print()
print("2. one pull each (/usr/bin/time, the untimed check run):")
for b in bins:
    kb, wall, user, sys_ = rss[b][:4]
    print("   %-15s peak RSS %d KiB = %.1f MB; %s s wall, %s s user + %s s sys CPU; load average %s"
          % (b, int(kb), int(kb) * 1024 / 1e6, wall, user, sys_, " ".join(rss[b][4:])))
print("3. shared layers: pull bench:2 (layers 1-%d the same blobs as bench:1, layer %d new) into a root"
      % (nlayers2 - 1, nlayers2))
print("   that has bench:1; the registry's access log for GET /v2/bench/blobs/* during that pull:")
print("   want %d bytes = new layer %d + config %d + signature payload %d"
      % (want_bytes, new_layer, config2, sig2))
for b in bins:
    got, nget, skipped = map(int, shared[b][:3])
    print("   %-15s %d bytes in %d blob GETs, %d layers skipped (limpet --json): %s; load average %s"
          % (b, got, nget, skipped, "met" if got == want_bytes and skipped == nlayers2 - 1 else "NOT met",
             " ".join(shared[b][3:])))
EOF
echo "load average at the end: $(load); $SECONDS s in all (before cleanup)"
