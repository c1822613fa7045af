"""Authenticity of webhooks: each source's own scheme, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac

from producers.receiver.errors import Unauthorized


def _hex_hmac(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def github(secret: bytes | None, body: bytes, header: str | None) -> None:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`."""
    if secret is None:
        raise Unauthorized("no_secret", "no GitHub secret is configured")
    if not header or not header.startswith("sha256="):
        raise Unauthorized("missing_signature", "X-Hub-Signature-256 is missing")
    if not hmac.compare_digest(header[7:].strip().lower(), _hex_hmac(secret, body)):
        raise Unauthorized("bad_signature", "X-Hub-Signature-256 does not match")


def gitlab(token: bytes | None, header: str | None) -> None:
    """`X-Gitlab-Token`: the secret token itself."""
    if token is None:
        raise Unauthorized("no_secret", "no GitLab token is configured")
    if not header:
        raise Unauthorized("missing_signature", "X-Gitlab-Token is missing")
    if not hmac.compare_digest(header.encode(), token):
        raise Unauthorized("bad_signature", "X-Gitlab-Token does not match")


def pagerduty(secret: bytes | None, body: bytes, header: str | None) -> None:
    """`X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]`: one must match (secret rotation)."""
    if secret is None:
        raise Unauthorized("no_secret", "no PagerDuty secret is configured")
    if not header:
        raise Unauthorized("missing_signature", "X-PagerDuty-Signature is missing")
    expected = _hex_hmac(secret, body)
    offered = [s.strip()[3:] for s in header.split(",") if s.strip().startswith("v1=")]
    if not any(hmac.compare_digest(s.lower(), expected) for s in offered):
        raise Unauthorized("bad_signature", "no X-PagerDuty-Signature v1 signature matches")


def bearer(token: bytes | None, header: str | None) -> None:
    """`Authorization: Bearer <token>` (CDEvents senders)."""
    if token is None:
        raise Unauthorized("no_secret", "no CDEvents token is configured")
    if not header or not header.startswith("Bearer "):
        raise Unauthorized("missing_signature", "Authorization: Bearer is missing")
    if not hmac.compare_digest(header[7:].strip().encode(), token):
        raise Unauthorized("bad_signature", "the bearer token does not match")
