"""The receiver's HTTP endpoint: POST /webhooks/<source>, GET /metrics and /healthz.

Threaded (one thread per connection, keep-alive), bounded bodies, HTTPS when given a TLS
context, and basic auth on /metrics when given an authenticator; the webhooks themselves are
authenticated by their sources' signatures (producers/receiver/verify.py).
"""

from __future__ import annotations

import json
import logging
import ssl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from core.security.tls import http_server
from producers.receiver.service import ROUTES, ReceiverService

log = logging.getLogger(__name__)


class Authenticator(Protocol):
    """Checks an Authorization header (``core.security.BasicAuth``)."""

    realm: str

    def check(self, header: str | None) -> bool: ...


def make_server(
    service: ReceiverService,
    host: str,
    port: int,
    *,
    max_body_bytes: int,
    tls: ssl.SSLContext | None = None,
    metrics_auth: Authenticator | None = None,
) -> ThreadingHTTPServer:
    """A threaded HTTP(S) server for the receiver; call serve_forever() and shutdown()."""
    telemetry = service.telemetry

    class Handler(BaseHTTPRequestHandler):
        server_version = "devmetrics-receiver"
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm holds
        # the body back for the client's delayed ACK (~40 ms per keep-alive request).
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            source = ROUTES.get(self.path.split("?", 1)[0])
            if source is None:
                self._discard_body()
                self._json(404, {"status": "rejected", "reason": "unknown_path"})
                return
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                telemetry.rejected.labels(source, "no_length").inc()
                self.close_connection = True
                self._json(411, {"status": "rejected", "reason": "no_length"})
                return
            if int(length) > max_body_bytes:
                telemetry.rejected.labels(source, "too_large").inc()
                telemetry.requests.labels(source, "413").inc()
                # The body is not read: close the connection instead of draining it.
                self.close_connection = True
                self._json(413, {"status": "rejected", "reason": "too_large"})
                return
            body = self.rfile.read(int(length))
            headers = {k.lower(): v for k, v in self.headers.items()}
            response = service.handle(source, headers, body)
            self._json(response.status, response.body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._send(200, b"ok\n", "text/plain; charset=utf-8")
            elif path == "/metrics":
                if metrics_auth is not None and not metrics_auth.check(
                    self.headers.get("Authorization")
                ):
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", f'Basic realm="{metrics_auth.realm}"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._send(200, generate_latest(telemetry.registry), CONTENT_TYPE_LATEST)
            else:
                self._send(404, b"not found; POST /webhooks/<source>\n", "text/plain")

        def _discard_body(self) -> None:
            length = self.headers.get("Content-Length", "0")
            if length.isdigit() and int(length) <= max_body_bytes:
                self.rfile.read(int(length))
            else:
                self.close_connection = True

        def _json(self, status: int, body: dict[str, object]) -> None:
            self._send(status, json.dumps(body).encode() + b"\n", "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return http_server("the webhook receiver", host, port, Handler, tls)
