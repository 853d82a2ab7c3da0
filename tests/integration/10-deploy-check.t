#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# limpet deploy check: signed deployment documents, validated as the agent will.
. "$(dirname "$0")/../lib/tap.sh"

L keygen "$T/ops" >/dev/null
doc() { # VERSION EXPIRES DEVICE [EXTRA_FIELD]
	cat <<JSON
{ "version": $1, "expires": "$2", "target": { "devices": ["$3"] },
  "containers": [ { "name": "web", ${4-}
    "image": { "url": "images/web.tar", "size": 1024,
               "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" },
    "limits": { "memory": "64M", "pids": 64 }, "restart": "on-failure:3",
    "health": { "command": ["/bin/true"], "interval": "5s" } } ] }
JSON
}
sign() { L image sign "$T/ops.key" "$1" >/dev/null; }
future=$(date_in 30)
past=$(date_in -1)

doc 7 "$future" pi-1 >"$T/ok.json"
sign "$T/ok.json"
out=$(L deploy check --trust "$T/ops.pub" --device pi-1 "$T/ok.json")
is "$?" 0 "a signed, current document for this device checks out"
like "$out" "version 7, expires" "and is summarised"
like "$out" "web +images/web.tar \(1024 bytes\)" "with its pinned images"

cp "$T/ok.json" "$T/tampered.json"
cp "$T/ok.json.sig" "$T/tampered.json.sig"
sed -i 's/"pids": 64/"pids": 65/' "$T/tampered.json"
err=$(L deploy check --trust "$T/ops.pub" "$T/tampered.json" 2>&1)
is "$?" 1 "a tampered document is refused"
like "$err" "signature does not match" "by its signature, before parsing"

doc 7 "$past" pi-1 >"$T/old.json"
sign "$T/old.json"
err=$(L deploy check --trust "$T/ops.pub" --device pi-1 "$T/old.json" 2>&1)
is "$?" 1 "an expired document is refused"
like "$err" "expired" "saying so"

err=$(L deploy check --trust "$T/ops.pub" --device pi-2 "$T/ok.json" 2>&1)
is "$?" 1 "a document for another device is refused"
like "$err" "not pi-2" "naming this device"

doc 7 "$future" pi-1 '"colour": "red",' >"$T/typo.json"
sign "$T/typo.json"
err=$(L deploy check --trust "$T/ops.pub" "$T/typo.json" 2>&1)
is "$?" 1 "an unknown field is refused"
like "$err" "containers\[0\].colour" "naming the field"

err=$(L deploy check "$T/ok.json" 2>&1)
is "$?" 1 "without trusted keys nothing is accepted"
