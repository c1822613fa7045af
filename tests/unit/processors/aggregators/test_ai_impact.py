"""AI impact figures and tiers over a partly covered history (docs/metrics.md) on hand-computed
cases, each checked against both implementations: the processors' ledger and the simulator's
independent truth. The expected values are worked out in the comments."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from agg_helpers import D, H, M, T

from processors.aggregators import HourBlock, ProjectLedger, to_row
from processors.aggregators.blocks import BLOCK_FORMAT
from processors.aggregators.rows import ChangeRow
from producers.simulator.truth import compute_metrics

Event = dict[str, Any]
Factory = Callable[..., Event]
Figures = dict[tuple[str, tuple[tuple[str, str], ...]], float]

pytestmark = pytest.mark.unit

S = 1000  # one second in ms


def _processors(events: list[Event], top_n: int) -> Figures:
    ledger = ProjectLedger("p1", agent_top_n=top_n)
    for event in events:
        ledger.fold(event["_family"], event)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in ledger.snapshot(T)}


def _truth(events: list[Event], top_n: int) -> Figures:
    samples = compute_metrics([(e["_family"], e) for e in events], T, agent_top_n=top_n)
    return {(s["name"], tuple(sorted(s["labels"].items()))): s["value"] for s in samples}


IMPLEMENTATIONS = {"processors": _processors, "truth": _truth}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def figures(request: pytest.FixtureRequest) -> Callable[[list[Event], int], Figures]:
    return IMPLEMENTATIONS[request.param]


@pytest.fixture
def event(make_event: Factory) -> Callable[..., Event]:
    """`event(family, t, who, **fields)`; `who` is "ai:<name>" or a person's name."""

    def make(family: str, t: int, who: str, **fields: Any) -> Event:
        kind, _, name = who.partition(":") if who.startswith("ai:") else ("human", "", who)
        record = make_event(family, t, actor="ai_agent" if kind == "ai" else "human", **fields)
        record["actor"] = {
            "kind": "ai_agent" if kind == "ai" else "human",
            "name": name or who,
            "model": None,
        }
        record["_family"] = family
        return record

    return make


def _get(found: Figures, name: str, **labels: str) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def delivery(event: Callable[..., Event]) -> list[Event]:
    """Changes of agents alpha, beta, gamma and of pat, deployed by a release bot."""

    def change(t: int, who: str, change_id: str, committed: int, **kw: Any) -> Event:
        return event("change", t, who, change_id=change_id, committed_at=committed, **kw)

    def deploy(t: int, deployment_id: str, *changes: str, **kw: Any) -> Event:
        return event(
            "deployment",
            t,
            "ai:release-bot",
            deployment_id=deployment_id,
            change_ids=list(changes),
            **kw,
        )

    def task(t: int, who: str, task_id: str, kind: str, **kw: Any) -> Event:
        return event("task", t, who, task_id=task_id, type=kind, **kw)

    def review(t: int, review_id: str, change_id: str, outcome: str, findings: int) -> Event:
        return event(
            "review",
            t,
            "ai:reviewer",
            review_id=review_id,
            change_id=change_id,
            type="completed",
            outcome=outcome,
            findings_count=findings,
        )

    return [
        # c1: alpha, task t1 of RFC r1; committed T-10h, merged T-6h, first deployed T-2h.
        change(T - 10 * H, "ai:alpha", "c1", T - 10 * H, task_id="t1", rfc_id="r1"),
        change(T - 6 * H, "ai:alpha", "c1", T - 10 * H, type="merged", task_id="t1"),
        # c2: pat, no task; c7: pat, task t5; both in dA with c1.
        change(T - 5 * H, "pat", "c2", T - 5 * H),
        change(T - 3 * H + M, "pat", "c7", T - 3 * H + M, task_id="t5"),
        change(T - 2 * H - 30 * M, "pat", "c7", T - 3 * H + M, type="merged", task_id="t5"),
        # c3: beta, task t2 (whose first event names RFC r2), committed T-3d.
        change(T - 3 * D, "ai:beta", "c3", T - 3 * D, task_id="t2"),
        change(T - 3 * D + 2 * H, "ai:beta", "c3", T - 3 * D, type="merged", task_id="t2"),
        # c4: gamma, task t3, no RFC; c6: pat, no task, deployed T-7d-1h.
        change(T - 5 * D, "ai:gamma", "c4", T - 5 * D, task_id="t3"),
        change(T - 5 * D + H, "ai:gamma", "c4", T - 5 * D, type="merged", task_id="t3"),
        change(T - 8 * D, "pat", "c6", T - 8 * D),
        # Deployments; c5 has no change event (no author).
        deploy(T - 2 * H, "dA", "c1", "c2", "c7"),
        deploy(T - 2 * D, "dB", "c3"),
        deploy(T - 4 * D, "dC", "c4", kind="hotfix"),
        deploy(T - 1 * H, "dD", "c5"),
        deploy(T - 30 * M, "dR", kind="rollback", rolls_back_deployment_id="dD"),
        deploy(T - 7 * D - H, "dE", "c6"),
        event("incident", T - 4 * D + H, "pat", incident_id="i1", caused_by_deployment_id="dC"),
        # Tasks: alpha t1 fails once then completes; beta t2; gamma t3 and t4; pat t5.
        task(T - 14 * H, "ai:alpha", "t1", "started", rfc_id="r1"),
        task(T - 13 * H, "ai:alpha", "t1", "failed", cost_usd=0.25),
        task(T - 12 * H, "ai:alpha", "t1", "started", attempt=2),
        task(T - 10 * H - M, "ai:alpha", "t1", "completed", cost_usd=0.5),
        task(T - 4 * D, "ai:beta", "t2", "created", rfc_id="r2"),
        task(T - 3 * D - 3 * H, "ai:beta", "t2", "started"),
        task(T - 3 * D - H, "ai:beta", "t2", "completed", cost_usd=1.0),
        task(T - 5 * D - 2 * H, "ai:gamma", "t3", "started"),
        task(T - 5 * D - H, "ai:gamma", "t3", "completed"),
        task(T - 6 * D - H, "ai:gamma", "t4", "failed", cost_usd=2.0),
        task(T - 6 * D, "ai:gamma", "t4", "completed", cost_usd=2.0),
        task(T - 4 * H, "pat", "t5", "started"),
        task(T - 3 * H, "pat", "t5", "completed"),
        # RFCs: r1 submitted T-3d, changes requested, accepted T-2d; r2 accepted T-5d only.
        event("rfc", T - 3 * D, "pat", rfc_id="r1", type="submitted"),
        event(
            "rfc",
            T - 2 * D - 5 * H,
            "pat",
            rfc_id="r1",
            type="decided",
            decision="changes_requested",
        ),
        event("rfc", T - 2 * D, "pat", rfc_id="r1", type="decided", decision="accepted"),
        event("rfc", T - 5 * D, "pat", rfc_id="r2", type="decided", decision="accepted"),
        # Reviews: c1 changes requested (2 findings) then approved (3); c3 approved (1).
        review(T - 8 * H, "v2", "c1", "changes_requested", 2),
        review(T - 7 * H, "v1", "c1", "approved", 3),
        review(T - 3 * D + H, "v3", "c3", "approved", 1),
        review(T - 4 * H, "v4", "c2", "approved", 4),  # pat's change: no agent
    ]


LEAD = "devmetrics_dora_lead_time_by_author_seconds"
SHARE = "devmetrics_dora_ai_change_share_ratio"
BY_ASSIST = "devmetrics_dora_deployments_by_assist"
CFR = "devmetrics_dora_change_failure_by_assist_ratio"
REWORK = "devmetrics_dora_rework_by_assist_ratio"


def test_lead_time_by_author_and_the_agents_share(figures: Any, delivery: list[Event]) -> None:
    found = figures(delivery, 2)
    # 1d: c1 (alpha) 8h; c2 (pat) 3h and c7 (pat) 59 min; c5 has no author.
    assert _get(found, LEAD, window="1d", author="ai_agent", quantile="0.5") == 8 * 3600
    assert _get(found, LEAD, window="1d", author="human", quantile="0.5") == 59 * 60
    assert _get(found, LEAD, window="1d", author="human", quantile="0.9") == 3 * 3600
    assert _get(found, SHARE, window="1d") == 1 / 3
    # 7d: agents [8h, 1d, 1d]: p50 rank 2, p90 rank 3 are both 1d.
    assert _get(found, LEAD, window="7d", author="ai_agent", quantile="0.5") == 86400
    assert _get(found, LEAD, window="7d", author="ai_agent", quantile="0.9") == 86400
    assert _get(found, SHARE, window="7d") == 3 / 5
    # 30d adds c6 (pat, 1d - 1h): people [59 min, 3h, 23h]: p50 rank 2, p90 rank 3.
    assert _get(found, LEAD, window="30d", author="human", quantile="0.5") == 3 * 3600
    assert _get(found, LEAD, window="30d", author="human", quantile="0.9") == 23 * 3600
    assert _get(found, SHARE, window="30d") == 3 / 6


def test_failure_and_rework_of_deployments_with_and_without_agents_changes(
    figures: Any, delivery: list[Event]
) -> None:
    found = figures(delivery, 2)
    # dA mixes alpha's c1 with pat's changes: AI-assisted. dD (c5, unknown author) and the
    # rollback dR (no changes) are not; dR rolls dD back.
    assert _get(found, BY_ASSIST, window="1d", ai_assisted="true") == 1
    assert _get(found, BY_ASSIST, window="1d", ai_assisted="false") == 2
    assert _get(found, CFR, window="1d", ai_assisted="true") == 0.0
    assert _get(found, CFR, window="1d", ai_assisted="false") == 1 / 2
    assert _get(found, REWORK, window="1d", ai_assisted="false") == 1 / 2
    # 7d: dA, dB, dC (hotfix that caused i1) assisted; dD, dR not.
    assert _get(found, BY_ASSIST, window="7d", ai_assisted="true") == 3
    assert _get(found, CFR, window="7d", ai_assisted="true") == 1 / 3
    assert _get(found, REWORK, window="7d", ai_assisted="true") == 1 / 3
    # 30d adds dE (pat's c6): not assisted, neither failed nor rework.
    assert _get(found, BY_ASSIST, window="30d", ai_assisted="false") == 3
    assert _get(found, CFR, window="30d", ai_assisted="false") == 1 / 3
    assert _get(found, REWORK, window="30d", ai_assisted="false") == 1 / 3


def test_per_agent_figures_with_an_agent_outside_the_busiest_n(
    figures: Any, delivery: list[Event]
) -> None:
    found = figures(delivery, 2)
    agent = {
        (name, dict(labels)["window"], dict(labels)["agent"]): value
        for (name, labels), value in found.items()
        if name.startswith("devmetrics_agent_")
    }
    done, fail = "devmetrics_agent_task_completed", "devmetrics_agent_task_failed"
    ratio, cost = (
        "devmetrics_agent_task_success_ratio",
        "devmetrics_agent_cost_per_merged_change_usd",
    )
    findings = "devmetrics_agent_review_findings_per_change"
    # 7d task events: gamma 3, alpha 2, beta 1: gamma and alpha keep their names, beta is other.
    assert {label for _, _, label in agent} == {"gamma", "alpha", "other"}
    assert agent[(done, "1d", "alpha")] == 1 and agent[(fail, "1d", "alpha")] == 1
    assert agent[(ratio, "1d", "alpha")] == 0.5
    assert agent[(done, "1d", "gamma")] == 0 and (ratio, "1d", "gamma") not in agent
    assert agent[(done, "7d", "gamma")] == 2 and agent[(ratio, "7d", "gamma")] == 2 / 3
    assert agent[(done, "7d", "other")] == 1 and agent[(ratio, "7d", "other")] == 1.0
    # c1 merged T-6h: its task t1 cost 0.25 + 0.5; c3 (beta) t2 1.0; c4 (gamma) t3 unset: 0.
    assert agent[(cost, "1d", "alpha")] == 0.75
    assert agent[(cost, "7d", "other")] == 1.0
    assert agent[(cost, "7d", "gamma")] == 0.0
    assert (cost, "1d", "gamma") not in agent
    # c1 reviewed twice (2 + 3 findings): 5 a change; c3 once (1); pat's c2 is nobody's.
    assert agent[(findings, "1d", "alpha")] == 5.0
    assert agent[(findings, "7d", "other")] == 1.0
    assert (findings, "7d", "gamma") not in agent


def test_every_agent_keeps_its_name_when_they_fit_in_n(figures: Any, delivery: list[Event]) -> None:
    found = figures(delivery, 3)
    labels = {dict(key)["agent"] for name, key in found if name.startswith("devmetrics_agent_")}
    assert labels == {"alpha", "beta", "gamma"}


HOP = "devmetrics_lineage_hop_seconds"


def test_lineage_hops_by_author(figures: Any, delivery: list[Event]) -> None:
    found = figures(delivery, 2)

    def hop(name: str, author: str, quantile: str, window: str = "7d") -> float | None:
        return _get(found, HOP, window=window, hop=name, author=author, quantile=quantile)

    # c1: r1 submitted T-3d, accepted T-2d (changes requested before does not count), t1
    # started T-14h, completed T-10h-1m, committed T-10h, approved T-7h, merged T-6h,
    # deployed T-2h. c3: r2 through its task, no submitted: rfc_decision left out; accepted
    # T-5d, started T-3d-3h, completed T-3d-1h, committed T-3d, approved T-3d+1h, merged
    # T-3d+2h, deployed T-2d. c4: no RFC, no review: task and deploy hops only.
    assert hop("rfc_decision", "ai_agent", "0.5") == 86400
    assert hop("decision_to_start", "ai_agent", "0.5") == 34 * 3600
    assert hop("decision_to_start", "ai_agent", "0.9") == 45 * 3600
    assert hop("task_work", "ai_agent", "0.5") == 7200  # of [1h, 2h, 3h59m]
    assert hop("task_work", "ai_agent", "0.9") == 3 * 3600 + 59 * 60
    assert hop("task_to_commit", "ai_agent", "0.5") == 3600  # of [60 s, 1h, 1h]
    assert hop("commit_to_approval", "ai_agent", "0.5") == 3600  # of [1h, 3h]
    assert hop("commit_to_approval", "ai_agent", "0.9") == 3 * 3600
    assert hop("approval_to_merge", "ai_agent", "0.9") == 3600
    assert hop("merge_to_deploy", "ai_agent", "0.5") == 22 * 3600  # of [4h, 22h, 23h]
    assert hop("merge_to_deploy", "ai_agent", "0.9", window="30d") == 23 * 3600
    # People: only c7 links to a task (c2 and c6 do not); no RFC, no review.
    assert hop("task_work", "human", "0.5") == 3600
    assert hop("task_to_commit", "human", "0.5") == 60
    assert hop("merge_to_deploy", "human", "0.9") == 1800
    people = {dict(k)["hop"] for n, k in found if n == HOP and dict(k)["author"] == "human"}
    assert people == {"task_work", "task_to_commit", "merge_to_deploy"}


TIER = "devmetrics_dora_tier"
COVERAGE = "devmetrics_dora_history_coverage_ratio"


def _deployments(event: Callable[..., Event], first: int, count: int, every: int) -> list[Event]:
    return [
        event("deployment", first + n * every, "pat", deployment_id=f"d{n}") for n in range(count)
    ]


def test_a_two_day_old_project_deploying_five_times_a_day_is_elite(
    figures: Any, event: Callable[..., Event]
) -> None:
    # First event at T - 2d + 30 s: history starts at the minute T - 2d; 10 deployments in
    # 2 days are 150 in 30 days (10 * 30d >= 30 * 2d); without scaling 10 would be "high".
    found = figures(_deployments(event, T - 2 * D + 30 * S, 10, 4 * H), 3)
    assert _get(found, COVERAGE, window="1d") == 1.0
    assert _get(found, COVERAGE, window="7d") == 2 / 7
    assert _get(found, COVERAGE, window="30d") == 2 / 30
    assert _get(found, TIER, metric="deployment_frequency") == 4
    assert _get(found, TIER, metric="change_failure_rate") == 4  # 0 failed
    assert _get(found, TIER, metric="overall") == 4


def test_deployment_frequency_is_judged_on_the_covered_rate(
    figures: Any, event: Callable[..., Event]
) -> None:
    # One deployment in 2 days: 15 in 30 days, high (>= 4) but not elite (< 30).
    found = figures(_deployments(event, T - 2 * D + M, 1, H), 3)
    assert _get(found, TIER, metric="deployment_frequency") == 3
    # A history of exactly 1 day is enough; 1 deployment a day is elite (30 in 30 days).
    found = figures(_deployments(event, T - D + 1, 1, H), 3)
    assert _get(found, COVERAGE, window="1d") == 1.0
    assert _get(found, TIER, metric="deployment_frequency") == 4


def test_tiers_are_withheld_while_less_than_a_day_is_covered(
    figures: Any, event: Callable[..., Event]
) -> None:
    found = figures(_deployments(event, T - 23 * H + 1, 5, H), 3)
    assert _get(found, COVERAGE, window="1d") == 23 / 24
    assert not [key for key in found if key[0] == TIER]


def test_a_change_stored_in_block_format_1_loads_without_an_author(
    event: Callable[..., Event],
) -> None:
    """Format 1 rows lack the trailing fields: the change counts for DORA as before, and is
    left out of the figures split by author."""
    committed = event("change", T - 2 * H, "ai:alpha", change_id="c1", committed_at=T - 2 * H)
    deployed = event("deployment", T - H, "pat", deployment_id="d1", change_ids=["c1"])
    ledger = ProjectLedger("p1")
    ledger.fold("deployment", deployed)
    row = to_row("change", committed)
    legacy = json.dumps({"v": 1, "rows": [["change", row.t, row.key, "c1", T - 2 * H]]})
    block = HourBlock.from_bytes(legacy.encode())
    assert block.rows == [ChangeRow(row.t, row.key, "c1", T - 2 * H)]
    ledger.fold_row(block.rows[0])
    found = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in ledger.snapshot(T)}
    assert _get(found, "devmetrics_dora_lead_time_seconds", window="1d", quantile="0.5") == 3600
    assert _get(found, BY_ASSIST, window="1d", ai_assisted="false") == 1
    assert not [key for key in found if key[0] == LEAD]
    # Written again, the block is in the current format and keeps every field.
    fresh = HourBlock([row]).to_bytes()
    assert json.loads(fresh)["v"] == BLOCK_FORMAT and HourBlock.from_bytes(fresh).rows == [row]
