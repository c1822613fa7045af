"""The security material of a stack: where certificates, keys and secrets live, and making a
development set of them (`devmetrics security init`).

Layout of the folder (production mounts the same names from its own authority and vault)::

    ca.crt                          authorities clients and servers trust (PEM bundle)
    ca.key                          development only: the local authority's key
    certs/<service>.crt|.key        server certificates (kafka, prometheus, alertmanager,
                                    victoriametrics, exporter, processor); kafka.pem = both
    secrets/kafka-<user>            SCRAM passwords: admin, producer, processor, exporter
    secrets/http-<user>             HTTP basic-auth passwords: prometheus, operator,
                                    victoriametrics
    pseudonym.key                   HMAC key of the actor pseudonyms (producers only)
    env/<role>.env                  DEVMETRICS_* variables for a producer, processor, exporter
    web/<service>.yml               --web.config.file of Prometheus and Alertmanager (compose)
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from devmetrics.security.errors import SecurityError
from devmetrics.security.pki import Issued, issue, make_ca

SERVICES = ("kafka", "prometheus", "alertmanager", "victoriametrics", "exporter", "processor")
KAFKA_USERS = ("admin", "producer", "processor", "exporter")
HTTP_USERS = ("prometheus", "operator", "victoriametrics")
ROLES = ("admin", "producer", "processor", "exporter")
DEFAULT_HOSTS = ("127.0.0.1", "localhost")
SCRAM_MECHANISM = "SCRAM-SHA-512"
PSEUDONYM_KEY_BYTES = 32


@dataclass(frozen=True)
class Material:
    """Paths into one security folder, and readers of its secrets."""

    root: Path

    @property
    def ca_file(self) -> Path:
        return self.root / "ca.crt"

    @property
    def ca_key_file(self) -> Path:
        return self.root / "ca.key"

    def cert(self, service: str) -> Path:
        return self.root / "certs" / f"{service}.crt"

    def key(self, service: str) -> Path:
        return self.root / "certs" / f"{service}.key"

    @property
    def kafka_keystore(self) -> Path:
        """The broker's key and certificate chain in one PEM file, as Kafka's PEM keystore wants."""
        return self.root / "certs" / "kafka.pem"

    def secret_file(self, realm: str, user: str) -> Path:
        return self.root / "secrets" / f"{realm}-{user}"

    def secret(self, realm: str, user: str) -> str:
        """A password, read from its file; SecurityError names the file when it is missing."""
        path = self.secret_file(realm, user)
        try:
            value = path.read_text().strip()
        except OSError as exc:
            raise SecurityError(
                f"cannot read the {realm} password of {user!r} from {path}: {exc.strerror}; "
                "run `devmetrics security init` or mount the secret there"
            ) from exc
        if not value:
            raise SecurityError(f"the {realm} password file of {user!r} ({path}) is empty")
        return value

    @property
    def pseudonym_key_file(self) -> Path:
        return self.root / "pseudonym.key"

    def env_file(self, role: str) -> Path:
        return self.root / "env" / f"{role}.env"

    def web_config_file(self, service: str) -> Path:
        return self.root / "web" / f"{service}.yml"

    def required_files(self) -> list[Path]:
        """Every file the secured stack reads (the CA key excepted: production has none)."""
        files = [self.ca_file, self.kafka_keystore, self.pseudonym_key_file]
        for service in SERVICES:
            files += [self.cert(service), self.key(service)]
        files += [self.secret_file("kafka", u) for u in KAFKA_USERS]
        files += [self.secret_file("http", u) for u in HTTP_USERS]
        return files

    def check(self) -> None:
        """Raise SecurityError listing the missing files, if any."""
        missing = [str(p) for p in self.required_files() if not p.is_file()]
        if missing:
            raise SecurityError(
                f"security material incomplete in {self.root}: missing {', '.join(missing)}; "
                "run `devmetrics security init` for a development set"
            )


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


def role_env(material: Material, role: str) -> dict[str, str]:
    """The DEVMETRICS_* variables that point one role's Kafka client at the secured stack."""
    if role not in ROLES:
        raise SecurityError(f"unknown role {role!r}; known: {', '.join(ROLES)}")
    env = {
        "DEVMETRICS_SECURITY__ENABLED": "true",
        "DEVMETRICS_SECURITY__DIR": str(material.root),
        "DEVMETRICS_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
        "DEVMETRICS_KAFKA__SASL_MECHANISM": SCRAM_MECHANISM,
        "DEVMETRICS_KAFKA__SASL_USERNAME": role,
        "DEVMETRICS_KAFKA__SASL_PASSWORD_FILE": str(material.secret_file("kafka", role)),
        "DEVMETRICS_KAFKA__SSL_CA_FILE": str(material.ca_file),
    }
    if role in ("producer", "admin"):
        env["DEVMETRICS_KAFKA__PSEUDONYM_KEY_FILE"] = str(material.pseudonym_key_file)
    return env


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
    import yaml

    from devmetrics.security.web import web_config

    inside = Material(mounted_at)
    for service in ("prometheus", "alertmanager"):
        config = web_config(material, service)
        config["tls_server_config"] |= {
            "cert_file": str(inside.cert(service)),
            "key_file": str(inside.key(service)),
        }
        _write_private(material.web_config_file(service), yaml.safe_dump(config).encode())
