"""The launcher's errors name what is wrong, and it never stops a process it did not start."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.settings import ConfigError, Settings, load_settings
from devmetrics.stack import Stack, StackError
from devmetrics.stack.components import Kafka, Prometheus
from devmetrics.stack.process import ManagedProcess, free_port

pytestmark = pytest.mark.unit


def _settings(tmp_path: Path, **stack: object) -> Settings:
    base = load_settings()
    return base.model_copy(
        update={
            "stack": base.stack.model_copy(
                update={"home": tmp_path, "install_packages": False, **stack}
            )
        }
    )


def test_bad_config_stops_with_a_message_naming_the_field(monkeypatch) -> None:
    monkeypatch.setenv("DEVMETRICS_STACK__KAFKA_PORT", "70000")
    with pytest.raises(ConfigError, match=r"stack\.kafka_port"):
        load_settings()


def test_config_file_is_read_and_env_wins(tmp_path: Path, monkeypatch) -> None:
    cfg = tmp_path / "devmetrics.yml"
    cfg.write_text("log_level: debug\nkafka:\n  partitions: 6\n  topic_prefix: fromfile\n")
    monkeypatch.setenv("DEVMETRICS_CONFIG", str(cfg))
    monkeypatch.setenv("DEVMETRICS_KAFKA__TOPIC_PREFIX", "fromenv")
    settings = load_settings()
    assert (settings.log_level, settings.kafka.partitions, settings.kafka.topic_prefix) == (
        "DEBUG",
        6,
        "fromenv",
    )


def test_unreadable_config_file_is_named(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DEVMETRICS_CONFIG", str(tmp_path / "absent.yml"))
    with pytest.raises(ConfigError, match=r"absent\.yml"):
        load_settings()


def test_port_in_use_is_named(tmp_path: Path) -> None:
    port = free_port()
    settings = _settings(tmp_path, kafka_port=port, kafka_controller_port=free_port())
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        with pytest.raises(StackError, match=f"kafka port {port} .* already in use"):
            Stack(settings, only={"kafka"}).up()


def test_missing_java_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("devmetrics.stack.components.shutil.which", lambda name: None)
    with pytest.raises(StackError, match="Java is not installed"):
        Kafka(_settings(tmp_path)).prepare()


def test_missing_maven_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(
        "devmetrics.stack.components.shutil.which",
        lambda name: "/usr/bin/java" if name == "java" else None,
    )
    settings = _settings(tmp_path, cache=tmp_path / "empty-cache")
    with pytest.raises(StackError, match="Maven is not installed"):
        Kafka(settings).prepare()


def test_missing_package_without_install_permission(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("devmetrics.stack.components.shutil.which", lambda name: None)
    with pytest.raises(StackError, match="apt-get install -y prometheus"):
        Prometheus(_settings(tmp_path)).prepare()


def test_generated_server_properties_use_the_configured_ports(tmp_path: Path) -> None:
    settings = _settings(tmp_path, kafka_port=31001, kafka_controller_port=31002)
    text = Kafka(settings)._server_properties(tmp_path / "data")
    assert "listeners=PLAINTEXT://127.0.0.1:31001,CONTROLLER://127.0.0.1:31002" in text
    assert "controller.quorum.voters=1@127.0.0.1:31002" in text
    assert f"log.dirs={tmp_path / 'data'}" in text


def test_a_three_node_cluster_replicates_three_times_with_two_in_sync(tmp_path: Path) -> None:
    settings = _settings(tmp_path, kafka_port=31001, kafka_controller_port=31002, kafka_brokers=3)
    stack = Stack(settings, only={"kafka"})
    assert [c.name for c in stack.components] == ["kafka", "kafka-1", "kafka-2"]
    node = stack.component("kafka-2")
    assert isinstance(node, Kafka)
    lines = set(node._server_properties(tmp_path / "data").splitlines())
    assert {
        "node.id=3",
        "listeners=PLAINTEXT://127.0.0.1:31201,CONTROLLER://127.0.0.1:31202",
        "controller.quorum.voters=1@127.0.0.1:31002,2@127.0.0.1:31102,3@127.0.0.1:31202",
        "default.replication.factor=3",
        "min.insync.replicas=2",
        "offsets.topic.replication.factor=3",
        "transaction.state.log.min.isr=2",
        "unclean.leader.election.enable=false",
    } <= lines
    kafka = stack.kafka_settings
    assert kafka.bootstrap == "127.0.0.1:31001,127.0.0.1:31101,127.0.0.1:31201"
    assert kafka.replication_factor == 3


def test_one_node_keeps_one_copy(tmp_path: Path) -> None:
    lines = Kafka(_settings(tmp_path))._server_properties(tmp_path / "data").splitlines()
    assert {"default.replication.factor=1", "min.insync.replicas=1"} <= set(lines)


def test_prometheus_config_is_pointed_at_this_stack(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        alertmanager_port=31093,
        victoriametrics_port=31428,
        prometheus_scrape_interval="1s",
    )
    cfg = {
        "global": {"scrape_interval": "15s"},
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["x:1"]}]}]},
        "remote_write": [{"url": "http://x:1/api/v1/write"}],
        "scrape_configs": [
            {
                "job_name": "victoriametrics",
                "scrape_interval": "30s",
                "static_configs": [{"targets": ["x:2"]}],
            }
        ],
    }
    out = Prometheus(settings)._localise(cfg)
    assert out["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "127.0.0.1:31093"
    ]
    assert out["remote_write"][0]["url"] == "http://127.0.0.1:31428/api/v1/write"
    assert out["scrape_configs"][0]["static_configs"][0]["targets"] == ["127.0.0.1:31428"]
    assert out["global"]["scrape_interval"] == "1s"
    assert "scrape_interval" not in out["scrape_configs"][0]


def test_stop_leaves_alone_a_process_it_did_not_start(tmp_path: Path) -> None:
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        managed = ManagedProcess("x", tmp_path, tmp_path / "x.log")
        # A stale pid file whose pid now belongs to an unrelated process.
        managed.pid_file.write_text(f"{stranger.pid}\n/some/config/of/ours.yml\n")
        assert not managed.running()
        assert managed.stop() is False
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_start_and_stop_own_process(tmp_path: Path) -> None:
    managed = ManagedProcess("sleeper", tmp_path, tmp_path / "sleeper.log")
    marker = str(tmp_path / "marker-arg")
    managed.start([sys.executable, "-c", "import sys, time; time.sleep(60)", marker])
    assert managed.running()
    assert managed.stop(timeout_s=5) is True
    assert not managed.running()
    assert not managed.pid_file.exists()


def test_format_passes_a_dash_leading_cluster_id_as_one_argument(
    tmp_path: Path, monkeypatch
) -> None:
    """base64url ids may start with '-', which the storage tool would read as an option."""
    import uuid

    import devmetrics.stack.components as components

    seen: list[list[str]] = []

    class Done:
        returncode, stdout, stderr = 0, "", ""

    monkeypatch.setattr(components.uuid, "uuid4", lambda: uuid.UUID(bytes=b"\xf8" + b"\0" * 15))

    def run(cmd: list[str], **kw: Any) -> Done:
        seen.append(cmd)
        return Done()

    monkeypatch.setattr(components.subprocess, "run", run)
    Kafka(_settings(tmp_path))._format(tmp_path / "data")
    (cmd,) = seen
    ids = [a for a in cmd if a.startswith("--cluster-id=")]
    assert ids == ["--cluster-id=-AAAAAAAAAAAAAAAAAAAAA"]
    assert "-t" not in cmd


def _secured(settings: Settings, root: Path) -> Settings:
    from datetime import UTC, datetime

    from core.security.provision import init_material

    init_material(root, datetime.now(UTC))
    security = settings.security.model_copy(update={"enabled": True, "dir": root})
    return settings.model_copy(update={"security": security})


def _formatted(settings: Settings) -> Kafka:
    """A Kafka node whose data folder looks formatted, in the mode of `settings`."""
    kafka = Kafka(settings)
    (kafka.home / "data").mkdir(parents=True)
    (kafka.home / "data" / "meta.properties").write_text("version=1\n")
    kafka._mode_file.write_text(json.dumps(kafka._mode()))
    return kafka


def test_secured_up_on_data_made_without_security_stops_at_once_naming_the_reset(
    tmp_path: Path,
) -> None:
    plain = _settings(tmp_path / "stack")
    _formatted(plain)
    secured = Kafka(_secured(plain, tmp_path / "security"))
    with pytest.raises(StackError) as err:
        secured._check_mode(secured.home / "data")
    message = str(err.value)
    assert f"the Kafka data in {secured.home / 'data'} was made without security" in message
    assert "`devmetrics stack down --purge`" in message


def test_unsecured_up_on_secured_data_and_changed_credentials_are_refused(tmp_path: Path) -> None:
    plain = _settings(tmp_path / "stack")
    secured_settings = _secured(plain, tmp_path / "security")
    _formatted(secured_settings)
    with pytest.raises(StackError, match="was made with security on"):
        Kafka(plain)._check_mode(Kafka(plain).home / "data")
    # The same mode passes; new passwords for the SCRAM users do not.
    Kafka(secured_settings)._check_mode(Kafka(secured_settings).home / "data")
    (tmp_path / "security" / "secrets" / "kafka-admin").write_text("another-password")
    with pytest.raises(StackError, match="other SCRAM credentials"):
        Kafka(secured_settings)._check_mode(Kafka(secured_settings).home / "data")


def test_purge_removes_the_stack_data_but_keeps_the_security_folder(tmp_path: Path) -> None:
    home = tmp_path / "stack"
    settings = _secured(_settings(home), home / "security")
    _formatted(settings)
    (home / "logs").mkdir()
    (home / "endpoints.json").write_text("{}")
    removed = Stack(settings).purge()
    assert sorted(p.name for p in removed) == ["endpoints.json", "kafka", "logs"]
    assert sorted(p.name for p in home.iterdir()) == ["security"]
    assert (home / "security" / "ca.crt").is_file()
