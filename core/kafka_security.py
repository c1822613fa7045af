"""Kafka under the security switch: the broker's TLS and SASL/SCRAM settings, the users made
at format time, the ACLs of each role, and client settings per role.

Roles and what they may do (everything else is denied; the admin is a super user):

* producer  - write (and describe) the event topics and the dead-letter topic (the webhook
  receiver publishes as the producer, and dead-letters authentic webhooks it cannot map);
* processor - read the event topics, write the dead-letter and state topics, own its
  consumer group and its table changelog topics (both prefixed by its app id);
* exporter  - read the state topic.
"""

from __future__ import annotations

import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)
from pydantic import SecretStr

from core.security.errors import SecurityError
from core.security.material import KAFKA_USERS, SCRAM_MECHANISM, Material
from core.settings import KafkaSettings
from schemas.topics import Topics

BROKER_PRINCIPAL = "User:CN=kafka"
"""The broker's principal on the controller listener (mutual TLS with the kafka certificate)."""


def role_settings(kafka: KafkaSettings, material: Material, role: str) -> KafkaSettings:
    """`kafka` with the TLS and SCRAM credentials of one role of the secured stack."""
    if role not in KAFKA_USERS:
        raise SecurityError(f"unknown Kafka role {role!r}; known: {', '.join(KAFKA_USERS)}")
    return kafka.model_copy(
        update={
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": SCRAM_MECHANISM,
            "sasl_username": role,
            "sasl_password": SecretStr(material.secret("kafka", role)),
            "sasl_password_file": None,
            "ssl_ca_file": material.ca_file,
            "pseudonym_key_file": material.pseudonym_key_file if role == "producer" else None,
        }
    )


def broker_properties(material: Material, host: str, port: int, controller_port: int) -> list[str]:
    """server.properties lines of a secured single-node broker (listeners and security only).

    Clients reach one SASL_SSL listener (SCRAM-SHA-512, server certificate verified by them);
    the controller listener is TLS with client certificates, so only the broker's own
    certificate gets in. There is no plaintext listener.
    """
    admin = material.secret("kafka", "admin")
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="admin" password="{admin}";'
    )
    return [
        f"listeners=SASL_SSL://{host}:{port},CONTROLLER://{host}:{controller_port}",
        f"advertised.listeners=SASL_SSL://{host}:{port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=SASL_SSL",
        "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL",
        f"sasl.enabled.mechanisms={SCRAM_MECHANISM}",
        f"sasl.mechanism.inter.broker.protocol={SCRAM_MECHANISM}",
        f"listener.name.sasl_ssl.{SCRAM_MECHANISM.lower()}.sasl.jaas.config={jaas}",
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={material.kafka_keystore}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={material.ca_file}",
        "ssl.endpoint.identification.algorithm=https",
        "listener.name.controller.ssl.client.auth=required",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        f"super.users=User:admin;{BROKER_PRINCIPAL}",
        "allow.everyone.if.no.acl.found=false",
    ]


def scram_format_args(material: Material) -> list[str]:
    """`kafka-storage format` arguments creating every role's SCRAM credentials."""
    args: list[str] = []
    for user in KAFKA_USERS:
        password = material.secret("kafka", user)
        if "," in password or "]" in password or '"' in password:
            raise SecurityError(f'the Kafka password of {user!r} holds , ] or " (not allowed)')
        args += ["--add-scram", f"{SCRAM_MECHANISM}=[name={user},password={password}]"]
    return args


def _allow(
    user: str,
    resource: ResourceType,
    name: str,
    operation: AclOperation,
    pattern: ResourcePatternType = ResourcePatternType.LITERAL,
) -> AclBinding:
    return AclBinding(
        resource, name, pattern, f"User:{user}", "*", operation, AclPermissionType.ALLOW
    )


def acl_bindings(topic_prefix: str, app_id: str) -> list[AclBinding]:
    """The ACLs of the producer, processor and exporter roles for one topic prefix."""
    topics = Topics(topic_prefix)
    events = f"{topic_prefix}.events."
    topic, group, prefixed = ResourceType.TOPIC, ResourceType.GROUP, ResourcePatternType.PREFIXED
    read, write, describe = AclOperation.READ, AclOperation.WRITE, AclOperation.DESCRIBE
    bindings = [
        _allow("producer", topic, events, write, prefixed),
        _allow("producer", topic, events, describe, prefixed),
        _allow("producer", topic, topics.deadletter, write),
        _allow("producer", topic, topics.deadletter, describe),
        _allow("processor", topic, events, read, prefixed),
        _allow("processor", topic, events, describe, prefixed),
        _allow("processor", topic, topics.deadletter, write),
        _allow("processor", topic, topics.deadletter, describe),
        _allow("processor", topic, topics.state, write),
        _allow("processor", topic, topics.state, describe),
        _allow("processor", topic, app_id, AclOperation.ALL, prefixed),
        _allow("processor", group, app_id, AclOperation.ALL, prefixed),
        _allow("exporter", topic, topics.state, read),
        _allow("exporter", topic, topics.state, describe),
        _allow("exporter", group, topics.state, read, prefixed),
    ]
    return bindings


def apply_acls(admin: KafkaSettings, bindings: list[AclBinding], timeout_s: float = 30.0) -> int:
    """Create the ACLs (creating an existing one is a no-op) and wait until the broker enforces
    them (its authorizer learns them from the metadata log a moment later); returns the count."""
    from core.kafka import client_config

    client = AdminClient(client_config(admin))
    for binding, future in client.create_acls(bindings, request_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            raise SecurityError(f"cannot create the ACL {binding}: {exc.args[0]}") from exc
    deadline = time.monotonic() + timeout_s
    pending = list(bindings)
    while pending:
        pending = [b for b in pending if not _enforced(client, b, timeout_s)]
        if pending and time.monotonic() > deadline:
            raise SecurityError(
                f"the broker did not apply {len(pending)} ACLs within {timeout_s:.0f} s"
            )
        if pending:
            time.sleep(0.2)
    return len(bindings)


def _enforced(client: AdminClient, binding: AclBinding, timeout_s: float) -> bool:
    """Whether the broker's authorizer already holds exactly this binding."""
    exact = AclBindingFilter(
        binding.restype,
        binding.name,
        binding.resource_pattern_type,
        binding.principal,
        binding.host,
        binding.operation,
        binding.permission_type,
    )
    try:
        found = client.describe_acls(exact, request_timeout=timeout_s).result()
    except KafkaException as exc:
        raise SecurityError(f"cannot list the broker's ACLs: {exc.args[0]}") from exc
    return bool(found)
