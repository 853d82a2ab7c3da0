#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# OCI registries for the registry tests: Debian's docker-registry 2.8 (the
# reference server, distribution v2.8.2) in its three auth modes, the token
# issuer it trusts (token_issuer.py), and the misbehaving hostile_registry.py;
# every one on 127.0.0.1 only, over TLS with nginx.sh's test CA (the server
# certificate names localhost: address them as localhost:PORT), everything
# (config, storage, logs) under $T/registry/NAME. Source it after tap.sh, and
# instead of nginx.sh or after it (never before: nginx.sh would reset this
# file's EXIT trap); nginx_start stays available.
#
# Start and stop (each waits for its condition, not for a time):
#   registry_require                  skip the whole test when the tools are missing
#   registry_start MODE NAME [ARGS]   MODE none | htpasswd | token; ARGS go to token_issuer.py
#   registry_stop NAME                stop one (its issuer too); storage and logs stay
#   registry_restart NAME             start a stopped one again on the same port
#   registry_stop_all                 every registry and hostile server (the EXIT trap does it)
#   hostile_start NAME LAYOUT [ARGS]  hostile_registry.py serving the OCI layout LAYOUT
#   hostile_stop NAME
# Where:
#   registry_addr NAME                localhost:PORT (the host part of a reference)
#   registry_url NAME                 https://localhost:PORT
#   registry_token_url NAME           the issuer's realm, https://localhost:TPORT/token
#   registry_ca                       CA file for limpet --ca and curl --cacert
#   registry_certdir                  a dir holding only ca.crt (skopeo --src/--dest-cert-dir)
#   registry_registries_d             for skopeo --registries.d: sigstore attachments on
#                                     (these three: once any server was started)
#   registry_creds NAME               user:password for NAME's mode ("" in mode none)
#   registry_data NAME                the storage root (docker/registry/v2/...)
#   registry_blob_file NAME DIGEST    the file holding blob DIGEST in that storage
#   hostile_addr NAME                 localhost:PORT of a hostile server
#   hostile_log NAME                  its log (REQ, TOKEN and OFFHOST lines)
#   hostile_count NAME ERE            lines of it matching ERE
#   hostile_wait_count NAME ERE N [S] wait until at least N match
# Logs (the access log is the registry's stdout, its app log its stderr):
#   registry_requests NAME            one line per request: METHOD PATH STATUS BYTES
#   registry_count NAME ERE           how many of those lines match ERE
#   registry_wait_count NAME ERE N [S]  wait until at least N match
#   registry_blob_bytes NAME [ERE]    body bytes of GET .../blobs/... lines (matching ERE)
#   registry_log_reset NAME           start counting afresh (old lines kept aside)
#   registry_token_count NAME [ERE]   token requests the issuer logged (matching ERE)
#   registry_diag NAME                the last lines of every log of NAME, as TAP comments
# Clients:
#   registry_push NAME SRC REPO:TAG [SKOPEO_COPY_ARGS...]   skopeo copy SRC to NAME
#   registry_token NAME CREDS SCOPE...  a token from NAME's issuer (CREDS user:pass or -)
#   registry_auth_json NAME FILE      a Docker auth file for NAME's credentials, mode 0600
: "${T:?source tap.sh first}"
declare -F nginx_start >/dev/null || . "$LIB/nginx.sh"

REGISTRY_DIR=$T/registry
REGISTRY_BIN=${REGISTRY_BIN:-/usr/bin/docker-registry}
# The helpers need python3-cryptography, which only Debian's python3 has.
REGISTRY_PYTHON=${REGISTRY_PYTHON:-/usr/bin/python3}
# The user of modes htpasswd and token (pull and push everywhere), and in
# token mode a second one allowed to pull only.
REGISTRY_USER=limpet
REGISTRY_PASS=limpet-test-pass
REGISTRY_READER=reader
REGISTRY_READER_PASS=reader-test-pass
declare -A _REG_MODE=() _REG_PORT=() _REG_PID=() _REG_TPORT=() _REG_TPID=()
declare -A _HOS_PORT=() _HOS_PID=()

# registry_require: every tool these servers need is here, else the whole
# test is skipped (tap.sh skip_all: a failure in CI). Call it before the
# first check.
registry_require() {
	local missing=() cmd
	for cmd in "$REGISTRY_BIN" skopeo htpasswd curl openssl; do
		command -v "$cmd" >/dev/null || missing+=("$cmd")
	done
	"$REGISTRY_PYTHON" -c 'import cryptography' 2>/dev/null ||
		missing+=("$REGISTRY_PYTHON with python3-cryptography")
	[ ${#missing[@]} -eq 0 ] || skip_all "missing ${missing[*]} (make deps installs them)"
}

_registry_pki() {
	[ -s "$NGINX_PKI/device.pem" ] || _nginx_pki || return 1
	if [ ! -s "$REGISTRY_DIR/certs/ca.crt" ]; then
		mkdir -p "$REGISTRY_DIR/certs" "$REGISTRY_DIR/registries.d" &&
			cp "$NGINX_PKI/ca.pem" "$REGISTRY_DIR/certs/ca.crt" || return 1
	fi
	# skopeo writes (and reads) cosign .sig attachments only where told to
	[ -s "$REGISTRY_DIR/registries.d/limpet-test.yaml" ] ||
		printf 'default-docker:\n  use-sigstore-attachments: true\n' \
			>"$REGISTRY_DIR/registries.d/limpet-test.yaml"
}

registry_ca() { echo "$NGINX_PKI/ca.pem"; }
registry_certdir() { echo "$REGISTRY_DIR/certs"; }
registry_registries_d() { echo "$REGISTRY_DIR/registries.d"; }
registry_addr() { echo "localhost:${_REG_PORT[$1]:?registry $1 was not started}"; }
registry_url() { echo "https://$(registry_addr "$1")"; }
registry_token_url() { echo "https://localhost:${_REG_TPORT[$1]:?registry $1 has no token issuer}/token"; }
registry_data() { echo "$REGISTRY_DIR/$1/data"; }
registry_blob_file() {
	local hex=${2#sha256:}
	echo "$(registry_data "$1")/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
}
registry_creds() {
	case ${_REG_MODE[$1]:?registry $1 was not started} in
	none) echo "" ;;
	*) echo "$REGISTRY_USER:$REGISTRY_PASS" ;;
	esac
}

# _registry_config NAME: the smallest 2.8 config.yml for NAME's mode and port:
# filesystem storage, TLS, the access log on stdout, no upload purging (a
# goroutine that would wake up during a test).
_registry_config() {
	local d=$REGISTRY_DIR/$1 auth
	case ${_REG_MODE[$1]} in
	none) auth= ;;
	htpasswd) auth="auth:
  htpasswd: { realm: limpet-test, path: $d/htpasswd }" ;;
	token) auth="auth:
  token:
    realm: \"https://localhost:${_REG_TPORT[$1]}/token\"
    service: limpet-registry
    issuer: limpet-test-issuer
    rootcertbundle: $d/token-ca.pem" ;;
	esac
	cat >"$d/config.yml" <<EOF
version: 0.1
log: { level: info, accesslog: { disabled: false }, formatter: text }
storage:
  filesystem: { rootdirectory: $d/data }
  delete: { enabled: true }
  maintenance: { uploadpurging: { enabled: false } }
http:
  addr: 127.0.0.1:${_REG_PORT[$1]}
  secret: limpet-test-secret
  tls: { certificate: $NGINX_PKI/server.pem, key: $NGINX_PKI/server.key }
  headers: { X-Content-Type-Options: [nosniff] }
$auth
EOF
}

# _registry_status NAME: the HTTP status GET /v2/ gets from NAME (000: none).
_registry_status() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$NGINX_PKI/ca.pem" \
		"https://localhost:${_REG_PORT[$1]}/v2/" 2>/dev/null
}
_pid_alive() { grep -qs '^State:[[:space:]]*[^Z]' "/proc/$1/status"; }
# Up (answers /v2/ over our TLS), or gone (then there is nothing to wait for).
_registry_settled() {
	! _pid_alive "${_REG_PID[$1]}" || [[ $(_registry_status "$1") =~ ^(200|401)$ ]]
}

_registry_launch() {
	local d=$REGISTRY_DIR/$1
	"$REGISTRY_BIN" serve "$d/config.yml" >>"$d/access.log" 2>>"$d/app.log" &
	_REG_PID[$1]=$!
	wait_for 60 _registry_settled "$1" && _pid_alive "${_REG_PID[$1]}" &&
		[[ $(_registry_status "$1") =~ ^(200|401)$ ]]
}

_port_file_or_gone() { [ -s "$1" ] || ! _pid_alive "$2"; }

# _py_server WHAT PORTFILE OUT SCRIPT ARGS...: a Python test server in the
# background, output to OUT; _PY_PID := its pid once it has written the port
# it listens on (its own choice: no race for it) to PORTFILE. Else it says
# why on stderr, and the server is stopped.
_py_server() {
	local what=$1 portfile=$2 out=$3
	shift 3
	rm -f "$portfile"
	"$REGISTRY_PYTHON" "$@" --port-file "$portfile" --cert "$NGINX_PKI/server.pem" \
		--key "$NGINX_PKI/server.key" >>"$out" 2>&1 &
	_PY_PID=$!
	wait_for 60 _port_file_or_gone "$portfile" "$_PY_PID" && _pid_alive "$_PY_PID" && return 0
	echo "$what did not come up:" >&2
	tail -5 "$out" >&2
	_kill_wait "$_PY_PID"
	return 1
}

# _registry_issuer NAME ARGS: token_issuer.py for NAME (on its former port
# after a registry_stop).
_registry_issuer() {
	local name=$1 d=$REGISTRY_DIR/$1
	shift
	_py_server "registry_start: the token issuer of $name" "$d/token.port" "$d/issuer.out" \
		"$LIB/token_issuer.py" --port "${_REG_TPORT[$name]:-0}" \
		--sign-cert "$d/token-ca.pem" --sign-key "$d/token-sign.key" --users "$d/users" \
		--log "$d/issuer.log" "$@" || return 1
	_REG_TPID[$name]=$_PY_PID
	_REG_TPORT[$name]=$(cat "$d/token.port")
}

# registry_start MODE NAME [ISSUER_ARGS...]: a docker-registry called NAME
# (any word; several may run at once), empty storage, answering /v2/ when
# this returns 0.
#   none      anonymous pull and push
#   htpasswd  Basic realm="limpet-test"; $REGISTRY_USER:$REGISTRY_PASS may do anything
#   token     Bearer realm=registry_token_url NAME, service="limpet-registry",
#             tokens from token_issuer.py (started here; ISSUER_ARGS such as
#             --stale-first or --expires-in N go to it): $REGISTRY_USER may
#             pull and push, $REGISTRY_READER only pull, anonymous only pull
#             public/*.
# On failure it prints why on stderr and returns 1.
registry_start() {
	local mode=$1 name=$2 d=$REGISTRY_DIR/$2 try
	shift 2
	case $mode in none | htpasswd | token) ;; *)
		echo "registry_start: mode $mode: none, htpasswd or token" >&2
		return 1 ;;
	esac
	[ -z "${_REG_PID[$name]:-}" ] || { echo "registry_start: $name is running" >&2; return 1; }
	_registry_pki || return 1
	mkdir -p "$d/data"
	_REG_MODE[$name]=$mode
	case $mode in
	htpasswd)
		# bcrypt only; 2.8 reads it once at start, and makes up a user if it is missing
		htpasswd -Bbn "$REGISTRY_USER" "$REGISTRY_PASS" >"$d/htpasswd" || return 1 ;;
	token)
		printf '%s:%s:pull,push,delete\n%s:%s:pull\n' "$REGISTRY_USER" "$REGISTRY_PASS" \
			"$REGISTRY_READER" "$REGISTRY_READER_PASS" >"$d/users"
		: >"$d/issuer.args"; [ $# -eq 0 ] || printf '%s\n' "$@" >"$d/issuer.args"
		_registry_issuer "$name" "$@" || return 1 ;;
	esac
	for try in 1 2 3; do
		_REG_PORT[$name]=$(_nginx_free_port)
		_registry_config "$name"
		_registry_launch "$name" && return 0
		kill "${_REG_PID[$name]}" 2>/dev/null
		wait "${_REG_PID[$name]}" 2>/dev/null
		_REG_PID[$name]=
		# someone took the port between the choice and the bind: choose again
		grep -q 'address already in use' "$d/app.log" 2>/dev/null || break
	done
	echo "registry_start: docker-registry $name did not come up:" >&2
	tail -5 "$d/app.log" >&2
	registry_stop "$name"
	return 1
}

_kill_wait() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# registry_stop NAME: NAME and its issuer stopped (and reaped); the storage,
# the logs and the port number stay for registry_restart and the counters.
registry_stop() {
	_kill_wait "${_REG_PID[$1]:-}"
	_REG_PID[$1]=
	_kill_wait "${_REG_TPID[$1]:-}"
	_REG_TPID[$1]=
}

# registry_restart NAME: a stopped (or running) NAME up again, same port,
# storage, users and issuer port; fails if the port was taken meanwhile.
registry_restart() {
	registry_stop "$1"
	local args=()
	if [ "${_REG_MODE[$1]}" = token ]; then
		mapfile -t args <"$REGISTRY_DIR/$1/issuer.args"
		_registry_issuer "$1" "${args[@]}" || return 1
	fi
	_registry_launch "$1"
}

registry_stop_all() {
	local name
	for name in "${!_REG_PID[@]}"; do registry_stop "$name"; done
	for name in "${!_HOS_PID[@]}"; do hostile_stop "$name"; done
}

# registry_requests NAME: the access log as METHOD PATH STATUS BYTES, BYTES
# being the body bytes sent (HTTP/1.1 or 2 alike; PATH with its query).
registry_requests() {
	awk -F'"' 'NF >= 3 { split($2, r, " "); split($3, s, " "); print r[1], r[2], s[1], s[2] }' \
		"$REGISTRY_DIR/$1/access.log" 2>/dev/null
}

# registry_count NAME ERE: how many registry_requests lines match ERE, e.g.
# '^GET /v2/app/manifests/' or '^GET /v2/app/blobs/[^ ]+ 206 '. A registry
# logs a request as it ends: after a client exits, prefer registry_wait_count.
registry_count() {
	registry_requests "$1" | grep -cE -- "$2"
}

# registry_wait_count NAME ERE N [SECONDS]: wait (default 30 s) until at
# least N registry_requests lines match ERE.
_at_least() { local n=$1; shift; [ "$("$@")" -ge "$n" ]; }
registry_wait_count() {
	wait_for "${4:-30}" _at_least "$3" registry_count "$1" "$2"
}

# registry_blob_bytes NAME [ERE]: the sum of body bytes sent for GET
# /v2/REPO/blobs/DIGEST requests (any status: a 206 counts what it sent),
# only those whose registry_requests line also matches ERE (a digest, a
# repository '^GET /v2/bench/', a status ' 206 ').
registry_blob_bytes() {
	registry_requests "$1" | grep -E '^GET /v2/[^ ]+/blobs/sha256:' | grep -E -- "${2:-.}" |
		awk '{ n += $4 } END { print n + 0 }'
}

# registry_log_reset NAME: the access and issuer logs start empty (what they
# held goes to *.earlier.log), for counting what one client run did.
registry_log_reset() {
	local f
	for f in access issuer; do
		f=$REGISTRY_DIR/$1/$f
		[ -e "$f.log" ] || continue
		cat "$f.log" >>"$f.earlier.log" && : >"$f.log"
	done
}

# registry_token_count NAME [ERE]: token requests in the issuer's log
# (lines "TOKEN account=U scope=S status=N granted=... stale=0|1") matching ERE.
registry_token_count() {
	grep -E '^TOKEN ' "$REGISTRY_DIR/$1/issuer.log" 2>/dev/null | grep -cE -- "${2:-.}"
}

registry_diag() {
	local f
	for f in app access issuer issuer.out hostile hostile.out; do
		f=$REGISTRY_DIR/$1/$f
		[ -s "$f.log" ] && f=$f.log
		[ -s "$f" ] || continue
		diag "--- $f (last 15 lines)"
		diag "$(tail -15 "$f")"
	done
	[ -s "$REGISTRY_DIR/skopeo.log" ] && diag "--- skopeo" && diag "$(tail -15 "$REGISTRY_DIR/skopeo.log")"
	return 0
}

# registry_push NAME SRC REPO:TAG [SKOPEO_COPY_ARGS...]: skopeo copy SRC
# (oci-archive:F, oci:DIR:REF, dir:DIR...) to docker://localhost:PORT/REPO:TAG
# with NAME's credentials, the test CA, and sigstore attachments on (a dir:
# source's signature-1 becomes the sha256-HEX.sig tag). Extra arguments go to
# `skopeo copy` (--all, --dest-creds U:P to push as someone else). Its output
# goes to $T/registry/skopeo.log; on failure the last lines go to stderr.
registry_push() {
	local name=$1 src=$2 dest=$3 creds log=$REGISTRY_DIR/skopeo.log rc
	shift 3
	creds=$(registry_creds "$name")
	_registry_pki || return 1
	echo "+ skopeo copy $* $src $(registry_addr "$name")/$dest" >>"$log"
	skopeo --registries.d "$(registry_registries_d)" copy --retry-times 0 \
		--dest-cert-dir "$REGISTRY_DIR/certs" ${creds:+--dest-creds "$creds"} "$@" \
		"$src" "docker://$(registry_addr "$name")/$dest" >>"$log" 2>&1
	rc=$?
	[ $rc -eq 0 ] || tail -5 "$log" >&2
	return $rc
}

# registry_token NAME CREDS SCOPE...: a token from NAME's issuer for the scopes
# (repository:app:pull ...), as user:password CREDS or anonymously (-);
# prints the token, fails (with the reply on stderr) unless HTTP 200.
registry_token() {
	local name=$1 creds=$2 url args=() s reply
	shift 2
	url="$(registry_token_url "$name")?service=limpet-registry"
	for s in "$@"; do args+=(--data-urlencode "scope=$s"); done
	[ "$creds" = - ] || args+=(-u "$creds")
	reply=$(curl -sf --max-time 20 --cacert "$NGINX_PKI/ca.pem" -G "${args[@]}" "$url") &&
		python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])' <<<"$reply" 2>/dev/null ||
		{ echo "registry_token: $url: $reply" >&2; return 1; }
}

# registry_auth_json NAME FILE: a Docker/containers auth file (auths keyed by
# localhost:PORT) holding NAME's credentials, mode 0600.
registry_auth_json() {
	local b64
	b64=$(printf %s "$(registry_creds "$1")" | base64 -w0)
	(umask 077 && printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$(registry_addr "$1")" "$b64" >"$2")
}

# hostile_start NAME LAYOUT [ARGS...]: tests/lib/hostile_registry.py serving
# the image of LAYOUT (an OCI layout dir or archive; its index.json's ref
# names are the tags) as PREFIX/REPO:TAG, PREFIX choosing the misbehaviour
# (good/ is the well-behaved one; see its --help); ARGS go to it
# (--trickle-max S, --trickle-rate B, --endless-max BYTES).
hostile_start() {
	local name=$1 layout=$2 d=$REGISTRY_DIR/$1
	shift 2
	_registry_pki || return 1
	mkdir -p "$d"
	_py_server "hostile_start: $name" "$d/port" "$d/hostile.out" "$LIB/hostile_registry.py" \
		--layout "$layout" --log "$d/hostile.log" "$@" || return 1
	_HOS_PID[$name]=$_PY_PID
	_HOS_PORT[$name]=$(cat "$d/port")
}
hostile_addr() { echo "localhost:${_HOS_PORT[$1]:?hostile server $1 was not started}"; }
hostile_log() { echo "$REGISTRY_DIR/$1/hostile.log"; }
# hostile_count NAME ERE: lines of its log matching ERE; hostile_wait_count
# NAME ERE N [SECONDS]: wait (default 30 s) until at least N do (a request
# is logged once answered: after the client, not before).
hostile_count() { grep -cE -- "$2" "$(hostile_log "$1")" 2>/dev/null; }
hostile_wait_count() {
	wait_for "${4:-30}" _at_least "$3" hostile_count "$1" "$2"
}
hostile_stop() {
	_kill_wait "${_HOS_PID[$1]:-}"
	_HOS_PID[$1]=
}

# tap.sh's EXIT trap removes $T: the servers go first, then nginx's; _finish
# still sees the exit status.
trap '_registry_rc=$?; registry_stop_all; nginx_stop; (exit $_registry_rc); _finish' EXIT
