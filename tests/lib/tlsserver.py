# SPDX-License-Identifier: Apache-2.0
"""What the Python test servers (token_issuer.py, hostile_registry.py) share:
an HTTPS server on 127.0.0.1 that lets no client hold up another, and files
written so that a reader never sees half of one (the port file the shell
waits for)."""

import http.server
import os
import socketserver
import ssl
import sys

READ_TIMEOUT_S = 10


def write_atomic(path, data, mode=0o644):
    tmp = "%s.tmp%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """One thread per connection; socket reads time out after READ_TIMEOUT_S."""
    daemon_threads = True

    def get_request(self):
        sock, addr = super().get_request()
        sock.settimeout(READ_TIMEOUT_S)
        return sock, addr

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the request's thread, with the
        # timeout set: a client that stalls in it holds up nobody else.
        try:
            request.do_handshake()
        except (OSError, ssl.SSLError):
            return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        # a client that went away mid-reply is no news in a test; a bug is
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            super().handle_error(request, client_address)


def serve_tls(handler, cert, key, port=0, port_file=None, **attrs):
    """A Server for handler on 127.0.0.1:port (0: the kernel's choice) over
    TLS, with attrs set on it, its port written to port_file once it
    listens. Returns the server; call serve_forever() on it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = Server(("127.0.0.1", port), handler)
    for k, v in attrs.items():
        setattr(srv, k, v)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    if port_file:
        write_atomic(port_file, b"%d\n" % srv.server_address[1])
    return srv


def run(srv):
    """Serve until killed (SIGTERM, as the shell stops it, or ^C); exit status 0."""
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
