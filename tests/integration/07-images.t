#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Signed image archives: import (OCI, docker-archive; gzip, zstd, plain), run
# with the image config, whiteouts, refusals that leave the store unchanged,
# the hostile corpus, shared layers and gc, kill -9 mid-import, a full disk.
. "$(dirname "$0")/../lib/tap.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
test_images
KEY=$IMG/demo.key
PUB=$IMG/demo.pub
imp() { L image import --trust "$PUB" "$@"; }
store_sum() { (cd "$ROOT/store" 2>/dev/null && find . -path ./lock -prune -o -print | sort | md5sum); }

# --- importing what real tools wrote, and running it
is "$(imp "$IMG/hello.tar")" "hello:latest" "skopeo oci-archive imports (named file:tag)"
out=$(L run --rm hello)
like "$out" "^hello from run-[0-9a-f]+ as 1000:1000 in /home/user with GREETING=hi$" \
	"run IMAGE honours Entrypoint, Cmd, Env, WorkingDir and User (a name)"
out=$(L run --rm -e GREETING=yo -w /tmp -u 0 hello)
like "$out" "as 0:0 in /tmp with GREETING=yo" "-e, -w and -u override the image config"
out=$(L run --rm hello 'echo args replace Cmd')
is "$out" "args replace Cmd" "a command replaces Cmd and keeps the Entrypoint"
is "$(imp "$IMG/hello-docker.tar")" "docker.io/limpet/hello:latest" "skopeo docker-archive imports"
like "$(L run --rm docker.io/limpet/hello)" "as 1000:1000 in /home/user" "and runs (NAME means NAME:latest)"
is "$(ls "$ROOT/store/layers" | wc -l)" 1 "both archives of hello share one stored layer"

for v in layers layers-zstd layers-plain layers-docker; do
	name=$(imp "$IMG/$v.tar")
	check "$v imports" test -n "$name"
	out=$(L run --rm "$name" /bin/sh -c 'ls /data /opt/dir | tr "\n" " "')
	is "$out" "/data: keep.txt new.txt  /opt/dir: c.txt " "$v: whiteout hides gone.txt, opaque dir shows only c.txt"
done
# Layers as tar(1) and Docker <= 24 write them: a hard link, whose mode has no
# file type bits, and a repeated layer saved once and linked as ../ID/layer.tar.
mkdir -p "$T/hl/etc" && echo hosts >"$T/hl/etc/a" && ln "$T/hl/etc/a" "$T/hl/etc/b"
tar -C "$T/hl" -cf "$T/hl.tar" etc
python3 "$top/tests/lib/ocitool.py" build --format docker --repo-tag limpet/twice:latest \
	--layer "$T/hl.tar" --layer "$T/hl.tar" "$T/twice.tar" >/dev/null
openssl dgst -sha256 -sign "$KEY" -out "$T/twice.tar.sig" "$T/twice.tar"
is "$(imp "$T/twice.tar" 2>&1)" "limpet/twice:latest" "a docker save with a repeated (symlinked) layer and a hard link imports"
hl=$(find "$ROOT/store/layers" -path '*/etc/b' | head -1)
check "the hard link is kept as one" test -n "$hl" -a "$(stat -c %h "$hl" 2>/dev/null)" = 2
L image rm limpet/twice:latest >/dev/null
L image gc >/dev/null
layers=$(ls "$ROOT/store/layers" | wc -l)
check "gzip, zstd and plain variants share layers by diff_id ($layers layers for 5 images)" test "$layers" -le 4
like "$(L image ls)" "layers:latest +sha256:[0-9a-f]{12} +3 " "image ls lists layers and digest"
sizes=$(L image ls --json | python3 -c 'import json,sys; s={i["name"]: i["unpacked_size"] for i in json.load(sys.stdin)}; print(s["hello:latest"], s["docker.io/limpet/hello:latest"])')
like "$sizes" "^([0-9]{7,}) \1$" "image ls: the size is the unpacked one, the same for an OCI (gzip) and a docker-archive import of one image"
imp --name registry.example.com/a-rather-long-team-name/hello-world:1.0 "$IMG/hello.tar" >/dev/null
is "$(L image ls | awk 'NR == 1 { print index($0, "DIGEST") } NR > 1 { print index($0, "sha256:") }' | sort -u | wc -l)" 1 \
	"image ls: the columns line up with a name of over 32 characters"
L image rm registry.example.com/a-rather-long-team-name/hello-world:1.0 >/dev/null
is "$(L image inspect hello | python3 -c 'import json,sys; print(json.load(sys.stdin)["config"]["config"]["User"])')" user "image inspect shows the config"
L image check >/dev/null
is "$?" 0 "the store passes its consistency check"

# --- one archive, several images: docker save one two (classic, with Docker's
# ../ID/layer.tar link for the layer they share, and Docker >= 25's OCI layout)
tar -C "$ROOTFS" -cf "$T/base.tar" .
python3 "$top/tests/lib/ocitool.py" mklayer "$T/two.tar" dir:opt file:opt/two=2
python3 - "$top/tests/lib" "$T" <<'PY'
import json, sys, tarfile
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
import ocitool
t = sys.argv[2]
base, two = (open("%s/%s.tar" % (t, n), "rb").read() for n in ("base", "two"))
one = ocitool.build_image([base], "none", entrypoint=["/bin/echo"], cmd=["one"])
second = ocitool.build_image([base, two], "none", entrypoint=["/bin/cat"], cmd=["/opt/two"])
# classic: one manifest.json entry per image, layers and configs side by side
items = dict(ocitool.docker_items(one, "multi/one:latest"))
more = dict(ocitool.docker_items(second, "multi/two:v2"))
mf = json.loads(items["manifest.json"]) + json.loads(more["manifest.json"])
items.update(more)
# Docker links the layer both share from a directory of the second's: ../ID/layer.tar
shared = mf[1]["Layers"][0]
mf[1]["Layers"][0] = "linked/layer.tar"
items["manifest.json"] = ocitool.jdump(mf)
items["repositories"] = ocitool.jdump({"multi/one": {"latest": "x"}, "multi/two": {"v2": "y"}})
ocitool.write_file(t + "/multi.tar", ocitool.tar_bytes(sorted(items.items(), key=lambda kv: kv[0])))
with tarfile.open(t + "/multi.tar", "a") as tar:
    link = tarfile.TarInfo("linked/layer.tar")
    link.type, link.linkname = tarfile.SYMTYPE, "../" + shared
    tar.addfile(link)
# Docker >= 25: one index.json entry (and one manifest.json entry) per image
a = ocitool.add_docker_index(one, "multi/one:latest")
b = ocitool.add_docker_index(second, "multi/two:v2")
lay = ocitool.Layout({**a.files, **b.files})
lay.files["index.json"] = ocitool.jdump({"schemaVersion": 2, "manifests":
    json.loads(a.files["index.json"])["manifests"] + json.loads(b.files["index.json"])["manifests"]})
lay.files["manifest.json"] = ocitool.jdump(json.loads(a.files["manifest.json"]) + json.loads(b.files["manifest.json"]))
ocitool.write_oci(lay, t + "/multi-oci.tar")
PY
for f in multi multi-oci; do
	openssl dgst -sha256 -sign "$KEY" -out "$T/$f.tar.sig" "$T/$f.tar"
done
before=$(store_sum)
err=$(imp --name nope "$T/multi.tar" 2>&1)
is "$?" 1 "docker save of two images: a --name that is not one of them is refused"
like "$err" "it holds 2 images \(multi/one:latest, multi/two:v2\): --name must name one of them" \
	"listing what is inside"
is "$(store_sum)" "$before" "and the store is unchanged"
is "$(imp --name multi/two:v2 "$T/multi.tar")" multi/two:v2 "--name picks one of them"
is "$(L image ls --json | python3 -c 'import json,sys; print(" ".join(i["name"] for i in json.load(sys.stdin) if i["name"].startswith("multi/")))')" \
	multi/two:v2 "and only that one is imported"
is "$(L run --rm multi/two:v2)" 2 "the one it names (its own config and layers)"
is "$(imp "$T/multi.tar" | tr '\n' ' ')" "multi/one:latest multi/two:v2 " "without --name, every image is imported"
is "$(L run --rm multi/one) $(L run --rm multi/two:v2)" "one 2" "each with its own config and layers"
L image rm multi/one multi/two:v2 >/dev/null
is "$(imp "$T/multi-oci.tar" | tr '\n' ' ')" "multi/one:latest multi/two:v2 " "Docker >= 25's save of two images imports both"
is "$(L run --rm multi/two:v2)" 2 "and they run"
L image rm multi/one multi/two:v2 >/dev/null
L image gc >/dev/null

# --- a multi-platform index without the platform asked for says which it has
python3 - "$top/tests/lib" "$T" <<'PY'
import sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
import ocitool
t = sys.argv[2]
base = open(t + "/base.tar", "rb").read()
lay = ocitool.Layout({"oci-layout": ocitool.jdump({"imageLayoutVersion": "1.0.0"})})
descs = []
for arch, variant in (("amd64", None), ("arm64", "v8")):
    img = ocitool.build_image([base], "gzip", arch=arch, cmd=["/bin/true"])
    mdesc, _ = img.manifest()
    lay.files.update({k: v for k, v in img.files.items() if k.startswith("blobs/")})
    desc = {k: v for k, v in mdesc.items() if k != "annotations"}
    desc["platform"] = dict({"os": "linux", "architecture": arch}, **({"variant": variant} if variant else {}))
    descs.append(desc)
index = lay.add_blob(ocitool.jdump({"schemaVersion": 2, "mediaType": ocitool.MT_INDEX, "manifests": descs}),
                     ocitool.MT_INDEX, {ocitool.REF_NAME: "latest"})
lay.files["index.json"] = ocitool.jdump({"schemaVersion": 2, "mediaType": ocitool.MT_INDEX, "manifests": [index]})
ocitool.write_oci(lay, t + "/multiarch.tar")
PY
openssl dgst -sha256 -sign "$KEY" -out "$T/multiarch.tar.sig" "$T/multiarch.tar"
err=$(imp --platform linux/s390x "$T/multiarch.tar" 2>&1)
like "$err" "no image for linux/s390x, only for linux/amd64, linux/arm64/v8$" \
	"--platform absent from the index: the message lists the platforms it has"
is "$(imp --platform linux/arm64 --name arm "$T/multiarch.tar")" arm "and one it has imports"
L image rm arm >/dev/null

# --- refusals leave the store exactly as it was
before=$(store_sum)
refuse() { # DESC ARCHIVE [import args]: must fail with one line, store unchanged
	local desc=$1 f=$2 err
	shift 2
	err=$(imp "$@" "$f" 2>&1)
	local rc=$?
	if [ $rc -ne 0 ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && [ "$(store_sum)" = "$before" ]; then
		ok "$desc"
	else
		not_ok "$desc"
		diag "rc=$rc: $err"
	fi
}
python3 "$top/tests/lib/ocitool.py" break --flip-layer 1 "$IMG/layers.tar" "$T/flip.tar"
openssl dgst -sha256 -sign "$KEY" -out "$T/flip.tar.sig" "$T/flip.tar"
refuse "one flipped byte in a (correctly signed) layer is refused" "$T/flip.tar"
python3 "$top/tests/lib/ocitool.py" break --wrong-diffid 2 "$IMG/layers.tar" "$T/diffid.tar"
openssl dgst -sha256 -sign "$KEY" -out "$T/diffid.tar.sig" "$T/diffid.tar"
refuse "a wrong diff_id in the config is refused" "$T/diffid.tar"
python3 "$top/tests/lib/ocitool.py" break --manifest-digest "$IMG/layers.tar" "$T/mdig.tar"
openssl dgst -sha256 -sign "$KEY" -out "$T/mdig.tar.sig" "$T/mdig.tar"
refuse "a manifest that does not match its digest is refused" "$T/mdig.tar"
python3 "$top/tests/lib/ocitool.py" break --truncate=-1 "$IMG/layers.tar" "$T/trunc.tar"
openssl dgst -sha256 -sign "$KEY" -out "$T/trunc.tar.sig" "$T/trunc.tar"
refuse "a truncated archive is refused" "$T/trunc.tar"
cp "$IMG/hello.tar" "$T/tampered.tar"
cp "$IMG/hello.tar.sig" "$T/tampered.tar.sig"
printf 'X' | dd of="$T/tampered.tar" bs=1 seek=4000 conv=notrunc 2>/dev/null
refuse "a tampered archive fails its signature" "$T/tampered.tar"
cp "$IMG/hello.tar" "$T/other.tar"
cp "$IMG/layers.tar.sig" "$T/other.tar.sig"
refuse "the signature of another file is refused" "$T/other.tar"
L keygen "$T/stranger" >/dev/null
L image sign "$T/stranger.key" "$T/other.tar" >/dev/null
refuse "a signature by an untrusted key is refused" "$T/other.tar"
cp "$IMG/hello.tar" "$T/unsigned.tar"
refuse "an unsigned archive is refused" "$T/unsigned.tar"
err=$(imp "$T/unsigned.tar" 2>&1)
like "$err" "no signature .*allow_unsigned" "and the message says how development can allow it"
refuse "an image for another platform is refused" "$IMG/hello.tar" --platform linux/arm64 --name other
printf 'allow_unsigned = true;\n' >"$T/dev.conf"
is "$(L -c "$T/dev.conf" image import --name dev "$T/unsigned.tar" 2>/dev/null)" dev "allow_unsigned imports unsigned archives (development)"
L image rm dev >/dev/null
before=$(store_sum)

# --- the hostile corpus: digests are right, only the unpacker's rules stand
python3 "$top/tests/lib/hostile.py" "$T/hostile" --key "$KEY" >/dev/null
touch "$T/marker"
while read -r name expect _; do
	case $name in '#'* | '') continue ;; esac
	err=$(timeout 120 "$LIMPET" --root "$ROOT" image import --trust "$PUB" --name "h-$name" "$T/hostile/hostile-$name.tar" 2>&1)
	rc=$?
	# other tests running beside this one (a developer's) make evil* files of their own
	escaped=$(find / -xdev \( -path /proc -o -path "$ROOT" -o \( -path '/tmp/limpet-test.*' ! -path "$T" \) \) \
		-prune -o -newer "$T/marker" \( -name 'evil*' -o -name 'hl' -o -name 'mem' -o -name 'sda' \) \
		-print 2>/dev/null | grep -v "^$T/hostile" | head -3)
	devices=$(find "$ROOT/store" \( -type b -o -type c \) ! -perm 0000 2>/dev/null | head -3)
	case $expect in
	refuse) good=$([ $rc -ne 0 ] && [ "$(store_sum)" = "$before" ] && echo y) ;;
	accept) good=$([ $rc -eq 0 ] && echo y) ;;
	*) good=y ;;
	esac
	if [ "$good" = y ] && [ -z "$escaped" ] && [ -z "$devices" ]; then
		ok "hostile $name: $expect${err:+ ($(echo "$err" | sed 's/.*: //' | head -c 60))}"
	else
		not_ok "hostile $name: $expect"
		diag "rc=$rc err=$err escaped=$escaped devices=$devices"
	fi
	L image rm "h-$name" >/dev/null 2>&1
	L image gc >/dev/null
	before=$(store_sum)
done <"$T/hostile/cases.txt"
err=$(imp --name dev "$T/hostile/hostile-device-char.tar" 2>&1)
like "$err" "dev/mem: device nodes are not allowed in layers .*: empty the root's dev/ before packing it \(mmdebstrap: --skip=output/dev\)$" \
	"a device node in a layer (a root-mode mmdebstrap tree): the message says how to fix the image"
mode=$(stat -c %a "$(find "$ROOT/store/layers" -name 'su*' -type f 2>/dev/null | head -1)" 2>/dev/null)
L image import --trust "$PUB" --name h-setuid "$T/hostile/hostile-setuid.tar" >/dev/null
check "setuid bits survive import" bash -c "find '$ROOT/store/layers' -perm -4000 -type f | grep -q ."
L image rm h-setuid >/dev/null
L image import --trust "$PUB" --name h-sd "$T/hostile/hostile-symlink-then-dir.tar" >/dev/null
sd=$(dirname "$(find "$ROOT/store/layers" -path '*/link/f' 2>/dev/null | head -1)")
is "$(stat -c '%F %a' "$sd" "$sd/../tgt" 2>&1 | paste -sd,)" "directory 700,directory 755" \
	"a directory entry replaces the layer's symlink of that name, not chmods its target"
L image rm h-sd >/dev/null

# --- the agent runs a config container that names an image
cat >"$T/agent.conf" <<CONF
trust = [ "$PUB" ];
containers = ( { name = "from-image"; image = "hello"; memory = "32M";
		 command = [ "echo from the config; sleep 1000" ]; } );
CONF
start_agent -c "$T/agent.conf"
check "a config container can name an image" wait_for 10 bash -c "$LIMPET --root $ROOT logs from-image 2>/dev/null | grep -q 'from the config'"
stop_agent
L rm -f from-image >/dev/null

# --- rm and gc
L run --name user-of-hello hello >/dev/null
is "$(ps_field user-of-hello image)" hello "ps --json names a container's image"
like "$(L ps)" "user-of-hello .* hello" "ps shows the image in COMMAND"
err=$(L image rm hello 2>&1)
is "$?" 1 "rm refuses an image a container uses"
like "$err" "used by container user-of-hello" "and names the container"
err=$(L image rm hello:latest 2>&1)
is "$?" 1 "also when rm spells the name another way (hello:latest for hello)"
L rm -f user-of-hello >/dev/null
err=$(L image rm nosuch 2>&1)
like "$err" "no such image: nosuch$" "rm of a name no image has says so"

# a running container with a restart policy: its image and layers stay
start_agent
is "$(L run -d --name h2 --restart always hello:latest 'exec sleep 1000')" h2 "run -d h2 from hello:latest"
err=$(L image rm hello 2>&1)
is "$?" 1 "rm NAME refuses the image of a running container made from NAME:latest"
like "$err" "image hello:latest is used by container h2" "and names it"
L image gc >/dev/null
like "$(L exec h2 /bin/cat /etc/passwd)" "^root:" "gc left the running container's layer"
L rm -f h2 >/dev/null
n_before=$(ls "$ROOT/store/layers" | wc -l)
L image rm layers-plain:latest layers-zstd:latest docker.io/limpet/layers:latest >/dev/null
out=$(L image gc)
gone=$((n_before - $(ls "$ROOT/store/layers" | wc -l)))
like "$out" "removed $gone unused layer" "gc reports what it freed ($gone)"
like "$(L run --rm layers /bin/cat /data/keep.txt)" "." "gc kept the layers a remaining image uses"
L image rm layers:latest >/dev/null
L image gc >/dev/null
is "$(ls "$ROOT/store/layers" | wc -l)" 1 "after removing every layers image only hello's layer is left"
# a new import under the same name: the running container keeps its old layers
imp --name pin "$IMG/layers.tar" >/dev/null
is "$(L run -d --name pinned pin /bin/sleep 1000)" pinned "run -d from image pin"
imp --name pin "$IMG/hello.tar" >/dev/null
L image gc >/dev/null
is "$(L exec pinned /bin/cat /data/keep.txt 2>&1)" "keep" \
	"pin imported anew: gc keeps the layers the running container was started with"
L rm -f pinned >/dev/null
stop_agent
L image rm pin >/dev/null
L image gc >/dev/null
is "$(ls "$ROOT/store/layers" | wc -l)" 1 "once it is gone, gc removes them"

# --- kill -9 mid-import: the store stays consistent and the old image runs
head -c 40000000 /dev/urandom >"$T/big.bin"
mkdir -p "$T/biglayer/opt" && mv "$T/big.bin" "$T/biglayer/opt/" && cp -a "$ROOTFS"/bin "$T/biglayer/"
tar -C "$T/biglayer" -cf "$T/big-layer.tar" .
python3 "$top/tests/lib/ocitool.py" build --layer "$T/big-layer.tar" --compression gzip --ref big "$T/big.tar" >/dev/null
openssl dgst -sha256 -sign "$KEY" -out "$T/big.tar.sig" "$T/big.tar"
for delay in 0.05 0.2 0.5 0.8; do
	"$LIMPET" --root "$ROOT" image import --trust "$PUB" "$T/big.tar" >/dev/null 2>&1 &
	pid=$!
	sleep $delay
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	out=$(L image check)
	rc=$?
	if [ $rc -eq 0 ] && L run --rm hello >/dev/null; then
		ok "kill -9 after ${delay}s: store consistent, hello still runs"
	else
		not_ok "kill -9 after ${delay}s"
		diag "$out"
	fi
done
L image rm big:latest >/dev/null 2>&1
L image gc >/dev/null
check "the next store operation cleared the staging leftovers" test -z "$(ls -A "$ROOT/store/staging")"

# --- a full disk fails cleanly
mkdir -p "$T/small"
if mount -t tmpfs -o size=8m tmpfs "$T/small"; then
	SMALL=$T/small/state
	L2() { "$LIMPET" --root "$SMALL" "$@"; }
	L2 image import --trust "$PUB" "$IMG/hello.tar" >/dev/null
	sum=$(cd "$SMALL/store" && find . -path ./lock -prune -o -print | sort | md5sum)
	err=$(L2 image import --trust "$PUB" "$T/big.tar" 2>&1)
	rc=$?
	is "$rc" 1 "importing onto a full disk fails"
	like "$err" "No space left on device" "saying the disk is full"
	is "$(cd "$SMALL/store" && find . -path ./lock -prune -o -print | sort | md5sum)" "$sum" "and the store is unchanged"
	like "$(L2 run --rm hello)" "hello from" "the image already there still runs"
	umount "$T/small"
else
	ok "# SKIP cannot mount a small tmpfs"
fi
