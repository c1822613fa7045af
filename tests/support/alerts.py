"""A local webhook for Alertmanager's `webhook` receiver, keeping every alert it is sent."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse


class AlertReceiver:
    """The local webhook that Alertmanager's `webhook` receiver posts to: keeps every alert."""

    def __init__(self, url: str) -> None:
        self.alerts: list[dict[str, Any]] = []
        received = self.alerts
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    received.extend(json.loads(body).get("alerts", []))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        parsed = urlparse(url)
        self.server = ThreadingHTTPServer(
            (parsed.hostname or "127.0.0.1", parsed.port or 80), Handler
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def firing(self) -> list[dict[str, Any]]:
        return [a for a in list(self.alerts) if a.get("status") == "firing"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
