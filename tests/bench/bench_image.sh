#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The benchmark image, shared by import.sh, fleet.sh and registry.sh so all
# time the same bytes and LIMPET_BENCH_IMAGE_CACHE keeps one image for all.
# Sourced after $TMP and $CACHE (LIMPET_BENCH_IMAGE_CACHE, may be empty) are set.
#   bench_image  set IMGDIR, IMG (the oci-archive), IMG2 (its update), META
#                (their meta.json) and GEN_NOTE, making the images when the
#                cache has none (~15 s)
# IMG2 is IMG with its last layer made again from another seed: the first
# layers are the same tars, gzipped alike (mtime 0), so the same blobs, as in
# an update that changes one layer of four. meta.json's "image2" describes it.

GEN_VERSION=2 # bump when the generated images change (2: IMG2; IMG as in 1)
# Four layer tars from one seeded PRNG, then ocitool builds the oci-archive
# (gzip level 6, mtime 0). meta.json: the numbers printed below.
generate() {
	local ldir=$TMP/layers
	mkdir -p "$ldir"
	python3 - "$ldir" "$META.tmp" "$GEN_VERSION" <<'EOF'
import io, json, os, random, sys, tarfile

out, meta_path, version = sys.argv[1], sys.argv[2], sys.argv[3]
rng = random.Random(0x11397)  # fixed seed: the same bytes on every machine
MTIME = 1700000000

letters = "abcdefghijklmnopqrstuvwxyz"
vocab = ["".join(rng.choices(letters, k=rng.randint(2, 11))) for _ in range(4000)]
cum, t = [], 0.0
for r in range(len(vocab)):
    t += 1.0 / (r + 1)  # Zipf-like, as words in real text
    cum.append(t)
words = rng.choices(vocab, cum_weights=cum, k=1_600_000)
punct = ["", "", "", ",", ".", ";", " =", "();", ":", " {", " }", " #"]
lines = []
for i in range(0, len(words), 11):
    lines.append(" ".join(words[i:i + 11]) + rng.choice(punct))
corpus = ("\n".join(lines) + "\n").encode()  # ~11 MB of text to cut files from

# Binary-like data: 4 KiB blocks, random (compressed code/data), zero (bss,
# padding) or low-entropy (16-symbol alphabet, like tables and code).
lowent = [bytes(rng.choices(b"\x00\x01\x02\x03\x04\x08\x0f\x10\x20\x40\x48\x83\x89\x8b\xc3\xff",
                            k=4096)) for _ in range(64)]
ZERO = bytes(4096)

def binary(size, random_share=0.40, zero_share=0.15):
    blocks = []
    for _ in range((size + 4095) // 4096):
        x = rng.random()
        if x < random_share:
            blocks.append(rng.randbytes(4096))
        elif x < random_share + zero_share:
            blocks.append(ZERO)
        else:
            blocks.append(rng.choice(lowent))
    return b"".join(blocks)[:size]

def text(size):
    off = rng.randrange(0, len(corpus) - size)
    return corpus[off:off + size]

def dirs(prefix, n):
    ds = []
    for i in range(n):
        depth = rng.randint(1, 3)
        ds.append("/".join([prefix] + [rng.choice(vocab) + str(i) for _ in range(depth)][:depth]))
    return ds

EXT = [".txt", ".conf", ".py", ".h", ".pl", ".md", ".html", ".json", ".c"]

class Layer:
    def __init__(self, name):
        self.name = name
        self.entries = {}  # path -> (type, data or link target, mode)

    def add_dir(self, p):
        parts = p.split("/")
        for i in range(1, len(parts) + 1):
            self.entries.setdefault("/".join(parts[:i]), ("d", None, 0o755))

    def add_file(self, p, data, mode=0o644):
        self.add_dir(p.rsplit("/", 1)[0]) if "/" in p else None
        self.entries[p] = ("f", data, mode)

    def add_symlink(self, p, target):
        self.add_dir(p.rsplit("/", 1)[0]) if "/" in p else None
        self.entries[p] = ("l", target, 0o777)

    def write(self, path):
        with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tf:
            for p in sorted(self.entries):
                kind, data, mode = self.entries[p]
                ti = tarfile.TarInfo(p)
                ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname, ti.mode = MTIME, 0, 0, "root", "root", mode
                if kind == "d":
                    ti.type = tarfile.DIRTYPE
                    tf.addfile(ti)
                elif kind == "l":
                    ti.type, ti.linkname = tarfile.SYMTYPE, data
                    tf.addfile(ti)
                else:
                    ti.size = len(data)
                    tf.addfile(ti, io.BytesIO(data))

def small_files(layer, prefix, ndirs, nfiles):
    ds = dirs(prefix, ndirs)
    paths = []
    for i in range(nfiles):
        p = "%s/%s%d%s" % (rng.choice(ds), rng.choice(vocab), i, rng.choice(EXT))
        layer.add_file(p, text(rng.randint(1024, 20 * 1024)))
        paths.append(p)
    return paths

layers = []
# 1. base: a distribution's files
base = Layer("base")
for d in ["bin", "etc", "lib", "tmp", "usr/bin", "usr/lib", "usr/share", "var/lib", "var/log"]:
    base.add_dir(d)
docs = small_files(base, "usr/share", 150, 1500) + small_files(base, "etc", 40, 350) \
    + small_files(base, "usr/lib/python3", 60, 400)
libs = []
for i in range(25):
    p = "usr/lib/lib%s.so.%d" % (rng.choice(vocab), i)
    base.add_file(p, binary(rng.randint(200 * 1024, 1536 * 1024)), 0o755)
    libs.append(p)
for i in range(60):
    p = "usr/bin/%s%d" % (rng.choice(vocab), i)
    base.add_file(p, binary(rng.randint(16 * 1024, 160 * 1024)), 0o755)
for i in range(80):
    base.add_symlink("usr/bin/%s-link%d" % (rng.choice(vocab), i), "../lib/" + rng.choice(libs).rsplit("/", 1)[1])
layers.append(base)
# 2. packages installed on top
pkgs = Layer("packages")
small_files(pkgs, "usr/share/pkg", 100, 1300)
for i in range(8):
    pkgs.add_file("usr/lib/pkg/lib%s.so" % rng.choice(vocab), binary(rng.randint(1 << 20, 3 << 20)), 0o755)
for i in range(20):
    pkgs.add_symlink("usr/lib/pkg/alias%d.so" % i, "lib%s.so" % rng.choice(vocab))
layers.append(pkgs)
# 3. the application: an already-compressed asset, a large binary, its sources
app = Layer("app")
app.add_file("opt/app/assets.pak", binary(8 << 20, random_share=1.0, zero_share=0.0))
app.add_file("opt/app/bin/app", binary(8 << 20), 0o755)
small_files(app, "opt/app/src", 25, 300)
layers.append(app)
# 4. configuration: new files, and some of the base layer's replaced
def config_layer(name):
    conf = Layer(name)
    small_files(conf, "etc/app", 8, 80)
    for p in rng.sample(docs, 20):
        conf.add_file(p, text(rng.randint(1024, 8 * 1024)))
    return conf
layers.append(config_layer("config"))

meta = {"version": version, "layers": [], "entries": 0, "files": 0, "symlinks": 0, "dirs": 0,
        "file_bytes": 0}
merged = {}
for i, l in enumerate(layers):
    path = os.path.join(out, "%d-%s.tar" % (i, l.name))
    l.write(path)
    nf = sum(1 for k, d, m in l.entries.values() if k == "f")
    meta["layers"].append({"name": l.name, "tar": path, "tar_bytes": os.path.getsize(path),
                           "files": nf, "entries": len(l.entries)})
    meta["entries"] += len(l.entries)
    meta["files"] += nf
    meta["symlinks"] += sum(1 for k, d, m in l.entries.values() if k == "l")
    meta["dirs"] += sum(1 for k, d, m in l.entries.values() if k == "d")
    meta["file_bytes"] += sum(len(d) for k, d, m in l.entries.values() if k == "f")
    for p, (k, d, m) in l.entries.items():
        merged[p] = k
meta["merged_files"] = sum(1 for k in merged.values() if k == "f")
meta["merged_entries"] = len(merged)
meta["tar_bytes"] = sum(l["tar_bytes"] for l in meta["layers"])

# The update: the last layer again, from a seed of its own, once the first
# image is made (it stays byte for byte what it was).
rng = random.Random(0x11398)
last = config_layer("config-2")
path = os.path.join(out, "%d-%s.tar" % (len(layers) - 1, last.name))
last.write(path)
meta["image2"] = {"tars": [l["tar"] for l in meta["layers"][:-1]] + [path],
                  "last": {"name": last.name, "tar_bytes": os.path.getsize(path),
                           "files": sum(1 for k, d, m in last.entries.values() if k == "f"),
                           "entries": len(last.entries)}}
json.dump(meta, open(meta_path, "w"), indent=1)
EOF
	local img args l
	for img in "$IMG" "$IMG2"; do
		args=()
		while read -r l; do args+=(--layer "$l"); done < <(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
for t in m["image2"]["tars"] if sys.argv[2] == "2" else [l["tar"] for l in m["layers"]]:
    print(t)' "$META.tmp" "$([ "$img" = "$IMG" ] && echo 1 || echo 2)")
		python3 "$TOP/tests/lib/ocitool.py" build "${args[@]}" --compression gzip --ref bench "$img.tmp"
	done
	rm -rf "$ldir"
	mv "$IMG.tmp" "$IMG"
	mv "$IMG2.tmp" "$IMG2"
	mv "$META.tmp" "$META"
}

have_image() {
	[ -f "$IMG" ] && [ -f "$IMG2" ] && [ -f "$META" ] &&
		python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["version"] != sys.argv[2])' \
			"$META" "$GEN_VERSION" 2>/dev/null
}

bench_image() {
	local t0=$EPOCHREALTIME
	IMGDIR=${CACHE:-$TMP/image}
	IMG=$IMGDIR/bench.tar
	IMG2=$IMGDIR/bench2.tar
	META=$IMGDIR/meta.json
	mkdir -p "$IMGDIR"
	if have_image; then
		GEN_NOTE="reused from $IMGDIR"
	else
		generate
		GEN_NOTE="generated in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
	fi
}
