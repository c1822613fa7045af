"""Freshness in live mode: from an event's arrival in Kafka to the publication of a snapshot
reflecting it, read from the worker's own histogram
(`devmetrics_processor_event_to_state_seconds`) over several minutes of live traffic.

A real broker, `devmetrics simulate --mode live` and `devmetrics process` (live: T follows the
clock) as subprocesses. The figures are the histogram's increase between two scrapes after a
warm-up, with quantiles interpolated within buckets as Prometheus' histogram_quantile does,
next to the goal (p99 under 5 s).

Run: pytest -m bench tests/bench/bench_live.py -s
     (BENCH_LIVE_FRESHNESS_PROJECTS=1000, BENCH_LIVE_MINUTES=5, BENCH_LIVE_WARMUP_S=90)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import pytest

from core.settings import KafkaSettings
from devmetrics.stack.process import free_port

pytestmark = pytest.mark.bench

PROJECTS = int(os.environ.get("BENCH_LIVE_FRESHNESS_PROJECTS", "1000"))
MINUTES = float(os.environ.get("BENCH_LIVE_MINUTES", "5"))
WARMUP_S = float(os.environ.get("BENCH_LIVE_WARMUP_S", "90"))
GOAL_P99_S = 5.0
HISTOGRAM = "devmetrics_processor_event_to_state_seconds"


def _scrape(port: int) -> dict[str, float]:
    """The freshness histogram's buckets (by upper bound, cumulative), count and sum, and the
    events consumed."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out: dict[str, float] = {"consumed": 0.0}
    for line in text.splitlines():
        if line.startswith(f"{HISTOGRAM}_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            out[f"le={bound}"] = float(line.rsplit(" ", 1)[1])
        elif line.startswith((f"{HISTOGRAM}_count", f"{HISTOGRAM}_sum")):
            out[line.split(" ", 1)[0].rsplit("_", 1)[1]] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("devmetrics_processor_events_consumed_total"):
            out["consumed"] += float(line.rsplit(" ", 1)[1])
    return out


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float:
    """Prometheus' estimate: linear within the bucket holding rank q * count."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total <= 0:
        raise ValueError("no observations")
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(buckets[bound] - below, 1e-12)
        lower, below = bound, buckets[bound]
    return lower


def _ports(metrics_port: int) -> list[str]:
    return ["--web-port", "0", "--metrics-port", str(metrics_port)]


def _for(seconds: float) -> list[str]:
    return ["--duration", str(seconds)]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.timeout(3600)
def test_live_freshness(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DEVMETRICS_KAFKA__BOOTSTRAP": kafka_settings.bootstrap,
        "DEVMETRICS_KAFKA__TOPIC_PREFIX": kafka_settings.topic_prefix,
        "DEVMETRICS_KAFKA__PARTITIONS": str(kafka_settings.partitions),
    }
    cli = [sys.executable, "-c", "from devmetrics.cli import main; main()"]
    port = free_port()
    data_dir = str(tmp_path / "w")
    worker = subprocess.Popen(
        [*cli, "process", "--app-id", "bench-live", "--data-dir", data_dir, *_ports(port)],
        env=env,
        stdout=(tmp_path / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    duration = WARMUP_S + MINUTES * 60 + 30
    simulator = subprocess.Popen(
        [*cli, "simulate", "--mode", "live", "--projects", str(PROJECTS), *_for(duration)],
        env=env,
        stdout=(tmp_path / "simulator.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        time.sleep(WARMUP_S)
        first, cpu_first, at_first = _scrape(port), _cpu_s(worker.pid), time.monotonic()
        assert first["consumed"] > 0, "the worker consumed nothing during the warm-up"
        time.sleep(MINUTES * 60)
        last, cpu_last, at_last = _scrape(port), _cpu_s(worker.pid), time.monotonic()
        rss = _rss_mb(worker.pid)
    finally:
        simulator.terminate()
        worker.terminate()
        simulator.wait(60)
        worker.wait(60)
    buckets = {
        float(key[3:]): last[key] - first.get(key, 0.0) for key in last if key.startswith("le=")
    }
    observed = last["count"] - first.get("count", 0.0)
    assert observed > 0, "no snapshot was published during the measurement"
    p50, p99 = histogram_quantile(0.5, buckets), histogram_quantile(0.99, buckets)
    seconds = at_last - at_first
    print(
        json.dumps(
            {
                "projects": PROJECTS,
                "minutes": MINUTES,
                "events_per_s": round((last["consumed"] - first["consumed"]) / seconds, 1),
                "observations": int(observed),
                "freshness_mean_s": round((last["sum"] - first["sum"]) / observed, 3),
                "freshness_p50_s": round(p50, 3),
                "freshness_p99_s": round(p99, 3),
                "goal_p99_s": GOAL_P99_S,
                "ratio_to_goal": round(p99 / GOAL_P99_S, 3),
                "share_within_5s": round(buckets.get(5.0, 0.0) / observed, 4),
                "worker_cpu_share": round((cpu_last - cpu_first) / seconds, 3),
                "worker_rss_mb": round(rss, 1),
            }
        )
    )


def test_histogram_quantile_matches_a_hand_computed_case() -> None:
    # 100 observations: 50 at or under 1 s, 40 in (1, 2], 10 in (2, 5].
    buckets = {1.0: 50, 2.0: 90, 5.0: 100, float("inf"): 100}
    assert histogram_quantile(0.5, buckets) == 1.0
    assert histogram_quantile(0.7, buckets) == 1.5
    assert histogram_quantile(0.99, buckets) == 2 + 3 * 9 / 10
