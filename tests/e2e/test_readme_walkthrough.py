"""The README walked as a newcomer walks it, on one stack home and in the README's order: the
demo, `stack down`, then the Security section (`stack down --purge`, `security init`, the
switch, `stack up`, the secured demo, acting as the producer), and `stack down`. Each command
is checked for its exit code and the lines a user relies on; no screen shows a raw librdkafka
line. The stack home and ports are the test's own (settings variables), the demo is small."""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from devmetrics.stack.process import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

PROJECTS = 4
DEMO = ["demo", "--projects", str(PROJECTS), "--days", "0.1", "--shards", "1", "--no-live"]
RAW_LIBRDKAFKA = re.compile(r"^%\d+\|", re.MULTILINE)
"""librdkafka's own format (`%4|1733200000.123|GETPID|rdkafka#producer-1| ...`)."""


class Walk:
    """Runs `devmetrics` commands in one environment, as a shell session would."""

    def __init__(self, home: Path) -> None:
        self.cwd = home
        base = {k: v for k, v in os.environ.items() if not k.startswith("DEVMETRICS_")}
        ports = ("kafka", "kafka_controller", "prometheus", "alertmanager", "victoriametrics")
        self.env = base | {
            "DEVMETRICS_STACK__HOME": str(home / ".stack"),
            "DEVMETRICS_SECURITY__DIR": str(home / ".stack" / "security"),
            "DEVMETRICS_STACK__KAFKA_HEAP": "512M",
            "DEVMETRICS_STACK__PROMETHEUS_SCRAPE_INTERVAL": "2s",
            "DEVMETRICS_RECEIVER__PORT": str(free_port()),
        }
        self.env |= {f"DEVMETRICS_STACK__{p.upper()}_PORT": str(free_port()) for p in ports}

    def __call__(self, *args: str, timeout_s: float = 900) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "devmetrics", *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        screen = done.stdout + done.stderr
        assert done.returncode == 0, f"devmetrics {' '.join(args)}:\n{screen}"
        assert "Traceback" not in screen, screen
        assert not RAW_LIBRDKAFKA.search(screen), screen
        return done

    @property
    def prometheus(self) -> str:
        return f"https://127.0.0.1:{self.env['DEVMETRICS_STACK__PROMETHEUS_PORT']}"


def _anonymous_status(url: str, ca_file: Path) -> int:
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with urllib.request.urlopen(f"{url}/api/v1/query?query=up", context=context, timeout=10):
            return 200
    except urllib.error.HTTPError as exc:
        return exc.code


def _assert_fleet_report(stdout: str, projects: int) -> None:
    """The demo's last line names the fleet report it wrote, an HTML page of every project."""
    last = stdout.strip().splitlines()[-1]
    assert last.startswith("Fleet report: "), stdout
    page = Path(last.removeprefix("Fleet report: ")).read_text()
    assert "<h1>devmetrics report: the fleet</h1>" in page
    assert f"; {projects} projects; read from VictoriaMetrics" in page
    assert "data:image/png;base64," in page


def test_the_readme_in_its_order(tmp_path: Path) -> None:
    walk = Walk(tmp_path)
    security = tmp_path / ".stack" / "security"
    try:
        demo = walk(*DEMO)
        assert f"VictoriaMetrics sees {PROJECTS} of {PROJECTS} projects" in demo.stdout
        assert "Where to look:" in demo.stdout
        assert "processor-0: started" in demo.stderr
        _assert_fleet_report(demo.stdout, PROJECTS)
        assert "kafka: stopped" in walk("stack", "down").stderr

        # The Security section, line by line.
        walk("stack", "down", "--purge")
        assert {p.name for p in (tmp_path / ".stack").iterdir()} <= {"security"}
        walk("security", "init")
        assert (security / "ca.crt").is_file()
        walk.env["DEVMETRICS_SECURITY__ENABLED"] = "true"
        up = walk("stack", "up")
        assert "ACLs of the producer, processor and exporter roles" in up.stderr
        demo = walk(*DEMO)
        assert f"VictoriaMetrics sees {PROJECTS} of {PROJECTS} projects" in demo.stdout
        assert f"{walk.prometheus}/classic/graph" in demo.stdout  # https, and it answers
        assert _anonymous_status(walk.prometheus, security / "ca.crt") == 401
        _assert_fleet_report(demo.stdout, PROJECTS)  # read over HTTPS, logged in

        # `set -a; . .stack/security/env/producer.env; set +a`: act as the producer.
        producer = dict(
            line.split("=", 1)
            for line in (security / "env" / "producer.env").read_text().splitlines()
            if "=" in line and not line.startswith("#")
        )
        walk.env |= {k: v.strip("'\"") for k, v in producer.items()}
        kafka_port = walk.env["DEVMETRICS_STACK__KAFKA_PORT"]
        walk.env["DEVMETRICS_KAFKA__BOOTSTRAP"] = f"127.0.0.1:{kafka_port}"  # not the default
        sent = walk(
            *("emit", "deployment", "--project", "walk-1", "--deployment-id", "walk-d1"),
            *("--environment", "production", "--status", "success"),
        )
        assert re.fullmatch(r"[0-9a-f-]{36}\n", sent.stdout), sent.stdout
    finally:
        subprocess.run(
            [sys.executable, "-m", "devmetrics", "stack", "down"],
            env=walk.env,
            cwd=walk.cwd,
            capture_output=True,
            timeout=300,
            check=False,
        )
