#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# An HTTPS server for the fleet tests: nginx with mutual TLS on 127.0.0.1, as
# a fleet server would be, all of it (PKI, config, logs, pid, temp files)
# under $T/nginx. Source it after tap.sh.
#
#   nginx_start            make the PKI and config, start nginx, wait until it answers
#   nginx_stop             stop it (also done when the test exits)
#   nginx_restart          stop it and start it again on the same port (drops connections)
#   nginx_url PATH         https://localhost:PORT/PATH
#   nginx_requests PATH    access log lines for PATH: METHOD URI STATUS BYTES_SENT BODY_BYTES "RANGE"
#   nginx_bytes_sent_for PATH   total $bytes_sent (headers included) of the requests for PATH
#
# Served: $NGINX_ROOT at /, and the same files at
#   /slow/      limit_rate $NGINX_SLOW_RATE (default 200k), to interrupt a download
#   /norange/   Range ignored: always 200 and the whole file
#   /chunked/   no Content-Length (chunked), as a proxy or a generated file may send
# and, for request checks: /echo/ (answers with the Authorization and
# X-Limpet-Test headers it got), /throttled/ (429, Retry-After: 3600),
# /busy/ (503, Retry-After: 1), /elsewhere/ (302 to /echo/ on a second port,
# $NGINX_PORT2: another host to a client) and /samehost/ (302 to /echo/),
# and WebDAV PUT under /status/ (written to $NGINX_ROOT/status/).
# PKI, in $NGINX_PKI: ca.pem signs server.pem (CN and SAN "localhost");
# client-ca.pem signs device.pem/device.key (CN pi-0042), the only client
# certificate nginx accepts; other-ca.pem/other-ca.key is a CA nobody uses.
: "${T:?source tap.sh first}"
NGINX_DIR=$T/nginx
NGINX_PKI=$NGINX_DIR/pki
NGINX_ROOT=$NGINX_DIR/www
NGINX_LOG=$NGINX_DIR/access.log
NGINX_SLOW_RATE=${NGINX_SLOW_RATE:-200k}
NGINX_PORT=
NGINX_PORT2=
NGINX_PID=

# _nginx_ca NAME CN: a self-signed EC P-256 CA, NAME.pem and NAME.key.
_nginx_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=$2" -keyout "$NGINX_PKI/$1.key" -out "$NGINX_PKI/$1.pem" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}

# _nginx_leaf NAME CN CA EXTENSIONS: NAME.pem/NAME.key signed by CA.
_nginx_leaf() {
	local name=$1 cn=$2 ca=$3
	printf '%s\n' "basicConstraints=critical,CA:FALSE" "$4" >"$NGINX_PKI/$name.ext"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cn" \
		-keyout "$NGINX_PKI/$name.key" -out "$NGINX_PKI/$name.csr" &&
		openssl x509 -req -in "$NGINX_PKI/$name.csr" -CA "$NGINX_PKI/$ca.pem" \
			-CAkey "$NGINX_PKI/$ca.key" -CAcreateserial -days 2 \
			-extfile "$NGINX_PKI/$name.ext" -out "$NGINX_PKI/$name.pem"
}

_nginx_pki() {
	mkdir -p "$NGINX_PKI"
	{
		_nginx_ca ca "limpet test CA" &&
			_nginx_leaf server localhost ca \
				"subjectAltName=DNS:localhost"$'\n'"extendedKeyUsage=serverAuth" &&
			_nginx_ca client-ca "limpet test device CA" &&
			_nginx_leaf device pi-0042 client-ca "extendedKeyUsage=clientAuth" &&
			_nginx_ca other-ca "some other CA"
	} >"$NGINX_DIR/pki.log" 2>&1 || { cat "$NGINX_DIR/pki.log" >&2; return 1; }
}

# A port nobody listens on right now (nginx_start tries again if it is taken meanwhile).
_nginx_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

_nginx_conf() {
	local d=$NGINX_DIR
	cat >"$d/nginx.conf" <<EOF
# One process, in the foreground, as root: no systemd, no user switching.
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections 64; }
http {
	types { application/x-tar tar; application/json json; }
	default_type application/octet-stream;
	client_body_temp_path $d/tmp/body;
	proxy_temp_path $d/tmp/proxy;
	fastcgi_temp_path $d/tmp/fastcgi;
	uwsgi_temp_path $d/tmp/uwsgi;
	scgi_temp_path $d/tmp/scgi;
	log_format bytes '\$request_method \$uri \$status \$bytes_sent \$body_bytes_sent "\$http_range"';
	access_log $NGINX_LOG bytes;
	etag on;
	server {
		listen 127.0.0.1:$NGINX_PORT ssl;
		server_name localhost;
		ssl_certificate $NGINX_PKI/server.pem;
		ssl_certificate_key $NGINX_PKI/server.key;
		ssl_client_certificate $NGINX_PKI/client-ca.pem;
		ssl_verify_client on;
		root $NGINX_ROOT;
		location / { }
		location /slow/ { alias $NGINX_ROOT/; limit_rate $NGINX_SLOW_RATE; }
		location /norange/ { alias $NGINX_ROOT/; max_ranges 0; }
		location /chunked/ {
			alias $NGINX_ROOT/;
			# a substitution that never matches still drops Content-Length
			sub_filter_types *;
			sub_filter 'limpet-never-matches' '';
		}
		# what a request carried, for checks of the headers limpet sends
		location /echo/ {
			default_type text/plain;
			return 200 "authorization=\$http_authorization test=\$http_x_limpet_test\n";
		}
		location /throttled/ { add_header Retry-After 3600 always; return 429; }
		location /busy/ { add_header Retry-After 1 always; return 503; }
		# another port: another host to libcurl (since 7.83.1)
		location /elsewhere/ { return 302 https://localhost:$NGINX_PORT2/echo/; }
		location /samehost/ { return 302 https://localhost:$NGINX_PORT/echo/; }
		location /status/ {
			dav_methods PUT;
			create_full_put_path on;
			dav_access user:rw group:r all:r;
		}
	}
	server {
		listen 127.0.0.1:$NGINX_PORT2 ssl;
		server_name localhost;
		ssl_certificate $NGINX_PKI/server.pem;
		ssl_certificate_key $NGINX_PKI/server.key;
		location /echo/ {
			default_type text/plain;
			return 200 "authorization=\$http_authorization test=\$http_x_limpet_test\n";
		}
	}
}
EOF
}

nginx_url() { echo "https://localhost:$NGINX_PORT/${1#/}"; }

# Up when our nginx (not whoever else may have taken the port) accepts connections.
_nginx_listening() {
	kill -0 "$NGINX_PID" 2>/dev/null &&
		! grep -q 'bind() to' "$NGINX_DIR/error.log" 2>/dev/null &&
		(: <"/dev/tcp/127.0.0.1/$NGINX_PORT") 2>/dev/null &&
		(: <"/dev/tcp/127.0.0.1/$NGINX_PORT2") 2>/dev/null
}

nginx_start() {
	local try
	command -v nginx >/dev/null || { echo "nginx_start: nginx is not installed (apt-get install nginx-core)" >&2; return 1; }
	[ -s "$NGINX_PKI/device.pem" ] || _nginx_pki || return 1
	mkdir -p "$NGINX_ROOT" "$NGINX_DIR/tmp"
	for try in 1 2 3; do
		NGINX_PORT=$(_nginx_free_port)
		NGINX_PORT2=$NGINX_PORT
		while [ "$NGINX_PORT2" = "$NGINX_PORT" ]; do NGINX_PORT2=$(_nginx_free_port); done
		_nginx_conf
		nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log" \
			>>"$NGINX_DIR/stdout.log" 2>&1 &
		NGINX_PID=$!
		if wait_for 10 _nginx_listening; then
			return 0
		fi
		kill "$NGINX_PID" 2>/dev/null
		wait "$NGINX_PID" 2>/dev/null
		NGINX_PID=
		grep -q 'Address already in use' "$NGINX_DIR/error.log" 2>/dev/null || break
		: >"$NGINX_DIR/error.log"
	done
	echo "nginx_start: nginx did not come up:" >&2
	tail -5 "$NGINX_DIR/error.log" >&2
	return 1
}

nginx_stop() {
	[ -n "$NGINX_PID" ] || return 0
	kill -TERM "$NGINX_PID" 2>/dev/null
	wait "$NGINX_PID" 2>/dev/null
	NGINX_PID=
}

# nginx_restart: stop it (every connection drops) and start it again on the same port.
nginx_restart() {
	nginx_stop
	nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log" \
		>>"$NGINX_DIR/stdout.log" 2>&1 &
	NGINX_PID=$!
	wait_for 10 _nginx_listening
}

nginx_requests() {
	local path="/${1#/}"
	awk -v p="$path" '$2 == p' "$NGINX_LOG" 2>/dev/null
}

nginx_bytes_sent_for() {
	nginx_requests "$1" | awk '{ n += $4 } END { print n + 0 }'
}

# tap.sh's EXIT trap removes $T, so nginx goes first; _finish still sees the exit status.
trap '_nginx_rc=$?; nginx_stop; (exit $_nginx_rc); _finish' EXIT
