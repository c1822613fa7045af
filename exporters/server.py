"""The shard's HTTP endpoint: /metrics (gzip when asked), /ready, /healthz."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from core.security.tls import http_server
from exporters.exposition import CONTENT_TYPE
from exporters.shard import ShardState

log = logging.getLogger(__name__)


def accepts_gzip(header: str | None) -> bool:
    """Whether an Accept-Encoding header allows gzip (and does not refuse it with q=0)."""
    for item in (header or "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() != "gzip":
            continue
        quality = params.strip().replace(" ", "")
        if not quality.startswith("q="):
            return True
        try:
            return float(quality[2:]) > 0
        except ValueError:
            return False
    return False


class Authenticator(Protocol):
    """Checks an Authorization header (``core.security.BasicAuth``)."""

    realm: str

    def check(self, header: str | None) -> bool: ...


def make_server(
    state: ShardState,
    host: str,
    port: int,
    clock: Callable[[], float] = time.perf_counter,
    *,
    tls: ssl.SSLContext | None = None,
    auth: Authenticator | None = None,
) -> ThreadingHTTPServer:
    """A threaded HTTP server serving the shard; call serve_forever() and shutdown().

    With `tls` it serves HTTPS only; with `auth` every request must authenticate (401 else).
    """

    class Handler(BaseHTTPRequestHandler):
        server_version = "devmetrics-exporter"
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if auth is not None and not auth.check(self.headers.get("Authorization")):
                self.send_response(401)
                self.send_header("WWW-Authenticate", f'Basic realm="{auth.realm}"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._metrics()
            elif path == "/ready":
                ready = state.caught_up
                self._send(200 if ready else 503, b"ready\n" if ready else b"catching up\n")
            elif path == "/healthz":
                self._send(200, b"ok\n")
            else:
                self._send(404, b"not found; try /metrics\n")

        def _metrics(self) -> None:
            started = clock()
            body, encoding = state.scrape(accepts_gzip(self.headers.get("Accept-Encoding")))
            self._send(200, body, CONTENT_TYPE, encoding)
            state.observe_scrape(clock() - started, len(body))

        def _send(
            self,
            status: int,
            body: bytes,
            content_type: str = "text/plain; charset=utf-8",
            encoding: str | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if encoding:
                self.send_header("Content-Encoding", encoding)
            self.send_header("Vary", "Accept-Encoding")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return http_server("the exporter shard", host, port, Handler, tls)
