"""The shipped Prometheus and Alertmanager configuration, checked by their own tools."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from devmetrics.settings import REPO_ROOT

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
        "pipeline_alerts.yml",
        "recording.yml",
        "slo_alerts.yml",
    ]
    out = _run(_tool("promtool"), "check", "rules", *rule_files)
    assert out.count("SUCCESS") == 3


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
