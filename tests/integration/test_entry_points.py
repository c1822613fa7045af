"""The usual failures of the client commands, as a user meets them on a secured stack: each
ends the command with exit code 1 and one line that names what is at fault (the user, the CA
file, the bootstrap servers, the topic, the login, the port), and no traceback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.pipeline import kafka_env
from support.secured import Secured, secured_stack

from core.security import role_env
from devmetrics.stack.process import free_port

pytestmark = pytest.mark.integration

SIMULATE = ["simulate", "--projects", "1", "--days", "0.01"]
EMIT = [
    "emit",
    "deployment",
    "--project",
    "P",
    "--deployment-id",
    "D",
    "--environment",
    "production",
]
EMIT += ["--status", "success"]


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    with secured_stack(tmp_path_factory.mktemp("entry")) as stack:
        yield stack


def _as(secured: Secured, role: str, **extra: str) -> dict[str, str]:
    """The environment of a `role` client of this stack, with `extra` variables on top."""
    return (
        role_env(secured.material, role)
        | kafka_env(secured.kafka(role))
        | {"DEVMETRICS_PROCESSOR__APP_ID": secured.app_id}
        | {f"DEVMETRICS_{k.upper()}": v for k, v in extra.items()}
    )


def _stack_env(secured: Secured) -> dict[str, str]:
    """The variables that name this stack's home and ports, as `devmetrics stack` reads them."""
    stack = secured.stack.settings.stack
    names = [
        *("home", "kafka_port", "kafka_controller_port", "prometheus_port"),
        *("alertmanager_port", "victoriametrics_port", "alert_webhook_url", "kafka_heap"),
    ]
    return {f"DEVMETRICS_STACK__{n.upper()}": str(getattr(stack, n)) for n in names}


def _fails(args: list[str], env: dict[str, str], timeout_s: float = 120) -> str:
    """Run `devmetrics ARGS`; assert exit 1 with no traceback; return its last stderr line."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("DEVMETRICS_")}
    done = subprocess.run(
        [sys.executable, "-m", "devmetrics", *args],
        env=base | env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    assert "librdkafka" not in done.stderr, done.stderr  # the one line says it all
    return done.stderr.strip().splitlines()[-1]


def test_a_wrong_password_names_the_user_and_the_broker(secured: Secured) -> None:
    env = _as(secured, "producer", kafka__sasl_password="stale")
    line = _fails(SIMULATE, env)
    bootstrap = secured.kafka("producer").bootstrap
    assert line == (
        f"devmetrics simulate: the broker at {bootstrap} refused the credentials of user "
        "'producer' (SCRAM-SHA-512); check kafka.sasl_password"
    )


def test_an_untrusted_broker_certificate_names_the_ca_file(secured: Secured) -> None:
    env = _as(secured, "producer", kafka__ssl_ca_file=str(secured.untrusted_ca))
    line = _fails(EMIT, env)
    bootstrap = secured.kafka("producer").bootstrap
    assert line.startswith(
        f"devmetrics emit: TLS with the broker at {bootstrap} failed: its certificate is not "
        f"trusted by {secured.untrusted_ca} or does not name the host dialled ("
    ), line


def test_an_unreachable_broker_names_the_bootstrap_servers(secured: Secured) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    env = _as(secured, "exporter", kafka__bootstrap=nowhere)
    line = _fails(["export", "--port", "0"], env)
    assert line.startswith(f"devmetrics export: no Kafka broker answers at {nowhere} ("), line


def test_a_refused_topic_names_the_topic_and_the_user(secured: Secured) -> None:
    """An exporter's credentials may read the state topic only: it may not simulate."""
    line = _fails(SIMULATE, _as(secured, "exporter"))
    bootstrap = secured.kafka("exporter").bootstrap
    topic = secured.topics.events("rfc")
    assert line.startswith(
        f"devmetrics simulate: the broker at {bootstrap} refused user 'exporter' access to "
        f"topic {topic}: "
    ), line


def test_a_taken_port_names_the_server_and_the_address(secured: Secured) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _fails(["export", "--port", str(port)], _as(secured, "exporter"))
    assert line == (
        f"devmetrics export: the exporter shard cannot listen on 127.0.0.1:{port}: another "
        "process uses that port; stop it or give another port"
    )


def test_a_refused_victoriametrics_login_stops_the_demo_at_once(
    secured: Secured, tmp_path: Path
) -> None:
    """VictoriaMetrics' password file no longer matches the running server: the demo says so
    before it starts anything, instead of waiting for projects that never show."""
    stale = tmp_path / "security"
    shutil.copytree(secured.material.root, stale)
    (stale / "secrets" / "http-victoriametrics").write_text("not-the-password\n")
    env = _as(secured, "admin") | _stack_env(secured) | {"DEVMETRICS_SECURITY__DIR": str(stale)}
    line = _fails(["demo", "--projects", "1", "--days", "0.01", "--no-live", "--wait", "5"], env)
    assert line == (
        f"devmetrics demo: {secured.url('victoriametrics')} refused the login of user "
        "'victoriametrics' (HTTP 401); check the security folder's "
        "secrets/http-victoriametrics against the server's"
    )
    assert not (secured.stack.settings.stack.home / "run" / "processor-0.pid").exists()


def test_a_refused_prometheus_login_stops_the_stack_at_once(
    secured: Secured, tmp_path: Path
) -> None:
    """The operator's password no longer matches the running Prometheus and Alertmanager:
    `stack up` says so at its first health check instead of waiting out its timeout."""
    stale = tmp_path / "security"
    shutil.copytree(secured.material.root, stale)
    (stale / "secrets" / "http-operator").write_text("not-the-password\n")
    env = _as(secured, "admin") | _stack_env(secured) | {"DEVMETRICS_SECURITY__DIR": str(stale)}
    line = _fails(["stack", "up"], env, timeout_s=60)
    assert line.endswith(
        f"refused the login of user 'operator' (HTTP 401): "
        f"{stale / 'secrets' / 'http-operator'} does not hold the password it was started "
        "with; restart it with the current material (devmetrics stack down, then devmetrics "
        "stack up)"
    ), line
