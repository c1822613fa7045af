"""The dashboards' proof on the whole pipeline: simulator, broker, processor, shards, rules.

Same checks as test_dashboards.py, on the session's `pipeline` (tests/e2e/conftest.py); the
project shown is the one exporting the most series, and its team.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from e2e.conftest import pipeline  # noqa: F401  (the session fixture, reused)
from test_dashboards import Live, prove

from exporters.dashboards.catalog import load_catalog

# The reasons an empty answer may have here, each checked against the live system.
ALLOWED = {
    "no processor worker is a Prometheus target here",
    "no such alert is pending or firing",
    "no selected project's 30d deployment count rose in the range",
}


@pytest.mark.e2e
def test_every_dashboard_query_returns_pipeline_data(pipeline: Any) -> None:  # noqa: F811
    live = Live(
        pipeline.prometheus_url,
        pipeline.victoriametrics_url,
        time.time() - 600,
        load_catalog().processor,
    )
    live.end = time.time()
    richest = live.instant(
        "prometheus",
        'topk(1, count by (project) (max without (instance, job) ({__name__=~"devmetrics_.+", '
        'project!=""})))',
    )
    project = richest[0]["metric"]["project"]
    (info,) = live.instant("prometheus", f'devmetrics_project_info{{project="{project}"}}')
    preferred = {"project": project, "team": info["metric"]["team"]}

    proof = prove(live, lambda name, options: preferred.get(name, options[0]))

    print(
        f"\n{proof.dashboards} dashboards, {proof.panels} panels, {proof.queries} queries: "
        f"{proof.with_data} with data, {len(proof.empty)} empty for a checked reason"
    )
    for where, reason in sorted(proof.empty.items()):
        print(f"  empty: {where}: {reason}")
    assert proof.failures == []
    assert (proof.dashboards, proof.queries) == (6, 198)
    assert set(proof.empty.values()) <= ALLOWED
