"""Making a development set of security material (`devmetrics security init`): a local
certificate authority, server certificates, passwords, the pseudonym key, each role's
environment file and the web configurations the compose deployment mounts."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import yaml

from core.security.material import (
    DEFAULT_HOSTS,
    HTTP_USERS,
    KAFKA_USERS,
    PSEUDONYM_KEY_BYTES,
    ROLES,
    SERVICES,
    Material,
    role_env,
)
from core.security.pki import Issued, issue, make_ca
from core.security.web import web_config


def _write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read, never leaving it readable by others midway."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    path.chmod(0o600)


def _write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def init_material(
    root: Path, now: datetime, hosts: Iterable[str] = DEFAULT_HOSTS, *, force: bool = False
) -> tuple[Material, bool]:
    """Make a development authority, certificates, passwords and pseudonym key under `root`.

    Idempotent: a complete existing set is kept (returns False) unless `force` is set, so
    re-running never invalidates the credentials a running stack was formatted with.
    """
    material = Material(root)
    if not force and all(p.is_file() for p in material.required_files()):
        return material, False
    host_list = list(dict.fromkeys(hosts))
    ca = make_ca("devmetrics development CA", now)
    _write_public(material.ca_file, ca.cert_pem)
    _write_private(material.ca_key_file, ca.key_pem)
    for service in SERVICES:
        leaf: Issued = issue(ca, service, host_list, now)
        _write_public(material.cert(service), leaf.cert_pem)
        _write_private(material.key(service), leaf.key_pem)
        if service == "kafka":
            _write_private(material.kafka_keystore, leaf.key_pem + leaf.cert_pem)
    for realm, users in (("kafka", KAFKA_USERS), ("http", HTTP_USERS)):
        for user in users:
            _write_private(material.secret_file(realm, user), secrets.token_urlsafe(24).encode())
    _write_private(material.pseudonym_key_file, secrets.token_hex(PSEUDONYM_KEY_BYTES).encode())
    for role in ROLES:
        lines = [f"{name}={value}" for name, value in role_env(material, role).items()]
        _write_private(material.env_file(role), ("\n".join(lines) + "\n").encode())
    _write_web_configs(material, CONTAINER_ROOT)
    return material, True


CONTAINER_ROOT = Path("/etc/devmetrics/security")
"""Where infra/docker-compose.yml mounts the folder inside the containers."""


def _write_web_configs(material: Material, mounted_at: Path) -> None:
    """Prometheus' and Alertmanager's web configs with paths as the containers see them."""
    inside = Material(mounted_at)
    for service in ("prometheus", "alertmanager"):
        config = web_config(material, service)
        config["tls_server_config"] |= {
            "cert_file": str(inside.cert(service)),
            "key_file": str(inside.key(service)),
        }
        _write_private(material.web_config_file(service), yaml.safe_dump(config).encode())
