"""The dashboards' proof on the whole pipeline: simulator, broker, processor, shards, rules.

Same checks as test_dashboards.py, on the session's `pipeline` (tests/e2e/conftest.py):
the fleet panels read VictoriaMetrics, which holds the projects of every Prometheus server;
the per-project panels read the first Prometheus server, showing the project of its share
that exports the most series, and its team.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from support.dashboards import Live, prove
from support.pipeline import prometheus_query

from dashboards.catalog import load_catalog
from dashboards.kit import VICTORIAMETRICS_UID

# The reasons an empty answer may have here, each checked against the live system.
ALLOWED = {
    "no processor worker is a Prometheus target here",
    "no webhook receiver is a Prometheus target here",
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
        load_catalog().receiver,
    )
    # The fleet panels' projects: every project in VictoriaMetrics, from the exported series.
    ids = set(pipeline.project_ids)
    deadline = time.monotonic() + 180
    while _projects(live.instant(VICTORIAMETRICS_UID, INFO)) & ids != ids:
        assert time.monotonic() < deadline, "VictoriaMetrics does not hold every project"
        time.sleep(2)
    live.end = time.time()
    # Per-project panels read the first Prometheus server: of the projects it holds, the one
    # with the most distinct families (then the most series), from the truth (every
    # project's series equal it in Prometheus, test_pipeline.py).
    held = _projects(live.instant("prometheus", "devmetrics_state_as_of_timestamp_seconds"))
    project = max(
        held & ids,
        key=lambda pid: (
            len({m["name"] for m in pipeline.truth[pid]["metrics"]}),
            len(pipeline.truth[pid]["metrics"]),
            pid,
        ),
    )
    (info,) = live.instant("prometheus", f'devmetrics_project_info{{project="{project}"}}')
    preferred = {"project": project}
    if "team" in info["metric"]:
        preferred["team"] = info["metric"]["team"]
    # Fleet and long-range panels read VictoriaMetrics: wait until it holds every series of
    # the project shown that Prometheus holds, then fix the queries' end time.
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
    assert (proof.dashboards, proof.queries) == (6, 275)
    assert set(proof.empty.values()) <= ALLOWED
    assert proof.with_data_from_victoriametrics > 0
    # The fleet panels see the whole fleet in VictoriaMetrics; with several Prometheus
    # servers, each holds only its share of it, and together they hold it once.
    assert _projects(live.instant(VICTORIAMETRICS_UID, INFO)) >= ids
    if len(pipeline.prometheus_urls) > 1:
        shares = [_projects(prometheus_query(url, INFO)) & ids for url in pipeline.prometheus_urls]
        assert all(share and share != ids for share in shares), [len(s) for s in shares]
        assert sum(len(share) for share in shares) == len(ids)


INFO = "devmetrics_project_info"


def _projects(result: list[dict[str, Any]]) -> set[str]:
    """The project labels of a query's series."""
    return {r["metric"]["project"] for r in result if "project" in r["metric"]}
