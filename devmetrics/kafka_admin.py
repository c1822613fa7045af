"""Creates the pipeline's topics on a broker, idempotently."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from devmetrics.settings import ConfigError, KafkaSettings
from schemas.topics import Topics

log = logging.getLogger(__name__)


def client_config(kafka: KafkaSettings) -> dict[str, Any]:
    """librdkafka connection settings (bootstrap and security) shared by every client."""
    conf: dict[str, Any] = {
        "bootstrap.servers": kafka.bootstrap,
        "security.protocol": kafka.security_protocol,
    }
    if kafka.sasl_mechanism:
        conf["sasl.mechanism"] = kafka.sasl_mechanism
        conf["sasl.username"] = kafka.sasl_username or ""
        conf["sasl.password"] = sasl_password(kafka)
    if kafka.ssl_ca_file is not None:
        conf["ssl.ca.location"] = str(kafka.ssl_ca_file)
        # Verify that the broker's certificate names the host we dialled (librdkafka default).
        conf["ssl.endpoint.identification.algorithm"] = "https"
    return conf


def sasl_password(kafka: KafkaSettings) -> str:
    """The SASL password: the setting, else the content of `sasl_password_file`, else empty."""
    if kafka.sasl_password is not None:
        return kafka.sasl_password.get_secret_value()
    if kafka.sasl_password_file is None:
        return ""
    try:
        return kafka.sasl_password_file.read_text().strip()
    except OSError as exc:
        raise ConfigError(
            f"kafka.sasl_password_file {kafka.sasl_password_file}: {exc.strerror}"
        ) from exc


def topic_specs(kafka: KafkaSettings) -> list[NewTopic]:
    """Event topics, the dead-letter topic and the compacted state topic."""
    topics = Topics(kafka.topic_prefix)
    rf = kafka.replication_factor
    specs = [
        NewTopic(
            name,
            num_partitions=kafka.partitions,
            replication_factor=rf,
            config={"retention.ms": str(35 * 86_400_000)},
        )
        for name in topics.all_events
    ]
    specs.append(
        NewTopic(
            topics.deadletter,
            num_partitions=kafka.partitions,
            replication_factor=rf,
            config={"retention.ms": str(35 * 86_400_000)},
        )
    )
    specs.append(
        NewTopic(
            topics.state,
            num_partitions=kafka.partitions,
            replication_factor=rf,
            config={
                "cleanup.policy": "compact",
                "min.compaction.lag.ms": "60000",
                "segment.ms": "3600000",
            },
        )
    )
    return specs


_NOT_OURS_TO_CREATE = (
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED,
)


def ensure_topics(kafka: KafkaSettings, timeout_s: float = 30.0) -> list[str]:
    """Create whichever of the pipeline's topics are missing; return the names created."""
    admin = AdminClient(client_config(kafka))
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    missing = [spec for spec in topic_specs(kafka) if spec.topic not in existing]
    if not missing:
        return []
    created = []
    for name, future in admin.create_topics(missing, operation_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as exc:
            code = exc.args[0].code()
            if code in _NOT_OURS_TO_CREATE:
                # A secured client sees only the topics its ACLs allow and may not create
                # any: the operator's admin role made them (`stack up`, `security setup`).
                log.debug("topic %s is not visible to this client or not its to create", name)
                continue
            if code != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    log.info("created topics: %s", ", ".join(sorted(created)) or "none")
    return created
