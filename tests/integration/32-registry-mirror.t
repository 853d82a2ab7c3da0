#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Registry mirrors (registry.hosts[].mirrors): two docker-registry 2.8, an
# origin and a mirror holding a copy. What is named by digest comes from the
# mirror, a tag resolves at the origin, the origin down still lets a pull by
# digest through, a blob the mirror lacks comes from the origin, and the
# signature's identity stays the origin's reference. The registry's CA is
# set per host in the config.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/registry.sh"
registry_require
CA=$(registry_ca)
OCITOOL=$LIB/ocitool.py
CS=("$REGISTRY_PYTHON" "$LIB/cosign_sig.py")
"${CS[@]}" keygen "$T/sign.key" "$T/sign.pub" || { echo "Bail out! cannot make a key"; exit 1; }

python3 "$OCITOOL" mklayer "$T/s1.tar" dir:a file:a/one=1 &&
	python3 "$OCITOOL" mklayer "$T/s2.tar" dir:b file:b/two=2 &&
	python3 "$OCITOOL" build "$T/app.tar" --layer "$T/s1.tar" --layer "$T/s2.tar" --cmd '["/bin/true"]' &&
	skopeo copy -q "oci-archive:$T/app.tar" "dir:$T/app" ||
	{ echo "Bail out! cannot build the image"; exit 1; }
registry_start none origin || { registry_diag origin; exit 1; }
registry_start none mirror || { registry_diag mirror; exit 1; }
O=$(registry_addr origin)
M=$(registry_addr mirror)
# one signature, for the origin's reference, on both: a mirror is a copy
"${CS[@]}" sign --key "$T/sign.key" --ref "$O/app:1" --manifest "$T/app/manifest.json" >/dev/null &&
	registry_push origin "dir:$T/app" app:1 && registry_push mirror "dir:$T/app" app:1 ||
	{ echo "Bail out! cannot push"; exit 1; }
D=sha256:$(sha256sum <"$T/app/manifest.json" | cut -c1-64)
cat >"$T/limpet.conf" <<EOF
registry = {
	hosts = (
		{ host = "$O"; ca = "$CA"; mirrors = [ "$M" ]; },
		{ host = "$M"; ca = "$CA"; }
	);
};
EOF
pull() { L -c "$T/limpet.conf" image pull --trust "$T/sign.pub" --json "$@"; }
blob_gets() { registry_count "$1" '^GET /v2/app/blobs/'; }

# --- by tag: the tag at the origin, the rest from the mirror
out=$(pull "$O/app:1")
is "$(jq -r .name <<<"$out")" "$O/app:1" "a pull through the mirror is named by the origin's reference"
is "$(jq -r .registry <<<"$out")" "$M/app" "--json names the mirror as where the bytes came from"
is "$(registry_count origin '^GET /v2/app/manifests/1 ')" 1 "the tag resolved at the origin"
is "$(blob_gets origin)" 0 "which served no blob"
is "$(registry_count mirror '^GET /v2/app/manifests/1 ')" 0 "the mirror was not asked the tag"
check "the mirror served the config, the signature and the layers" \
	test "$(blob_gets mirror)" -ge 4

# --- the origin down: by digest, the mirror alone
registry_stop origin
out=$(pull --name bydigest "$O/app@$D" 2>&1)
is "$(jq -r .name <<<"$out" 2>/dev/null)" bydigest "the origin down, a pull by digest comes from the mirror"
err=$(pull --name bytag "$O/app:1" 2>&1)
like "$err" "^limpet image pull: $O/app: manifest 1: " "but a tag needs the origin (a mirror may be stale)"
registry_restart origin || { registry_diag origin; exit 1; }

# --- the mirror lacks a blob: that one from the origin
big=$(jq -r '.layers[1].digest' "$T/app/manifest.json")
rm -f "$(registry_blob_file mirror "$big")"
L image rm "$O/app:1" bydigest >/dev/null && L system prune -f >/dev/null
registry_log_reset origin
registry_log_reset mirror
out=$(pull "$O/app:1")
is "$(jq -r .name <<<"$out")" "$O/app:1" "a blob missing on the mirror does not fail the pull"
is "$(registry_count origin "^GET /v2/app/blobs/$big ")" 1 "it came from the origin"
is "$(registry_count origin '^GET /v2/app/blobs/')" 1 "and only it"

[ $_failed -eq 0 ] || for r in origin mirror; do registry_diag $r; done
