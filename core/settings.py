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

from core.paths import cache_home, data_home
from core.processor_settings import ProcessorSettings


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

    home: Path = data_home()
    cache: Path = cache_home()
    host: str = "127.0.0.1"
    kafka_port: int = Field(default=9092, ge=1, le=65535)
    kafka_controller_port: int = Field(default=19093, ge=1, le=65535)
    kafka_brokers: int = Field(default=1, ge=1, le=5)
    """Kafka nodes of the local stack, each a combined KRaft controller and broker; node i
    listens on kafka_port + 100·i (controller: kafka_controller_port + 100·i). With three or
    more, topics are replicated three times with min.insync.replicas=2 (docs/processors.md)."""
    prometheus_port: int = Field(default=9090, ge=1, le=65535)
    """Port of the first Prometheus server; server i listens on prometheus_port + i."""
    prometheus_servers: int = Field(default=1, ge=1, le=16)
    """Prometheus servers of the local stack; each scrapes a disjoint set of exporter shards
    (shard s goes to server s % prometheus_servers) and all remote-write to VictoriaMetrics."""
    alertmanager_port: int = Field(default=9093, ge=1, le=65535)
    victoriametrics_port: int = Field(default=8428, ge=1, le=65535)
    alert_webhook_url: str = "http://127.0.0.1:9099/alerts"
    """Where Alertmanager's local `webhook` receiver posts every alert."""
    kafka_version: str = "4.1.1"
    kafka_heap: str = "1G"
    health_timeout_s: float = Field(default=120.0, gt=0)
    prometheus_gogc: int | None = Field(default=40, ge=10, le=1000)
    """Go garbage-collection target (GOGC) of the Prometheus servers: lower trades CPU for
    memory (docs/exporters.md, "Prometheus at scale"). None: Go's default, 100."""
    ai_impact_alerts: bool = False
    """Load the opt-in rule `rules/ai_impact_alerts.yml` into every Prometheus server: a
    ticket when a project's agent-authored deployments fail at more than twice the rate of
    its others over 30 days (docs/alerting.md, "AI impact alert")."""
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
    dir: Path = data_home() / "security"


class ReceiverSettings(BaseModel):
    """`devmetrics receive`: where it listens, the webhook secrets and how payloads map.

    Secrets are read from files (mounted secrets), never from the settings themselves; a
    source whose secret file is unset refuses every request (docs/sources.md).
    """

    host: str = "127.0.0.1"
    port: int = Field(default=9500, ge=0, le=65535)
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    github_secret_file: Path | None = None
    gitlab_token_file: Path | None = None
    pagerduty_secret_file: Path | None = None
    cdevents_token_file: Path | None = None
    """Bearer token CDEvents senders present in `Authorization`."""
    cdevents_schemas_dir: Path | None = None
    """The CDEvents JSON schemas CDEvents are validated against, `<spec version>/<name>.json`
    (default: those infra/setup.sh writes from the CDEvents Go SDK into the stack cache)."""
    ai_actors: list[str] = ["Copilot", "copilot-swe-agent[bot]", "github-copilot[bot]"]
    """Accounts (login, name or e-mail local part) that are AI agents, matched without case."""
    project_aliases: dict[str, str] = {}
    """Source-side names (repository, GitLab path, PagerDuty service id, CDEvents source) to
    project ids; a name not listed is the project id itself."""
    incident_labels: list[str] = ["incident"]
    production_environments: list[str] = ["production", "prod"]
    publish_timeout_s: float = Field(default=10.0, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DEVMETRICS_", env_nested_delimiter="__", extra="forbid"
    )

    log_level: str = "INFO"
    kafka: KafkaSettings = KafkaSettings()
    stack: StackSettings = StackSettings()
    processor: ProcessorSettings = ProcessorSettings()
    security: SecuritySettings = SecuritySettings()
    receiver: ReceiverSettings = ReceiverSettings()

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
