#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# image pull from nginx over mutual TLS: import and run; TLS, client
# certificate, 404, unsigned and tampered archives refused in one line with
# the store unchanged; pinning (--size, --sha256); kill -9 mid-download and a
# resumed rerun (nginx's log shows the Range request and the bytes sent); a
# server that ignores Range; the config's fleet settings; the progress bar;
# lp_fetch_get/put against the same server (tests/unit/agent/fetch/test_fetch).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/nginx.sh"
test_images
PUB=$IMG/demo.pub
SIZE=$(stat -c %s "$IMG/hello.tar")
SHA=$(sha256sum <"$IMG/hello.tar" | cut -c1-64)
# /slow/ sends hello.tar in about 4 s: time enough to interrupt it
NGINX_SLOW_RATE=$((SIZE / 4 / 1024))k
nginx_start || exit 1
cp "$IMG/hello.tar" "$IMG/hello.tar.sig" "$NGINX_ROOT/"
P=$NGINX_PKI
TLS=(--ca "$P/ca.pem" --cert "$P/device.pem" --key "$P/device.key")
pull() { L image pull "${TLS[@]}" --trust "$PUB" "$@"; }
store_sum() { (cd "$ROOT/store" 2>/dev/null && find . -path ./lock -prune -o -print | sort | md5sum); }
downloads() { find "$ROOT/downloads" -mindepth 1 2>/dev/null; }
# the download directory of a URL, as limpet names it
download_dir() { echo "$ROOT/downloads/$(printf %s "$1" | sha256sum | cut -c1-64)"; }

# --- a signed image over mutual TLS
out=$(pull "$(nginx_url hello.tar)" 2>"$T/err")
is "$out" "hello:latest" "pull imports over mutual TLS (named as an import of hello.tar would be)"
is "$(cat "$T/err")" "" "and prints nothing on stderr when it is not a terminal"
like "$(L run --rm hello)" "^hello from run-[0-9a-f]+ as 1000:1000 in /home/user with GREETING=hi$" \
	"the pulled image runs"
is "$(downloads)" "" "the archive and its signature are removed after the import"

# --- refusals: one line each, exit status 1, the store unchanged
before=$(store_sum)
refused() { # DESC REGEX CMD...
	local desc=$1 re=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && [[ $out =~ $re ]] &&
		[ "$(store_sum)" = "$before" ]; then
		ok "$desc"
		diag "$out"
	else
		not_ok "$desc"
		diag "rc=$rc: $out"
		diag "want: /$re/"
	fi
}
URL=$(nginx_url hello.tar)
# curl words TLS failures after its TLS library: OpenSSL (make), mbedtls (make static).
refused "a server certificate from another CA is a TLS error" \
	"^limpet image pull: $URL.sig: TLS: (SSL certificate problem: unable to get local issuer certificate|mbedTLS: The certificate is not correctly signed by the trusted CA)$" \
	L image pull --ca "$P/other-ca.pem" --cert "$P/device.pem" --key "$P/device.key" --trust "$PUB" "$URL"
refused "without a client certificate nginx refuses, and limpet says why" \
	"^limpet image pull: $URL.sig: HTTP 400 Bad Request \(No required SSL certificate was sent\)$" \
	L image pull --ca "$P/ca.pem" --trust "$PUB" "$URL"
refused "the certificate names localhost, so 127.0.0.1 is refused" \
	"TLS: .*(no alternative certificate subject name matches target host name '127.0.0.1'|The certificate Common Name \(CN\) does not match with the expected CN)$" \
	pull "https://127.0.0.1:$NGINX_PORT/hello.tar"
refused "a missing archive is a 404 that names the URL" \
	"^limpet image pull: $(nginx_url nope.tar): HTTP 404 Not Found$" pull "$(nginx_url nope.tar)"
cp "$IMG/hello.tar" "$NGINX_ROOT/unsigned.tar"
refused "an archive without a signature is refused" \
	"unsigned.tar has no signature \(.*unsigned.tar.sig: HTTP 404\); images must be signed" \
	pull "$(nginx_url unsigned.tar)"
cp "$IMG/hello.tar" "$NGINX_ROOT/tampered.tar"
cp "$IMG/hello.tar.sig" "$NGINX_ROOT/tampered.tar.sig"
printf 'X' | dd of="$NGINX_ROOT/tampered.tar" bs=1 seek=4000 conv=notrunc 2>/dev/null
refused "a tampered archive fails its signature (the message names the URL)" \
	"^limpet image pull: $(nginx_url tampered.tar): signature does not match any trusted key" \
	pull "$(nginx_url tampered.tar)"
is "$(downloads)" "" "refused downloads leave nothing in ROOT/downloads"
err=$(L image pull "http://localhost:$NGINX_PORT/hello.tar" 2>&1)
is "$?:$err" "2:limpet image pull: 'http://localhost:$NGINX_PORT/hello.tar': only https:// URLs are allowed; see 'limpet image pull --help'" \
	"plain http is a usage error"
err=$(L image pull --cert "$P/device.pem" "$URL" 2>&1)
like "$?:$err" "^2:.*--cert and --key go together" "--cert without --key is a usage error"

# --- pinning: exactly this artifact
refused "--size: a server announcing another size is refused before the body" \
	": the server has $SIZE bytes, not the pinned 1000$" pull --size 1000 "$URL"
CHUNKED=$(nginx_url chunked/hello.tar)
refused "--size: a server that sends more than pinned (no Content-Length) is cut off" \
	"^limpet image pull: $CHUNKED: the server sent more than the pinned 1000 bytes; cut off$" \
	pull --size 1000 "$CHUNKED"
sent=$(nginx_bytes_sent_for chunked/hello.tar)
diag "nginx sent $sent of $SIZE bytes of /chunked/hello.tar before limpet hung up"
is "$(downloads)" "" "and its partial download is deleted"
wrong=$(printf 'other' | sha256sum | cut -c1-64)
refused "--sha256: another digest is refused" ": SHA-256 is ${SHA:0:16}\.\.\., not the pinned ${wrong:0:16}\.\.\.$" \
	pull --sha256 "$wrong" "$URL"
is "$(downloads)" "" "and its download is deleted"
is "$(pull --size "$SIZE" --sha256 "sha256:$SHA" --name pinned "$URL")" pinned \
	"--size and --sha256 with the right values import"
L image rm pinned >/dev/null

# --- kill -9 mid-download, then a rerun resumes with a Range request
SLOW=$(nginx_url slow/hello.tar)
PARTIAL=$(download_dir "$SLOW")/hello.tar.partial
(exec "$LIMPET" --root "$ROOT" image pull "${TLS[@]}" --trust "$PUB" "$SLOW") >/dev/null 2>&1 &
pid=$!
partial_size() { stat -c %s "$PARTIAL" 2>/dev/null || echo 0; }
a_quarter_is_there() { [ "$(partial_size)" -gt $((SIZE / 4)) ]; }
logged() { [ "$(nginx_requests "$1" | wc -l)" -ge "$2" ]; }
wait_for 10 a_quarter_is_there
kill -9 "$pid"
wait "$pid" 2>/dev/null
got=$(partial_size)
check "kill -9 mid-download leaves hello.tar.partial ($got of $SIZE bytes)" \
	test "$got" -gt 0 -a "$got" -lt "$SIZE"
# nginx logs the dropped request once it notices
check "nginx logged the interrupted request" wait_for 10 logged slow/hello.tar 1
is "$(pull --name resumed "$SLOW")" resumed "the rerun completes the download and imports it"
log=$(nginx_requests slow/hello.tar)
diag "$log"
is "$(echo "$log" | wc -l)" 2 "nginx saw two requests for the file"
like "$(echo "$log" | tail -1)" "^GET /slow/hello.tar 206 [0-9]+ $((SIZE - got)) \"bytes=$got-\"$" \
	"the second is a Range request for the $((SIZE - got)) bytes still missing (206)"
sent=$(nginx_bytes_sent_for slow/hello.tar)
check "nginx sent $sent bytes for the file in both requests: less than 1.5 x $SIZE" \
	test $((sent * 2)) -lt $((SIZE * 3))
like "$(L run --rm resumed)" "^hello from" "the resumed image runs"
is "$(downloads)" "" "nothing is left in ROOT/downloads"
L image rm resumed >/dev/null

# --- a partial download that is already whole: 416, nothing sent again
mkdir -p "$(download_dir "$URL")"
cp "$IMG/hello.tar" "$(download_dir "$URL")/hello.tar.partial"
is "$(pull --name whole "$URL")" whole "a complete partial file is taken as it is"
like "$(nginx_requests hello.tar | tail -1)" "^GET /hello.tar 416 [0-9]+ [0-9]+ \"bytes=$SIZE-\"$" \
	"after one Range request past its end (416)"
L image rm whole >/dev/null

# --- a server that ignores Range sends the whole file, which replaces the partial one
NORANGE=$(nginx_url norange/hello.tar)
mkdir -p "$(download_dir "$NORANGE")"
head -c 300000 /dev/zero >"$(download_dir "$NORANGE")/hello.tar.partial"
is "$(pull --name norange "$NORANGE")" norange "a 200 to a Range request restarts the file from zero"
like "$(nginx_requests norange/hello.tar | tail -1)" "^GET /norange/hello.tar 200 [0-9]+ $SIZE \"bytes=300000-\"$" \
	"nginx sent the whole file to the Range request"
L image rm norange >/dev/null

# --- the config's fleet settings are pull's defaults; the rate cap holds
fleet_conf() { # FILE [MORE SETTINGS]
	cat >"$1" <<CONF
trust = [ "$PUB" ];
fleet = {
	ca = "$P/ca.pem";
	cert = "$P/device.pem";
	key = "$P/device.key";
	${2:-}
};
CONF
}
fleet_conf "$T/fleet.conf"
is "$(L -c "$T/fleet.conf" image pull --name from-config "$URL")" from-config \
	"fleet.ca, fleet.cert, fleet.key and trust from the config are enough"
L image rm from-config >/dev/null
# curl holds the cap on average: a burst of up to about 1.6 MB can pass at
# once, so a 4 MB file at 1M/s takes at least 2.4 s
head -c 4194304 /dev/urandom >"$NGINX_ROOT/big.tar"
openssl dgst -sha256 -sign "$IMG/demo.key" -out "$NGINX_ROOT/big.tar.sig" "$NGINX_ROOT/big.tar"
fleet_conf "$T/rate.conf" 'max_download_rate = "1M";'
t0=$(now_ms)
L -c "$T/rate.conf" image pull "$(nginx_url big.tar)" >/dev/null 2>&1
ms=$(($(now_ms) - t0))
like "$(nginx_requests big.tar)" "^GET /big.tar 200 [0-9]+ 4194304 " "a 4 MB file is downloaded (not an image: the import refuses it)"
check "fleet.max_download_rate = \"1M\" caps it (about 4 s; took $ms ms)" test "$ms" -ge 2000
err=$(L -c "$T/fleet.conf" image pull --ca "$P/other-ca.pem" "$URL" 2>&1)
like "$err" "TLS: (SSL certificate problem|mbedTLS: The certificate is not correctly signed)" "--ca overrides fleet.ca"
printf 'fleet = { server = "http://fleet.example.com/"; };\n' >"$T/bad.conf"
err=$(L -c "$T/bad.conf" image ls 2>&1)
is "$err" "limpet: $T/bad.conf:1: fleet.server: 'http://fleet.example.com/': only https:// URLs are allowed" \
	"a fleet server must be https://"

# --- on a terminal: a progress bar on stderr
if command -v script >/dev/null; then
	out=$(script -qec "$LIMPET --root $ROOT image pull ${TLS[*]} --trust $PUB --name tty $URL" /dev/null)
	like "$out" $'\rhello.tar +1\.0M of 1\.0M +100% ' "on a terminal, pull draws a progress bar"
	L image rm tty >/dev/null
else
	ok "# skip script(1) is not installed"
fi

# --- lp_fetch_get (ETag, 304), lp_fetch_put (WebDAV) and pinning, in C
unit=$(dirname "$LIMPET")/tests/unit/agent/fetch/test_fetch
if [ -x "$unit" ]; then
	out=$(LIMPET_TEST_HTTPS="https://localhost:$NGINX_PORT" LIMPET_TEST_CA="$P/ca.pem" \
		LIMPET_TEST_CERT="$P/device.pem" LIMPET_TEST_KEY="$P/device.key" \
		LIMPET_TEST_DOCROOT="$NGINX_ROOT" "$unit" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && ! grep -q SKIPPED <<<"$out"; then
		ok "test_fetch against nginx: $(grep -c '\[       OK \]' <<<"$out") tests pass, none skipped"
	else
		not_ok "test_fetch against nginx"
		diag "$out"
	fi
	like "$(nginx_requests hello.tar.sig | awk '{ print $3 }' | tr '\n' ' ')" " 304 " \
		"an idle poll with the ETag costs a 304 and no body"
else
	ok "# skip $unit is not built (make check-unit builds it)"
fi
