#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""token_issuer: the token server of a docker-registry 2.8 in token auth mode.

Registries that use bearer tokens (Docker Hub, GHCR, Harbor, a distribution
registry with `auth: token:`) send clients to a separate HTTPS service for a
JWT naming what they may do; limpet must speak that dance, so its tests run
one. This is that service, as distribution v2.8.2 `registry/auth/token`
verifies it and `docs/spec/auth/token.md` describes it, and nothing more.

  GET /token?service=S&scope=repository:NAME:ACTIONS[&scope=...][&account=U]
      S must be --service. With `Authorization: Basic` the user and password
      must be in --users (else 401); the token grants, per scope, the
      requested actions the user may do (--users) on any repository.
      Without credentials (anonymous) only `pull` on repositories named
      public/*; a scope outside that is left out of the token (an empty
      grant, as Docker Hub does), so the registry answers insufficient_scope.
  Reply 200 {"token": JWT, "access_token": JWT, "expires_in": E, "issued_at": T}.

The JWT: header {"typ":"JWT","alg":"ES256","x5c":[signing cert]}, claims iss,
sub, aud (a string: 2.8 fails to parse an array), exp, nbf, iat, jti, access;
signature raw r||s over "b64url(header).b64url(claims)". The signing cert is
self-signed (EC P-256) and is the registry's whole `rootcertbundle`: made at
start when --sign-cert/--sign-key do not exist yet.

--stale-first: the first token of each scope set that asks only to pull is
already expired (exp 300 s ago, beyond the registry's 60 s leeway) while
expires_in still says E: the registry answers error="invalid_token" and a
client must fetch a new one. Tokens to push are always good: skopeo 1.9.3
does not ask again, and it is what fills the registry.

Every request is one line in --log:
  TOKEN account=U|- scope=S1 S2 status=200 granted=repository:app:pull,push;... stale=0|1
so tests can count the token requests a client made.

/usr/bin/python3 (python3-cryptography); 127.0.0.1 only; the port is written to
--port-file once it is listening (--port 0 lets the kernel choose).
"""

import argparse
import base64
import datetime
import hmac
import http.server
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from tlsserver import run, serve_tls, write_atomic

MAX_QUERY = 8192


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def signing_identity(cert_path, key_path):
    """(key, cert DER): loaded, or made and written when either file is missing."""
    if os.path.exists(cert_path) and os.path.exists(key_path):
        with open(key_path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        with open(cert_path, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        return key, cert.public_bytes(serialization.Encoding.DER)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "limpet test token signer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    # No extended key usage: Go then accepts the certificate for any use.
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .sign(key, hashes.SHA256()))
    write_private(key_path, key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return key, cert.public_bytes(serialization.Encoding.DER)


def write_private(path, data):
    write_atomic(path, data, 0o600)


def load_users(path):
    """user -> (password, set of actions): lines USER:PASSWORD[:ACTION,...]
    (default pull,push); # comments and blank lines skipped."""
    users = {}
    if not path:
        return users
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split(":", 2)
            if len(parts) < 2:
                raise ValueError("%s: expected USER:PASSWORD[:ACTIONS], got %r" % (path, line))
            actions = parts[2].split(",") if len(parts) == 3 else ["pull", "push"]
            users[parts[0]] = (parts[1], set(a for a in actions if a))
    return users


def parse_scope(s):
    """repository:NAME:A,B -> (type, name, [actions]); NAME may hold ':'
    (a host:port), so split at the first and the last colon."""
    typ, sep, rest = s.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not typ or not name:
        return None
    return typ, name, [a for a in actions.split(",") if a]


class Issuer:
    def __init__(self, a):
        self.a = a
        self.key, self.cert_der = signing_identity(a.sign_cert, a.sign_key)
        self.users = load_users(a.users)
        self.seen_scopes = set()
        self.lock = threading.Lock()
        self.log = open(a.log, "a", encoding="utf-8", buffering=1) if a.log else sys.stderr

    def note(self, line):
        with self.lock:
            self.log.write(line + "\n")
            self.log.flush()

    def grant(self, user, scopes):
        """The access list a token for these scopes carries."""
        access = []
        for typ, name, actions in scopes:
            if typ != "repository":
                continue
            if user is None:
                allowed = {"pull"} if name.startswith("public/") else set()
            else:
                allowed = self.users[user][1]
            ok = [x for x in actions if x in allowed]
            if ok:
                access.append({"type": typ, "name": name, "actions": ok})
        return access

    def token(self, user, access, exp, now):
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {"iss": self.a.issuer, "sub": user or "", "aud": self.a.service, "exp": exp,
                  "nbf": now - 1, "iat": now, "jti": secrets.token_hex(16), "access": access}
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def stale(self, scopes):
        """--stale-first: True for the first request of each pull-only scope set."""
        if not self.a.stale_first or any(a != "pull" for _, _, actions in scopes for a in actions):
            return False
        scope_key = " ".join(sorted("%s:%s:%s" % (t, n, ",".join(sorted(a))) for t, n, a in scopes))
        with self.lock:
            if scope_key in self.seen_scopes:
                return False
            self.seen_scopes.add(scope_key)
            return True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "limpet-token-issuer"

    def log_message(self, fmt, *args):   # the request log is ours (Issuer.note)
        pass

    def reply(self, status, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, msg, account, scopes, extra=None):
        self.server.issuer.note("TOKEN account=%s scope=%s status=%d granted= stale=0" %
                                (account or "-", " ".join(scopes), status))
        self.reply(status, {"errors": [{"code": code, "message": msg}]}, extra)

    def authenticated_user(self):
        """(ok, user): user None = anonymous; ok False = bad credentials."""
        auth = self.headers.get("Authorization")
        if auth is None:
            return True, None
        scheme, _, cred = auth.partition(" ")
        if scheme.lower() != "basic":
            return False, None
        try:
            user, sep, password = base64.b64decode(cred.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False, None
        known = self.server.issuer.users.get(user)
        if not sep or known is None or not hmac.compare_digest(known[0].encode(), password.encode()):
            return False, user or None
        return True, user

    def do_GET(self):
        iss = self.server.issuer
        url = urllib.parse.urlsplit(self.path)
        if len(url.query) > MAX_QUERY:
            self.error(400, "UNSUPPORTED", "query too long", None, [])
            return
        q = urllib.parse.parse_qs(url.query)
        raw_scopes = [s for v in q.get("scope", []) for s in v.split(" ") if s]
        account = (q.get("account") or [None])[0]
        if url.path != "/token":
            self.error(404, "NOT_FOUND", "no such endpoint", account, raw_scopes)
            return
        if (q.get("service") or [None])[0] != iss.a.service:
            self.error(400, "UNSUPPORTED", "service must be %s" % iss.a.service, account, raw_scopes)
            return
        ok, user = self.authenticated_user()
        if not ok:
            self.error(401, "UNAUTHORIZED", "wrong user name or password", user or account, raw_scopes,
                       {"WWW-Authenticate": 'Basic realm="%s"' % iss.a.issuer})
            return
        scopes = [p for p in (parse_scope(s) for s in raw_scopes) if p]
        access = iss.grant(user, scopes)
        now = int(time.time())
        stale = iss.stale(scopes)
        exp = now - 300 if stale else now + iss.a.expires_in
        jwt = iss.token(user, access, exp, now)
        granted = ";".join("%s:%s:%s" % (x["type"], x["name"], ",".join(x["actions"])) for x in access)
        iss.note("TOKEN account=%s scope=%s status=200 granted=%s stale=%d" %
                 (user or "-", " ".join(raw_scopes), granted, int(stale)))
        self.reply(200, {"token": jwt, "access_token": jwt, "expires_in": iss.a.expires_in,
                         "issued_at": rfc3339(now)})

    def do_POST(self):
        # Docker's OAuth2 form POST: answer 404 so clients fall back to GET
        # (and never read an unbounded body).
        self.close_connection = True
        self.error(404, "NOT_FOUND", "use GET /token", None, [])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free one)")
    p.add_argument("--port-file", help="written with the port once listening")
    p.add_argument("--cert", required=True, help="HTTPS server certificate (PEM)")
    p.add_argument("--key", required=True, help="its private key (PEM)")
    p.add_argument("--sign-cert", required=True, help="token signing certificate (made if missing)")
    p.add_argument("--sign-key", required=True, help="its private key (made if missing)")
    p.add_argument("--users", help="USER:PASSWORD[:ACTION,...] lines")
    p.add_argument("--log", help="request log (default stderr)")
    p.add_argument("--service", default="limpet-registry")
    p.add_argument("--issuer", default="limpet-test-issuer")
    p.add_argument("--expires-in", type=int, default=300, help="token lifetime in seconds (default 300)")
    p.add_argument("--stale-first", action="store_true",
                   help="the first pull-only token of each scope set is already expired")
    a = p.parse_args(argv)

    return run(serve_tls(Handler, a.cert, a.key, a.port, a.port_file, issuer=Issuer(a)))


if __name__ == "__main__":
    sys.exit(main())
