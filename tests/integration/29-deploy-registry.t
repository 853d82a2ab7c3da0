#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Deployment documents that pin registry digests ("image": {"ref": ...}),
# applied by the agent's fleet poller (nginx over mutual TLS) from
# docker-registry 2.8 in token mode, with the agent config's auth file and
# registry CA: images pushed without any cosign signature run because the
# signed document pins their digests; an update that changes one layer of
# three fetches that one blob; a digest the registry does not have fails
# cleanly while the old containers run on; deploy check summarises a ref;
# bundle create refuses one; a stick (limpet import) only takes one that the
# store already has.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/registry.sh"
. "$(dirname "$0")/../lib/fleet.sh"
registry_require
test_images
CA=$(registry_ca)
OCITOOL=$LIB/ocitool.py
nginx_start || exit 1
P=$NGINX_PKI
future=$(date_in 30)
registry_start token tok || { registry_diag tok; exit 1; }
R=$(registry_addr tok)
registry_auth_json tok "$T/auth.json"

# --- app:1, 2 and 3 share the busybox layer and a middle one; the top differs
python3 "$OCITOOL" extract-layer "$IMG/hello.tar" 0 "$T/base.tar" &&
	python3 "$OCITOOL" mklayer "$T/mid.tar" dir:etc/app file:etc/app/mid=shared ||
	{ echo "Bail out! cannot make the layers"; exit 1; }
for v in 1 2 3; do
	python3 "$OCITOOL" mklayer "$T/top$v.tar" dir:etc/app "file:etc/app/version=$v" &&
		python3 "$OCITOOL" build "$T/app$v.tar" --layer "$T/base.tar" --layer "$T/mid.tar" \
			--layer "$T/top$v.tar" --entrypoint '["/bin/sh","-c"]' --cmd '["exec sleep 1000"]' \
			--env PATH=/usr/sbin:/usr/bin:/sbin:/bin ||
		{ echo "Bail out! cannot build app$v"; exit 1; }
done
# push V: app:V without a signature (no .sig tag); DV := its manifest digest (hex)
push() {
	registry_push tok "oci-archive:$T/app$1.tar" "app:$1" --digestfile "$T/digest$1" &&
		printf -v "D$1" %s "$(sed 's/^sha256://' "$T/digest$1")"
}
check "push app:1 and app:2, unsigned" eval 'push 1 && push 2'
manifest() { skopeo inspect --raw --cert-dir "$(registry_certdir)" --creds "$(registry_creds tok)" "docker://$R/app@sha256:$1"; }

cat >"$T/limpet.conf" <<EOF
trust = [ "$IMG/demo.pub" ];
usb = { enabled = false; };
stop_timeout = "5s";
$(fleet_settings "$P/ca.pem" "$P/device.pem" "$P/device.key")
registry = {
	auth_file = "$T/auth.json";
	hosts = ( { host = "$R"; ca = "$CA"; } );
};
EOF

err=$(L -c "$T/limpet.conf" image pull --trust "$IMG/demo.pub" "$R/app@sha256:$D1" 2>&1)
like "$err" "not signed \(no sha256-$D1\.sig in $R/app\)" \
	"app:1 has no cosign signature: image pull refuses it"

# ct NAME REF ENV: one container entry of a deployment
ct() {
	printf '{ "name": "%s", "init": true, "command": ["echo up; exec sleep 1000"], "env": ["V=%s"],
	  "image": { "ref": "%s" }, "limits": { "memory": "32M", "pids": 64 },
	  "health": { "command": ["/bin/true"], "interval": "1s" } }' "$1" "$3" "$2"
}
# doc VERSION CONTAINER...: $T/doc.json, signed
doc() {
	local v=$1 IFS=,
	shift
	printf '{ "version": %s, "expires": "%s", "target": { "devices": ["pi-0042"] },\n  "containers": [ %s ] }\n' \
		"$v" "$future" "$*" >"$T/doc.json"
	L image sign "$IMG/demo.key" "$T/doc.json" >/dev/null
}
# publish VERSION CONTAINER...: doc, then onto the fleet server
publish() { doc "$@" && fleet_upload "$T/doc.json"; }
status() { fleet_status "$@"; }
running() { L ps | grep -q "^$1 .* running "; }
rec() { L image inspect "$1" | jq -r "$2"; }

# --- version 1: two containers of one digest (one with the tag too), one pull
doc 1 "$(ct app "$R/app@sha256:$D1" a)" "$(ct twin "$R/app:1@sha256:$D1" a)"
like "$(L deploy check --trust "$IMG/demo.pub" "$T/doc.json")" \
	"app +$R/app@sha256:$D1 \(registry\) as deploy/app:${D1:0:12}" \
	"deploy check summarises a registry image: its reference and the name it gets"
start_agent -c "$T/limpet.conf" || exit 1
registry_log_reset tok
publish 1 "$(ct app "$R/app@sha256:$D1" a)" "$(ct twin "$R/app:1@sha256:$D1" a)"
v1_runs() { running app.v1 && running twin.v1; }
check "version 1 runs app.v1 and twin.v1 from the registry" wait_for 60 v1_runs
is "$(L exec app.v1 cat /etc/app/version)" 1 "app.v1 runs app:1's layers"
is "$(grep -c "pulling $R/app@sha256:$D1 (registry)" "$T/agent.log")" 1 \
	"the agent logs one pull, naming the reference and the registry"
like "$(cat "$T/agent.log")" "deploy/twin:${D1:0:12}: the image of deploy/app:${D1:0:12}, pulled already" \
	"the second entry of the same digest takes the image pulled for the first"
is "$(rec "deploy/app:${D1:0:12}" .signed_by)" "a signed deployment (pinned digest)" \
	"the record says the signed deployment vouched for it"
is "$(rec "deploy/app:${D1:0:12}" .ref_digest)" "sha256:$D1" "and keeps the digest it pins"
is "$(registry_count tok "^GET /v2/app/manifests/sha256-$D1\.sig ")" 0 "no cosign signature was looked for"
is "$(registry_count tok "^GET /v2/app/manifests/sha256:$D1 ")" 1 "the manifest was fetched by digest, once"
check "the status report says version 1 is current" \
	wait_for 10 sh -c "grep -q '\"result\": \"applied\"' '$FLEET_STATUS'"

# --- version 2: app's top layer changes; one layer blob moves, twin stays
twin_pid=$(ps_field twin.v1 pid)
registry_log_reset tok
publish 2 "$(ct app "$R/app@sha256:$D2" b)" "$(ct twin "$R/app:1@sha256:$D1" a)"
check "version 2 runs app.v2" wait_for 60 running app.v2
is "$(L exec app.v2 cat /etc/app/version)" 2 "with app:2's top layer"
m=$(manifest "$D2")
config=$(jq -r .config.digest <<<"$m")
new=$(jq -r '.layers[2].digest' <<<"$m")
registry_wait_count tok "^GET /v2/app/blobs/$new " 1 10
is "$(registry_count tok '^GET /v2/app/blobs/' | tr -d ' ') $(registry_count tok "^GET /v2/app/blobs/($config|$new) ")" "2 2" \
	"exactly one layer blob was fetched (the new one), beside the config"
is "$(ps_field twin.v1 pid)" "$twin_pid" "twin did not change: twin.v1 kept running"
current_is() { [ "$(status deployment current version)" = "$1" ]; }
check "version 2 is committed" wait_for 30 current_is 2

# --- version 3 pins a digest the registry does not have: v2 runs on
app_pid=$(ps_field app.v2 pid)
missing=$(printf 'not pushed' | sha256sum | cut -c1-64)
publish 3 "$(ct app "$R/app@sha256:$missing" c)" "$(ct twin "$R/app:1@sha256:$D1" a)"
reported() { status last_error | grep -q "manifest sha256:$missing: HTTP 404"; }
check "a digest the registry lacks fails with the registry's answer" wait_for 30 reported
diag "$(status last_error)"
is "$(ps_field app.v2 pid) $(ps_field twin.v1 pid)" "$app_pid $twin_pid" \
	"app.v2 and twin.v1 run on, untouched"
is "$(status deployment current version)" 2 "version 2 is still current"
check "nothing of version 3 was started or stored" \
	sh -c "! '$LIMPET' --root '$ROOT' ps | grep -q '[.]v3 ' && ! '$LIMPET' --root '$ROOT' image ls | grep -q '${missing:0:12}'"
stop_agent

# --- bundles: offline devices cannot pull
doc 4 "$(ct app "$R/app@sha256:$D2" d)"
err=$(L bundle create "$T/out" "$T/doc.json" 2>&1)
is "$?" 1 "bundle create refuses a document with a registry image"
is "$err" "limpet bundle create: containers[0].image.ref: a device offline cannot pull $R/app@sha256:$D2 (give an archive: url, sha256 and size)" \
	"saying why, as for an https:// archive"
check "and writes nothing" test ! -e "$T/out/limpet"

# --- a stick: a registry image only if the store has it
printf 'usb = { enabled = false; };\nfleet = { device_id = "pi-0042"; };\nregistry = { auth_file = "%s"; hosts = ( { host = "%s"; ca = "%s"; } ); };\n' \
	"$T/auth.json" "$R" "$CA" >"$T/offline.conf"
new_agent_log
start_agent -c "$T/offline.conf" || exit 1
check "push app:3 (never pulled)" push 3
mkdir -p "$T/stick/limpet"
stick() { cp "$T/doc.json" "$T/stick/limpet/deployment.json" && cp "$T/doc.json.sig" "$T/stick/limpet/deployment.json.sig"; }
doc 4 "$(ct app "$R/app@sha256:$D3" d)" "$(ct twin "$R/app:1@sha256:$D1" a)"
stick
registry_log_reset tok
err=$(L -c "$T/offline.conf" import --trust "$IMG/demo.pub" "$T/stick" 2>&1)
is "$?" 1 "a stick whose registry image is not in the store is refused"
like "$err" "containers\[0\] \(app\): image: a device offline cannot pull $R/app@sha256:$D3 \(not in the store\)" \
	"saying which image it cannot pull"
is "$(registry_count tok .)" 0 "and nothing was asked of the registry"
is "$(ps_field app.v2 pid)" "$app_pid" "app.v2 runs on"
doc 5 "$(ct app "$R/app@sha256:$D1" e)" "$(ct twin "$R/app:1@sha256:$D1" a)"
stick
L -c "$T/offline.conf" import --trust "$IMG/demo.pub" "$T/stick" >"$T/out.log" 2>&1
is "$?" 0 "a stick whose registry images are all in the store is applied"
check "app.v5 runs, on app:1's image" running app.v5
is "$(L exec app.v5 cat /etc/app/version)" 1 "the image the store had"
is "$(registry_count tok .)" 0 "still without a request to the registry"
stop_agent

[ $_failed -eq 0 ] || { registry_diag tok; diag "$(tail -30 "$T/agent.log")"; }
