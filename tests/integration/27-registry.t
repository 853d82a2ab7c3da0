#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The registries limpet pulls from, checked with curl and skopeo before
# limpet meets them (tests/lib/registry.sh): docker-registry 2.8 anonymous,
# with htpasswd (Basic) and with bearer tokens from token_issuer.py answer
# /v2/ with the right challenge; tokens open manifests (and expired or
# scope-less ones do not); skopeo pushes with credentials; the access log
# counts requests and blob bytes (206 included); a restart keeps the storage;
# skopeo pushes a cosign_sig.py signature as the sha256-HEX.sig attachment;
# a two-platform OCI index (ocitool.py index) is 404 to an Accept without its type;
# hostile_registry.py serves its image to skopeo under good/ and misbehaves
# as told under the other prefixes.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/registry.sh"
registry_require
CA=$(registry_ca)
OCITOOL=$LIB/ocitool.py
MT_OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json

# rcurl ARGS: curl against the test registries, headers and body on stdout
rcurl() { curl -s --max-time 30 --cacert "$CA" "$@"; }
# status URL [ARGS]: the HTTP status only
status() { local u=$1; shift; rcurl -o /dev/null -w '%{http_code}' "$@" "$u"; }
# challenge URL [ARGS]: the WWW-Authenticate header of the reply
challenge() {
	local u=$1
	shift
	rcurl -o /dev/null -D - "$@" "$u" | tr -d '\r' | sed -n 's/^www-authenticate: //Ip'
}
fails() { ! "$@" 2>/dev/null; }
sha256() { echo "sha256:$(sha256sum | cut -c1-64)"; }

python3 "$OCITOOL" mklayer "$T/l1.tar" dir:etc file:etc/hello=hi &&
	mkdir "$T/l2" && head -c 300000 /dev/urandom >"$T/l2/big" &&
	tar --owner=0 --group=0 -C "$T/l2" -cf "$T/l2.tar" big &&
	python3 "$OCITOOL" build "$T/app.tar" --layer "$T/l1.tar" --layer "$T/l2.tar" --cmd '["/bin/true"]' ||
	{ echo "Bail out! cannot build the test image"; exit 1; }

# --- anonymous
registry_start none anon || { registry_diag anon; exit 1; }
U=$(registry_url anon)
is "$(status "$U/v2/")" 200 "mode none: GET /v2/ answers 200"
check "mode none: skopeo pushes without credentials" \
	registry_push anon "oci-archive:$T/app.tar" app:1 --digestfile "$T/anon.digest"
rcurl -H "Accept: $MT_OCI_MANIFEST" "$U/v2/app/manifests/1" >"$T/m.json"
is "$(sha256 <"$T/m.json")" "$(cat "$T/anon.digest")" \
	"the manifest fetched by tag (OCI type in Accept) is the one skopeo pushed, byte for byte"
read -r big bigsize < <(python3 -c 'import json, sys
l = max(json.load(open(sys.argv[1]))["layers"], key=lambda l: l["size"])
print(l["digest"], l["size"])' "$T/m.json")
registry_log_reset anon
rcurl -o "$T/blob" "$U/v2/app/blobs/$big"
is "$(sha256 <"$T/blob")" "$big" "a blob comes back with its digest"
registry_wait_count anon "^GET /v2/app/blobs/$big 200 " 1
is "$(registry_blob_bytes anon)" "$bigsize" "registry_blob_bytes counts the blob's body bytes"
rcurl -o "$T/tail" -H 'Range: bytes=1000-' "$U/v2/app/blobs/$big"
check "a Range request gets 206, logged" registry_wait_count anon "^GET /v2/app/blobs/$big 206 " 1
is "$(registry_blob_bytes anon ' 206 ')" "$((bigsize - 1000))" "and registry_blob_bytes counts what the 206 sent"
is "$(registry_count anon '^GET /v2/app/blobs/')" 2 "registry_count counts the two blob GETs"
registry_stop anon
is "$(status "$U/v2/")" 000 "registry_stop: nothing answers on its port"
check "registry_restart brings it back on the same port" registry_restart anon
is "$(status "$U/v2/app/manifests/1" -H "Accept: $MT_OCI_MANIFEST")" 200 "with the storage it had"

# --- a two-platform OCI index: 2.8 answers it by tag only to clients that Accept its type
MT_OCI_INDEX=application/vnd.oci.image.index.v1+json
MT_DOCKER=application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.docker.distribution.manifest.v2+json
python3 "$OCITOOL" build "$T/amd64.tar" --layer "$T/l1.tar" --arch amd64 --cmd '["/bin/true"]' &&
	python3 "$OCITOOL" build "$T/arm64.tar" --layer "$T/l1.tar" --arch arm64 --variant v8 --cmd '["/bin/true"]' &&
	python3 "$OCITOOL" index "$T/multi" --layout-dir --image "$T/amd64.tar" --image "$T/arm64.tar" --ref multi ||
	{ echo "Bail out! ocitool index failed"; exit 1; }
check "skopeo copy --all pushes the index and both images" \
	registry_push anon "oci:$T/multi:multi" multi:1 --all --digestfile "$T/multi.digest"
rcurl -D "$T/h" -H "Accept: $MT_OCI_INDEX,$MT_OCI_MANIFEST,$MT_DOCKER" "$U/v2/multi/manifests/1" >"$T/idx.json"
is "$(tr -d '\r' <"$T/h" | sed -n 's/^content-type: //Ip')" "$MT_OCI_INDEX" \
	"by tag, with the OCI index type in Accept: the index"
is "$(sha256 <"$T/idx.json")" "$(cat "$T/multi.digest")" "byte for byte what skopeo pushed"
is "$(python3 -c 'import json, sys
print(" ".join("/".join(filter(None, (m["platform"]["os"], m["platform"]["architecture"], m["platform"].get("variant"))))
               for m in json.load(open(sys.argv[1]))["manifests"]))' "$T/idx.json")" "linux/amd64 linux/arm64/v8" \
	"listing both platforms"
# the regression limpet must avoid: an Accept without the OCI index type
is "$(status "$U/v2/multi/manifests/1" -H "Accept: $MT_OCI_MANIFEST,$MT_DOCKER")" 404 \
	"without the OCI index type in Accept the same tag is 404"
like "$(rcurl -H "Accept: $MT_OCI_MANIFEST,$MT_DOCKER" "$U/v2/multi/manifests/1")" '"code":"MANIFEST_UNKNOWN"' \
	"MANIFEST_UNKNOWN, as if there were no such tag"
is "$(status "$U/v2/multi/manifests/1")" 404 "and so is a request with no Accept at all"
arm=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["manifests"][1]["digest"])' "$T/idx.json")
is "$(status "$U/v2/multi/manifests/$arm" -H "Accept: $MT_OCI_MANIFEST")" 200 "the arm64 manifest is there by digest"

# --- htpasswd: Basic
registry_start htpasswd basic || { registry_diag basic; exit 1; }
U=$(registry_url basic)
is "$(status "$U/v2/")" 401 "mode htpasswd: GET /v2/ without credentials is 401"
is "$(challenge "$U/v2/")" 'Basic realm="limpet-test"' "with a Basic challenge"
is "$(status "$U/v2/" -u "$(registry_creds basic)")" 200 "the test user gets 200"
is "$(status "$U/v2/" -u "$REGISTRY_USER:wrong")" 401 "a wrong password gets 401"
check "mode htpasswd: skopeo pushes with --dest-creds" \
	registry_push basic "oci-archive:$T/app.tar" app:1 --digestfile "$T/basic.digest"
is "$(rcurl -u "$(registry_creds basic)" -H "Accept: $MT_OCI_MANIFEST" "$U/v2/app/manifests/1" | sha256)" \
	"$(cat "$T/basic.digest")" "the pushed manifest is there for the test user"
registry_auth_json basic "$T/auth.json"
is "$(stat -c %a "$T/auth.json")" 600 "registry_auth_json writes a private auth file..."
is "$(skopeo inspect --raw --authfile "$T/auth.json" --cert-dir "$(registry_certdir)" \
	"docker://$(registry_addr basic)/app:1" | sha256)" "$(cat "$T/basic.digest")" \
	"... that skopeo logs in with"

# --- token: Bearer
registry_start token tok || { registry_diag tok; exit 1; }
U=$(registry_url tok)
TU=$(registry_token_url tok)
is "$(status "$U/v2/")" 401 "mode token: GET /v2/ without a token is 401"
is "$(challenge "$U/v2/")" "Bearer realm=\"$TU\",service=\"limpet-registry\"" \
	"with a Bearer challenge naming the issuer and the service (no scope)"
is "$(challenge "$U/v2/app/manifests/1")" \
	"Bearer realm=\"$TU\",service=\"limpet-registry\",scope=\"repository:app:pull\"" \
	"a manifest's challenge adds the scope"
check "mode token: skopeo pushes with --dest-creds (token for pull,push)" \
	registry_push tok "oci-archive:$T/app.tar" app:1 --digestfile "$T/tok.digest"
like "$(grep 'status=200' "$REGISTRY_DIR/tok/issuer.log")" "account=$REGISTRY_USER scope=repository:app:pull,push status=200 granted=repository:app:pull,push" \
	"the issuer logged skopeo's token request and what it granted"
tok=$(registry_token tok "$(registry_creds tok)" repository:app:pull)
like "$tok" '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' "the issuer hands out a JWT"
is "$(python3 -c 'import base64, json, sys
h = json.loads(base64.urlsafe_b64decode(sys.argv[1].split(".")[0] + "=="))
print(h["alg"], h["typ"], len(h["x5c"]))' "$tok")" "ES256 JWT 1" "ES256 with the signing certificate in x5c (header)"
rcurl -H "Authorization: Bearer $tok" -H "Accept: $MT_OCI_MANIFEST" "$U/v2/app/manifests/1" >"$T/m.json"
is "$(sha256 <"$T/m.json")" "$(cat "$T/tok.digest")" "the token opens the manifest skopeo pushed"
is "$(status "$U/v2/app/manifests/1" -H "Authorization: Bearer $tok" -X DELETE)" 401 \
	"a pull token does not delete"
is "$(status "$TU?service=limpet-registry&scope=repository:app:pull" -u "$REGISTRY_USER:wrong")" 401 \
	"the issuer refuses a wrong password"
is "$(status "$TU?service=other&scope=repository:app:pull")" 400 "and another service"
anon=$(registry_token tok - repository:app:pull)
like "$(challenge "$U/v2/app/manifests/1" -H "Authorization: Bearer $anon")" \
	'scope="repository:app:pull",error="insufficient_scope"$' \
	"an anonymous token grants nothing outside public/: insufficient_scope"
check "the user pushes public/app" registry_push tok "oci-archive:$T/app.tar" public/app:1
anon=$(registry_token tok - repository:public/app:pull)
is "$(status "$U/v2/public/app/manifests/1" -H "Authorization: Bearer $anon" -H "Accept: $MT_OCI_MANIFEST")" 200 \
	"an anonymous token pulls public/*"
check "the read-only user cannot push" \
	fails registry_push tok "oci-archive:$T/app.tar" app:2 --dest-creds "$REGISTRY_READER:$REGISTRY_READER_PASS"
is "$(registry_token_count tok "account=$REGISTRY_READER .* granted=repository:app:pull stale")" 1 \
	"the issuer granted the reader pull only"

# --- a cosign signature (cosign_sig.py) that skopeo pushes as the .sig attachment
CS=("$REGISTRY_PYTHON" "$LIB/cosign_sig.py")
"${CS[@]}" keygen "$T/sign.key" "$T/sign.pub" && "${CS[@]}" keygen "$T/other.key" "$T/other.pub" &&
	skopeo copy -q "oci-archive:$T/app.tar" "dir:$T/signed" ||
	{ echo "Bail out! cannot make the keys or the dir: image"; exit 1; }
SREF=$(registry_addr tok)/signed:1
"${CS[@]}" sign --key "$T/sign.key" --ref "$SREF" --manifest "$T/signed/manifest.json" >/dev/null
check "skopeo pushes a dir: image with its signature-1" \
	registry_push tok "dir:$T/signed" signed:1 --digestfile "$T/signed.digest"
D=$(cat "$T/signed.digest")
SIGTAG=sha256-${D#sha256:}.sig
is "$D" "$(sha256 <"$T/signed/manifest.json")" "skopeo pushed the manifest bytes it was given (the signed digest)"
stok=$(registry_token tok "$(registry_creds tok)" repository:signed:pull)
sig_manifest() {
	rcurl -H "Authorization: Bearer $stok" -H "Accept: $MT_OCI_MANIFEST" "$U/v2/signed/manifests/$SIGTAG"
}
sig_manifest >"$T/sig.json"
# sig_layer N FIELD: a field of layer N of the .sig manifest
sig_layer() {
	python3 -c 'import json, sys
l = json.load(open(sys.argv[1]))["layers"][int(sys.argv[2])]
print(l["annotations"]["dev.cosignproject.cosign/signature"] if sys.argv[3] == "sig" else l[sys.argv[3]])' \
		"$T/sig.json" "$1" "$2"
}
is "$(sig_layer 0 mediaType)" application/vnd.dev.cosign.simplesigning.v1+json \
	"the attachment $SIGTAG exists, its layer is a cosign simple-signing payload"
like "$(sig_layer 0 sig)" '^ME[A-Za-z0-9+/]+=*$' \
	"with the signature (base64 DER ECDSA) in dev.cosignproject.cosign/signature"
rcurl -H "Authorization: Bearer $stok" -o "$T/payload" "$U/v2/signed/blobs/$(sig_layer 0 digest)"
sig_layer 0 sig >"$T/payload.sig"
is "$("${CS[@]}" verify --pub "$T/sign.pub" --payload "$T/payload" --signature "$(cat "$T/payload.sig")")" \
	"$SREF $D" "the payload names the reference and digest, and verifies with the key"
is "$(L image verify --trust "$T/sign.pub" "$T/payload" "$T/payload.sig" 2>&1)" "$T/payload: signed by $T/sign.pub" \
	"limpet's trust module reads keygen's public key and verifies the payload's signature"
"${CS[@]}" sign --key "$T/other.key" --ref "$SREF" --manifest "$T/signed/manifest.json" >/dev/null
check "signed again with another key, skopeo pushes again" registry_push tok "dir:$T/signed" signed:1
sig_manifest >"$T/sig.json"
is "$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["layers"]))' "$T/sig.json")" 2 \
	"and appends a second layer to the same .sig manifest"

# --- token: --stale-first, the first pull token of a scope is already expired
registry_start token stale --stale-first || { registry_diag stale; exit 1; }
U=$(registry_url stale)
check "skopeo pushes (tokens to push are never stale: skopeo would not ask again)" \
	registry_push stale "oci-archive:$T/app.tar" app:1
t1=$(registry_token stale "$(registry_creds stale)" repository:app:pull)
like "$(challenge "$U/v2/app/manifests/1" -H "Authorization: Bearer $t1")" \
	'scope="repository:app:pull",error="invalid_token"$' "the first pull token is refused: invalid_token"
t2=$(registry_token stale "$(registry_creds stale)" repository:app:pull)
is "$(status "$U/v2/app/manifests/1" -H "Authorization: Bearer $t2" -H "Accept: $MT_OCI_MANIFEST")" 200 \
	"the second one opens the manifest"
is "$(registry_token_count stale 'scope=repository:app:pull status=200 .* stale=1')" 1 \
	"the issuer's log tells the stale token from the good one (stale=1 once per scope)"

# --- the hostile registry: its good/ prefix is a registry skopeo pulls from
python3 "$OCITOOL" build "$T/good" --layout-dir --ref 1 --layer "$T/l1.tar" --layer "$T/l2.tar" \
	--cmd '["/bin/true"]' || { echo "Bail out! cannot build the hostile server's image"; exit 1; }
hostile_start bad "$T/good" || exit 1
H=https://$(hostile_addr bad)
check "skopeo pulls good/app:1 from the hostile server" \
	skopeo copy -q --src-cert-dir "$(registry_certdir)" "docker://$(hostile_addr bad)/good/app:1" "oci:$T/pulled:1"
check "and what it got is intact (digests, sizes, diff_ids)" python3 "$OCITOOL" check -q "$T/pulled:1"
read -r layer lsize < <(python3 -c 'import json, sys
m = json.load(open(sys.argv[1] + "/blobs/sha256/" + json.load(open(sys.argv[1] + "/index.json"))["manifests"][0]["digest"][7:]))
l = max(m["layers"], key=lambda l: l["size"])
print(l["digest"], l["size"])' "$T/good")
# hget PREFIX [CURL ARGS]: GET that prefix's layer blob, "STATUS SIZE DIGEST" of what came
hget() {
	local p=$1
	shift
	rcurl -o "$T/hblob" -w '%{http_code} %{size_download} ' "$@" "$H/v2/$p/app/blobs/$layer"
	sha256 <"$T/hblob"
}
is "$(hget good)" "200 $lsize $layer" "good/: the layer as described"
is "$(hget good -H 'Range: bytes=1000-' | cut -d' ' -f1,2)" "206 $((lsize - 1000))" "good/: Range gets 206"
is "$(hget long | cut -d' ' -f1,2)" "200 $((lsize + 1048576))" "long/: 1 MiB more than the descriptor says"
like "$(hget wrongdigest)" "^200 $lsize " "wrongdigest/: the right size..."
check "... and other bytes" fails test "$(hget wrongdigest | cut -d' ' -f3)" = "$layer"
rcurl -L -o /dev/null "$H/v2/loop/app/blobs/$layer"
is "$?" 47 "loop/: curl gives up after too many redirects"
is "$(status "$H/v2/offhost/app/manifests/1")" 401 "offhost/: a token is required"
is "$(hget offhost -L -H 'Authorization: Bearer t')" "200 $lsize $layer" \
	"offhost/: the blob comes from the server on the other port"
hostile_wait_count bad '^OFFHOST ' 1
is "$(hostile_count bad '^OFFHOST GET .* status=200 .* authorization=no$')" 1 \
	"which logs that curl did not pass the token on (another port is another host)"
hget offhost -L --location-trusted -H 'Authorization: Bearer t' >/dev/null
hostile_wait_count bad '^OFFHOST ' 2
is "$(hostile_count bad '^OFFHOST .* authorization=yes$')" 1 \
	"and that it did with --location-trusted: the log tells the difference"
like "$(challenge "$H/v2/401loop/app/manifests/1" -H 'Authorization: Bearer t')" \
	"^Bearer realm=\"$H/token\",service=\"hostile-registry\",scope=\"repository:401loop/app:pull\",error=\"invalid_token\"$" \
	"401loop/: every token is refused with a fresh challenge"
is "$(rcurl -D - -o /dev/null "$H/v2/429/app/manifests/1" | tr -d '\r' | grep -iE '^(HTTP|retry-after)' | tr '\n' ' ')" \
	"HTTP/1.1 429 Too Many Requests Retry-After: 2 " "429/: the first request is told to come back in 2 s"
is "$(status "$H/v2/429/app/manifests/1")" 200 "429/: the second one is served"
is "$(rcurl "$H/v2/endless/app/manifests/1" | head -c 5000000 | wc -c)" 5000000 \
	"endless/: a manifest longer than 4 MiB"
rcurl -o /dev/null --speed-time 2 --speed-limit 100 "$H/v2/trickle/app/blobs/$layer"
is "$?" 28 "trickle/: too slow for curl's low-speed limit"

[ $_failed -eq 0 ] || for r in anon basic tok stale bad; do registry_diag $r; done
