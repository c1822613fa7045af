"""The development material: certificates that verify, private files, role variables, ACLs."""

from __future__ import annotations

import hashlib
import hmac
import ssl
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType
from cryptography import x509

from core.kafka_security import acl_bindings, broker_properties, scram_format_args
from core.security import BasicAuth, Material, Pseudonymizer, basic_auth_header
from core.security.errors import SecurityError
from core.security.material import role_env
from core.security.provision import init_material
from core.security.web import secure_prometheus_config, web_config

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Material:
    made, fresh = init_material(tmp_path_factory.mktemp("sec") / "security", NOW)
    assert fresh
    return made


def test_init_is_idempotent_and_keeps_existing_credentials(material: Material) -> None:
    before = material.secret("kafka", "producer")
    again, fresh = init_material(material.root, NOW)
    assert (fresh, again.secret("kafka", "producer")) == (False, before)


def test_server_certificates_verify_against_the_ca_for_loopback_names(material: Material) -> None:
    cert = x509.load_pem_x509_certificate(material.cert("exporter").read_bytes())
    ca = x509.load_pem_x509_certificate(material.ca_file.read_bytes())
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert cert.subject.rfc4514_string() == "CN=exporter"
    context = ssl.create_default_context(cafile=str(material.ca_file))
    context.load_cert_chain(str(material.cert("exporter")), str(material.key("exporter")))


def test_keys_and_secrets_are_readable_by_their_owner_only(material: Material) -> None:
    private = [material.ca_key_file, material.key("kafka"), material.kafka_keystore]
    private += [material.secret_file("kafka", "admin"), material.pseudonym_key_file]
    assert {stat.S_IMODE(p.stat().st_mode) for p in private} == {0o600}
    assert stat.S_IMODE((material.root / "secrets").stat().st_mode) == 0o700


def test_missing_material_is_named(tmp_path: Path) -> None:
    with pytest.raises(SecurityError, match=r"missing .*ca\.crt"):
        Material(tmp_path).check()
    with pytest.raises(SecurityError, match=r"secrets/kafka-admin"):
        Material(tmp_path).secret("kafka", "admin")


def test_role_env_points_a_producer_at_its_secrets(material: Material) -> None:
    env = role_env(material, "producer")
    assert env["DEVMETRICS_KAFKA__SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["DEVMETRICS_KAFKA__SASL_USERNAME"] == "producer"
    assert env["DEVMETRICS_KAFKA__SASL_PASSWORD_FILE"] == str(
        material.root / "secrets/kafka-producer"
    )
    assert env["DEVMETRICS_KAFKA__PSEUDONYM_KEY_FILE"] == str(material.pseudonym_key_file)
    assert "DEVMETRICS_KAFKA__PSEUDONYM_KEY_FILE" not in role_env(material, "exporter")
    assert material.env_file("producer").read_text().splitlines()[5] == (
        "DEVMETRICS_KAFKA__SASL_PASSWORD_FILE=" + str(material.root / "secrets/kafka-producer")
    )


def test_broker_has_no_plaintext_listener_and_denies_by_default(material: Material) -> None:
    props = dict(line.split("=", 1) for line in broker_properties(material, "127.0.0.1", 1, 2))
    assert props["listeners"] == "SASL_SSL://127.0.0.1:1,CONTROLLER://127.0.0.1:2"
    assert props["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,CONTROLLER:SSL"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin;User:CN=kafka"
    args = scram_format_args(material)
    assert args[::2] == ["--add-scram"] * 4
    assert args[1] == f"SCRAM-SHA-512=[name=admin,password={material.secret('kafka', 'admin')}]"


def test_acls_give_each_role_only_its_topics() -> None:
    granted = {
        (b.principal, b.restype, b.name, b.resource_pattern_type, b.operation)
        for b in acl_bindings("dm", "dm-proc")
    }
    topic, prefixed, literal = (
        ResourceType.TOPIC,
        ResourcePatternType.PREFIXED,
        ResourcePatternType.LITERAL,
    )
    assert {g for g in granted if g[0] == "User:producer"} == {
        ("User:producer", topic, "dm.events.", prefixed, AclOperation.WRITE),
        ("User:producer", topic, "dm.events.", prefixed, AclOperation.DESCRIBE),
        ("User:producer", topic, "dm.deadletter", literal, AclOperation.WRITE),
        ("User:producer", topic, "dm.deadletter", literal, AclOperation.DESCRIBE),
    }
    assert {g for g in granted if g[0] == "User:exporter"} == {
        ("User:exporter", topic, "dm.state", literal, AclOperation.READ),
        ("User:exporter", topic, "dm.state", literal, AclOperation.DESCRIBE),
        ("User:exporter", ResourceType.GROUP, "dm.state", prefixed, AclOperation.READ),
    }
    readers = {g[0] for g in granted if g[4] == AclOperation.READ and g[2] == "dm.events."}
    assert readers == {"User:processor"}


def test_web_config_hashes_passwords_and_prometheus_config_uses_tls(material: Material) -> None:
    config = web_config(material, "prometheus")
    assert config["tls_server_config"]["cert_file"] == str(material.cert("prometheus"))
    assert sorted(config["basic_auth_users"]) == ["operator", "prometheus"]
    assert config["basic_auth_users"]["operator"].startswith("$2b$10$")
    cfg = {
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["a:1"]}]}]},
        "remote_write": [{"url": "http://v:2/api/v1/write"}],
        "scrape_configs": [{"job_name": "devmetrics-processors"}, {"job_name": "victoriametrics"}],
    }
    out = secure_prometheus_config(cfg, material)
    assert out["remote_write"][0]["url"] == "https://v:2/api/v1/write"
    assert out["remote_write"][0]["basic_auth"]["username"] == "victoriametrics"
    assert out["scrape_configs"][0]["tls_config"]["cert_file"] == str(material.cert("prometheus"))
    assert "basic_auth" not in out["scrape_configs"][0]
    assert out["alerting"]["alertmanagers"][0]["scheme"] == "https"


def test_basic_auth_accepts_the_right_password_only() -> None:
    auth = BasicAuth.from_passwords({"prometheus": "s3cret"})
    assert auth.check(basic_auth_header("prometheus", "s3cret"))
    assert auth.check(basic_auth_header("prometheus", "s3cret"))  # remembered
    assert not auth.check(basic_auth_header("prometheus", "wrong"))
    assert not auth.check(basic_auth_header("operator", "s3cret"))
    assert not auth.check(None)
    assert not auth.check("Basic !!notbase64")
    assert not auth.check("Bearer abc")


def test_pseudonym_is_the_keyed_hmac_and_leaves_agents_alone() -> None:
    key = b"k" * 32
    pseudo = Pseudonymizer(key)
    expected = "person-" + hmac.new(key, b"ana@example.org", hashlib.sha256).hexdigest()[:32]
    event: dict[str, Any] = {
        "project_id": "p",
        "actor": {"kind": "human", "name": "ana@example.org", "model": None},
    }
    out = pseudo(event)
    assert out["actor"] == {"kind": "human", "name": expected, "model": None}
    assert event["actor"]["name"] == "ana@example.org"  # the caller's dict is untouched
    assert pseudo(out) == out  # idempotent
    agent = {"actor": {"kind": "ai_agent", "name": "coder", "model": "m"}}
    assert pseudo(agent) is agent
    assert Pseudonymizer(b"x" * 32).pseudonym("ana@example.org") != expected
    with pytest.raises(SecurityError, match="at least 16"):
        Pseudonymizer(b"short")
