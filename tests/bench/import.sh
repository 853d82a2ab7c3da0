#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tests/bench/import.sh [PATH/TO/limpet]
#
# Image import time of limpet next to the standard tools, on two signed
# oci-archives, side by side in one run:
#   gen     generated: about 100 MB of layer content (4 gzip layers, ~4100
#           files: a few thousand 1-20 KB text files, symlinks, 1-8 MB binaries)
#   debian  a real one: tests/realworld's umoci-oci.tar, Debian bookworm
#           minbase + procps + nginx-light made by mmdebstrap and packed by
#           umoci + skopeo (~65 MB, 3 gzip layers, ~9,000 entries, hard links
#           with umoci's permission-only mode, whiteouts); built once into
#           the cache by tests/realworld/build.sh (15-25 minutes the first time)
# For each:
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
# peer is then reported as skipped), /usr/bin/time too (package `time`); the
# Debian image needs what tests/realworld/build.sh needs (make deps).
# About 3 minutes on 2 cores (+10 s to generate the image) and ~10 GB of
# disk for the runs' output until the end. Leaves nothing behind.
# Knobs: LIMPET_BENCH_RUNS (7), LIMPET_BENCH_WARMUP (1),
#   LIMPET_BENCH_DIR (/var/tmp: where the runs write; keep it on a disk, not a
#   tmpfs, so that syncing costs what it costs for a real store),
#   LIMPET_BENCH_IMAGE_CACHE (a directory to keep the generated image in
#   between invocations; by default it is generated into the temp dir),
#   LIMPET_BENCH_DEBIAN=0 (the generated image only).
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

# ------------------------------------------------------------------ 1. the images
# shellcheck source=tests/bench/bench_image.sh
. "$(dirname "$0")/bench_image.sh"
bench_image
KEYS=(gen)
declare -A SRC=([gen]=$IMG) NOTE=([gen]=$GEN_NOTE) META_IN=([gen]=$META) LABEL=([gen]=generated)
declare -A SKIPPED=()

if [ "${LIMPET_BENCH_DEBIAN:-1}" != 0 ]; then
	# shellcheck source=tests/realworld/cache.sh
	. "$TOP/tests/realworld/cache.sh"
	t0=$EPOCHREALTIME
	if realworld_cache "$TMP/realworld-build.log"; then
		KEYS+=(debian)
		SRC[debian]=$RW/umoci-oci.tar
		META_IN[debian]=$RW/info/umoci-oci.tar.json
		LABEL[debian]=debian
		NOTE[debian]="tests/realworld's, from $RW ($(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s to have it)"
	else
		echo "import.sh: no Debian image, tests/realworld/build.sh failed; its log ends:" >&2
		tail -n 15 "$TMP/realworld-build.log" >&2
		SKIPPED[debian]="tests/realworld/build.sh failed"
	fi
fi

# For each image: the gzip layer blobs in manifest order, for the plain-tar
# floor, and meta-K.json, the numbers the checks and the report use:
# regular files in the layers (what limpet stores), once merged with
# whiteouts applied (umoci's rootfs) and as plain tar leaves them.
for k in "${KEYS[@]}"; do
	mkdir -p "$TMP/blobs-$k"
	python3 - "${SRC[$k]}" "$TMP/blobs-$k" "${META_IN[$k]}" "$TMP/meta-$k.json" >"$TMP/blobs-$k.txt" <<'EOF'
import json, sys, tarfile
img, out, meta_path, run_path = sys.argv[1:5]
meta = json.load(open(meta_path))
if "images" in meta:  # tests/realworld/archinfo.py's summary
    im = meta["images"][0]
    L = im["layers"]
    meta = {"layers": [{"name": "layer%d" % (i + 1), "tar_bytes": l["tar_bytes"], "files": l["files"]}
                       for i, l in enumerate(L)],
            "merged_files": im["merged_files"], "tar_files": im["tar_files"]}
    for f in ("entries", "files", "symlinks", "dirs", "file_bytes", "hardlinks", "hardlinks_perm_only",
              "whiteouts", "tar_bytes"):
        meta[f] = sum(l[f] for l in L)
else:  # bench_image.sh's
    meta["tar_files"] = meta["merged_files"]
    meta["hardlinks"] = meta["hardlinks_perm_only"] = meta["whiteouts"] = 0
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
done

# Sign them with a throwaway key. The signatures go into $TMP, not next to
# a cached image: --sig names them.
openssl ecparam -genkey -name prime256v1 -noout -out "$TMP/key.pem" 2>/dev/null
openssl ec -in "$TMP/key.pem" -pubout -out "$TMP/key.pub" 2>/dev/null
for k in "${KEYS[@]}"; do
	openssl dgst -sha256 -sign "$TMP/key.pem" -out "$TMP/$k.sig" "${SRC[$k]}"
done

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
# skopeo unpacks the oci-archive into a temp dir ($TMPDIR) before it copies;
# keep that in the run's directory. Our own policy file: what /etc/containers
# holds is not ours to depend on. (skopeo verifies no signature; limpet does.)
cat >"$TMP/policy.json" <<'EOF2'
{"default": [{"type": "insecureAcceptAnything"}]}
EOF2
if ! command -v skopeo >/dev/null; then
	SKU_MISSING="skopeo not installed"
elif ! command -v umoci >/dev/null; then
	SKU_MISSING="umoci not installed"
else
	SKU_MISSING=
fi

json_get() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$TMP/meta-$1.json" "$2"; }

# Room for every run's output: ~(layer tars + archive) per skopeo+umoci run.
need_mb=0
for k in "${KEYS[@]}"; do
	need_mb=$((need_mb + (RUNS + WARMUP + 1) * ($(json_get "$k" tar_bytes) * 3 + $(stat -c %s "${SRC[$k]}") * 2) / 1000000))
done
bench_disk "$R" "$need_mb"

# ------------------------------------------------------------------ 3. check once
# Each command once, untimed, and a look at what it wrote: a benchmark of a
# command that fails or writes half the image would be worthless. The check
# run of limpet also gives its peak RSS and CPU time.
declare -A RSS=()
for k in "${KEYS[@]}"; do
	img=${SRC[$k]} sig=$TMP/$k.sig
	add "$k/limpet" "$(fresh "$k-limpet")" \
		"read -r d <$R/$k-limpet.cur && $LIMPET --root \$d image import --trust $TMP/key.pub --sig $sig $img >/dev/null"
	sh -c "$(fresh "$k-limpet")"
	d=$(cat "$R/$k-limpet.cur")
	LIMPET_ARGS=(--root "$d" image import --trust "$TMP/key.pub" --sig "$sig" "$img")
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f "%M %e %U %S" -o "$TMP/rss" "$LIMPET" "${LIMPET_ARGS[@]}" >/dev/null ||
			die "limpet image import failed: $LIMPET ${LIMPET_ARGS[*]}"
		RSS[$k]=$(tail -n 1 "$TMP/rss")
	else
		"$LIMPET" "${LIMPET_ARGS[@]}" >/dev/null || die "limpet image import failed: $LIMPET ${LIMPET_ARGS[*]}"
		RSS[$k]=
	fi
	n=$(count "$d/store/layers")
	[ "$n" -eq "$(json_get "$k" files)" ] || die "$k: limpet: $n regular files in its layers, the image has $(json_get "$k" files)"
	n=$(find "$d/store/layers" -mindepth 1 -maxdepth 1 -type d | wc -l)
	nb=$(wc -l <"$TMP/blobs-$k.txt")
	[ "$n" -eq "$nb" ] || die "$k: limpet: $n layers in its store, the image has $nb"

	SKU_PREP="$(fresh "$k-sku") && read -r d <$R/$k-sku.cur && mkdir \$d/tmp"
	SKU_CMD="read -r d <$R/$k-sku.cur && TMPDIR=\$d/tmp skopeo --policy $TMP/policy.json copy -q oci-archive:$img oci:\$d/oci:bench && umoci unpack --image \$d/oci:bench \$d/bundle >/dev/null"
	if [ -n "$SKU_MISSING" ]; then
		SKIPPED[$k/skopeo+umoci]=$SKU_MISSING
	else
		sh -c "$SKU_PREP"
		if ! out=$(sh -c "$SKU_CMD" 2>&1); then
			SKIPPED[$k/skopeo+umoci]="fails here: $(echo "$out" | tail -n 1)"
		else
			n=$(count "$(cat "$R/$k-sku.cur")/bundle/rootfs")
			[ "$n" -eq "$(json_get "$k" merged_files)" ] ||
				die "$k: umoci: $n regular files in the rootfs, the image has $(json_get "$k" merged_files)"
			add "$k/skopeo+umoci" "$SKU_PREP" "$SKU_CMD"
		fi
	fi

	TAR_CMD="read -r d <$R/$k-tar.cur"
	while read -r b; do TAR_CMD+=" && tar -xzf $b -C \$d"; done <"$TMP/blobs-$k.txt"
	TAR_PREP=$(fresh "$k-tar")
	sh -c "$TAR_PREP"
	sh -c "$TAR_CMD" || die "$k: tar failed: $TAR_CMD"
	n=$(count "$(cat "$R/$k-tar.cur")")
	[ "$n" -eq "$(json_get "$k" tar_files)" ] || die "$k: tar: $n regular files, the image has $(json_get "$k" tar_files)"
	add "$k/tar" "$TAR_PREP" "$TAR_CMD"
done

# ------------------------------------------------------------------ 4. time
# Interleaved: one run of each command a round, the order rotated (lib.sh).
bench_rounds "$RUNS" "$WARMUP"

# ------------------------------------------------------------------ 5. report
fstype=$(findmnt -no FSTYPE -T "$TMP" 2>/dev/null || stat -f -c %T "$TMP")
echo "limpet image import benchmark: $LIMPET"
echo "host: $(uname -r), $(nproc) CPUs, runs write to $BASE ($fstype)"
PLAN=$TMP/plan.txt
: >"$PLAN"
for k in "${KEYS[@]}"; do
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$k" "${LABEL[$k]}" "${SRC[$k]}" "$TMP/meta-$k.json" "${NOTE[$k]}" "${RSS[$k]}" >>"$PLAN"
done
SKIP_ARGS=()
for n in "${!SKIPPED[@]}"; do SKIP_ARGS+=("$n=${SKIPPED[$n]}"); done
python3 - "$PLAN" "$TIMES" "$RUNS" "$WARMUP" "$LOAD0" "$LOAD1" "${SKIP_ARGS[@]}" <<'EOF'
import hashlib, json, os, statistics, sys

plan_path, times_path, runs, warmup, load0, load1 = sys.argv[1:7]
skipped = dict(a.split("=", 1) for a in sys.argv[7:])
plan = [l.rstrip("\n").split("\t") for l in open(plan_path)]
MB = lambda b: b / 1e6
times = {}
for line in open(times_path):
    name, t = line.split()
    times.setdefault(name, []).append(float(t))
order = ["limpet", "skopeo+umoci", "tar"]
what = {
    "limpet": "limpet image import: verify signature, unpack + hash all layers, syncfs, commit",
    "skopeo+umoci": "skopeo copy oci-archive: oci: && umoci unpack (digests checked, no signature, no sync)",
    "tar": "tar -xzf each layer blob into one dir (verifies nothing, applies no whiteout, no sync)",
}
summary = {}
for key, label, img, meta_path, note, rss in plan:
    meta = json.load(open(meta_path))
    h = hashlib.sha256()
    with open(img, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    print()
    print("image %s: %s (%s), sha256 %s..." % (label, os.path.basename(img), note, h.hexdigest()[:16]))
    print("   archive %.1f MB (oci-archive, gzip layers); uncompressed: %.1f MB of layer tars, %.1f MB of file data"
          % (MB(os.path.getsize(img)), MB(meta["tar_bytes"]), MB(meta["file_bytes"])))
    print("   %d entries: %d files (%d of them hard links, %d with a permission-only mode), %d symlinks,"
          % (meta["entries"], meta["files"], meta["hardlinks"], meta["hardlinks_perm_only"], meta["symlinks"]))
    print("   %d dirs, %d whiteouts in %d layers (%d files after the layers merge):"
          % (meta["dirs"], meta["whiteouts"], len(meta["layers"]), meta["merged_files"]))
    for i, l in enumerate(meta["layers"]):
        print("     %d %-9s %6.1f MB tar -> %5.1f MB gzip, %4d files"
              % (i, l["name"], MB(l["tar_bytes"]), MB(l["gz_bytes"]), l["files"]))
    print("import time: %s runs each after %s warm-up, interleaved with the other image's; fresh output"
          % (runs, warmup))
    print("   dir per run, sync before each (outside the timing); archive in the page cache")
    print("   %-13s %8s %8s %8s %8s" % ("", "median", "mean", "min", "max"))
    med = {}
    for n in order:
        t = times.get("%s/%s" % (key, n))
        if not t:
            print("   %-13s skipped (%s)" % (n, skipped.get("%s/%s" % (key, n), "?")))
            continue
        med[n] = statistics.median(t)
        print("   %-13s %6.2f s %6.2f s %6.2f s %6.2f s   %s"
              % (n, med[n], statistics.mean(t), min(t), max(t), what[n]))
    r_sku = med["skopeo+umoci"] / med["limpet"] if "skopeo+umoci" in med else None
    r_tar = med["limpet"] / med["tar"]
    kb = int(rss.split()[0]) if rss.strip() else None
    if kb is not None:
        wall, user, sys_ = rss.split()[1:]
        print("   one import (/usr/bin/time): peak RSS %d KiB, %s s wall, %s s user + %s s sys CPU"
              % (kb, wall, user, sys_))
    summary[label] = (med, r_sku, r_tar, kb)

print()
print("load average %s -> %s" % (load0, load1))
labels = [p[1] for p in plan]
for k, why in sorted(skipped.items()):
    if "/" not in k:
        print("image %s: skipped (%s)" % (k, why))
print("%-40s" % ("median of %s" % runs) + "".join("%22s" % l for l in labels))
for n in order:
    print("%-40s" % n + "".join("%22s" % ("%.2f s" % summary[l][0][n] if n in summary[l][0] else "skipped")
                                for l in labels))
def cell(v, fmt, good):
    return "not checked" if v is None else (fmt % v) + (" met" if good(v) else " NOT met")
print("%-40s" % "target (skopeo+umoci)/limpet >= 1.5" +
      "".join("%22s" % cell(summary[l][1], "%.2f", lambda v: v >= 1.5) for l in labels))
print("%-40s" % "target limpet/tar <= 1.3" +
      "".join("%22s" % cell(summary[l][2], "%.2f", lambda v: v <= 1.3) for l in labels))
print("%-40s" % "target limpet peak RSS <= 16 MB" +
      "".join("%22s" % cell(None if summary[l][3] is None else summary[l][3] * 1024 / 1e6, "%.1f MB",
                                 lambda v: v <= 16) for l in labels))
if any(summary[l][3] is None for l in labels):
    print("(peak RSS not measured: no /usr/bin/time; apt-get install time)")
EOF
