#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""hostile_registry: an OCI registry that misbehaves on purpose.

limpet pulls from registries it does not control; a registry (or whoever sits
in its place) may send too much, the wrong bytes, never stop, redirect
forever, send a token elsewhere, stall, refuse every token or ask to slow
down. This serves one good image (an OCI layout directory or archive, read
with ocitool.py) with the distribution API a client needs (GET /v2/,
manifests by tag and digest, blobs, HEAD, Range -> 206), under
/v2/<PREFIX>/<NAME>/..., where PREFIX picks the behaviour and NAME is any
repository name (app, some/app):

  good/         everything right (skopeo can pull it)
  long/         layer blobs 1 MiB longer than their descriptors
  wrongdigest/  layer blobs of the right size, one byte changed
  endless/      manifests that never end: no Content-Length, a valid JSON
                start and then spaces, until --endless-max bytes
  endless404/   manifests answered 404 with an error body that never ends
                (the same bounds)
  endless307/   layer blobs answered 307 to good/'s copy, with a body that
                never ends (the same bounds)
  loop/         layer blobs answered 307 to themselves
  dropwrong/    layer blobs: half of them, one byte changed, then the
                connection drops (a partial download that is not the blob's
                start, for a client to resume elsewhere)
  offhost/      manifests and blobs need a bearer token (challenge, then
                GET /token here); layer blobs answered 307 to
                https://localhost:PORT2/... (same host name and address,
                another port: another host for libcurl since 7.83.1), a
                second server that serves the blob and logs whether an
                Authorization header came along (it must not)
  trickle/      layer blobs at --trickle-rate bytes a second (default 1),
                for --trickle-max seconds, then the connection is closed
  401loop/      manifests and blobs always 401 with a fresh Bearer challenge
                (error="invalid_token" once a token was sent); /token
                hands out tokens all the same
  429/          the first request for each URL (method and path) gets 429
                with Retry-After: 2 and a TOOMANYREQUESTS body; later ones
                are good

Tags are the org.opencontainers.image.ref.name annotations of index.json
(an entry without one is "latest"); a tag naming an image index serves the
index, its manifests by digest. Other methods get 405.

Log (--log), one line per request, for tests to count and grep:
  REQ METHOD PATH status=N bytes=B auth=none|basic|bearer
  TOKEN scope=S service=S account=U
  OFFHOST METHOD PATH status=N bytes=B authorization=yes|no

Everything is bounded: 127.0.0.1 only, a 10 s read timeout per connection,
no request bodies read, trickle and endless replies limited in time and
bytes. The port is written to --port-file once both servers listen.
/usr/bin/python3 (standard library only).
"""

import argparse
import json
import sys
import threading
import time
import urllib.parse
import http.server

import ocitool
from tlsserver import run, serve_tls

MT_INDEXES = (ocitool.MT_INDEX, ocitool.MT_DOCKER_LIST)
PREFIXES = ("good", "long", "wrongdigest", "endless", "endless404", "endless307", "loop", "dropwrong",
            "offhost", "trickle", "401loop", "429")
EXTRA_LONG = 1 << 20
CHUNK = 64 * 1024
TOKEN_SCOPE_SERVICE = "hostile-registry"


class Image:
    """The good image: tag -> digest, digest -> (media type, manifest bytes), blobs."""

    def __init__(self, spec):
        lay, _, _ = ocitool.load(spec)
        self.blobs = {}
        for name, data in lay.files.items():
            if name.startswith("blobs/sha256/"):
                self.blobs["sha256:" + name.rsplit("/", 1)[1]] = data
        self.tags, self.manifests, self.layers = {}, {}, set()
        for desc in lay.index().get("manifests") or []:
            tag = (desc.get("annotations") or {}).get(ocitool.REF_NAME) or "latest"
            self.tags[tag] = desc["digest"]
            self._walk(desc, 0)

    def _walk(self, desc, depth):
        d = desc["digest"]
        data = self.blobs[d]
        mt = desc.get("mediaType") or json.loads(data).get("mediaType") or ocitool.MT_MANIFEST
        self.manifests[d] = (mt, data)
        body = json.loads(data)
        if mt in MT_INDEXES and depth < 4:
            for sub in body.get("manifests") or []:
                self._walk(sub, depth + 1)
        else:
            for layer in body.get("layers") or []:
                self.layers.add(layer["digest"])


class Hostile:
    def __init__(self, a):
        self.a = a
        self.image = Image(a.layout)
        self.lock = threading.Lock()
        self.log = open(a.log, "a", encoding="utf-8", buffering=1) if a.log else sys.stderr
        self.seen_429 = set()
        self.tokens = 0
        self.offhost_port = None

    def note(self, line):
        with self.lock:
            self.log.write(line + "\n")
            self.log.flush()

    def first_429(self, key):
        with self.lock:
            if key in self.seen_429:
                return False
            self.seen_429.add(key)
            return True

    def new_token(self):
        with self.lock:
            self.tokens += 1
            return "hostile-token-%d" % self.tokens


def parse_range(header, size):
    """(start, end) inclusive for 'bytes=N-' or 'bytes=N-M' within size, else None."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].partition("-")
    try:
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


class Base(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "limpet-hostile-registry"

    def log_message(self, fmt, *args):
        pass

    def head_only(self):
        return self.command == "HEAD"

    def send(self, status, body=b"", headers=None, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not self.head_only():
            self.wfile.write(body)
        self.status, self.sent = status, 0 if self.head_only() else len(body)

    def error(self, status, code, msg, headers=None):
        self.send(status, json.dumps({"errors": [{"code": code, "message": msg}]}).encode(), headers)

    def send_blob(self, data, headers=None):
        """data, or the part a Range asks for (206)."""
        rng = parse_range(self.headers.get("Range"), len(data))
        if rng is not None:
            h = dict(headers or {})
            h["Content-Range"] = "bytes %d-%d/%d" % (rng[0], rng[1], len(data))
            self.send(206, data[rng[0]:rng[1] + 1], h, "application/octet-stream")
        else:
            self.send(200, data, headers, "application/octet-stream")

    def refuse_method(self):
        self.close_connection = True
        self.error(405, "UNSUPPORTED", "this registry only serves GET and HEAD")


class Handler(Base):
    def auth_kind(self):
        auth = self.headers.get("Authorization") or ""
        return auth.split(" ", 1)[0].lower() or "none"

    def do_GET(self):
        self.status, self.sent = 0, 0
        try:
            self.route()
        finally:
            self.server.hostile.note("REQ %s %s status=%d bytes=%d auth=%s" % (
                self.command, self.path, self.status, self.sent, self.auth_kind()))

    do_HEAD = do_GET

    def do_POST(self):
        self.status, self.sent = 0, 0
        self.refuse_method()
        self.server.hostile.note("REQ %s %s status=%d bytes=0 auth=%s" % (
            self.command, self.path, self.status, self.auth_kind()))

    do_PUT = do_PATCH = do_DELETE = do_POST

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/v2/":
            self.send(200, b"{}")
            return
        if url.path == "/token":
            self.token(url)
            return
        parts = url.path.split("/")
        # /v2/PREFIX/NAME.../(manifests|blobs)/REF
        if len(parts) < 6 or parts[0] != "" or parts[1] != "v2" or parts[-2] not in ("manifests", "blobs"):
            self.error(404, "NOT_FOUND", "no such endpoint")
            return
        prefix, repo, kind, ref = parts[2], "/".join(parts[2:-2]), parts[-2], parts[-1]
        if prefix not in PREFIXES:
            self.error(404, "NAME_UNKNOWN", "repository name not known to registry")
            return
        getattr(self, "mode_" + ("x" + prefix if prefix[0].isdigit() else prefix))(url, repo, kind, ref)

    # --- the good image
    def serve(self, kind, ref, layer_bytes=None):
        img = self.server.hostile.image
        if kind == "manifests":
            d = img.tags.get(ref, ref)
            if d not in img.manifests:
                self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
                return
            mt, data = img.manifests[d]
            self.send(200, data, {"Docker-Content-Digest": d, "ETag": '"%s"' % d}, mt)
            return
        if ref not in img.blobs:
            self.error(404, "BLOB_UNKNOWN", "blob unknown to registry")
            return
        data = img.blobs[ref]
        if layer_bytes is not None and ref in img.layers:
            data = layer_bytes(data)
        self.send_blob(data, {"Docker-Content-Digest": ref})

    def is_layer(self, kind, ref):
        return kind == "blobs" and ref in self.server.hostile.image.layers

    def mode_good(self, url, repo, kind, ref):
        self.serve(kind, ref)

    def mode_long(self, url, repo, kind, ref):
        self.serve(kind, ref, lambda data: data + b"\0" * EXTRA_LONG)

    def mode_wrongdigest(self, url, repo, kind, ref):
        def flip(data):
            if not data:
                return data
            b = bytearray(data)
            b[len(b) // 2] ^= 0xFF
            return bytes(b)
        self.serve(kind, ref, flip)

    def endless_reply(self, status, ctype, start, headers=None):
        """status with a body that starts with start, then spaces, within the endless
        bounds; it says it is --endless-max bytes long, if a Content-Length is given."""
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if "Content-Length" not in (headers or {}):
            self.send_header("Connection", "close")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.status, self.sent = status, 0
        chunk = b" " * CHUNK
        deadline = time.monotonic() + self.server.hostile.a.endless_seconds
        try:
            self.wfile.write(start)
            while self.sent < self.server.hostile.a.endless_max and time.monotonic() < deadline:
                self.wfile.write(chunk)
                self.sent += len(chunk)
        except OSError:
            pass

    def mode_endless(self, url, repo, kind, ref):
        if kind != "manifests" or self.head_only():
            self.serve(kind, ref)
            return
        img = self.server.hostile.image
        mt = img.manifests.get(img.tags.get(ref, ref), (ocitool.MT_MANIFEST,))[0]
        self.endless_reply(200, mt, b'{"schemaVersion":2,"mediaType":"%s",' % mt.encode())

    def mode_endless404(self, url, repo, kind, ref):
        if kind != "manifests" or self.head_only():
            self.serve(kind, ref)
            return
        self.endless_reply(404, "application/json", b'{"errors":[{"code":"MANIFEST_UNKNOWN",')

    def mode_endless307(self, url, repo, kind, ref):
        if not self.is_layer(kind, ref) or self.head_only():
            self.serve(kind, ref)
            return
        good = "/v2/good/%s/blobs/%s" % ("/".join(url.path.split("/")[3:-2]), ref)
        # a length, so that the connection may stay: a client reads the body to reuse it
        self.endless_reply(307, "text/html", b"<html>", {"Location": good,
                                                          "Content-Length": str(self.server.hostile.a.endless_max)})

    def mode_dropwrong(self, url, repo, kind, ref):
        if not self.is_layer(kind, ref) or self.head_only():
            self.serve(kind, ref)
            return
        data = bytearray(self.server.hostile.image.blobs[ref])
        half = len(data) // 2
        data[half // 2] ^= 0xFF
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.status, self.sent = 200, half
        try:
            self.wfile.write(bytes(data[:half]))
            self.wfile.flush()
        except OSError:
            pass

    def mode_loop(self, url, repo, kind, ref):
        if self.is_layer(kind, ref):
            self.send(307, b"", {"Location": self.path})
        else:
            self.serve(kind, ref)

    def require_token(self, repo, always=False):
        """Send a Bearer challenge and return False unless a Bearer token came."""
        h = self.server.hostile
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer ") and not always:
            return True
        challenge = 'Bearer realm="https://localhost:%d/token",service="%s",scope="repository:%s:pull"' % (
            self.server.server_address[1], TOKEN_SCOPE_SERVICE, repo)
        if auth.startswith("Bearer "):
            challenge += ',error="invalid_token"'
        self.error(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge})
        return False

    def token(self, url):
        q = urllib.parse.parse_qs(url.query)
        self.server.hostile.note("TOKEN scope=%s service=%s account=%s" % (
            " ".join(q.get("scope", [])), (q.get("service") or ["-"])[0], (q.get("account") or ["-"])[0]))
        now = int(time.time())
        tok = self.server.hostile.new_token()
        self.send(200, json.dumps({"token": tok, "access_token": tok, "expires_in": 300,
                                   "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}).encode())

    def mode_offhost(self, url, repo, kind, ref):
        if not self.require_token(repo):
            return
        if self.is_layer(kind, ref):
            port = self.server.hostile.offhost_port
            self.send(307, b"", {"Location": "https://localhost:%d/offhost-blobs/%s" % (port, ref)})
        else:
            self.serve(kind, ref)

    def mode_trickle(self, url, repo, kind, ref):
        if not self.is_layer(kind, ref) or self.head_only():
            self.serve(kind, ref)
            return
        data = self.server.hostile.image.blobs[ref]
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Docker-Content-Digest", ref)
        self.end_headers()
        self.status, self.sent = 200, 0
        deadline = time.monotonic() + self.server.hostile.a.trickle_max
        try:
            rate = self.server.hostile.a.trickle_rate
            while self.sent < len(data) and time.monotonic() < deadline:
                chunk = data[self.sent:self.sent + rate]
                self.wfile.write(chunk)
                self.wfile.flush()
                self.sent += len(chunk)
                time.sleep(1)
        except OSError:
            pass

    def mode_x401loop(self, url, repo, kind, ref):
        self.require_token(repo, always=True)

    def mode_x429(self, url, repo, kind, ref):
        if self.server.hostile.first_429((self.command, url.path)):
            self.error(429, "TOOMANYREQUESTS", "too many requests", {"Retry-After": "2"})
        else:
            self.serve(kind, ref)


class OffhostHandler(Base):
    """The redirect target of offhost/: serves blobs, tells whether a token came along."""

    def do_GET(self):
        self.status, self.sent = 0, 0
        img = self.server.hostile.image
        d = urllib.parse.urlsplit(self.path).path.rsplit("/", 1)[-1]
        try:
            if self.path.startswith("/offhost-blobs/") and d in img.blobs:
                self.send_blob(img.blobs[d], {"Docker-Content-Digest": d})
            else:
                self.error(404, "BLOB_UNKNOWN", "blob unknown")
        finally:
            self.server.hostile.note("OFFHOST %s %s status=%d bytes=%d authorization=%s" % (
                self.command, self.path, self.status, self.sent,
                "yes" if "Authorization" in self.headers else "no"))

    do_HEAD = do_GET

    def do_POST(self):
        self.refuse_method()

    do_PUT = do_PATCH = do_DELETE = do_POST


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--layout", required=True, help="the good image: OCI layout DIR or archive FILE")
    p.add_argument("--cert", required=True, help="HTTPS server certificate (PEM), for localhost")
    p.add_argument("--key", required=True)
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free one)")
    p.add_argument("--port-file", help="written with the port once both servers listen")
    p.add_argument("--log", help="request log (default stderr)")
    p.add_argument("--trickle-max", type=int, default=60, help="seconds a trickle lasts at most (default 60)")
    p.add_argument("--trickle-rate", type=int, default=1, help="bytes a second it sends (default 1)")
    p.add_argument("--endless-max", type=int, default=64 << 20,
                   help="bytes an endless manifest sends at most (default 64 MiB)")
    p.add_argument("--endless-seconds", type=int, default=60, help="and seconds (default 60)")
    a = p.parse_args(argv)
    try:
        hostile = Hostile(a)
    except (ocitool.OciError, OSError, ValueError, KeyError) as e:
        print("hostile_registry: %s: %s" % (a.layout, e), file=sys.stderr)
        return 1
    off = serve_tls(OffhostHandler, a.cert, a.key, hostile=hostile)
    hostile.offhost_port = off.server_address[1]
    threading.Thread(target=off.serve_forever, daemon=True).start()
    return run(serve_tls(Handler, a.cert, a.key, a.port, a.port_file, hostile=hostile))


if __name__ == "__main__":
    sys.exit(main())
