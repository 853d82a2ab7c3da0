#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# limpet image pull REF against docker-registry 2.8 (tests/lib/registry.sh):
# anonymous, Basic (htpasswd) and Bearer (token issuer) pulls of a
# skopeo-pushed image with a cosign signature skopeo pushed as its .sig tag;
# the image runs; errors name the registry, the reference and the status;
# unsigned images are refused (allowed with allow_unsigned); a stale token is
# fetched again once; a two-platform index gives this host's image, or the
# one --platform names; pulls by digest; an image sharing layers fetches only
# the new blob; a killed pull resumes its blob with Range.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/registry.sh"
registry_require
test_images
CA=$(registry_ca)
OCITOOL=$LIB/ocitool.py
CS=("$REGISTRY_PYTHON" "$LIB/cosign_sig.py")
"${CS[@]}" keygen "$T/sign.key" "$T/sign.pub" && "${CS[@]}" keygen "$T/other.key" "$T/other.pub" ||
	{ echo "Bail out! cannot make signing keys"; exit 1; }
pull() { L image pull --ca "$CA" "$@"; }
store_sum() { (cd "$ROOT/store" 2>/dev/null && find . -path ./lock -prune -o -print | sort | md5sum); }
rec() { L image inspect "$1" | jq -r "$2"; }

# push_signed NAME SRC REPO:TAG [SKOPEO_ARGS]: SRC to registry NAME with a
# cosign signature by $SIGN_KEY (default sign.key) for the reference limpet
# will be given (of an index: the index's)
push_signed() {
	local name=$1 src=$2 rt=$3 d=$T/dir-$RANDOM
	shift 3
	skopeo copy -q "$@" "$src" "dir:$d" &&
		"${CS[@]}" sign --key "${SIGN_KEY:-$T/sign.key}" --ref "$(registry_addr "$name")/$rt" \
			--manifest "$d/manifest.json" >/dev/null &&
		registry_push "$name" "dir:$d" "$rt" "$@"
}

# --- anonymous, signed
registry_start none anon || { registry_diag anon; exit 1; }
A=$(registry_addr anon)
check "skopeo pushes hello with a cosign signature" push_signed anon "oci-archive:$IMG/hello.tar" hello:1
out=$(pull --trust "$T/sign.pub" "$A/hello:1" 2>"$T/err")
is "$out" "$A/hello:1" "pull REF imports the image under its normalised reference"
is "$(cat "$T/err")" "" "and prints nothing on stderr when it is not a terminal"
like "$(L run --rm "$A/hello:1")" "^hello from run-[0-9a-f]+ as 1000:1000 in /home/user with GREETING=hi$" \
	"the pulled image runs with its config"
is "$(rec "$A/hello:1" '.signed_by')" "$T/sign.pub" "its record names the key that signed it"
is "$(rec "$A/hello:1" '.format')" registry "and says where it came from"

registry_log_reset anon
out=$(pull --trust "$T/sign.pub" --json "$A/hello:1")
is "$(jq -r '.unchanged, .name' <<<"$out" | paste -sd' ')" "true $A/hello:1" \
	"pulling an unchanged tag again: unchanged"
registry_wait_count anon '^HEAD /v2/hello/manifests/1 ' 1
is "$(registry_count anon '^GET /v2/hello/')" 0 "at the cost of one HEAD and no GET (Docker Hub counts GETs)"
err=$(pull --trust "$T/other.pub" --name checked-again "$A/hello:1" 2>&1)
like "$err" "^limpet image pull: $A/hello:1 \(sha256:[0-9a-f]{12}.*\): no signature by a trusted key" \
	"another key's signature is refused, saying what was looked for"
before=$(store_sum)
err=$(pull --trust "$T/sign.pub" "$A/nope:1" 2>&1)
is "$err" "limpet image pull: $A/nope: manifest 1: HTTP 404 Not Found (MANIFEST_UNKNOWN: manifest unknown)" \
	"a missing repository: the registry, the reference and the registry's error code"
err=$(pull --trust "$T/sign.pub" "$A/hello:2" 2>&1)
is "$err" "limpet image pull: $A/hello: manifest 2: HTTP 404 Not Found (MANIFEST_UNKNOWN: manifest unknown)" \
	"a missing tag: MANIFEST_UNKNOWN"
is "$(store_sum)" "$before" "refusals leave the store as it was"

# --- unsigned
check "skopeo pushes an unsigned image" registry_push anon "oci-archive:$IMG/hello.tar" plain:1
err=$(pull --trust "$T/sign.pub" "$A/plain:1" 2>&1)
like "$err" "^limpet image pull: $A/plain:1 \(sha256:[0-9a-f]{12}.*\): not signed \(no sha256-[0-9a-f]{64}\.sig in $A/plain\)$" \
	"an unsigned image is refused, naming the tag that was looked for"
printf 'allow_unsigned = true;\n' >"$T/unsigned.conf"
out=$(L -c "$T/unsigned.conf" image pull --ca "$CA" "$A/plain:1" 2>"$T/err")
is "$out" "$A/plain:1" "with allow_unsigned it is pulled"
like "$(cat "$T/err")" "^limpet: $A/plain:1: no trusted key .*; pulling it because allow_unsigned is set$" \
	"saying so"
err=$(L -c "$T/unsigned.conf" image pull --ca "$CA" --trust "$T/sign.pub" --name plain:2 "$A/plain:1" 2>&1 >/dev/null)
like "$err" "not signed \(no sha256-[0-9a-f]{64}\.sig in $A/plain\); pulling it because allow_unsigned is set$" \
	"and with a trusted key, that it found no signature"

# --- by digest
D=$(skopeo inspect --raw --cert-dir "$(registry_certdir)" "docker://$A/hello:1" | sha256sum | cut -c1-64)
out=$(pull --trust "$T/sign.pub" --json "$A/hello@sha256:$D")
is "$(jq -r .name <<<"$out")" "$A/hello@sha256:$D" "pull by digest, named by it"
is "$(jq -r '[.layers[].skipped] | all' <<<"$out")" true "its layers were all in the store: none fetched"
is "$(jq -r .fetched_bytes <<<"$out")" 0 "--json says what was fetched: nothing"

# --- htpasswd
registry_start htpasswd basic || { registry_diag basic; exit 1; }
B=$(registry_addr basic)
check "push to the htpasswd registry" push_signed basic "oci-archive:$IMG/hello.tar" hello:1
err=$(pull --trust "$T/sign.pub" "$B/hello:1" 2>&1)
is "$err" "limpet image pull: $B/hello: manifest 1: the registry asks for a user name and password (Basic realm \"limpet-test\") and no auth file was given (--auth-file, or registry.auth_file)" \
	"without credentials: which realm wants them"
registry_auth_json basic "$T/auth.json"
chmod 0644 "$T/auth.json"
err=$(pull --trust "$T/sign.pub" --auth-file "$T/auth.json" "$B/hello:1" 2>&1)
is "$err" "limpet image pull: $T/auth.json: mode 0644, must not be readable by group or others (chmod 600)" \
	"an auth file others can read is refused"
chmod 0600 "$T/auth.json"
is "$(pull --trust "$T/sign.pub" --auth-file "$T/auth.json" "$B/hello:1")" "$B/hello:1" \
	"with the auth file (docker login's format) it pulls"
python3 -c 'import base64, json, sys
j = json.load(open(sys.argv[1]))
for k in j["auths"]: j["auths"][k]["auth"] = base64.b64encode(b"limpet:wrong").decode()
json.dump(j, open(sys.argv[1], "w"))' "$T/auth.json"
err=$(pull --trust "$T/sign.pub" --auth-file "$T/auth.json" "$B/hello:1" 2>&1)
like "$err" "^limpet image pull: $B/hello: manifest 1: HTTP 401 Unauthorized .*; credentials refused \(realm \"limpet-test\"\)$" \
	"a wrong password: HTTP 401, credentials refused, the realm"

# --- token
registry_start token tok --stale-first || { registry_diag tok; exit 1; }
K=$(registry_addr tok)
check "push to the token registry" push_signed tok "oci-archive:$IMG/hello.tar" hello:1
registry_auth_json tok "$T/tok.json"
n0=$(registry_token_count tok)
is "$(pull --trust "$T/sign.pub" --auth-file "$T/tok.json" "$K/hello:1")" "$K/hello:1" \
	"a bearer token pull; the first token it gets is stale, the second works"
is "$(registry_token_count tok 'scope=repository:hello:pull status=200')" 2 \
	"one token refused (invalid_token), fetched once more, then kept for every request"
err=$(pull --trust "$T/sign.pub" "$K/hello:1" 2>&1)
like "$err" "^limpet image pull: $K/hello: manifest 1: HTTP 401 Unauthorized .*; an anonymous pull refused \(realm \"https://localhost:[0-9]+/token\"\) and no auth file was given \(--auth-file, or registry.auth_file\)$" \
	"anonymous where the issuer grants nothing: 401 naming the realm"

# --- a two-platform index
python3 "$OCITOOL" mklayer "$T/l1.tar" dir:etc file:etc/which=amd64 &&
	python3 "$OCITOOL" mklayer "$T/l2.tar" dir:etc file:etc/which=arm64 &&
	python3 "$OCITOOL" build "$T/amd64.tar" --layer "$T/l1.tar" --arch amd64 --cmd '["/bin/true"]' &&
	python3 "$OCITOOL" build "$T/arm64.tar" --layer "$T/l2.tar" --arch arm64 --variant v8 --cmd '["/bin/true"]' &&
	python3 "$OCITOOL" index "$T/multi" --layout-dir --image "$T/amd64.tar" --image "$T/arm64.tar" --ref multi ||
	{ echo "Bail out! ocitool index failed"; exit 1; }
check "push a two-platform index" push_signed anon "oci:$T/multi:multi" multi:1 --all
case $(uname -m) in x86_64) here=linux/amd64 other=linux/arm64 ;; *) here=linux/arm64 other=linux/amd64 ;; esac
out=$(pull --trust "$T/sign.pub" --json "$A/multi:1")
is "$(jq -r .platform <<<"$out")" "$here" "an index gives this host's platform"
is "$(jq -r .ref_digest <<<"$out")" "sha256:$(skopeo inspect --raw --cert-dir "$(registry_certdir)" "docker://$A/multi:1" | sha256sum | cut -c1-64)" \
	"ref_digest is the index's, which the signature covers"
out=$(pull --trust "$T/sign.pub" --json --platform "$other" --name other:1 "$A/multi:1")
is "$(jq -r .platform <<<"$out")" "$other" "--platform picks the other"
is "$(find "$ROOT/store/layers" -path '*/etc/which' -exec sh -c 'cat "$1"; echo' _ {} \; | sort | tr '\n' ' ')" "amd64 arm64 " \
	"each platform's own layer is in the store"
err=$(pull --trust "$T/sign.pub" --platform linux/riscv64 "$A/multi:1" 2>&1)
like "$err" "no image for linux/riscv64, only for linux/amd64, linux/arm64/v8" "no such platform: what there is"

# --- shared layers: only the new blob moves
python3 "$OCITOOL" mklayer "$T/s1.tar" dir:a file:a/one=1 && mkdir -p "$T/big/b" &&
	head -c 2000000 /dev/urandom >"$T/big/b/blob" && tar --owner=0 --group=0 -C "$T/big" -cf "$T/s2.tar" b &&
	python3 "$OCITOOL" mklayer "$T/s3.tar" dir:c file:c/three=3 &&
	python3 "$OCITOOL" mklayer "$T/s4.tar" dir:d file:d/four=4 &&
	python3 "$OCITOOL" build "$T/v1.tar" --layer "$T/s1.tar" --layer "$T/s2.tar" --layer "$T/s3.tar" --cmd '["/bin/true"]' &&
	python3 "$OCITOOL" build "$T/v2.tar" --layer "$T/s1.tar" --layer "$T/s2.tar" --layer "$T/s4.tar" --cmd '["/bin/true"]' ||
	{ echo "Bail out! cannot build the layered images"; exit 1; }
check "push app v1 and v2 (sharing two layers of three)" \
	eval 'push_signed anon "oci-archive:$T/v1.tar" app:1 && push_signed anon "oci-archive:$T/v2.tar" app:2'
out=$(pull --trust "$T/sign.pub" --json "$A/app:1")
is "$(jq -r '[.layers[] | select(.skipped)] | length' <<<"$out")" 0 "v1: every layer fetched"
registry_log_reset anon
out=$(pull --trust "$T/sign.pub" --json "$A/app:2")
new=$(jq -r '.layers[2].digest' <<<"$out")
is "$(jq -r '[.layers[] | .skipped] | map(tostring) | join(" ")' <<<"$out")" "true true false" \
	"v2: the two shared layers are not fetched"
is "$(L image ls --json | jq -r --arg a "$A" '[.[] | select(.name == $a + "/app:1" or .name == $a + "/app:2") | .unpacked_size] | join(" ")')" \
	"2000002 2000002" "each image's size counts its shared layers too"
shared="$(jq -r '.layers[0].digest, .layers[1].digest' <<<"$out" | paste -sd'|')"
is "$(registry_count anon "^GET /v2/app/blobs/($shared) ")" 0 "the registry saw no GET of a shared layer"
is "$(registry_count anon "^GET /v2/app/blobs/$new ")" 1 "and one of the new layer"

# --- TLS files named relative to where limpet runs: the download thread
# opens them for a new connection while the layer before unpacks (from
# inside the layer's directory)
cp "$CA" "$T/rel-ca.pem"
out=$(cd "$T" && "$LIMPET" --root "$T/relroot" image pull --ca rel-ca.pem --trust "$T/sign.pub" --json "$A/app:1" 2>&1)
is "$(jq -r '[.layers[] | select(.skipped | not)] | length' <<<"$out" 2>/dev/null || echo "$out")" 3 \
	"--ca with a relative path: all three layers fetched"

# --- a killed pull resumes its blob
check "push a large image" push_signed anon "oci-archive:$T/v1.tar" slow:1
L image rm "$A/app:1" "$A/app:2" >/dev/null && L system prune -f >/dev/null
registry_log_reset anon
# limpet itself in the background (a function would be a subshell the kill misses)
"$LIMPET" --root "$ROOT" image pull --ca "$CA" --trust "$T/sign.pub" --limit-rate 200K "$A/slow:1" \
	>/dev/null 2>&1 &
pid=$!
partial() { find "$ROOT/downloads/blobs" -name '*.partial' -size +100k 2>/dev/null | grep -q .; }
check "a slow pull has a partial blob" wait_for 30 partial
kill -9 $pid
wait $pid 2>/dev/null
is "$(L image ls --json | jq '[.[].name | select(test("slow"))] | length')" 0 "killed mid-blob: no image"
out=$(pull --trust "$T/sign.pub" --json "$A/slow:1")
is "$(jq -r .name <<<"$out")" "$A/slow:1" "the next pull completes"
check "its blob resumed with a Range request (206)" registry_wait_count anon '^GET /v2/slow/blobs/sha256:[0-9a-f]+ 206 ' 1
is "$(find "$ROOT/downloads/blobs" -type f | wc -l)" 0 "and left no blob behind"

[ $_failed -eq 0 ] || for r in anon basic tok; do registry_diag $r; done
