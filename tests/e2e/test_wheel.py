"""The package as a user installs it: a wheel built from this checkout, installed with pip into
a fresh virtual environment, run from a folder outside the checkout. `devmetrics stack up`,
`demo` (which runs `process`, `export` and `simulate`) and `stack down` work from it: the
configurations, rules and schemas (their history included) come from the wheel's package data,
and what the stack writes goes to the XDG folders of the user, not into any checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from support import REPO_ROOT

from devmetrics.stack.process import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

PROJECTS = 3


def _run(
    argv: list[str], env: dict[str, str], cwd: Path, timeout_s: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(the venv's bin folder, an environment that points nowhere near the checkout)."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    build = _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(REPO_ROOT)],
        dict(os.environ),
        root,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("devmetrics-*.whl")
    venv.create(root / "venv", with_pip=True)
    bin_dir = root / "venv" / "bin"
    home = root / "home"
    home.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DEVMETRICS_", "PYTHON", "XDG_", "VIRTUAL_ENV", "KAFKA_"))
    }
    env |= {"HOME": str(home), "PATH": f"{bin_dir}:{env['PATH']}"}
    install = _run(
        [str(bin_dir / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
        env,
        root,
        timeout_s=900,
    )
    assert install.returncode == 0, install.stderr
    return bin_dir, env


def test_the_wheel_holds_the_package_data_and_resolves_paths_outside_any_checkout(
    installed: tuple[Path, dict[str, str]],
) -> None:
    bin_dir, env = installed
    home = Path(env["HOME"])
    probe = _run(
        [
            str(bin_dir / "python"),
            "-c",
            "import core, schemas\n"
            "from core.paths import checkout_root, data_home, cache_home, infra_dir\n"
            "from core.settings import load_settings\n"
            "s = load_settings()\n"
            "print(core.__file__, checkout_root(), s.stack.home, s.stack.cache, sep='\\n')\n"
            "print(infra_dir('prometheus', 'rules', 'slo_alerts.yml').is_file())\n"
            "print(infra_dir('kafka', 'pom.xml').is_file())",
        ],
        env,
        home,
    )
    assert probe.returncode == 0, probe.stderr
    core_file, checkout, stack_home, cache, rules, pom = probe.stdout.split("\n")[:6]
    assert core_file.startswith(str(bin_dir.parent)), core_file
    assert checkout == "None"
    assert stack_home == str(home / ".local" / "share" / "devmetrics")
    assert cache == str(home / ".cache" / "devmetrics")
    assert rules == pom == "True"


def test_old_events_decode_with_the_installed_history_schemas(
    installed: tuple[Path, dict[str, str]],
) -> None:
    """A version 1 event (before `team`) still decodes: schemas/history ships in the wheel."""
    bin_dir, env = installed
    script = (
        "import json\n"
        "from importlib.resources import files\n"
        "from schemas.codec import Codec\n"
        "from schemas.examples import example_event\n"
        "old = json.loads(files('schemas').joinpath('history/deployment.v1.avsc').read_text())\n"
        "event = example_event('deployment', kind='planned')\n"
        "del event['team']\n"
        "event['schema_version'] = 1\n"
        "record = Codec.default().decode(Codec({'deployment': old}).encode('deployment', event))\n"
        "print(record.record['team'], record.record['deployment_id'] == event['deployment_id'])"
    )
    decoded = _run([str(bin_dir / "python"), "-c", script], env, Path(env["HOME"]))
    assert decoded.returncode == 0, decoded.stderr
    assert decoded.stdout.split() == ["None", "True"]


def test_stack_up_demo_and_down_run_from_the_wheel(installed: tuple[Path, dict[str, str]]) -> None:
    bin_dir, base_env = installed
    home = Path(base_env["HOME"])
    kafka_port = free_port()
    env = base_env | {
        "DEVMETRICS_STACK__KAFKA_PORT": str(kafka_port),
        "DEVMETRICS_STACK__KAFKA_CONTROLLER_PORT": str(free_port()),
        "DEVMETRICS_STACK__PROMETHEUS_PORT": str(free_port()),
        "DEVMETRICS_STACK__ALERTMANAGER_PORT": str(free_port()),
        "DEVMETRICS_STACK__VICTORIAMETRICS_PORT": str(free_port()),
        "DEVMETRICS_STACK__KAFKA_HEAP": "512M",
        "DEVMETRICS_STACK__PROMETHEUS_SCRAPE_INTERVAL": "2s",
        "DEVMETRICS_RECEIVER__PORT": str(free_port()),
    }
    devmetrics = str(bin_dir / "devmetrics")
    stack_home = home / ".local" / "share" / "devmetrics"
    try:
        up = _run([devmetrics, "stack", "up"], env, home)
        assert up.returncode == 0, up.stderr
        assert "kafka: healthy" in up.stderr
        # The Kafka jars went to the user's cache, the broker's data to the user's data folder.
        assert any((home / ".cache" / "devmetrics").glob("kafka-*/libs/kafka_*.jar"))
        assert (stack_home / "logs").is_dir()

        demo_args = ["--projects", str(PROJECTS), "--days", "0.2", "--shards", "1", "--no-live"]
        demo = _run(
            [devmetrics, "demo", *demo_args, "--wait", "300"],
            env,
            home,
            timeout_s=900,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert f"VictoriaMetrics sees {PROJECTS} of {PROJECTS} projects" in demo.stdout, (
            demo.stdout + demo.stderr
        )
        assert "processor-0: started" in demo.stderr
        # Every process of the pipeline ran the wheel's code, from the venv.
        for name in ("processor-0", "exporter-0", "receiver"):
            pid = int((stack_home / "run" / f"{name}.pid").read_text().split()[0])
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            assert argv[0].decode().startswith(str(bin_dir.parent)), (name, argv)
    finally:
        down = _run([devmetrics, "stack", "down"], env, home)
    assert down.returncode == 0, down.stderr
    assert "kafka: stopped" in down.stderr
