"""infra/docker-compose.yml cannot run here; check what can be checked without a Docker engine."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import REPO_ROOT

from core.settings import StackSettings

pytestmark = pytest.mark.unit

INFRA = REPO_ROOT / "infra"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((INFRA / "docker-compose.yml").read_text())


def _expand(text: str) -> str:
    """${VAR:-default} -> default, as compose does with VAR unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


def test_every_bind_mount_exists(compose: dict[str, Any]) -> None:
    checked = 0
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = _expand(volume).split(":")[0]
            if source.startswith((".", "/")):
                assert (INFRA / source).exists(), f"{name}: mounted {source} does not exist"
                checked += 1
    assert checked >= 5


def test_ports_agree_with_the_local_stack(compose: dict[str, Any]) -> None:
    defaults = StackSettings()
    services = compose["services"]
    assert all(s.get("network_mode") == "host" for s in services.values())
    # Compose runs secured: its broker listens on SASL_SSL only (infra/kafka/secure-start.sh).
    start = (INFRA / "kafka" / "secure-start.sh").read_text()
    assert (
        f"listeners=SASL_SSL://127.0.0.1:{defaults.kafka_port},"
        f"CONTROLLER://127.0.0.1:{defaults.kafka_controller_port}"
    ) in start
    expected = {
        "prometheus": f"--web.listen-address=127.0.0.1:{defaults.prometheus_port}",
        "alertmanager": f"--web.listen-address=127.0.0.1:{defaults.alertmanager_port}",
        "victoriametrics": f"-httpListenAddr=127.0.0.1:{defaults.victoriametrics_port}",
    }
    for name, flag in expected.items():
        assert flag in services[name]["command"], name


def test_shipped_configs_point_at_the_same_ports() -> None:
    defaults = StackSettings()
    prom = yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())
    am_targets = [
        t
        for m in prom["alerting"]["alertmanagers"]
        for s in m["static_configs"]
        for t in s["targets"]
    ]
    assert am_targets == [f"127.0.0.1:{defaults.alertmanager_port}"]
    assert [r["url"] for r in prom["remote_write"]] == [
        f"http://127.0.0.1:{defaults.victoriametrics_port}/api/v1/write"
    ]
    sources = yaml.safe_load(
        (INFRA / "grafana" / "provisioning" / "datasources" / "datasources.yml").read_text()
    )
    urls = {d["name"]: d["url"] for d in sources["datasources"]}
    assert urls == {
        "Prometheus": f"http://127.0.0.1:{defaults.prometheus_port}",
        "VictoriaMetrics": f"http://127.0.0.1:{defaults.victoriametrics_port}",
    }


def test_grafana_has_no_anonymous_access(compose: dict[str, Any]) -> None:
    env = compose["services"]["grafana"]["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_AUTH_GENERIC_OAUTH_ENABLED"] == "true"
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env


def test_dashboard_provider_path_is_mounted(compose: dict[str, Any]) -> None:
    provider = yaml.safe_load(
        (INFRA / "grafana" / "provisioning" / "dashboards" / "dashboards.yml").read_text()
    )
    path = provider["providers"][0]["options"]["path"]
    mounts = [v.split(":")[1] for v in compose["services"]["grafana"]["volumes"]]
    assert path in mounts
    assert Path(INFRA / "grafana" / "dashboards").is_dir()


def test_secured_grafana_datasources_use_https_and_the_security_material() -> None:
    from core.security.material import HTTP_USERS

    defaults = StackSettings()
    path = INFRA / "grafana" / "provisioning" / "datasources-secured" / "datasources.yml"
    sources = {d["name"]: d for d in yaml.safe_load(path.read_text())["datasources"]}
    assert {n: d["url"] for n, d in sources.items()} == {
        "Prometheus": f"https://127.0.0.1:{defaults.prometheus_port}",
        "VictoriaMetrics": f"https://127.0.0.1:{defaults.victoriametrics_port}",
    }
    for source in sources.values():
        assert source["basicAuthUser"] in HTTP_USERS
        secure = source["secureJsonData"]
        assert secure["basicAuthPassword"] == (
            f"$__file{{/etc/devmetrics/security/secrets/http-{source['basicAuthUser']}}}"
        )
        assert secure["tlsCACert"] == "$__file{/etc/devmetrics/security/ca.crt}"
