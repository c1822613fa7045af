"""The one settings object, read at the entry point and passed down.

Values come from, in order of precedence: environment variables (``DEVMETRICS_`` prefix,
``__`` between nested names, e.g. ``DEVMETRICS_KAFKA__BOOTSTRAP``), then an optional YAML
file named by ``DEVMETRICS_CONFIG``, then the defaults below.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from processors.settings import ProcessorSettings

REPO_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """A configuration value is missing or wrong; start-up stops with this message."""


class KafkaSettings(BaseModel):
    bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = "devmetrics"
    partitions: int = Field(default=12, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1)
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    sasl_password_file: Path | None = None
    """Read the SASL password from this file (a mounted secret) when `sasl_password` is unset."""
    ssl_ca_file: Path | None = None
    """PEM bundle of the certificate authorities that sign the brokers' certificates."""
    pseudonym_key_file: Path | None = None
    """Producers replace human actor names with HMAC-SHA256 pseudonyms keyed by this file."""


class StackSettings(BaseModel):
    """Where the local real stack (`devmetrics stack`) keeps its files and listens."""

    home: Path = REPO_ROOT / ".stack"
    cache: Path = REPO_ROOT / ".cache"
    host: str = "127.0.0.1"
    kafka_port: int = Field(default=9092, ge=1, le=65535)
    kafka_controller_port: int = Field(default=19093, ge=1, le=65535)
    prometheus_port: int = Field(default=9090, ge=1, le=65535)
    alertmanager_port: int = Field(default=9093, ge=1, le=65535)
    victoriametrics_port: int = Field(default=8428, ge=1, le=65535)
    alert_webhook_url: str = "http://127.0.0.1:9099/alerts"
    """Where Alertmanager's local `webhook` receiver posts every alert."""
    kafka_version: str = "4.1.1"
    kafka_heap: str = "1G"
    health_timeout_s: float = Field(default=120.0, gt=0)
    prometheus_scrape_interval: str | None = None
    """Overrides the shipped scrape and rule evaluation interval (tests use a short one)."""
    install_packages: bool = True
    """Install missing Debian packages (prometheus, alertmanager, victoria-metrics) on `up`."""


class SecuritySettings(BaseModel):
    """The one security switch: TLS with verified certificates and authentication on every hop.

    `dir` holds the certificates, keys and credentials (layout in docs/security.md);
    `devmetrics security init` makes a development set there, production mounts its own.
    """

    enabled: bool = False
    dir: Path = REPO_ROOT / ".stack" / "security"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DEVMETRICS_", env_nested_delimiter="__", extra="forbid"
    )

    log_level: str = "INFO"
    kafka: KafkaSettings = KafkaSettings()
    stack: StackSettings = StackSettings()
    processor: ProcessorSettings = ProcessorSettings()
    security: SecuritySettings = SecuritySettings()

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(f"log level {value!r} is not one of DEBUG, INFO, WARNING, ERROR")
        return upper

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlFileSource(settings_cls))


class _YamlFileSource(PydanticBaseSettingsSource):
    """Reads the optional YAML file named by DEVMETRICS_CONFIG."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("DEVMETRICS_CONFIG")
        if not path:
            return {}
        try:
            data = yaml.safe_load(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"config file {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top level")
        return data


def load_settings(**overrides: Any) -> Settings:
    """Read the settings once at an entry point; a bad value stops start-up with a message."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc
