"""The secured docker-compose deployment agrees with the code that secures the local stack."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import REPO_ROOT

from core.kafka_security import broker_properties
from core.security.material import Material
from core.security.provision import CONTAINER_ROOT, init_material
from core.security.web import secure_prometheus_config

pytestmark = pytest.mark.unit

INFRA = REPO_ROOT / "infra"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((INFRA / "docker-compose.yml").read_text())


def test_the_broker_script_writes_the_same_security_properties_as_the_local_stack(
    tmp_path: Path,
) -> None:
    material, _ = init_material(tmp_path, datetime.now(UTC))
    expected = broker_properties(material, "127.0.0.1", 9092, 19093)
    script = (INFRA / "kafka" / "secure-start.sh").read_text().replace("$S/", f"{CONTAINER_ROOT}/")
    inside = Material(CONTAINER_ROOT)
    for line in expected:
        line = line.replace(str(material.root), str(inside.root))
        line = line.replace(material.secret("kafka", "admin"), "$admin")
        assert line in script.splitlines(), line
    assert "PLAINTEXT" not in script


def test_shipped_secure_prometheus_config_is_the_generated_one() -> None:
    shipped = yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())
    secure = yaml.safe_load((INFRA / "prometheus" / "prometheus-secure.yml").read_text())
    assert secure == secure_prometheus_config(shipped, Material(CONTAINER_ROOT))


def test_compose_secures_every_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "environment" not in services["kafka"]  # the script, not KAFKA_* variables
    mount = re.compile(r"^\$\{DEVMETRICS_SECURITY_DIR:\?.*\}:/etc/devmetrics/security:ro$")
    for name in ("kafka", "victoriametrics", "alertmanager", "prometheus"):
        assert any(mount.match(v) for v in services[name]["volumes"]), name
    assert (
        "--web.config.file=/etc/devmetrics/security/web/prometheus.yml"
        in (services["prometheus"]["command"])
    )
    assert (
        "--config.file=/etc/prometheus/prometheus-secure.yml" in services["prometheus"]["command"]
    )
    assert (
        "--web.config.file=/etc/devmetrics/security/web/alertmanager.yml"
        in (services["alertmanager"]["command"])
    )
    vm = services["victoriametrics"]["command"]
    assert {"-tls", "-httpAuth.username=victoriametrics", "-envflag.enable"} <= set(vm)
    assert not any("httpAuth.password" in arg for arg in vm)
    grafana = services["grafana"]["environment"]
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert grafana["GF_AUTH_DISABLE_LOGIN_FORM"] == "true"
    assert grafana["GF_SECURITY_DISABLE_INITIAL_ADMIN_CREATION"] == "true"


def test_init_writes_web_configs_with_container_paths(tmp_path: Path) -> None:
    material, _ = init_material(tmp_path, datetime.now(UTC))
    config = yaml.safe_load(material.web_config_file("alertmanager").read_text())
    assert (
        config["tls_server_config"]["cert_file"]
        == "/etc/devmetrics/security/certs/alertmanager.crt"
    )
    assert sorted(config["basic_auth_users"]) == ["operator", "prometheus"]
