#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Image signatures: limpet and openssl read each other's keys and signatures.
. "$(dirname "$0")/../lib/tap.sh"

cd "$T" || exit 1
head -c 300000 /dev/urandom >img.tar
# No host config may add keys: every check names its keys itself.
: >empty.conf
V() { L -c "$T/empty.conf" image verify "$@"; }

# verify_is DESC WANT_RC WANT_OUTPUT ARGS...: `image verify ARGS` exits and prints so.
verify_is() {
	local desc=$1 want_rc=$2 want_out=$3 out rc
	shift 3
	out=$(V "$@" 2>&1)
	rc=$?
	is "$rc: $out" "$want_rc: $want_out" "$desc"
}

# ---------------------------------------------------------------- openssl signs, limpet verifies
openssl ecparam -genkey -name prime256v1 -noout -out ec.pem 2>/dev/null &&
	openssl pkey -in ec.pem -pubout -out ec.pub
openssl dgst -sha256 -sign ec.pem -out img.tar.sig img.tar
verify_is "an openssl ECDSA P-256 signature (ecparam key) verifies" \
	0 "img.tar: signed by $T/ec.pub" --trust "$T/ec.pub" img.tar

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out gp.pem 2>/dev/null &&
	openssl pkey -in gp.pem -pubout -out gp.pub
openssl dgst -sha256 -sign gp.pem -out gp.sig img.tar
verify_is "an openssl ECDSA P-256 signature (genpkey key) verifies" \
	0 "img.tar: signed by gp.pub" --trust gp.pub img.tar gp.sig

openssl genrsa -out rsa.pem 2048 2>/dev/null && openssl rsa -in rsa.pem -pubout -out rsa.pub 2>/dev/null
openssl dgst -sha256 -sign rsa.pem -out rsa.sig img.tar
verify_is "an openssl RSA-2048 signature verifies" \
	0 "img.tar: signed by rsa.pub" --trust ec.pub --trust rsa.pub img.tar rsa.sig

base64 -w0 img.tar.sig >b64.sig
verify_is "the base64 of a DER signature (base64 -w0) is accepted" \
	0 "img.tar: signed by ec.pub" --trust ec.pub img.tar b64.sig
openssl base64 -in rsa.sig -out rsa.b64
verify_is "so is wrapped base64 (openssl base64)" \
	0 "img.tar: signed by rsa.pub" --trust rsa.pub img.tar rsa.b64

# ---------------------------------------------------------------- limpet signs, openssl verifies
out=$(L image sign ec.pem img.tar 2>&1)
is "$?: $out" "0: img.tar.sig" "image sign writes FILE.sig by default"
out=$(openssl dgst -sha256 -verify ec.pub -signature img.tar.sig img.tar 2>&1)
is "$out" "Verified OK" "openssl verifies limpet's ECDSA signature"
L image sign --out ours-rsa.sig rsa.pem img.tar >/dev/null
out=$(openssl dgst -sha256 -verify rsa.pub -signature ours-rsa.sig img.tar 2>&1)
is "$out" "Verified OK" "openssl verifies limpet's RSA-2048 signature (--out)"

# ---------------------------------------------------------------- limpet keygen
out=$(L keygen "$T/release" 2>&1)
is "$?: $out" "0: $T/release.key
$T/release.pub" "keygen prints the paths of both keys"
is "$(stat -c %a release.key) $(stat -c %a release.pub)" "600 644" \
	"the private key is 0600, the public key 0644"
check "openssl reads the private key as P-256" \
	bash -c "openssl pkey -in release.key -text -noout 2>/dev/null | grep -q 'NIST CURVE: P-256'"
openssl dgst -sha256 -sign release.key -out by-openssl.sig img.tar
verify_is "openssl signs with a keygen key, limpet verifies" \
	0 "img.tar: signed by release.pub" --trust release.pub img.tar by-openssl.sig
L image sign --out by-limpet.sig release.key img.tar >/dev/null
out=$(openssl dgst -sha256 -verify release.pub -signature by-limpet.sig img.tar 2>&1)
is "$out" "Verified OK" "limpet signs with a keygen key, openssl verifies"

cp release.pub release.pub.old
out=$(L keygen release 2>&1)
is "$?: $out" "1: limpet keygen: release.key: already exists; not overwriting a private key (--force replaces it)" \
	"keygen never overwrites a private key"
L keygen --force release >/dev/null
check "keygen --force makes a new pair" bash -c "! cmp -s release.pub release.pub.old"

# ---------------------------------------------------------------- refusals
verify_is "a signature by another key is refused" \
	1 "limpet image verify: img.tar: signature does not match any trusted key (1 key)" \
	--trust release.pub img.tar by-openssl.sig
cp img.tar changed.tar
printf x >>changed.tar
verify_is "a changed file is refused" \
	1 "limpet image verify: changed.tar: signature does not match any trusted key (2 keys)" \
	--trust ec.pub --trust rsa.pub changed.tar img.tar.sig
verify_is "no keys, no verification" \
	1 "limpet image verify: no trusted keys configured (trust = [...] in the config, or --trust PEM)" \
	img.tar
verify_is "a missing signature is named" \
	1 "limpet image verify: changed.tar.sig: no such file" --trust ec.pub changed.tar
openssl genrsa -out weak.pem 1024 2>/dev/null && openssl rsa -in weak.pem -pubout -out weak.pub 2>/dev/null
verify_is "an RSA-1024 key is refused" \
	1 "limpet image verify: weak.pub: RSA key of 1024 bits is too weak (2048 at least)" \
	--trust weak.pub img.tar
V img.tar extra.sig more >/dev/null 2>&1
is "$?" 2 "image verify with a stray argument exits 2"

# ---------------------------------------------------------------- keys from the config
cat >trust.conf <<EOF
trust = [ "$T/rsa.pub",
          "$T/ec.pub" ];
EOF
out=$(L -c "$T/trust.conf" image verify img.tar 2>&1)
is "$?: $out" "0: img.tar: signed by $T/ec.pub" "the config's trust list is used"
out=$(L -c "$T/trust.conf" image verify --trust rsa.pub img.tar rsa.sig 2>&1)
is "$?: $out" "0: img.tar: signed by rsa.pub" "--trust adds to it"
many=()
for i in $(seq 17); do many+=(--trust ec.pub); done
for cmd in "image verify" "image import" "image pull" "deploy" "deploy check" "import"; do
	# shellcheck disable=SC2086
	out=$(L $cmd "${many[@]}" img.tar 2>&1)
	is "$?: $out" "2: limpet $cmd: --trust: at most 16 keys; see 'limpet $cmd --help'" "$cmd takes 16 --trust keys, and says so past that"
done
printf 'trust = [ "keys/release.pem" ];\n' >relative.conf
out=$(L -c "$T/relative.conf" image verify img.tar 2>&1)
is "$?: $out" "2: limpet: $T/relative.conf:1: trust: element 0: 'keys/release.pem' is not an absolute path" \
	"a relative key path in the config is an error naming FILE:LINE"
