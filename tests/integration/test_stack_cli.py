"""`devmetrics stack up | status | down` as a user runs it: idempotent, health-checked, clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from devmetrics.stack.process import free_port

pytestmark = pytest.mark.integration


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devmetrics", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _pids(home: Path) -> dict[str, int]:
    return {p.stem: int(p.read_text().split()[0]) for p in (home / "run").glob("*.pid")}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_up_status_second_up_and_down(tmp_path: Path) -> None:
    ports = {
        "KAFKA_PORT": free_port(),
        "KAFKA_CONTROLLER_PORT": free_port(),
        "PROMETHEUS_PORT": free_port(),
        "ALERTMANAGER_PORT": free_port(),
        "VICTORIAMETRICS_PORT": free_port(),
    }
    env = {
        **os.environ,
        "DEVMETRICS_STACK__HOME": str(tmp_path / "stack"),
        "DEVMETRICS_STACK__KAFKA_HEAP": "512M",
        **{f"DEVMETRICS_STACK__{k}": str(v) for k, v in ports.items()},
    }
    try:
        up = _run(["stack", "up"], env)
        assert up.returncode == 0, up.stderr
        assert "kafka: healthy" in up.stderr

        status = _run(["stack", "status"], env)
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.count("healthy") == 4
        pids = _pids(tmp_path / "stack")
        assert set(pids) == {"kafka", "prometheus", "alertmanager", "victoriametrics"}

        again = _run(["stack", "up"], env)
        assert again.returncode == 0, again.stderr
        assert again.stderr.count("already running") == 4
        assert _pids(tmp_path / "stack") == pids

        with urllib.request.urlopen(
            f"http://127.0.0.1:{ports['PROMETHEUS_PORT']}/-/ready", timeout=5
        ) as resp:
            assert resp.status == 200
        endpoints = json.loads((tmp_path / "stack" / "endpoints.json").read_text())
        assert endpoints["kafka"] == f"127.0.0.1:{ports['KAFKA_PORT']}"
    finally:
        down = _run(["stack", "down"], env)
    assert down.returncode == 0, down.stderr
    assert not any(_alive(pid) for pid in pids.values())
    status = _run(["stack", "status"], env)
    assert status.returncode == 1
    assert status.stdout.count("down") == 4
