"""Instant PromQL queries against Prometheus or VictoriaMetrics, as the operator: over HTTPS
with the operator's login when the stack is secured. A refused login, an unreachable server
or a bad query raises QueryError naming the endpoint, never an empty answer."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from core.settings import Settings


class QueryError(Exception):
    """The query endpoint could not answer: the message names it and says why. `refused` is
    set when it refused the credentials (waiting longer cannot help)."""

    def __init__(self, message: str, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


class PromClient:
    """Instant queries against one Prometheus-compatible endpoint."""

    def __init__(
        self, settings: Settings, url: str, user: str = "operator", timeout_s: float = 10.0
    ) -> None:
        """`user` logs in when the stack is secured: `operator` for Prometheus, the one user
        VictoriaMetrics knows (core.security.web.VM_USER) for VictoriaMetrics."""
        self.url = url
        self.user = user
        self.timeout_s = timeout_s
        self.headers: dict[str, str] = {}
        self.context: ssl.SSLContext | None = None
        if settings.security.enabled:
            from core.security.material import Material
            from core.security.tls import basic_auth_header, client_context

            material = Material(settings.security.dir)
            self.context = client_context(material.ca_file)
            self.headers["Authorization"] = basic_auth_header(user, material.secret("http", user))

    def query(self, promql: str, **params: str) -> list[dict[str, Any]]:
        """The result vector of an instant query."""
        return self._get("query", promql, params)

    def query_range(
        self, promql: str, start: float, end: float, step_s: float, **params: str
    ) -> list[dict[str, Any]]:
        """The result matrix of a range query: one entry a series, with its ``values``."""
        window = {"start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_s:g}"}
        return self._get("query_range", promql, {**window, **params})

    def _get(self, api: str, promql: str, params: dict[str, str]) -> list[dict[str, Any]]:
        qs = urllib.parse.urlencode({"query": promql, **params})
        request = urllib.request.Request(f"{self.url}/api/v1/{api}?{qs}", headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s, context=self.context) as r:
                body = json.loads(r.read())
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise QueryError(
                    f"{self.url} refused the login of user {self.user!r} (HTTP {exc.code}); "
                    f"check the security folder's secrets/http-{self.user} against the "
                    "server's",
                    refused=True,
                ) from exc
            raise QueryError(f"{self.url} answered HTTP {exc.code} to {promql!r}") from exc
        except ssl.SSLError as exc:
            raise QueryError(f"TLS with {self.url} failed: {exc.reason}") from exc
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise QueryError(f"{self.url} cannot be reached: {reason}") from exc
        if body.get("status") != "success":
            raise QueryError(f"{self.url} refused {promql!r}: {body.get('error', body)}")
        return list(body.get("data", {}).get("result", []))

    def scalar(self, promql: str, **params: str) -> float | None:
        """The value of a one-element result, None when the result is empty."""
        result = self.query(promql, **params)
        return float(result[0]["value"][1]) if result else None
