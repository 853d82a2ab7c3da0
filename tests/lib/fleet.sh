#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The fleet server of the fleet tests, on nginx.sh's nginx: device pi-0042's
# directory on it, the device's fleet settings, documents published the way
# an operator's upload should be, and the status reports the device PUTs.
# Source it after nginx.sh (or registry.sh), before or after nginx_start.
#
#   FLEET_DEV                     the device's directory ($NGINX_ROOT/fleet/pi-0042)
#   FLEET_STATUS                  where its status reports land
#   fleet_settings CA [CERT KEY]  limpet.conf's `fleet = { ... };` for that device:
#                                 nginx's URLs, polled every second, no jitter
#   fleet_upload DOC              DOC.sig, then DOC, as the device's deployment
#   fleet_status FIELD...         a field of the last status report (list items by number)
: "${NGINX_ROOT:?source nginx.sh first}"
FLEET_DEV=$NGINX_ROOT/fleet/pi-0042
FLEET_STATUS=$NGINX_ROOT/status/pi-0042.json

fleet_settings() {
	cat <<EOF
fleet = {
	server = "$(nginx_url fleet/pi-0042/)";
	status_url = "$(nginx_url status/pi-0042.json)";
	ca = "$1";
	${2:+cert = \"$2\"; key = \"$3\";}
	device_id = "pi-0042";
	poll_interval = "1s";
	poll_jitter = "0s";
};
EOF
}

# Each file by rename, so a poll never sees half of one. nginx's ETag is
# mtime-size: a document of the same size published in the same second would
# look unchanged, so each gets a second of its own.
fleet_upload() {
	mkdir -p "$FLEET_DEV" &&
		cp "$1.sig" "$FLEET_DEV/.sig.tmp" && mv "$FLEET_DEV/.sig.tmp" "$FLEET_DEV/deployment.json.sig" ||
		return 1
	_FLEET_PUBLISHED=$((${_FLEET_PUBLISHED:-$(date +%s)} + 1))
	cp "$1" "$FLEET_DEV/.doc.tmp" && touch -d "@$_FLEET_PUBLISHED" "$FLEET_DEV/.doc.tmp" &&
		mv "$FLEET_DEV/.doc.tmp" "$FLEET_DEV/deployment.json"
}

fleet_status() {
	python3 - "$FLEET_STATUS" "$@" <<'PY' 2>/dev/null
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)
PY
}
