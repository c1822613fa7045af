"""The shipped Prometheus and Alertmanager configuration, checked by their own tools."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import REPO_ROOT

pytestmark = pytest.mark.unit

PROMETHEUS_DIR = REPO_ROOT / "infra" / "prometheus"
ALERTMANAGER_YML = REPO_ROOT / "infra" / "alertmanager" / "alertmanager.yml"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(
            f"{name} is not installed (Debian package prometheus / prometheus-alertmanager)"
        )
    return path


def _run(*argv: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=60, cwd=cwd, check=False
    )
    assert done.returncode == 0, f"{argv[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_prometheus_config_is_valid_and_finds_dropped_target_files(tmp_path: Path) -> None:
    config_dir = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS_DIR, config_dir)
    (config_dir / "targets" / "exporters-0.json").write_text(
        json.dumps([{"targets": ["127.0.0.1:9400"]}])
    )
    out = _run(_tool("promtool"), "check", "config", config_dir / "prometheus.yml")
    assert "prometheus.yml is valid prometheus config file syntax" in out
    assert "SUCCESS: 3 rule files found" in out
    assert "exporters*.json" not in out  # the dropped file matched the glob
    assert 'processors*.json" for file_sd in scrape job' in out  # none dropped: a warning only


def test_prometheus_config_defaults() -> None:
    cfg = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    assert cfg["global"]["scrape_interval"] == "15s"
    jobs = {job["job_name"]: job for job in cfg["scrape_configs"]}
    assert jobs["devmetrics-exporters"]["file_sd_configs"] == [
        {"files": ["targets/exporters*.json"], "refresh_interval": "30s"}
    ]
    assert jobs["devmetrics-processors"]["file_sd_configs"][0]["files"] == [
        "targets/processors*.json"
    ]
    assert [r["url"] for r in cfg["remote_write"]] == ["http://127.0.0.1:8428/api/v1/write"]
    assert cfg["alerting"]["alertmanagers"][0]["static_configs"] == [
        {"targets": ["127.0.0.1:9093"]}
    ]


def test_rule_files_are_valid() -> None:
    rule_files = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
    assert [p.name for p in rule_files] == [
        "ai_impact_alerts.yml",
        "pipeline_alerts.yml",
        "recording.yml",
        "slo_alerts.yml",
    ]
    out = _run(_tool("promtool"), "check", "rules", *rule_files)
    assert out.count("SUCCESS") == 4


def test_burn_rate_alerts_have_the_four_tiers() -> None:
    groups = yaml.safe_load((PROMETHEUS_DIR / "rules" / "slo_alerts.yml").read_text())["groups"]
    burn = [
        r for g in groups for r in g["rules"] if r.get("alert") == "DevmetricsSLOErrorBudgetBurn"
    ]
    assert [(r["labels"]["tier"], r["labels"]["severity"]) for r in burn] == [
        ("page-fast", "page"),
        ("page-slow", "page"),
        ("ticket-fast", "ticket"),
        ("ticket-slow", "ticket"),
    ]


def test_rule_unit_tests_pass() -> None:
    tests = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
    assert tests, "no promtool rule tests under infra/prometheus/tests"
    out = _run(_tool("promtool"), "test", "rules", *tests)
    assert "FAILED" not in out


def test_alertmanager_config_is_valid() -> None:
    out = _run(_tool("amtool"), "check-config", ALERTMANAGER_YML)
    assert "SUCCESS" in out
    assert " - 1 inhibit rules" in out
    assert " - 3 receivers" in out


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (
            ["alertname=DevmetricsSLOErrorBudgetBurn", "severity=page", "tier=page-fast"],
            "webhook,pagerduty",
        ),
        (
            ["alertname=DevmetricsSLOErrorBudgetBurn", "severity=ticket", "tier=ticket-slow"],
            "webhook,slack",
        ),
        (["alertname=DevmetricsExporterDown", "severity=page"], "webhook,pagerduty"),
        (["alertname=Unlabelled"], "webhook"),
    ],
)
def test_alert_routes(labels: list[str], receivers: str) -> None:
    out = _run(
        _tool("amtool"), "config", "routes", "test", f"--config.file={ALERTMANAGER_YML}", *labels
    )
    assert out.splitlines()[0] == receivers


def test_pages_inhibit_tickets_of_the_same_slo() -> None:
    cfg = yaml.safe_load(ALERTMANAGER_YML.read_text())
    assert cfg["inhibit_rules"] == [
        {
            "source_matchers": ['alertname="DevmetricsSLOErrorBudgetBurn"', 'severity="page"'],
            "target_matchers": ['alertname="DevmetricsSLOErrorBudgetBurn"', 'severity="ticket"'],
            "equal": ["project", "service", "slo"],
        }
    ]
    assert cfg["route"]["group_by"] == ["alertname", "project", "service", "slo"]


def test_receiver_secrets_come_from_files() -> None:
    receivers = {r["name"]: r for r in yaml.safe_load(ALERTMANAGER_YML.read_text())["receivers"]}
    pagerduty = receivers["pagerduty"]["pagerduty_configs"][0]
    slack = receivers["slack"]["slack_configs"][0]
    assert pagerduty["routing_key_file"] == "/etc/devmetrics/secrets/pagerduty_routing_key"
    assert "routing_key" not in pagerduty and "service_key" not in pagerduty
    assert slack["api_url_file"] == "/etc/devmetrics/secrets/slack_webhook_url"
    assert "api_url" not in slack
    assert receivers["webhook"]["webhook_configs"][0]["url"] == "http://127.0.0.1:9099/alerts"


def _prepared(tmp_path: Path, servers: int, **stack_settings: Any) -> list[dict]:
    """The configs `stack up` writes for ``servers`` Prometheus servers, checked by promtool."""
    from core.settings import load_settings
    from devmetrics.stack.components import Prometheus

    base = load_settings()
    stack = base.stack.model_copy(
        update={
            "home": tmp_path,
            "prometheus_servers": servers,
            "install_packages": False,
            **stack_settings,
        }
    )
    settings = base.model_copy(update={"stack": stack})
    configs = []
    for index in range(servers):
        server = Prometheus(settings, index)
        server.prepare()
        path = server.config_dir / "prometheus.yml"
        out = _run(_tool("promtool"), "check", "config", path)
        assert "is valid prometheus config file syntax" in out
        configs.append(yaml.safe_load(path.read_text()))
    return configs


def test_the_ai_impact_alert_is_loaded_only_when_enabled(tmp_path: Path) -> None:
    (default,) = _prepared(tmp_path / "default", 1)
    assert "rules/ai_impact_alerts.yml" not in default["rule_files"]
    (enabled,) = _prepared(tmp_path / "enabled", 1, ai_impact_alerts=True)
    assert enabled["rule_files"] == [*default["rule_files"], "rules/ai_impact_alerts.yml"]
    rules = yaml.safe_load((PROMETHEUS_DIR / "rules" / "ai_impact_alerts.yml").read_text())
    (alert,) = rules["groups"][0]["rules"]
    assert alert["alert"] == "DevmetricsAgentChangesFailMoreOften"


def _job(cfg: dict, name: str) -> dict | None:
    return next((j for j in cfg["scrape_configs"] if j["job_name"] == name), None)


def test_several_servers_split_the_shards_and_share_one_target_folder(tmp_path: Path) -> None:
    first, second, third = _prepared(tmp_path, 3)
    for index, cfg in enumerate((first, second, third)):
        exporters = _job(cfg, "devmetrics-exporters")
        assert exporters is not None
        (keep,) = exporters["relabel_configs"]
        assert keep["action"] == "keep" and keep["source_labels"] == ["shard"]
        kept = set(keep["regex"].split("|"))
        assert {str(s) for s in range(12) if s % 3 == index} <= kept
        assert not {str(s) for s in range(12) if s % 3 != index} & kept
        assert exporters["file_sd_configs"][0]["files"] == [
            str(tmp_path / "prometheus" / "targets" / "exporters*.json")
        ]
        # Every server drops the target labels of project series at scrape.
        assert [r["target_label"] for r in exporters["metric_relabel_configs"]] == [
            "instance",
            "job",
            "shard",
        ]
        assert _job(cfg, "prometheus")["static_configs"][0]["targets"] == [  # type: ignore[index]
            f"127.0.0.1:{9090 + index}"
        ]
        assert cfg["remote_write"][0]["url"] == "http://127.0.0.1:8428/api/v1/write"
    # Only the first watches the processors, Alertmanager and VictoriaMetrics.
    assert _job(first, "devmetrics-processors") and _job(first, "victoriametrics")
    assert _job(second, "devmetrics-processors") is None and _job(third, "alertmanager") is None


def test_one_server_keeps_every_shard(tmp_path: Path) -> None:
    (only,) = _prepared(tmp_path, 1)
    assert "relabel_configs" not in _job(only, "devmetrics-exporters")  # type: ignore[operator]
