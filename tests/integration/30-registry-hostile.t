#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# limpet image pull REF against a registry that misbehaves on purpose
# (tests/lib/hostile_registry.py): blobs longer than described or with other
# bytes, a manifest that never ends, an error page and a redirect that never
# end, a redirect loop, a redirect to another host (which must not get the
# token), a trickle of 64 bytes a second, half a blob with a byte changed,
# a 401 for every token, and a 429 asking to wait. Each refusal is one line
# naming the registry, the reference and the cause, within bounded time,
# and leaves the store as it was; a blob refused for its size or digest
# leaves no partial download, a dropped one leaves the part received for
# the next pull to resume, which fetches the blob whole once more if that
# part turns out wrong.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/registry.sh"
registry_require
CA=$(registry_ca)
OCITOOL=$LIB/ocitool.py
store_sum() { (cd "$ROOT/store" 2>/dev/null && find . -path ./lock -prune -o -print | sort | md5sum); }
partials() { find "$ROOT/downloads/blobs" -name '*.partial' 2>/dev/null | wc -l; }

# an image of two gzip layers, the first 300 KB of noise (too big to come
# in one read, and a trickle of it takes over an hour)
mkdir -p "$T/big/b" && head -c 300000 /dev/urandom >"$T/big/b/noise" &&
	tar --owner=0 --group=0 -C "$T/big" -cf "$T/l2.tar" b &&
	python3 "$OCITOOL" mklayer "$T/l1.tar" dir:etc file:etc/hostile=1 &&
	python3 "$OCITOOL" build "$T/app" --layout-dir --layer "$T/l2.tar" --layer "$T/l1.tar" \
		--compression gzip --ref 1 --cmd '["/bin/true"]' ||
	{ echo "Bail out! cannot build the image"; exit 1; }
# the hostile server's own bounds are far beyond what limpet may take; its
# trickle (64 bytes a second) is a stall, though not a standstill
hostile_start h "$T/app" --trickle-max 300 --trickle-rate 64 --endless-seconds 300 \
	--endless-max $((256 << 20)) ||
	{ echo "Bail out! hostile_registry.py did not start"; exit 1; }
H=$(hostile_addr h)
LOG=$(hostile_log h)
MANIFEST=$T/app/blobs/sha256/$(jq -r '.manifests[0].digest | ltrimstr("sha256:")' "$T/app/index.json")
LAYER1_SIZE=$(jq -r '.layers[0].size' "$MANIFEST")

# These images carry no signature: the attacks are on the transfer, which
# the signature's check does not change. allow_unsigned says so on stderr;
# that line is dropped from what is checked.
printf 'allow_unsigned = true;\n' >"$T/unsigned.conf"
UNSIGNED_NOTE='; pulling it because allow_unsigned is set$'
SECONDS_TAKEN=0
# hpull MAX_SECONDS ARGS...: image pull, killed after MAX_SECONDS (status
# 124); OUT := its stdout, ERR := its stderr but the allow_unsigned note,
# SECONDS_TAKEN := how long it ran.
hpull() {
	local max=$1 t0 rc
	shift
	t0=$(date +%s)
	timeout -s KILL "$max" "$LIMPET" --root "$ROOT" -c "$T/unsigned.conf" image pull --ca "$CA" \
		"$@" >"$T/out" 2>"$T/err"
	rc=$?
	SECONDS_TAKEN=$(($(date +%s) - t0))
	OUT=$(cat "$T/out")
	ERR=$(grep -v -- "$UNSIGNED_NOTE" "$T/err")
	return $rc
}
# one_line PATTERN DESC: ERR is one line, and matches PATTERN
one_line() {
	if [[ $ERR == *$'\n'* ]]; then
		not_ok "$2 (one line)"
		diag "got: '$ERR'"
	else
		like "$ERR" "$1" "$2"
	fi
}

# a store with an image in it already, which no refusal may touch
python3 "$OCITOOL" mklayer "$T/l0.tar" dir:etc file:etc/resident=1 &&
	python3 "$OCITOOL" build "$T/resident.tar" --layer "$T/l0.tar" --cmd '["/bin/true"]' &&
	L -c "$T/unsigned.conf" image import --name resident:1 "$T/resident.tar" >/dev/null 2>&1 ||
	{ echo "Bail out! cannot import the resident image"; exit 1; }
before=$(store_sum)

# --- a layer blob 1 MiB longer than its descriptor says
hpull 60 "$H/long/app:1"
is "$?" 1 "long: refused"
one_line "^limpet image pull: $H/long/app(:1)?: layer 1 \(sha256:[0-9a-f]{12}\.\.\.\): .*$((LAYER1_SIZE + (1 << 20))) bytes.*not .*$LAYER1_SIZE" \
	"long: one line naming the registry, the blob and both sizes"
is "$(store_sum)" "$before" "long: the store is as it was"
is "$(partials)" 0 "long: no partial blob is kept"

# --- a layer blob of the right size with one byte changed
hpull 60 "$H/wrongdigest/app:1"
is "$?" 1 "wrongdigest: refused"
one_line "^limpet image pull: $H/wrongdigest/app(:1)?: layer 1 \(sha256:[0-9a-f]{12}\.\.\.\): .*SHA-256" \
	"wrongdigest: one line naming the registry, the blob and its digest"
is "$(store_sum)" "$before" "wrongdigest: the store is as it was"
is "$(partials)" 0 "wrongdigest: no partial blob is kept"

# --- a manifest that never ends
hpull 60 "$H/endless/app:1"
is "$?" 1 "endless: refused"
one_line "^limpet image pull: $H/endless/app(:1)?: manifest 1: .*(4194304 bytes|4 MiB)" \
	"endless: one line, cut off at 4 MiB"
check "endless: within a minute" test "$SECONDS_TAKEN" -lt 60
is "$(store_sum)" "$before" "endless: the store is as it was"

# sent NAME: the bytes the server sent in its replies to requests for NAME/
# (what the kernel took of them: a client that stops reading gets no more)
sent() { grep -E "^REQ GET /v2/$1/" "$LOG" | sed -E 's/.* bytes=([0-9]+) .*/\1/' | awk '{ n += $1 } END { print n + 0 }'; }

# --- a 404 whose error page never ends: the status is the answer
hpull 60 "$H/endless404/app:1"
is "$?" 1 "endless404: refused"
one_line "^limpet image pull: $H/endless404/app: manifest 1: HTTP 404 Not Found$" "endless404: one line, HTTP 404"
hostile_wait_count h '^REQ GET /v2/endless404/app/manifests/1 status=404' 1
check "endless404: the server got to send little of it ($(sent endless404) bytes)" \
	test "$(sent endless404)" -lt $((16 << 20))
is "$(store_sum)" "$before" "endless404: the store is as it was"

# --- layer blobs redirected with a body that never ends (libcurl reads
# a redirect's body to keep the connection)
hpull 60 "$H/endless307/app:1"
is "$?" 1 "endless307: refused"
one_line "^limpet image pull: $H/endless307/app: layer 1 \(sha256:[0-9a-f]{12}\.\.\.\): HTTP 307 with more than 65536 bytes of body; cut off$" \
	"endless307: one line, the redirect's body cut off"
hostile_wait_count h '^REQ GET /v2/endless307/app/blobs/.* status=307' 1
check "endless307: the server got to send little of it ($(sent endless307) bytes)" \
	test "$(sent endless307)" -lt $((16 << 20))
is "$(store_sum)" "$before" "endless307: the store is as it was"
is "$(partials)" 0 "endless307: no (empty) partial blob is kept"

# --- a layer blob answered 307 to itself
hpull 60 "$H/loop/app:1"
is "$?" 1 "loop: refused"
one_line "^limpet image pull: $H/loop/app(:1)?: layer 1 \(sha256:[0-9a-f]{12}\.\.\.\): .*redirect" \
	"loop: one line saying it was redirected too often"
check "loop: the server saw the first request and 5 redirects, not retried" \
	hostile_wait_count h '^REQ GET /v2/loop/app/blobs/.* status=307' 6
is "$(hostile_count h '^REQ GET /v2/loop/app/blobs/.* status=307')" 6 "loop: and no more"
is "$(store_sum)" "$before" "loop: the store is as it was"
is "$(partials)" 0 "loop: no (empty) partial blob is kept"

# --- every token refused
hpull 60 "$H/401loop/app:1"
is "$?" 1 "401loop: refused"
one_line "^limpet image pull: $H/401loop/app: manifest 1: HTTP 401 Unauthorized \(UNAUTHORIZED: authentication required\); an anonymous pull refused \(realm \"https://localhost:[0-9]+/token\"\) and no auth file was given \(--auth-file, or registry.auth_file\)$" \
	"401loop: one line naming the realm, and that no credentials were given"
check "401loop: two manifest requests in all" \
	hostile_wait_count h '^REQ GET /v2/401loop/app/manifests/1 status=401' 2
is "$(hostile_count h '^REQ GET /v2/401loop/app/manifests/')" 2 "401loop: one retry, with a fresh token"
is "$(hostile_count h '^TOKEN scope=repository:401loop/app:pull')" 1 "401loop: one token asked for"
is "$(store_sum)" "$before" "401loop: the store is as it was"
# an auth file: with credentials for this registry, and with none
(umask 077 && printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$H" "$(printf u:p | base64)" >"$T/auth.json" &&
	printf '{"auths":{"elsewhere.example":{"auth":"%s"}}}\n' "$(printf u:p | base64)" >"$T/other.json")
hpull 60 --auth-file "$T/auth.json" "$H/401loop/app:1"
one_line "^limpet image pull: $H/401loop/app: manifest 1: HTTP 401 .*; credentials refused \(realm \"https://localhost:[0-9]+/token\"\)$" \
	"401loop: with credentials, that they were refused"
is "$(hostile_count h '^TOKEN scope=repository:401loop/app:pull .*account=u$')" 1 "401loop: for one token"
hpull 60 --auth-file "$T/other.json" "$H/401loop/app:1"
one_line "^limpet image pull: $H/401loop/app: manifest 1: HTTP 401 .*; the auth file has no credentials for $H \(realm \"https://localhost:[0-9]+/token\"\)$" \
	"401loop: with an auth file for other registries, that it has none for this one"

# --- layer blobs at 64 bytes a second (the first would take over an hour):
# the stall timeout drops it, every attempt (4) again; the part received
# stays for the next pull to resume
hpull 120 --stall-timeout 3 "$H/trickle/app:1"
is "$?" 1 "trickle: refused"
one_line "^limpet image pull: $H/trickle/app(:1)?: layer 1 \(sha256:[0-9a-f]{12}\.\.\.\): .*too slow.* \(4 attempts\)$" \
	"trickle: one line, too slow after 4 attempts"
# 4 x 3 s and the backoff between (at most 1.5 + 3 + 6 s), with room for a busy machine
check "trickle: within a minute (took ${SECONDS_TAKEN}s)" test "$SECONDS_TAKEN" -lt 60
check "trickle: the config and 4 attempts at the first layer" \
	hostile_wait_count h '^REQ GET /v2/trickle/app/blobs/.* status=200' 5
is "$(hostile_count h '^REQ GET /v2/trickle/app/blobs/.* status=200')" 5 "trickle: and no more"
is "$(store_sum)" "$before" "trickle: the store is as it was"
is "$(partials)" 1 "trickle: the part received is kept, to resume"

err=$(L image pull --stall-timeout 0 "$H/good/app:1" 2>&1)
is "$err" "limpet image pull: --stall-timeout: '0' is not 1 to 86400 seconds; see 'limpet image pull --help'" \
	"--stall-timeout takes whole seconds, at least one"

# --- the good image, resuming the trickle's partial blob
hpull 60 "$H/good/app:1"
is "$?" 0 "good: pulled"
is "$OUT" "$H/good/app:1" "good: under its reference"
check "good: the trickled blob resumed with a Range request (206)" \
	hostile_wait_count h '^REQ GET /v2/good/app/blobs/.* status=206' 1
is "$(find "$ROOT/downloads/blobs" -type f | wc -l)" 0 "good: no blob left behind"
L image rm "$H/good/app:1" >/dev/null && L system prune -f >/dev/null

# --- half a layer blob with a byte changed, then the connection drops:
# the part received is kept (it may be good); resumed from the good
# registry it does not check out, and the blob is fetched whole once more
hpull 60 "$H/dropwrong/app:1"
is "$?" 1 "dropwrong: refused"
one_line "^limpet image pull: $H/dropwrong/app: layer 1 \(sha256:[0-9a-f]{12}\.\.\.\): the connection broke mid-reply \([^()]+(\([^()]*\))?\) \(4 attempts\)$" \
	"dropwrong: one line, the transfer dropped after 4 attempts"
is "$(partials)" 1 "dropwrong: the part received is kept"
is "$(store_sum)" "$before" "dropwrong: the store is as it was"
n206=$(hostile_count h '^REQ GET /v2/good/app/blobs/.* status=206')
n200=$(hostile_count h '^REQ GET /v2/good/app/blobs/.* status=200')
hpull 60 "$H/good/app:1"
is "$?" 0 "good after dropwrong: pulled"
is "$ERR" "" "good after dropwrong: quietly"
check "good after dropwrong: it resumed the bad part (206)" \
	hostile_wait_count h '^REQ GET /v2/good/app/blobs/.* status=206' $((n206 + 1))
check "good after dropwrong: then fetched that blob whole, the config and the other layer (200)" \
	hostile_wait_count h '^REQ GET /v2/good/app/blobs/.* status=200' $((n200 + 3))
is "$(find "$ROOT/downloads/blobs" -type f | wc -l)" 0 "good after dropwrong: no blob left behind"
L image rm "$H/good/app:1" >/dev/null && L system prune -f >/dev/null

# --- layer blobs redirected to another port: the token stays behind
hpull 60 "$H/offhost/app:1"
is "$?" 0 "offhost: pulled through the redirect"
check "offhost: the other server served the layers" hostile_wait_count h '^OFFHOST GET .* status=200' 2
is "$(hostile_count h '^OFFHOST .*authorization=yes')" 0 "offhost: without the Authorization header"
check "offhost: which the registry itself got" hostile_wait_count h '^REQ GET /v2/offhost/app/manifests/1 status=200 .*auth=bearer' 1
L image rm "$H/offhost/app:1" >/dev/null && L system prune -f >/dev/null

# --- 429 with Retry-After: 2 for each URL's first request
hpull 60 "$H/429/app:1"
is "$?" 0 "429: pulled after waiting"
is "$ERR" "" "429: nothing on stderr when it is not a terminal"
check "429: it waited the 2 s asked for each (took ${SECONDS_TAKEN}s)" test "$SECONDS_TAKEN" -ge 2
# line_of ERE: the number of the first line of the log matching ERE (0: none)
line_of() { grep -nE -m1 -- "$1" "$LOG" | cut -d: -f1 | grep . || echo 0; }
refused_at=$(line_of '^REQ GET /v2/429/app/manifests/1 status=429')
served_at=$(line_of '^REQ GET /v2/429/app/manifests/1 status=200')
check "429: the manifest was asked again after its 429" test "$refused_at" -gt 0 -a "$served_at" -gt "$refused_at"
is "$(hostile_count h '^REQ GET /v2/429/app/blobs/.* status=429')" 3 "429: each blob once refused"
is "$(hostile_count h '^REQ GET /v2/429/app/blobs/.* status=200')" 3 "429: and then served"

[ $_failed -eq 0 ] || registry_diag h
