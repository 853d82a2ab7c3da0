#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tests/bench/fleet.sh [PATH/TO/limpet]
#
# The fleet agent against nginx with mutual TLS on 127.0.0.1 (tests/lib/nginx.sh):
#   1. idle: the agent runs one deployed container (hello.tar, --init, a
#      sleep) and polls deployment.json every second, each poll answered
#      304. Over LIMPET_BENCH_IDLE_S seconds: CPU ticks (utime+stime) and CPU
#      time (schedstat) of the agent and of its fleet poller (the one child
#      of the agent in the agent's PID namespace), the 304s nginx logged, CPU
#      per poll, and RSS/PSS (/proc/PID/smaps_rollup) at the end.
#      Target: the agent itself ~0 CPU between polls (at most 1 tick per
#      10 s); the RSS of agent + poller is reported, no target.
#   2. throughput: tests/bench/import.sh's generated oci-archive (~108 MB of
#      layer tars in ~61 MB of gzip layers), served by the same nginx, timed
#      interleaved (median of LIMPET_BENCH_RUNS), each run into a fresh
#      directory made (and everything synced) by hyperfine --prepare:
#        a. limpet image pull --ca --cert --key --size --sha256 --trust URL:
#           fetch URL.sig, download pinned by size and sha256, verify the
#           signature, unpack + hash every layer, syncfs, commit
#        b. curl | tar -x: the archive's blobs only (unpacks no layer)
#        c. curl | tar -x, then tar -xzf of each layer blob in manifest order
#           into one rootfs: what b leaves undone; verifies nothing, no sync
#      and, to see where limpet's time goes (no target):
#        d. limpet image import of the same archive already on disk
#        e. curl -o FILE: the download alone
#      Target: throughput(a) >= 0.8 x throughput(c), i.e. time(c)/time(a) >= 0.8.
#      b/a is printed too; b does less than half the work, no target.
#
# Needs root, python3, openssl, nginx, curl, hyperfine, tar, procps (ps), and
# umoci + skopeo for images/build.sh; /usr/bin/time optional (peak RSS of a
# pull). About 3 minutes on 2 cores (+10 s to generate the image when it is
# not cached), ~3.5 GB of disk in LIMPET_BENCH_DIR until the end. Leaves nothing
# behind.
# Knobs: LIMPET_BENCH_IDLE_S (60), LIMPET_BENCH_RUNS (5), LIMPET_BENCH_WARMUP
#   (1), LIMPET_BENCH_DIR (/var/tmp; keep it on a disk, not a tmpfs),
#   LIMPET_BENCH_IMAGE_CACHE (the directory import.sh keeps its generated
#   image in; the same image, shared).
set -euo pipefail

IDLE_S=${LIMPET_BENCH_IDLE_S:-60}
RUNS=${LIMPET_BENCH_RUNS:-5}
WARMUP=${LIMPET_BENCH_WARMUP:-1}
BASE=${LIMPET_BENCH_DIR:-/var/tmp}
CACHE=${LIMPET_BENCH_IMAGE_CACHE:-}
[ "$RUNS" -ge 3 ] || { echo "fleet.sh: LIMPET_BENCH_RUNS must be >= 3" >&2; exit 1; }
[ "$IDLE_S" -ge 10 ] || { echo "fleet.sh: LIMPET_BENCH_IDLE_S must be >= 10" >&2; exit 1; }

# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_limpet "${1:-}" "containers, cgroups, images/build.sh"
for t in python3 openssl hyperfine curl tar ps umoci skopeo; do
	command -v "$t" >/dev/null || die "needs $t"
done
command -v nginx >/dev/null || die "needs nginx (apt-get install nginx-core)"

TMP=$(mktemp -d "$BASE/limpet-fleet-bench.XXXXXX")
AGENT_ROOT=$TMP/agent
AGENT_PID=
POLLER_PID=
NAP_PID=

# ------------------------------------------------------------------ nginx
# tests/lib/nginx.sh keeps everything under $T/nginx and needs tap.sh's
# wait_for; not tap.sh itself, which prints TAP and sets its own traps.
# shellcheck disable=SC2034 # nginx.sh reads T
T=$TMP
# shellcheck source=tests/lib/wait.sh
. "$TOP/tests/lib/wait.sh"
# shellcheck source=tests/lib/nginx.sh
. "$TOP/tests/lib/nginx.sh"
# shellcheck source=tests/lib/fleet.sh
. "$TOP/tests/lib/fleet.sh"

# ------------------------------------------------------------------ cleanup
# The agent first (SIGTERM leaves its containers running), then its
# containers, then nginx, then the files (never through a live mount).
stop_agent() {
	local c
	if [ -n "$AGENT_PID" ]; then
		kill -TERM "$AGENT_PID" 2>/dev/null || :
		for _ in $(seq 50); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$AGENT_PID" 2>/dev/null || :
		wait "$AGENT_PID" 2>/dev/null || :
		AGENT_PID=
	fi
	# The poller dies with the agent; make sure, if it is still ours.
	if [ -n "$POLLER_PID" ] && [ "$(cat "/proc/$POLLER_PID/comm" 2>/dev/null)" = limpet ]; then
		for _ in $(seq 20); do kill -0 "$POLLER_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$POLLER_PID" 2>/dev/null || :
	fi
	POLLER_PID=
	for c in "$AGENT_ROOT"/containers/*; do
		[ -e "$c" ] || continue
		"$LIMPET" --root "$AGENT_ROOT" -c "$TMP/empty.conf" rm -f "$(basename "$c")" >/dev/null 2>&1 || :
	done
}

cleanup() {
	local rc=$? d
	trap - EXIT INT TERM
	set +e
	[ -n "$NAP_PID" ] && kill "$NAP_PID" 2>/dev/null
	stop_agent
	nginx_stop
	remove_tmp "$TMP"
	exit "$rc"
}
# Replaces nginx.sh's EXIT trap (which ends in tap.sh's _finish).
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

: >"$TMP/empty.conf" # whatever /etc/limpet holds does not count
L() { "$LIMPET" --root "$AGENT_ROOT" -c "$TMP/limpet.conf" "$@"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
hz=$(getconf CLK_TCK)

echo "limpet fleet benchmark: $LIMPET"
echo "host: $(uname -r), $(nproc) CPUs, $(nginx -v 2>&1 | sed 's/.*: //'), $(curl --version | head -1 | cut -d' ' -f1-2,4-5)"
echo "load average at start: $(load)"

# ------------------------------------------------------------------ setup
# The example images with their demo key, as the tests build them.
"$TOP/images/build.sh" "$TMP/images" >"$TMP/build.log" 2>&1 || { tail -20 "$TMP/build.log" >&2; die "images/build.sh failed"; }
DEMO_KEY=$TMP/images/demo.key
DEMO_PUB=$TMP/images/demo.pub

nginx_start || die "nginx did not start"
P=$NGINX_PKI
DEV=$FLEET_DEV
mkdir -p "$DEV/images"
cp "$TMP/images/hello.tar" "$DEV/images/hello.tar"

cat >"$TMP/limpet.conf" <<EOF
trust = [ "$DEMO_PUB" ];
stop_timeout = "5s";
$(fleet_settings "$P/ca.pem" "$P/device.pem" "$P/device.key")
EOF

# One signed deployment: one container from hello.tar, pinned by size and
# sha256. Signature first, then the document, as an operator uploads them.
f=$DEV/images/hello.tar
cat >"$TMP/doc.json" <<EOF
{ "version": 1, "expires": "$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)",
  "target": { "devices": ["pi-0042"] },
  "containers": [ { "name": "idle", "init": true, "command": ["exec sleep 100000"],
    "image": { "url": "images/hello.tar", "size": $(stat -c %s "$f"),
               "sha256": "$(sha256sum <"$f" | cut -c1-64)" } } ] }
EOF
L image sign "$DEMO_KEY" "$TMP/doc.json" >/dev/null || die "limpet image sign failed"
cp "$TMP/doc.json.sig" "$DEV/deployment.json.sig"
cp "$TMP/doc.json" "$DEV/deployment.json"

# ------------------------------------------------------------------ 1. idle
running() {
	{ L ps --json | python3 -c 'import json, sys
print(sum(c["name"] == "idle.v1" and c["status"] == "running" for c in json.load(sys.stdin)))'; } 2>/dev/null |
		grep -qx 1
}
# Not through L(): $! must be the agent, not a subshell running a function.
"$LIMPET" --root "$AGENT_ROOT" -c "$TMP/limpet.conf" agent </dev/null >"$TMP/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 600); do
	running && break
	kill -0 "$AGENT_PID" 2>/dev/null || { tail -20 "$TMP/agent.log" >&2; die "the agent exited"; }
	nap 0.1
done
running || { tail -20 "$TMP/agent.log" >&2; die "the deployed container idle.v1 is not running after 60 s"; }

# The poller: the agent's one child in the agent's PID namespace (each
# container's init is in a PID namespace of its own).
ns=$(readlink "/proc/$AGENT_PID/ns/pid")
kids=()
for c in $(ps -o pid= --ppid "$AGENT_PID"); do
	[ "$(readlink "/proc/$c/ns/pid" 2>/dev/null)" = "$ns" ] && kids+=("$c")
done
[ "${#kids[@]}" -eq 1 ] || die "expected 1 child of the agent in its PID namespace (the poller), found ${#kids[@]}: ${kids[*]-}"
POLLER_PID=${kids[0]}
nkids=$(ps -o pid= --ppid "$AGENT_PID" | wc -l)

rollup() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/smaps_rollup"; }
cputicks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; } # utime + stime
cpuns() { if [ -r "/proc/$1/schedstat" ]; then cut -d' ' -f1 "/proc/$1/schedstat"; else echo -1; fi; }
loglines() { wc -l <"$NGINX_LOG"; }

# The status report that follows the deployment goes before the window.
STATUS=$NGINX_ROOT/status/pi-0042.json
for _ in $(seq 100); do
	grep -q '"result": "applied"' "$STATUS" 2>/dev/null && break
	nap 0.1
done
grep -q '"result": "applied"' "$STATUS" 2>/dev/null || die "no status report saying the deployment was applied after 10 s"
nap 2
LOAD_IDLE0=$(load)
l0=$(loglines)
a_t0=$(cputicks "$AGENT_PID") p_t0=$(cputicks "$POLLER_PID")
a_n0=$(cpuns "$AGENT_PID") p_n0=$(cpuns "$POLLER_PID")
nap "$IDLE_S"
a_t1=$(cputicks "$AGENT_PID") p_t1=$(cputicks "$POLLER_PID")
a_n1=$(cpuns "$AGENT_PID") p_n1=$(cpuns "$POLLER_PID")
l1=$(loglines)
LOAD_IDLE1=$(load)
a_rss=$(rollup "$AGENT_PID" Rss) a_pss=$(rollup "$AGENT_PID" Pss)
p_rss=$(rollup "$POLLER_PID" Rss) p_pss=$(rollup "$POLLER_PID" Pss)
running || die "idle.v1 stopped running during the idle window"

tail -n +$((l0 + 1)) "$NGINX_LOG" | head -n $((l1 - l0)) >"$TMP/window.log"
n304=$(awk '$2 == "/fleet/pi-0042/deployment.json" && $3 == 304' "$TMP/window.log" | wc -l)
nreq=$(wc -l <"$TMP/window.log")
nother=$((nreq - n304))
other=$(awk '!($2 == "/fleet/pi-0042/deployment.json" && $3 == 304) { print $1, $2, $3 }' "$TMP/window.log" |
	sort | uniq -c | awk '{ printf "%s%d x %s %s %s", s, $1, $2, $3, $4; s = ", " }')

LIMPET_KIND=$(file -b "$LIMPET" | grep -q 'statically linked' &&
	echo "static (every library inside)" || echo "dynamic (Debian's shared libraries)") \
python3 - "$IDLE_S" "$hz" "$AGENT_PID" "$POLLER_PID" "$nkids" "$n304" "$nother" "${other:-none}" \
	"$a_t0 $a_t1 $p_t0 $p_t1" "$a_n0 $a_n1 $p_n0 $p_n1" "$a_rss $a_pss $p_rss $p_pss" \
	"$LOAD_IDLE0" "$LOAD_IDLE1" <<'EOF'
import os, sys
(idle, hz, apid, ppid, nkids, n304, nother, other, ticks, ns, mem, load0, load1) = sys.argv[1:]
idle, hz, n304 = int(idle), int(hz), int(n304)
at0, at1, pt0, pt1 = map(int, ticks.split())
an0, an1, pn0, pn1 = map(int, ns.split())
arss, apss, prss, ppss = map(int, mem.split())
at, pt = at1 - at0, pt1 - pt0
ms_tick = 1000.0 / hz
MB = lambda kb: kb * 1024 / 1e6
print()
print("1. idle: the agent (PID %s) with one deployed container (idle.v1: hello.tar, --init, sleep)"
      % apid)
print("   and its fleet poller (PID %s, the agent's one child in its PID namespace; its %d other"
      % (ppid, int(nkids) - 1))
print("   child(ren): container init(s), each in a PID namespace of its own)")
print("   polling deployment.json every 1 s (jitter 0) over mutual TLS; window %d s; load average %s -> %s"
      % (idle, load0, load1))
print("   nginx: %d x 304 for deployment.json in the window; other requests: %s" % (n304, other))
print("   %-8s %10s %10s %14s %12s" % ("", "RSS", "PSS", "CPU ticks", "CPU (sched)"))
for name, rss, pss, t, n0, n1 in (("agent", arss, apss, at, an0, an1), ("poller", prss, ppss, pt, pn0, pn1)):
    sched = "%9.3f s" % ((n1 - n0) / 1e9) if n0 >= 0 else "n/a"
    print("   %-8s %7d kB %7d kB %6d (%4.2f s) %12s" % (name, rss, pss, t, t * ms_tick / 1000, sched))
both_ns = (an1 - an0 + pn1 - pn0) if an0 >= 0 and pn0 >= 0 else -1
print("   %-8s %7d kB %7d kB %6d (%4.2f s) %12s   (RSS counts the pages the fork shares twice; PSS does not)"
      % ("together", arss + prss, apss + ppss, at + pt, (at + pt) * ms_tick / 1000,
         "%9.3f s" % (both_ns / 1e9) if both_ns >= 0 else "n/a"))
print()
per_poll = "CPU per poll: %.1f ms (ticks)" % ((at + pt) * ms_tick / n304) if n304 else "CPU per poll: no 304 seen"
if n304 and both_ns >= 0:
    per_poll += ", %.2f ms (schedstat)" % (both_ns / 1e6 / n304)
print("idle over %d s: %d polls (304); agent %d ticks, poller %d ticks (1 tick = %g ms); %s"
      % (idle, n304, at, pt, ms_tick, per_poll))
print("idle memory: agent RSS %.1f MB PSS %.1f MB, poller RSS %.1f MB PSS %.1f MB; agent+poller RSS %.1f MB, PSS %.1f MB"
      % (MB(arss), MB(apss), MB(prss), MB(ppss), MB(arss + prss), MB(apss + ppss)))
limit = idle // 10
print("target: the agent itself ~0 CPU between polls (<= 1 tick per 10 s, %d over %d s): %s (%d ticks)"
      % (limit, idle, "met" if at <= limit else "NOT met", at))
print("   (the poller's CPU is the polls': a TLS handshake with client certificate per poll)")
print("   binary: " + os.environ.get("LIMPET_KIND", "?"))
EOF

stop_agent

# ------------------------------------------------------------------ 2. the image
# shellcheck source=tests/bench/bench_image.sh
. "$(dirname "$0")/bench_image.sh"
bench_image

# Served by nginx (a symlink: nginx follows it), signed with the demo key
# beside it, where image pull looks for URL.sig.
mkdir -p "$NGINX_ROOT/bench"
ln -s "$IMG" "$NGINX_ROOT/bench/bench.tar"
openssl dgst -sha256 -sign "$DEMO_KEY" -out "$NGINX_ROOT/bench/bench.tar.sig" "$IMG"
URL=$(nginx_url bench/bench.tar)
BYTES=$(stat -c %s "$IMG")
HEX=$(sha256sum <"$IMG" | cut -c1-64)
CA=$P/ca.pem CERT=$P/device.pem KEY=$P/device.key

# The layer blobs in manifest order (paths inside the archive), the blob
# count, and the image's numbers.
python3 - "$IMG" "$META" >"$TMP/layers.txt" <<'EOF'
import json, sys, tarfile
img, meta_path = sys.argv[1:3]
meta = json.load(open(meta_path))
with tarfile.open(img) as tf:
    rd = lambda name: tf.extractfile(name).read()
    blob = lambda d: "blobs/" + d.replace(":", "/")
    index = json.loads(rd("index.json"))
    manifest = json.loads(rd(blob(index["manifests"][0]["digest"])))
    nfiles = sum(1 for m in tf.getmembers() if m.isfile())
print(meta["files"], meta["merged_files"], meta["tar_bytes"], meta["file_bytes"], nfiles,
      sum(l["size"] for l in manifest["layers"]))
for l in manifest["layers"]:
    print(blob(l["digest"]))
EOF
read -r FILES MERGED TAR_BYTES FILE_BYTES ARCHIVE_FILES _ <"$TMP/layers.txt"
mapfile -t LAYERS < <(tail -n +2 "$TMP/layers.txt")

# ------------------------------------------------------------------ 3. commands
# Every run writes into a directory of its own that --prepare makes (and names
# in $R/ID.cur) after a sync; nothing is deleted until the end (see import.sh:
# deleting the last run's files just before the next run times ext4 instead).
R=$TMP/run
mkdir -p "$R"
TLS="--cacert $CA --cert $CERT --key $KEY"

PULL_PREP=$(fresh pull)
PULL_CMD="read -r d <$R/pull.cur && $LIMPET --root \$d -c $TMP/empty.conf image pull --trust $DEMO_PUB --ca $CA --cert $CERT --key $KEY --size $BYTES --sha256 $HEX $URL >/dev/null"
CT_PREP=$(fresh curltar)
CT_CMD="read -r d <$R/curltar.cur && curl -sS --fail $TLS $URL | tar -x -C \$d"
CL_PREP="$(fresh curllayers) && read -r d <$R/curllayers.cur && mkdir \$d/blobs \$d/rootfs"
CL_CMD="read -r d <$R/curllayers.cur && curl -sS --fail $TLS $URL | tar -x -C \$d/blobs"
for l in "${LAYERS[@]}"; do CL_CMD+=" && tar -xzf \$d/blobs/$l -C \$d/rootfs"; done
IMP_PREP=$(fresh import)
IMP_CMD="read -r d <$R/import.cur && $LIMPET --root \$d -c $TMP/empty.conf image import --trust $DEMO_PUB --sig $NGINX_ROOT/bench/bench.tar.sig $IMG >/dev/null"
CO_PREP=$(fresh curlo)
CO_CMD="read -r d <$R/curlo.cur && curl -sS --fail $TLS -o \$d/bench.tar $URL"

# Room for every run's output: pull, import and c leave the layer tars, b, c
# and e the archive.
bench_disk "$R" $(((RUNS + WARMUP + 1) * (TAR_BYTES * 3 + BYTES * 3) / 1000000))

# ------------------------------------------------------------------ 4. check once
# Each command once, untimed, and a look at what it wrote.
sh -c "$PULL_PREP"
d=$(cat "$R/pull.cur")
PULL_ARGS=(--root "$d" -c "$TMP/empty.conf" image pull --trust "$DEMO_PUB" --ca "$CA" --cert "$CERT" --key "$KEY"
	--size "$BYTES" --sha256 "$HEX" "$URL")
RSS_KB='' ONE=''
if [ -x /usr/bin/time ]; then
	/usr/bin/time -f "%M %e %U %S" -o "$TMP/rss" "$LIMPET" "${PULL_ARGS[@]}" >/dev/null ||
		die "limpet image pull failed: $LIMPET ${PULL_ARGS[*]}"
	read -r RSS_KB w u s < <(tail -n 1 "$TMP/rss")
	ONE="$w s wall, $u s user + $s s sys CPU"
else
	"$LIMPET" "${PULL_ARGS[@]}" >/dev/null || die "limpet image pull failed: $LIMPET ${PULL_ARGS[*]}"
fi
n=$(count "$d/store/layers")
[ "$n" -eq "$FILES" ] || die "limpet pull: $n regular files in its layers, the image has $FILES"
n=$(find "$d/downloads" -type f 2>/dev/null | wc -l)
[ "$n" -eq 0 ] || die "limpet pull left $n files in $d/downloads"
add limpet-pull "$PULL_PREP" "$PULL_CMD"

sh -c "$CT_PREP"
bash -o pipefail -c "$CT_CMD" || die "curl | tar failed: $CT_CMD"
n=$(count "$(cat "$R/curltar.cur")")
[ "$n" -eq "$ARCHIVE_FILES" ] || die "curl | tar: $n files, the archive has $ARCHIVE_FILES"
add "curl|tar" "$CT_PREP" "$CT_CMD"

sh -c "$CL_PREP"
bash -o pipefail -c "$CL_CMD" || die "curl | tar + tar -xzf layers failed: $CL_CMD"
n=$(count "$(cat "$R/curllayers.cur")/rootfs")
[ "$n" -eq "$MERGED" ] || die "curl | tar + layers: $n regular files in the rootfs, the image has $MERGED"
add "curl|tar+layers" "$CL_PREP" "$CL_CMD"

sh -c "$IMP_PREP"
sh -c "$IMP_CMD" || die "limpet image import failed: $IMP_CMD"
n=$(count "$(cat "$R/import.cur")/store/layers")
[ "$n" -eq "$FILES" ] || die "limpet import: $n regular files in its layers, the image has $FILES"
add limpet-import "$IMP_PREP" "$IMP_CMD"

sh -c "$CO_PREP"
sh -c "$CO_CMD" || die "curl -o failed: $CO_CMD"
cmp -s "$(cat "$R/curlo.cur")/bench.tar" "$IMG" || die "curl -o: the downloaded archive differs"
add curl-o "$CO_PREP" "$CO_CMD"

# ------------------------------------------------------------------ 5. time
# Interleaved: one run of each command a round, the order rotated (lib.sh).
bench_rounds "$RUNS" "$WARMUP"

# ------------------------------------------------------------------ 6. report
fstype=$(findmnt -no FSTYPE -T "$TMP" 2>/dev/null || stat -f -c %T "$TMP")
python3 - "$TIMES" "$RUNS" "$WARMUP" "$GEN_NOTE" "$LOAD0" "$LOAD1" "$BYTES" "$TAR_BYTES" "$FILE_BYTES" \
	"$FILES" "$MERGED" "${#LAYERS[@]}" "$BASE ($fstype)" "$RSS_KB" "$ONE" <<'EOF'
import statistics, sys
(times_path, runs, warmup, gen_note, load0, load1, nbytes, tar_bytes, file_bytes, files, merged,
 nlayers, where, rss_kb, one) = sys.argv[1:]
nbytes, tar_bytes, file_bytes = int(nbytes), int(tar_bytes), int(file_bytes)
times = {}
for line in open(times_path):
    name, t = line.split()
    times.setdefault(name, []).append(float(t))
MB = lambda b: b / 1e6
print()
print("2. download + verify + unpack over loopback TLS (nginx, mutual TLS, HTTP/1.1)")
print("   image: import.sh's generated oci-archive (%s): %.1f MB archive, %s gzip layers;"
      % (gen_note, MB(nbytes), nlayers))
print("   %.1f MB of layer tars, %.1f MB of file data, %s files (%s after the layers merge)"
      % (MB(tar_bytes), MB(file_bytes), files, merged))
print("   %s runs each after %s warm-up, interleaved; fresh output dir per run in %s, sync before each"
      % (runs, warmup, where))
print("   (outside the timing); archive in the page cache; load average %s -> %s" % (load0, load1))
order = ["limpet-pull", "curl|tar", "curl|tar+layers", "limpet-import", "curl-o"]
what = {
    "limpet-pull": "a. limpet image pull: .sig, pinned download, verify signature, unpack + hash layers, syncfs",
    "curl|tar": "b. curl | tar -x: the archive's blobs only, no layer unpacked, verifies nothing",
    "curl|tar+layers": "c. curl | tar -x, then tar -xzf each layer into one rootfs: verifies nothing, no sync",
    "limpet-import": "d. (breakdown) limpet image import of the archive already on disk, no download",
    "curl-o": "e. (breakdown) curl -o FILE: the download alone",
}
print("   %-16s %8s %8s %8s %8s %9s" % ("", "median", "mean", "min", "max", "archive"))
med = {}
for n in order:
    t = times[n]
    med[n] = statistics.median(t)
    print("   %-16s %6.2f s %6.2f s %6.2f s %6.2f s %5.0f MB/s   %s"
          % (n, med[n], statistics.mean(t), min(t), max(t), MB(nbytes) / med[n], what[n]))
print()
print("fleet pull (median of %s): %s" % (runs, " | ".join(
    "%s %.2f s" % (n, med[n]) for n in order[:3])))
print("   breakdown: limpet image import of the local file %.2f s + curl -o %.2f s = %.2f s (pull: %.2f s)"
      % (med["limpet-import"], med["curl-o"], med["limpet-import"] + med["curl-o"], med["limpet-pull"]))
rc = med["curl|tar+layers"] / med["limpet-pull"]
rb = med["curl|tar"] / med["limpet-pull"]
print("target: limpet pull throughput >= 0.8x that of curl | tar + tar -xzf of the layers (peer c,")
print("   which verifies nothing and does not sync; time(c)/time(limpet) >= 0.8): %s (%.2f)"
      % ("met" if rc >= 0.8 else "NOT met", rc))
print("   against plain curl | tar -x (peer b, which only extracts the blobs and unpacks no layer):")
print("   %.2f (no target: b does not do the work)" % rb)
if rss_kb:
    kb = int(rss_kb)
    print("   one pull (/usr/bin/time, untimed check run): peak RSS %d KiB = %.1f MB; %s" % (kb, kb * 1024 / 1e6, one))
EOF
echo "load average at the end: $(load); $SECONDS s in all (before cleanup)"
