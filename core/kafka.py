"""Kafka client configuration for both client libraries (confluent-kafka and aiokafka under
faust), built from one resolved view of the settings, and the pipeline's topics, created
idempotently."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from core.errors import UserError
from core.settings import ConfigError, KafkaSettings
from schemas.topics import Topics

log = logging.getLogger(__name__)

LIBRDKAFKA_LOG = logging.getLogger("devmetrics.librdkafka")
"""librdkafka's own log lines, handed to Python logging (the `logger` client setting) so that
they carry the project's format and level instead of being printed raw on stderr; only
warnings and errors pass by default."""
LIBRDKAFKA_LOG.setLevel(logging.WARNING)
_CHECK_LOG = logging.getLogger("devmetrics.librdkafka.check")
"""The log of the clients that check access and create topics: what fails there is said once,
as the KafkaAccessError's line, so their per-connection lines stay out of sight."""
_CHECK_LOG.setLevel(logging.CRITICAL)


class KafkaAccessError(UserError):
    """The brokers could not be reached or refused this client: one line that names the
    bootstrap servers, the user, the CA file or the topic, whichever is at fault."""


_AUTH = (KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED)
_UNREACHABLE = (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE)
_REFUSED = (
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.GROUP_AUTHORIZATION_FAILED,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
)


def explain(error: KafkaError, kafka: KafkaSettings, topic: str | None = None) -> str | None:
    """One line saying why a client failed, for the errors users meet; None for others."""
    code = error.code()
    who = f"user {kafka.sasl_username!r}" if kafka.sasl_username else "this client"
    if code in _AUTH:
        secret = (
            "kafka.sasl_password"
            if kafka.sasl_password is not None
            else f"kafka.sasl_password_file ({kafka.sasl_password_file})"
        )
        return (
            f"the broker at {kafka.bootstrap} refused the credentials of {who} "
            f"({kafka.sasl_mechanism}); check {secret}"
        )
    if code == KafkaError._SSL:
        trust = kafka.ssl_ca_file or "the system's certificate authorities"
        return (
            f"TLS with the broker at {kafka.bootstrap} failed: its certificate is not trusted "
            f"by {trust} or does not name the host dialled ({error.str()})"
        )
    if code in _REFUSED:
        what = f"topic {topic}" if topic else "this operation"
        return f"the broker at {kafka.bootstrap} refused {who} access to {what}: {error.str()}"
    if code in _UNREACHABLE:
        return f"no Kafka broker answers at {kafka.bootstrap} ({error.str()})"
    return None


class ErrorWatch:
    """The `error_cb` of a librdkafka client: keeps the explanation of the most telling error
    seen (a refused login or TLS failure outranks the 'all brokers down' that follows it)."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.kafka = kafka
        self.explained: str | None = None
        self._rank = 99

    def __call__(self, error: KafkaError) -> None:
        message = explain(error, self.kafka)
        if message is None:
            log.warning("kafka client error: %s", error.str())
            return
        rank = 0 if error.code() in (*_AUTH, KafkaError._SSL) else 1
        if rank < self._rank:
            self.explained, self._rank = message, rank


def check_access(kafka: KafkaSettings, topics: list[str], timeout_s: float = 15.0) -> None:
    """Connect, authenticate and look up `topics` as this client: raise KafkaAccessError with
    one clear line when the brokers cannot be reached, refuse the login, fail TLS, or refuse a
    topic. Entry points call it before starting, so that a misconfiguration fails fast."""
    watch = ErrorWatch(kafka)
    # A look-up must not create a missing topic on a broker that allows that (with 1 partition,
    # breaking co-partitioning): librdkafka's default for a producer-type client is to allow it.
    admin = AdminClient(client_config(kafka, watch) | {"allow.auto.create.topics": False})
    try:
        admin.list_topics(timeout=timeout_s)
        for topic in topics:
            meta = admin.list_topics(topic=topic, timeout=timeout_s).topics.get(topic)
            if meta is not None and meta.error is not None:
                message = explain(meta.error, kafka, topic)
                if message is not None:
                    raise KafkaAccessError(message)
    except KafkaException as exc:
        raise _access_error(admin, watch, exc) from None


def _access_error(admin: AdminClient, watch: ErrorWatch, exc: KafkaException) -> KafkaAccessError:
    """Why `admin`'s call failed, once the error callbacks that say it (a refused login, a TLS
    failure) have been served."""
    admin.poll(1.0)
    error: KafkaError = exc.args[0]
    return KafkaAccessError(watch.explained or explain(error, watch.kafka) or error.str())


@dataclass(frozen=True, slots=True)
class KafkaAuth:
    """How a client reaches and authenticates to the brokers, resolved once from the settings;
    both client libraries' configurations are built from it, so they cannot disagree."""

    bootstrap: str
    protocol: str
    """PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."""
    mechanism: str | None
    username: str
    password: str
    ca_file: Path | None

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")


_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


def kafka_auth(kafka: KafkaSettings) -> KafkaAuth:
    """The settings' connection and credentials, checked: a bad combination stops start-up."""
    protocol = kafka.security_protocol.upper()
    if protocol not in _PROTOCOLS:
        raise ConfigError(
            f"kafka.security_protocol {kafka.security_protocol!r} is not one of "
            + ", ".join(_PROTOCOLS)
        )
    sasl = protocol.startswith("SASL_")
    if sasl and not kafka.sasl_mechanism:
        raise ConfigError(f"kafka.sasl_mechanism is required with security_protocol {protocol}")
    if sasl and not kafka.sasl_username:
        raise ConfigError(f"kafka.sasl_username is required with security_protocol {protocol}")
    return KafkaAuth(
        bootstrap=kafka.bootstrap,
        protocol=protocol,
        mechanism=kafka.sasl_mechanism if sasl else None,
        username=(kafka.sasl_username or "") if sasl else "",
        password=sasl_password(kafka) if sasl else "",
        ca_file=kafka.ssl_ca_file,
    )


def client_config(kafka: KafkaSettings, errors: ErrorWatch | None = None) -> dict[str, Any]:
    """librdkafka (confluent-kafka) connection settings shared by every such client; its logs
    go to Python logging; with `errors`, its errors go there and its log lines are kept quiet
    (the caller says what failed)."""
    auth = kafka_auth(kafka)
    conf: dict[str, Any] = {
        "bootstrap.servers": auth.bootstrap,
        "security.protocol": auth.protocol,
        "logger": LIBRDKAFKA_LOG if errors is None else _CHECK_LOG,
    }
    if errors is not None:
        conf["error_cb"] = errors
    if auth.mechanism:
        conf["sasl.mechanism"] = auth.mechanism
        conf["sasl.username"] = auth.username
        conf["sasl.password"] = auth.password
    if auth.ca_file is not None:
        conf["ssl.ca.location"] = str(auth.ca_file)
    if auth.tls:
        # Verify that the broker's certificate names the host we dialled (librdkafka default).
        conf["ssl.endpoint.identification.algorithm"] = "https"
    return conf


def faust_credentials(kafka: KafkaSettings) -> Any:
    """The same connection for aiokafka under faust: faust's SASL or SSL credentials (with a
    TLS context verifying the broker's certificate and host name), or None for PLAINTEXT."""
    auth = kafka_auth(kafka)
    if auth.protocol == "PLAINTEXT":
        return None
    import faust  # only the processors need it; other clients do not pay for the import

    from core.security.tls import client_context

    ssl_context = client_context(auth.ca_file) if auth.tls else None
    if auth.mechanism is None:
        return faust.SSLCredentials(ssl_context)
    return faust.SASLCredentials(
        username=auth.username,
        password=auth.password,
        mechanism=auth.mechanism,
        ssl_context=ssl_context,
    )


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
    watch = ErrorWatch(kafka)
    admin = AdminClient(client_config(kafka, watch))
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as exc:
        raise _access_error(admin, watch, exc) from None
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
