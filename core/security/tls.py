"""TLS contexts and HTTP basic authentication for the services this project serves itself
(exporter shards, processor /metrics)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import socket
import ssl
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt

from core.errors import listening
from core.security.errors import SecurityError

log = logging.getLogger(__name__)

BCRYPT_ROUNDS = 10


def server_context(
    cert_file: Path, key_file: Path, client_ca_file: Path | None = None
) -> ssl.SSLContext:
    """A TLS 1.2+ server context; with `client_ca_file`, clients must show a cert it signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert_file), str(key_file))
        if client_ca_file is not None:
            context.load_verify_locations(cafile=str(client_ca_file))
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise SecurityError(f"cannot load the server certificate {cert_file}: {exc}") from exc
    return context


def client_context(
    ca_file: Path | None, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """A client context verifying the server against `ca_file` (the system's authorities when
    None), host name included."""
    try:
        context = ssl.create_default_context(cafile=None if ca_file is None else str(ca_file))
        if cert_file is not None and key_file is not None:
            context.load_cert_chain(str(cert_file), str(key_file))
    except (OSError, ssl.SSLError) as exc:
        raise SecurityError(f"cannot load the trusted authorities {ca_file}: {exc}") from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def hash_password(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    """A bcrypt hash, as Prometheus' and Alertmanager's web configuration want."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def basic_auth_header(user: str, password: str) -> str:
    """The Authorization header value of HTTP basic authentication."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class BasicAuth:
    """Checks Authorization headers against bcrypt hashes per user.

    bcrypt costs milliseconds by design; a header that passed once is remembered by its
    SHA-256 (never the header itself), so a scrape every few seconds does not pay it again.
    """

    def __init__(self, hashes: Mapping[str, str], realm: str = "devmetrics") -> None:
        if not hashes:
            raise SecurityError("basic authentication needs at least one user")
        self._hashes = {user: h.encode() for user, h in hashes.items()}
        self.realm = realm
        self._accepted: set[bytes] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_passwords(cls, passwords: Mapping[str, str], realm: str = "devmetrics") -> BasicAuth:
        return cls({user: hash_password(pw) for user, pw in passwords.items()}, realm)

    def check(self, header: str | None) -> bool:
        """True when the header names a known user with the right password."""
        if not header or not header.startswith("Basic "):
            return False
        digest = hashlib.sha256(header.encode()).digest()
        with self._lock:
            if any(hmac.compare_digest(digest, seen) for seen in self._accepted):
                return True
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        stored = self._hashes.get(user)
        if stored is None or not bcrypt.checkpw(password.encode(), stored):
            return False
        with self._lock:
            self._accepted.add(digest)
        return True


class TLSThreadingHTTPServer(ThreadingHTTPServer):
    """Wraps each accepted connection in TLS (set ``tls``); the handshake runs in the request's
    thread, so a slow or hostile client never holds up the accept loop."""

    tls: ssl.SSLContext

    def get_request(self) -> tuple[socket.socket, object]:
        conn, addr = super().get_request()
        return self.tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: object, client_address: object) -> None:
        log.debug("connection from %s failed", client_address, exc_info=True)


def http_server(
    what: str,
    host: str,
    port: int,
    handler: type[BaseHTTPRequestHandler],
    tls: ssl.SSLContext | None = None,
) -> ThreadingHTTPServer:
    """A threading HTTP server for `what`, HTTPS when `tls` is given; a port that is taken
    stops start-up with one line naming `what` and the address (core.errors.PortTaken)."""

    def bind() -> ThreadingHTTPServer:
        if tls is None:
            return ThreadingHTTPServer((host, port), handler)
        server = TLSThreadingHTTPServer((host, port), handler)
        server.tls = tls
        return server

    server = listening(host, port, what, bind)
    server.daemon_threads = True
    return server
