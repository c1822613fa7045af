"""The security material of a stack: where certificates, keys and secrets live, and making a
development set of them (`core.security.provision`, `devmetrics security init`).

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

from dataclasses import dataclass
from pathlib import Path

from core.security.errors import SecurityError

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
