"""The dashboards' proof on the whole pipeline: simulator, broker, processor, shards, rules.

Same checks as test_dashboards.py, on the session's `pipeline` (tests/e2e/conftest.py);
the project shown is the one exporting the most series, and its team.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from support.dashboards import Live, prove

from exporters.dashboards.catalog import load_catalog
from exporters.dashboards.kit import VICTORIAMETRICS_UID

# The reasons an empty answer may have here, each checked against the live system.
ALLOWED = {
    "no processor worker is a Prometheus target here",
    "no such alert is pending or firing",
    "no selected project's 30d deployment count rose in the range",
}


@pytest.mark.e2e
@pytest.mark.timeout(3000)
def test_every_dashboard_query_returns_pipeline_data(pipeline: Any) -> None:
    live = Live(
        pipeline.prometheus_url,
        pipeline.victoriametrics_url,
        time.time() - 600,
        load_catalog().processor,
    )
    deadline = time.monotonic() + 180
    while not live.instant(VICTORIAMETRICS_UID, "devmetrics:projects:count"):
        assert time.monotonic() < deadline, "VictoriaMetrics holds no recorded series"
        time.sleep(2)
    live.end = time.time()
    # The project exporting the most distinct families (then the most series).
    richest = live.instant(
        "prometheus",
        "topk(1, count by (project) (count by (project, __name__) "
        '({__name__=~"devmetrics_[a-z_]+", project!=""})) * 1000 + count by (project) '
        '({__name__=~"devmetrics_[a-z_]+", project!="", job="devmetrics-exporters"}))',
    )
    project = richest[0]["metric"]["project"]
    (info,) = live.instant("prometheus", f'devmetrics_project_info{{project="{project}"}}')
    preferred = {"project": project}
    if "team" in info["metric"]:
        preferred["team"] = info["metric"]["team"]
    # Long-range panels read VictoriaMetrics: wait until it holds every series of the project
    # shown (exported and recorded) that Prometheus holds, then fix the queries' end time.
    everything = f'{{__name__=~"devmetrics.+", project="{project}"}}'
    deadline = time.monotonic() + 180
    while len(live.instant(VICTORIAMETRICS_UID, everything)) < len(
        live.instant("prometheus", everything)
    ):
        assert time.monotonic() < deadline, f"VictoriaMetrics lacks series of {project}"
        time.sleep(2)
    time.sleep(5)
    live.end = time.time()

    proof = prove(live, lambda name, options: preferred.get(name, options[0]))

    print(
        f"\n{proof.dashboards} dashboards, {proof.panels} panels, {proof.queries} queries: "
        f"{proof.with_data} with data, {len(proof.empty)} empty for a checked reason"
    )
    for where, reason in sorted(proof.empty.items()):
        print(f"  empty: {where}: {reason}")
    for where in proof.variables_without_values:
        print(f"  no values, All used: {where}")
    assert proof.failures == [], "\n".join(proof.failures)
    assert (proof.dashboards, proof.queries) == (6, 198)
    assert set(proof.empty.values()) <= ALLOWED
