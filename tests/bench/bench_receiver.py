"""Load on the webhook receiver over loopback: signed GitHub pushes (verified, mapped, published
to the real broker and acknowledged before the answer) against a trivial unsigned endpoint
of the same server (GET /healthz) as the baseline, both with wrk, side by side.

Run on demand: python3 -m pytest -m bench -s tests/bench/bench_receiver.py
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from support import REPO_ROOT
from support.pipeline import Subprocess, kafka_env
from support.receiver import SECRET, github_examples, hub_signature

from core.settings import KafkaSettings
from devmetrics.stack.process import free_port

pytestmark = pytest.mark.bench
SECONDS, CONNECTIONS = 10, 8
# Each request gets its own delivery id (the body, and so its signature, stays the same).
SIGNED_PUSH = """
local body = io.open("{body}"):read("*a")
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GitHub-Event"] = "push"
wrk.headers["X-Hub-Signature-256"] = "{signature}"
local n = 0
request = function()
  n = n + 1
  wrk.headers["X-GitHub-Delivery"] = "bench-" .. n .. "-" .. math.random(1, 1e9)
  return wrk.format(nil, "/webhooks/github")
end
"""


def _wrk(url: str, script: Path | None = None) -> dict[str, float]:
    args = ["wrk", "-t", "1", "-c", str(CONNECTIONS), "-d", f"{SECONDS}s", "--latency"]
    args += ["-s", str(script)] if script else []
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    assert p99 is not None, out
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p99_ms": float(p99.group(1)) * scale,
        "non_2xx": float(bad.group(1) if bad else 0),
    }


def _sample(metrics: str, name: str, labels: str) -> float:
    found = re.search(rf"^{name}(?:{{{labels}}})? ([\d.e+-]+)$", metrics, re.M)
    assert found is not None, name
    return float(found.group(1))


def test_signed_github_pushes_against_a_trivial_endpoint(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    if shutil.which("wrk") is None:
        pytest.fail("wrk is missing: apt-get install -y wrk")
    secret = tmp_path / "github.secret"
    secret.write_bytes(SECRET)
    push = next(e for e in github_examples()["push"] if e["commits"])
    body = tmp_path / "push.json"
    body.write_text(json.dumps(push))
    script = tmp_path / "signed_push.lua"
    script.write_text(SIGNED_PUSH.format(body=body, signature=hub_signature(body.read_bytes())))
    port = free_port()
    receiver = Subprocess(
        ["receive", "--port", str(port)],
        kafka_env(kafka_settings)
        | {
            "PYTHONPATH": str(REPO_ROOT),
            "DEVMETRICS_RECEIVER__GITHUB_SECRET_FILE": str(secret),
            "DEVMETRICS_RECEIVER__PUBLISH_TIMEOUT_S": "60",
        },
        tmp_path / "receiver.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and receiver.alive(), receiver.tail()
                time.sleep(0.3)
        baseline = _wrk(f"{url}/healthz")
        signed = _wrk(url, script)
        with urllib.request.urlopen(f"{url}/metrics") as resp:
            metrics = resp.read().decode()
    finally:
        receiver.stop()
    print(f"\nreceiver on loopback, wrk 1 thread x {CONNECTIONS} connections x {SECONDS} s")
    print(f"{'':34}{'req/s':>10}{'p99 ms':>10}{'non-2xx':>10}")
    for name, r in (("GET /healthz (baseline)", baseline), ("signed GitHub push, acked", signed)):
        print(f"{name:34}{r['rps']:>10.0f}{r['p99_ms']:>10.2f}{r['non_2xx']:>10.0f}")
    mean = {
        name: _sample(metrics, f"devmetrics_receiver_{name}_seconds_sum", source)
        / _sample(metrics, f"devmetrics_receiver_{name}_seconds_count", source)
        for name, source in (("request", 'source="github"'), ("publish", ""))
    }
    print(
        f"signed push, mean in the receiver: request {mean['request'] * 1000:.2f} ms, "
        f"of which waiting for the broker's acknowledgement {mean['publish'] * 1000:.2f} ms"
    )
    assert signed["non_2xx"] == 0
    published = re.search(
        r'devmetrics_receiver_events_total\{family="change",source="github",type="committed"\} '
        r"([\d.e+]+)",
        metrics,
    )
    assert published is not None and float(published.group(1)) >= signed["rps"] * SECONDS * 0.9
