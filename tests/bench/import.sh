#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tests/bench/import.sh [PATH/TO/limpet]
#
# Image import time of limpet next to the standard tools, on one generated,
# signed oci-archive of about 100 MB of layer content (4 gzip layers, ~4100
# files: a few thousand 1-20 KB text files, symlinks, and 1-8 MB binaries):
#   a. limpet image import          verify the signature, then one streaming
#                                   pass: unpack every layer, hash blobs and
#                                   diff_ids, syncfs, commit the layers
#   b. skopeo copy oci-archive: oci: + umoci unpack (umoci checks digests)
#   c. tar -xzf of the layer blobs, in manifest order, into one directory:
#      the floor, which verifies nothing
# Each run writes into a new directory, made (and everything synced) by
# hyperfine --prepare outside the timing; nothing is deleted until the end.
# Median of LIMPET_BENCH_RUNS runs, interleaved round by round. Also limpet's
# peak RSS for one import.
# Targets: (skopeo+umoci)/limpet >= 1.5, limpet/tar <= 1.3, peak RSS <= 16 MB.
#
# Needs root, python3, openssl, hyperfine; skopeo and umoci are optional (the
# peer is then reported as skipped), /usr/bin/time too (package `time`).
# About 1.5 minutes on 2 cores (+10 s to generate the image) and ~4 GB of
# disk for the runs' output until the end. Leaves nothing behind.
# Knobs: LIMPET_BENCH_RUNS (7), LIMPET_BENCH_WARMUP (1),
#   LIMPET_BENCH_DIR (/var/tmp: where the runs write; keep it on a disk, not a
#   tmpfs, so that syncing costs what it costs for a real store),
#   LIMPET_BENCH_IMAGE_CACHE (a directory to keep the generated image in
#   between invocations; by default it is generated into the temp dir).
set -euo pipefail

RUNS=${LIMPET_BENCH_RUNS:-7}
WARMUP=${LIMPET_BENCH_WARMUP:-1}
BASE=${LIMPET_BENCH_DIR:-/var/tmp}
CACHE=${LIMPET_BENCH_IMAGE_CACHE:-}
[ "$RUNS" -ge 5 ] || { echo "import.sh: LIMPET_BENCH_RUNS must be >= 5" >&2; exit 1; }

# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_limpet "${1:-}" "layer files are owned by root, umoci unpack wants root"
for t in python3 openssl hyperfine; do
	command -v "$t" >/dev/null || die "needs $t"
done

TMP=$(mktemp -d "$BASE/limpet-import-bench.XXXXXX")

# ------------------------------------------------------------------ cleanup
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	# Nothing here mounts anything; refuse to rm -rf through a mount all the same.
	remove_tmp "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ 1. the image
# shellcheck source=tests/bench/bench_image.sh
. "$(dirname "$0")/bench_image.sh"
bench_image

# The gzip layer blobs in manifest order, for the plain-tar floor, and the
# archive's compressed layer sizes.
BLOBS=$TMP/blobs
mkdir -p "$BLOBS"
META_RUN=$TMP/meta.json # meta.json plus the compressed sizes
python3 - "$IMG" "$BLOBS" "$META" "$META_RUN" >"$TMP/blobs.txt" <<'EOF'
import json, sys, tarfile
img, out, meta_path, run_path = sys.argv[1:5]
meta = json.load(open(meta_path))
with tarfile.open(img) as tf:
    rd = lambda name: tf.extractfile(name).read()
    blob = lambda d: "blobs/" + d.replace(":", "/")
    index = json.loads(rd("index.json"))
    manifest = json.loads(rd(blob(index["manifests"][0]["digest"])))
    for i, l in enumerate(manifest["layers"]):
        path = "%s/%d.tar.gz" % (out, i)
        with open(path, "wb") as f:
            f.write(rd(blob(l["digest"])))
        meta["layers"][i]["gz_bytes"] = l["size"]
        print(path)
json.dump(meta, open(run_path, "w"))
EOF
mapfile -t BLOB_LIST <"$TMP/blobs.txt"

# Sign it with a throwaway key.
openssl ecparam -genkey -name prime256v1 -noout -out "$TMP/key.pem" 2>/dev/null
openssl ec -in "$TMP/key.pem" -pubout -out "$TMP/key.pub" 2>/dev/null
# The signature goes into $TMP, not next to a cached image: --sig names it.
SIG=$TMP/bench.tar.sig
openssl dgst -sha256 -sign "$TMP/key.pem" -out "$SIG" "$IMG"

# ------------------------------------------------------------------ 2. commands
# Every run writes into a directory of its own that --prepare makes (and names
# in $R/NAME.cur), and nothing is deleted until the end. Deleting each run's
# ~5000 files just before the next run creates as many would time the file
# system as much as the tools: ext4 without a journal (as here) skips inodes
# freed in the last few seconds when it allocates, and that scan grew limpet's
# system time from 0.35 s to 1.5 s over four delete-then-import cycles.
# --prepare also syncs: each run starts with nothing dirty, so limpet's syncfs
# flushes its own files and not the previous run's.
R=$TMP/run
mkdir -p "$R"
NAMES=() CMDS=() PREPS=()
declare -A SKIPPED=()
add() { NAMES+=("$1") PREPS+=("$2") CMDS+=("$3"); } # NAME PREPARE COMMAND
fresh() { echo "sync && mktemp -d $R/$1.XXXXXX >$R/$1.cur"; }

add limpet "$(fresh limpet)" \
	"read -r d <$R/limpet.cur && $LIMPET --root \$d image import --trust $TMP/key.pub --sig $SIG $IMG >/dev/null"

# skopeo unpacks the oci-archive into a temp dir ($TMPDIR) before it copies;
# keep that in the run's directory. Our own policy file: what /etc/containers
# holds is not ours to depend on. (skopeo verifies no signature; limpet does.)
cat >"$TMP/policy.json" <<'EOF2'
{"default": [{"type": "insecureAcceptAnything"}]}
EOF2
SKU_PREP="$(fresh sku) && read -r d <$R/sku.cur && mkdir \$d/tmp"
SKU_CMD="read -r d <$R/sku.cur && TMPDIR=\$d/tmp skopeo --policy $TMP/policy.json copy -q oci-archive:$IMG oci:\$d/oci:bench && umoci unpack --image \$d/oci:bench \$d/bundle >/dev/null"
if ! command -v skopeo >/dev/null; then
	SKIPPED[skopeo+umoci]="skopeo not installed"
elif ! command -v umoci >/dev/null; then
	SKIPPED[skopeo+umoci]="umoci not installed"
fi

TAR_CMD="read -r d <$R/tar.cur"
for b in "${BLOB_LIST[@]}"; do TAR_CMD+=" && tar -xzf $b -C \$d"; done
TAR_PREP=$(fresh tar)

# ------------------------------------------------------------------ 3. check once
# Each command once, untimed, and a look at what it wrote: a benchmark of a
# command that fails or writes half the image would be worthless.
count() { find "$1" -type f | wc -l; } # regular files below DIR
json_get() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$META_RUN" "$1"; }
FILES=$(json_get files)
MERGED=$(json_get merged_files)

# Room for every run's output: ~(layer tars + archive) per skopeo+umoci run.
need_mb=$(((RUNS + WARMUP + 1) * ($(json_get tar_bytes) * 3 + $(stat -c %s "$IMG") * 2) / 1000000))
have_mb=$(df -Pm "$R" | awk 'NR == 2 { print $4 }')
[ "$have_mb" -gt $((need_mb + 1000)) ] ||
	die "needs about $need_mb MB free in $BASE for the runs' output, there are $have_mb MB (LIMPET_BENCH_DIR, LIMPET_BENCH_RUNS)"

# The check run of limpet also gives its peak RSS and CPU time.
sh -c "$(fresh limpet)"
d=$(cat "$R/limpet.cur")
LIMPET_ARGS=(--root "$d" image import --trust "$TMP/key.pub" --sig "$SIG" "$IMG")
if [ -x /usr/bin/time ]; then
	/usr/bin/time -f "%M %e %U %S" -o "$TMP/rss" "$LIMPET" "${LIMPET_ARGS[@]}" >/dev/null ||
		die "limpet image import failed: $LIMPET ${LIMPET_ARGS[*]}"
	read -r RSS_KB ONE_WALL ONE_USER ONE_SYS < <(tail -n 1 "$TMP/rss")
else
	"$LIMPET" "${LIMPET_ARGS[@]}" >/dev/null || die "limpet image import failed: $LIMPET ${LIMPET_ARGS[*]}"
	RSS_KB='' ONE_WALL='' ONE_USER='' ONE_SYS=''
fi
n=$(count "$d/store/layers")
[ "$n" -eq "$FILES" ] || die "limpet: $n regular files in its layers, the image has $FILES"
n=$(find "$d/store/layers" -mindepth 1 -maxdepth 1 -type d | wc -l)
[ "$n" -eq "${#BLOB_LIST[@]}" ] || die "limpet: $n layers in its store, the image has ${#BLOB_LIST[@]}"

if [ -z "${SKIPPED[skopeo+umoci]-}" ]; then
	sh -c "$SKU_PREP"
	if ! out=$(sh -c "$SKU_CMD" 2>&1); then
		SKIPPED[skopeo+umoci]="fails here: $(echo "$out" | tail -n 1)"
	else
		n=$(count "$(cat "$R/sku.cur")/bundle/rootfs")
		[ "$n" -eq "$MERGED" ] || die "umoci: $n regular files in the rootfs, the image has $MERGED"
		add skopeo+umoci "$SKU_PREP" "$SKU_CMD"
	fi
fi

sh -c "$TAR_PREP"
sh -c "$TAR_CMD" || die "tar failed: $TAR_CMD"
n=$(count "$(cat "$R/tar.cur")")
[ "$n" -eq "$MERGED" ] || die "tar: $n regular files, the image has $MERGED"
add tar "$TAR_PREP" "$TAR_CMD"

# ------------------------------------------------------------------ 4. time
# One hyperfine call per round, one run of each command per round, in a
# rotating order: a burst of load from other work on the box then hits all of
# them alike. The warm-up runs go into the first round.
TIMES=$TMP/times.txt
: >"$TIMES"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 0 $((RUNS - 1))); do
	warm=0
	[ "$r" -eq 0 ] && warm=$WARMUP
	hyperfine_round 1 "$warm" "$r"
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ 5. report
fstype=$(findmnt -no FSTYPE -T "$TMP" 2>/dev/null || stat -f -c %T "$TMP")
echo "limpet image import benchmark: $LIMPET"
echo "host: $(uname -r), $(nproc) CPUs, runs write to $BASE ($fstype)"
SKIP_ARGS=()
for n in "${!SKIPPED[@]}"; do SKIP_ARGS+=("$n=${SKIPPED[$n]}"); done
python3 - "$META_RUN" "$IMG" "$TIMES" "$RUNS" "$WARMUP" "$GEN_NOTE" "$LOAD0" "$LOAD1" "$RSS_KB $ONE_WALL $ONE_USER $ONE_SYS" \
	"${SKIP_ARGS[@]}" <<'EOF'
import hashlib, json, os, statistics, sys

meta_path, img, times_path, runs, warmup, gen_note, load0, load1, rss = sys.argv[1:10]
skipped = dict(a.split("=", 1) for a in sys.argv[10:])
meta = json.load(open(meta_path))
MB = lambda b: b / 1e6
h = hashlib.sha256()
with open(img, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
size = os.path.getsize(img)

print()
print("image: %s (%s), sha256 %s..." % (os.path.basename(img), gen_note, h.hexdigest()[:16]))
print("   archive %.1f MB (oci-archive, gzip -6 layers); uncompressed: %.1f MB of layer tars, %.1f MB of file data"
      % (MB(size), MB(meta["tar_bytes"]), MB(meta["file_bytes"])))
print("   %d files, %d symlinks, %d dirs in %d layers (%d files after the layers merge):"
      % (meta["files"], meta["symlinks"], meta["dirs"], len(meta["layers"]), meta["merged_files"]))
for i, l in enumerate(meta["layers"]):
    print("     %d %-9s %6.1f MB tar -> %5.1f MB gzip, %4d files"
          % (i, l["name"], MB(l["tar_bytes"]), MB(l["gz_bytes"]), l["files"]))

times = {}
for line in open(times_path):
    name, t = line.split()
    times.setdefault(name, []).append(float(t))
order = ["limpet", "skopeo+umoci", "tar"]
what = {
    "limpet": "limpet image import: verify signature, unpack + hash all layers, syncfs, commit",
    "skopeo+umoci": "skopeo copy oci-archive: oci: && umoci unpack (digests checked, no signature, no sync)",
    "tar": "tar -xzf each layer blob into one dir (verifies nothing, no sync)",
}
print()
print("import time: %s runs each after %s warm-up, interleaved; fresh output dir per run, sync before"
      % (runs, warmup))
print("   each (outside the timing); archive in the page cache; load average %s -> %s" % (load0, load1))
print("   %-13s %8s %8s %8s %8s" % ("", "median", "mean", "min", "max"))
med = {}
for n in order:
    if n not in times:
        print("   %-13s skipped (%s)" % (n, skipped.get(n, "?")))
        continue
    t = times[n]
    med[n] = statistics.median(t)
    print("   %-13s %6.2f s %6.2f s %6.2f s %6.2f s   %s"
          % (n, med[n], statistics.mean(t), min(t), max(t), what[n]))
print()
parts = ["%s %.2f s" % (n, med[n]) for n in order if n in med]
print("import (median of %s): %s" % (runs, " | ".join(parts)))
if "skopeo+umoci" in med:
    r = med["skopeo+umoci"] / med["limpet"]
    print("target: limpet at least 1.5x faster than skopeo+umoci ((skopeo+umoci)/limpet >= 1.5): %s (%.2f)"
          % ("met" if r >= 1.5 else "NOT met", r))
else:
    print("target: limpet at least 1.5x faster than skopeo+umoci: not checked, skopeo+umoci skipped")
r = med["limpet"] / med["tar"]
print("target: limpet within 1.3x of plain tar (limpet/tar <= 1.3): %s (%.2f)"
      % ("met" if r <= 1.3 else "NOT met", r))
if rss.strip():
    kb, wall, user, sys_ = rss.split()
    kb = int(kb)
    print("target: limpet peak RSS for one import <= 16 MB: %s (%d KiB = %.1f MB)"
          % ("met" if kb * 1024 <= 16e6 else "NOT met", kb, kb * 1024 / 1e6))
    print("   that import (/usr/bin/time): %s s wall, %s s user + %s s sys CPU" % (wall, user, sys_))
else:
    print("target: limpet peak RSS <= 16 MB: not checked, no /usr/bin/time (apt-get install time)")
EOF
