#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# limpet image pull REF and cosign signatures, against docker-registry 2.8
# (tests/lib/registry.sh) with signatures made by cosign_sig.py and pushed
# by skopeo as sha256-DIGEST.sig tags: the right key is accepted (and named
# in the image's record); another key's signature, a payload naming another
# digest or another reference, a layer changed in the registry's storage
# (same size, then another), a tag moved to another image after signing,
# and a tagless (cosign-style) identity are refused, each in one line with
# the store unchanged; the tagless identity is accepted with
# registry.signatures = "repository"; a multi-platform index is accepted
# when signed at the index and when only its platform manifest is.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/registry.sh"
registry_require
CA=$(registry_ca)
OCITOOL=$LIB/ocitool.py
CS=("$REGISTRY_PYTHON" "$LIB/cosign_sig.py")
"${CS[@]}" keygen "$T/sign.key" "$T/sign.pub" && "${CS[@]}" keygen "$T/other.key" "$T/other.pub" ||
	{ echo "Bail out! cannot make signing keys"; exit 1; }
store_sum() { (cd "$ROOT/store" 2>/dev/null && find . -path ./lock -prune -o -print | sort | md5sum); }
rec() { L image inspect "$1" | jq -r "$2"; }
pull() { L image pull --ca "$CA" --trust "$T/sign.pub" "$@"; }
inspect_raw() { skopeo inspect --raw --cert-dir "$(registry_certdir)" "docker://$1"; }
digest_of() { inspect_raw "$1" | sha256sum | cut -c1-64; }

registry_start none reg || { registry_diag reg; exit 1; }
R=$(registry_addr reg)

# image NAME: an image of its own (its own layer, so no other image's
# layers in the store spare a fetch of it), as an OCI archive $T/NAME.tar
image() {
	python3 "$OCITOOL" mklayer "$T/$1.layer.tar" dir:etc "file:etc/case=$1" &&
		python3 "$OCITOOL" build "$T/$1.tar" --layer "$T/$1.layer.tar" --label "case=$1" \
			--cmd '["/bin/true"]'
}
# signed_dir SRC DIR [SIGN_ARGS...]: SRC copied to dir:DIR and signed
# (signature-1, by $SIGN_KEY, default sign.key; SIGN_ARGS go to cosign_sig.py)
signed_dir() {
	local src=$1 d=$2
	shift 2
	skopeo copy -q "$src" "dir:$d" >/dev/null &&
		"${CS[@]}" sign --key "${SIGN_KEY:-$T/sign.key}" --manifest "$d/manifest.json" "$@" >/dev/null
}
# push_signed NAME TAG [SIGN_ARGS...]: image NAME, signed for $R/app:TAG
# unless SIGN_ARGS name another --ref, pushed to app:TAG with its signature
push_signed() {
	local name=$1 tag=$2
	shift 2
	image "$name" && signed_dir "oci-archive:$T/$name.tar" "$T/dir-$name" --ref "$R/app:$tag" "$@" &&
		registry_push reg "dir:$T/dir-$name" "app:$tag"
}
# refused DESC REGEX PULL_ARGS...: the pull fails with one line matching
# REGEX (after "limpet image pull: "), and the store is as it was
refused() {
	local desc=$1 re=$2 before out rc
	shift 2
	before=$(store_sum)
	out=$(pull "$@" 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && [[ $out != *$'\n'* ]] && [[ $out =~ ^"limpet image pull: "$re ]] &&
		[ "$(store_sum)" = "$before" ]; then
		ok "$desc"
		diag "$out"
	else
		not_ok "$desc"
		diag "rc=$rc: $out"
		diag "want: /$re/"
		[ "$(store_sum)" = "$before" ] || diag "the store changed"
	fi
}

# --- the right key
check "push app:1 signed" push_signed one 1
out=$(pull "$R/app:1" 2>"$T/err")
is "$out" "$R/app:1" "signed by the trusted key: pulled"
is "$(cat "$T/err")" "" "quietly"
is "$(rec "$R/app:1" .signed_by)" "$T/sign.pub" "image inspect's signed_by names the key"
ONE=sha256:$(digest_of "$R/app:1")
is "$(rec "$R/app:1" .ref_digest)" "$ONE" "and ref_digest the digest it signed"

# --- refusals
check "push app:2 signed by another key" eval 'SIGN_KEY=$T/other.key push_signed two 2'
D2=$(digest_of "$R/app:2")
refused "another key's signature" \
	"$R/app:2 \(sha256:${D2:0:12}\.\.\.\): no signature by a trusted key \(sha256-${D2:0:12}\.\.\.\.sig: 1 signature, not by the 1 trusted key\)$" \
	"$R/app:2"

check "push app:3 with a signature naming app:1's digest" push_signed three 3 --digest "$ONE"
D3=$(digest_of "$R/app:3")
refused "a payload naming another digest" \
	"$R/app:3 \(sha256:${D3:0:12}\.\.\.\): signature is for ${ONE:0:19}\.\.\., not sha256:${D3:0:12}\.\.\.$" \
	"$R/app:3"

check "push app:4 signed for app:other" push_signed four 4 --ref "$R/app:other"
D4=$(digest_of "$R/app:4")
refused "a payload naming another reference" \
	"$R/app:4 \(sha256:${D4:0:12}\.\.\.\): signature is for $R/app:other, not $R/app:4$" \
	"$R/app:4"

# --- the registry's storage changed after the push
check "push app:5 signed" push_signed five 5
LAYER5=$(jq -r '.layers[0].digest' "$T/dir-five/manifest.json")
BLOB5=$(registry_blob_file reg "$LAYER5")
SIZE5=$(stat -c %s "$BLOB5")
head -c "$SIZE5" /dev/urandom >"$T/noise" && cat "$T/noise" >"$BLOB5"
refused "a layer blob overwritten with other bytes of its size" \
	"$R/app(:5)?: layer 1 \(${LAYER5:0:19}\.\.\.\): .*SHA-256" \
	"$R/app:5"
is "$(find "$ROOT/downloads/blobs" -name '*.partial' | wc -l)" 0 "and its partial download is gone"
head -c $((SIZE5 + 1000)) /dev/urandom >"$BLOB5"
refused "a layer blob overwritten with more bytes" \
	"$R/app(:5)?: layer 1 \(${LAYER5:0:19}\.\.\.\): .*$((SIZE5 + 1000)) bytes.*$SIZE5" \
	"$R/app:5"
head -c $((SIZE5 - 10)) /dev/urandom >"$BLOB5"
refused "a layer blob overwritten with fewer bytes" \
	"$R/app(:5)?: layer 1 \(${LAYER5:0:19}\.\.\.\): .*$((SIZE5 - 10)) bytes.*$SIZE5" \
	"$R/app:5"
is "$(find "$ROOT/downloads/blobs" -name '*.partial' | wc -l)" 0 "and no partial download is kept"

check "push app:6 signed" push_signed six 6
D6_OLD=$(digest_of "$R/app:6")
check "push another image to app:6, unsigned (the old .sig stays)" \
	eval 'image seven && registry_push reg "oci-archive:$T/seven.tar" app:6'
D6=$(digest_of "$R/app:6")
check "the old signature is still there" eval 'inspect_raw "$R/app:sha256-$D6_OLD.sig" >/dev/null'
refused "a tag moved to another image after signing" \
	"$R/app:6 \(sha256:${D6:0:12}\.\.\.\): not signed \(no sha256-$D6\.sig in $R/app\)$" \
	"$R/app:6"

check "push app:1's signed manifest as app:9 too (its .sig is by digest: shared)" \
	eval 'skopeo copy -q --src-cert-dir "$(registry_certdir)" --dest-cert-dir "$(registry_certdir)" \
		"docker://$R/app:1" "docker://$R/app:9" >/dev/null'
refused "another tag's signed image under this tag" \
	"$R/app:9 \(sha256:${ONE:7:12}\.\.\.\): signature is for $R/app:1, not $R/app:9$" \
	"$R/app:9"
out=$(pull "$R/app@$ONE" 2>&1)
is "$out" "$R/app@$ONE" "by digest the repository is the identity: pulled"

check "push app:10 signed" push_signed ten 10
CONFIG10=$(jq -r '.config.digest' "$T/dir-ten/manifest.json")
printf '{"architecture":"amd64","os":"linux"}' >"$(registry_blob_file reg "$CONFIG10")"
refused "a config blob overwritten" \
	"$R/app(:10)?: config \(${CONFIG10:0:19}\.\.\.\): got 37 bytes, not the [0-9]+ described$" "$R/app:10"

check "push app:11 signed" push_signed eleven 11
D11=sha256:$(digest_of "$R/app:11")
SIG11=$(inspect_raw "$R/app:sha256-${D11#sha256:}.sig" | jq -r '.layers[0].digest')
PAYLOAD11=$(registry_blob_file reg "$SIG11")
python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[-3] ^= 1; open(p, "wb").write(b)' \
	"$PAYLOAD11"
refused "a signature's payload overwritten in storage" \
	"$R/app(:11)?: signature payload \(${SIG11:0:19}\.\.\.\): the bytes received are sha256:[0-9a-f]{12}\.\.\., not the blob asked for$" \
	"$R/app:11"

check "push app:12 signed" push_signed twelve 12
D12=$(digest_of "$R/app:12")
# the tag's manifest file now holds app:6's (unsigned) manifest, same repository
cp "$(registry_blob_file reg "sha256:$D6")" "$(registry_blob_file reg "sha256:$D12")"
refused "a tag's manifest overwritten in storage" \
	"$R/app:12 \(sha256:${D6:0:12}\.\.\.\): not signed \(no sha256-$D6\.sig in $R/app\)$" \
	"$R/app:12"

# --- a tagless identity, as cosign signs
check "push app:8 signed for $R/app (cosign style: no tag, optional null)" \
	push_signed eight 8 --ref "$R/app" --optional-null
D8=$(digest_of "$R/app:8")
refused "a tagless identity, by default" \
	"$R/app:8 \(sha256:${D8:0:12}\.\.\.\): signature is for $R/app, any tag, not $R/app:8 exactly \(signatures = \"repository\" accepts it\)$" \
	"$R/app:8"
printf 'registry = { signatures = "repository"; };\n' >"$T/repo.conf"
out=$(L -c "$T/repo.conf" image pull --ca "$CA" --trust "$T/sign.pub" "$R/app:8" 2>"$T/err")
is "$out" "$R/app:8" "a tagless identity, with signatures = \"repository\""
is "$(cat "$T/err")" "" "quietly"
is "$(rec "$R/app:8" .signed_by)" "$T/sign.pub" "signed_by names the key"

# --- multi-platform indexes
python3 "$OCITOOL" mklayer "$T/m1.tar" dir:etc file:etc/which=amd64 &&
	python3 "$OCITOOL" mklayer "$T/m2.tar" dir:etc file:etc/which=arm64 ||
	{ echo "Bail out! cannot make the platform layers"; exit 1; }
case $(uname -m) in x86_64) here=linux/amd64 ;; *) here=linux/arm64 ;; esac
# index NAME: a two-platform index of its own (configs labelled NAME) as
# dir:$T/dir-NAME, the form skopeo signs and pushes; HERE := the hex digest
# of its manifest for this host, IDX := the index's
index() {
	python3 "$OCITOOL" build "$T/$1-amd64.tar" --layer "$T/m1.tar" --arch amd64 --label "case=$1" \
		--cmd '["/bin/true"]' &&
		python3 "$OCITOOL" build "$T/$1-arm64.tar" --layer "$T/m2.tar" --arch arm64 --variant v8 \
			--label "case=$1" --cmd '["/bin/true"]' &&
		python3 "$OCITOOL" index "$T/$1" --layout-dir --image "$T/$1-amd64.tar" \
			--image "$T/$1-arm64.tar" --ref "$1" &&
		skopeo copy -q --all "oci:$T/$1:$1" "dir:$T/dir-$1" >/dev/null || return 1
	IDX=$(sha256sum <"$T/dir-$1/manifest.json" | cut -c1-64)
	HERE=$(jq -r --arg a "${here#linux/}" \
		'.manifests[] | select(.platform.architecture == $a) | .digest | ltrimstr("sha256:")' \
		"$T/dir-$1/manifest.json")
}
# sign_index NAME REF [SIGN_ARGS]: the index's signature-1
sign_index() {
	"${CS[@]}" sign --key "${SIGN_KEY:-$T/sign.key}" --ref "$2" --manifest "$T/dir-$1/manifest.json" \
		"${@:3}" >/dev/null
}
# sign_instance NAME REF: this host's manifest's signature, which dir:
# keeps as HEX.signature-1 beside HEX.manifest.json
sign_instance() {
	"${CS[@]}" sign --key "${SIGN_KEY:-$T/sign.key}" --ref "$2" \
		--manifest "$T/dir-$1/$HERE.manifest.json" --out "$T/dir-$1/$HERE.signature-1" >/dev/null
}
has_sig() { inspect_raw "$R/multi:sha256-$1.sig" >/dev/null 2>&1; }
# pulled_index TAG DESC: multi:TAG is pulled, quietly: this host's
# platform, signed by sign.pub, ref_digest the index's, digest its manifest's
pulled_index() {
	local out
	out=$(pull --json "$R/multi:$1" 2>"$T/err")
	is "$(jq -r '[.name, .platform, .signed_by, .ref_digest, .digest] | join(" ")' <<<"$out")" \
		"$R/multi:$1 $here $T/sign.pub sha256:$IDX sha256:$HERE" "$2"
	is "$(cat "$T/err")" "" "$2: quietly"
}

check "push an index signed at the index" eval \
	'index idx && sign_index idx "$R/multi:idx" && registry_push reg "dir:$T/dir-idx" multi:idx --all'
check "skopeo pushed the index's .sig" has_sig "$IDX"
pulled_index idx "an index signed at the index: pulled"

check "push an index whose only signature is on this platform's manifest" eval \
	'index inst && sign_instance inst "$R/multi:inst" && registry_push reg "dir:$T/dir-inst" multi:inst --all'
check "skopeo pushed it as the instance's .sig" has_sig "$HERE"
check "and none for the index" eval '! has_sig "$IDX"'
pulled_index inst "an index signed only at its platform manifest: pulled"

# the index's .sig holds a signature, but not one for this reference
# (another tag's): the platform manifest's is still looked at
check "push an index signed for another tag, its platform manifest for this one" eval \
	'index mixed && sign_index mixed "$R/multi:other" && sign_instance mixed "$R/multi:mixed" &&
	registry_push reg "dir:$T/dir-mixed" multi:mixed --all'
pulled_index mixed "an index whose own signature does not fit, its manifest's does: pulled"

check "push an index signed by another key, its platform manifest not at all" eval \
	'index stranger && SIGN_KEY=$T/other.key sign_index stranger "$R/multi:stranger" &&
	registry_push reg "dir:$T/dir-stranger" multi:stranger --all'
refused "an index signed by a stranger, its platform manifest unsigned" \
	"$R/multi:stranger \(sha256:${IDX:0:12}\.\.\.\): no signature by a trusted key \(sha256-${IDX:0:12}\.\.\.\.sig: 1 signature, not by the 1 trusted key\)$" \
	"$R/multi:stranger"

[ $_failed -eq 0 ] || registry_diag reg
