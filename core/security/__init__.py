"""The security switch: TLS with verified certificates and authentication on every hop, keyed
pseudonyms for personal fields, and limits on hostile input. See docs/security.md."""

from __future__ import annotations

from typing import Any

from core.security.errors import SecurityError
from core.security.material import Material, role_env
from core.security.provision import init_material
from core.security.pseudonym import Pseudonymizer
from core.security.tls import BasicAuth, basic_auth_header, client_context, server_context

__all__ = [
    "BasicAuth",
    "Material",
    "Pseudonymizer",
    "SecurityError",
    "basic_auth_header",
    "client_context",
    "init_material",
    "material_of",
    "role_env",
    "server_context",
]


def material_of(settings: Any) -> Material | None:
    """The security material when the settings' security switch is on, else None."""
    security = getattr(settings, "security", None)
    if security is None or not security.enabled:
        return None
    return Material(security.dir)
