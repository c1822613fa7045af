"""The generator: determinism, independence, schema validity, causal links, tiers, volume."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

import pytest

from producers.simulator import SimConfig, generate, generate_project, project_spec
from producers.simulator.model import DAY_MS, LATENCY_THRESHOLD_S, TIERS
from producers.simulator.truth import TruthFile, compute_metrics, metric_value
from schemas.codec import Codec

pytestmark = pytest.mark.unit

T = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def run(seed: int, n: int, days: float, **kw: Any) -> list[tuple[Any, list[Any]]]:
    config = SimConfig(seed=seed, start_ms=T - int(days * DAY_MS), end_ms=T, **kw)
    return list(generate(config, n))


def stream_bytes(runs: list[tuple[Any, list[Any]]]) -> bytes:
    codec = Codec.default()
    return b"".join(codec.encode(f, e) for _, events in runs for f, e in events)


@pytest.fixture(scope="module")
def small_run() -> list[tuple[Any, list[Any]]]:
    return run(seed=11, n=20, days=3)


def test_same_seed_gives_byte_identical_streams_and_truth() -> None:
    a, b = run(5, 4, 2), run(5, 4, 2)
    assert stream_bytes(a) == stream_bytes(b)
    truth_a = [compute_metrics(events, T) for _, events in a]
    truth_b = [compute_metrics(events, T) for _, events in b]
    assert json.dumps(truth_a) == json.dumps(truth_b)


def test_different_seed_differs() -> None:
    assert stream_bytes(run(5, 2, 1)) != stream_bytes(run(6, 2, 1))


def test_a_project_does_not_depend_on_the_run_size() -> None:
    small = dict((spec.project_id, events) for spec, events in run(9, 3, 1))
    large = dict((spec.project_id, events) for spec, events in run(9, 6, 1))
    assert small["proj-0003"] == large["proj-0003"]


def test_every_event_is_schema_valid_and_round_trips(small_run: list[Any]) -> None:
    codec = Codec.default()
    for _, events in small_run:
        for family, event in events:
            assert codec.decode(codec.encode(family, event)).record == event


def test_events_are_in_span_sorted_with_unique_uuid4_ids(small_run: list[Any]) -> None:
    ids = set()
    for spec, events in small_run:
        times = [e["occurred_at"] for _, e in events]
        assert times == sorted(times)
        assert all(T - 3 * DAY_MS < t <= T for t in times)
        assert {e["project_id"] for _, e in events} == {spec.project_id}
        for _, e in events:
            assert uuid.UUID(e["event_id"]).version == 4
            ids.add(e["event_id"])
    assert len(ids) == sum(len(events) for _, events in small_run)


def test_sli_one_sample_per_service_per_aligned_interval(small_run: list[Any]) -> None:
    spec, events = small_run[0]
    samples = [e for f, e in events if f == "sli"]
    for service in spec.services:
        ends = [e["occurred_at"] for e in samples if e["service"] == service.name]
        # 3 days of 300 s intervals ending exactly at T (a multiple of 300 s).
        assert ends == [T - 3 * DAY_MS + k * 300_000 for k in range(1, 3 * 288 + 1)]
    for e in samples:
        counts = [b["count"] for b in e["latency_buckets"]]
        assert LATENCY_THRESHOLD_S in [b["le"] for b in e["latency_buckets"]]
        assert counts == sorted(counts) and counts[-1] <= e["requests_total"]
        assert 0 <= e["requests_good"] <= e["requests_total"]
        assert e["interval_seconds"] == 300


def test_causal_links_point_at_earlier_entities(small_run: list[Any]) -> None:
    for _, events in small_run:
        seen: dict[str, set[str]] = {
            "change": set(),
            "deployment": set(),
            "incident": set(),
            "rfc": set(),
            "task": set(),
        }
        for family, e in events:
            if family == "change":
                seen["change"].add(e["change_id"])
                assert e["task_id"] is None or e["task_id"] in seen["task"]
            elif family == "task":
                seen["task"].add(e["task_id"])
                assert e["rfc_id"] is None or e["rfc_id"] in seen["rfc"]
            elif family == "rfc":
                seen["rfc"].add(e["rfc_id"])
            elif family == "review":
                assert e["change_id"] in seen["change"]
            elif family == "deployment":
                assert set(e["change_ids"]) <= seen["change"]
                if e["kind"] == "rollback":
                    assert e["rolls_back_deployment_id"] in seen["deployment"]
                if e["remediates_incident_id"] is not None:
                    assert e["remediates_incident_id"] in seen["incident"]
                seen["deployment"].add(e["deployment_id"])
            elif family == "incident":
                seen["incident"].add(e["incident_id"])
                cause = e["caused_by_deployment_id"]
                assert cause is None or cause in seen["deployment"]


def test_both_actor_kinds_appear_in_every_family(small_run: list[Any]) -> None:
    kinds: dict[str, set[str]] = {}
    for _, events in small_run:
        for family, e in events:
            kinds.setdefault(family, set()).add(e["actor"]["kind"])
            if e["actor"]["kind"] == "ai_agent":
                assert e["actor"]["model"]
    assert len(kinds) == 8
    assert all(k == {"ai_agent", "human"} for k in kinds.values()), kinds


def test_truth_lands_projects_in_every_tier() -> None:
    config = SimConfig(seed=1, start_ms=T - 14 * DAY_MS, end_ms=T)
    overall: Counter[float | None] = Counter()
    for index in range(1, 41):
        spec = project_spec(1, index)
        metrics = compute_metrics(generate_project(spec, config), T)
        overall[metric_value(metrics, "devmetrics_dora_tier", metric="overall")] += 1
    assert set(overall) == {1.0, 2.0, 3.0, 4.0}, overall
    assert {project_spec(1, i).tier for i in range(1, 41)} == set(TIERS)


def test_agents_and_people_differ_in_every_split() -> None:
    """docs/simulator.md, "Agents and people behave differently": over 40 projects x 14 days,
    the deployments shipping agents' changes fail more often and the agents' task work is
    shorter than people's, as the truth computes them."""
    config = SimConfig(seed=3, start_ms=T - 14 * DAY_MS, end_ms=T)
    deployed: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    task_work: dict[str, list[float]] = {"ai_agent": [], "human": []}
    share: list[float] = []
    for index in range(1, 41):
        spec = project_spec(3, index)
        metrics = compute_metrics(generate_project(spec, config), T)
        for assisted in ("true", "false"):
            labels = {"window": "30d", "ai_assisted": assisted}
            n = metric_value(metrics, "devmetrics_dora_deployments_by_assist", **labels)
            cfr = metric_value(metrics, "devmetrics_dora_change_failure_by_assist_ratio", **labels)
            deployed[assisted] += int(n or 0)
            failed[assisted] += round((cfr or 0.0) * (n or 0))
        for author, values in task_work.items():
            p50 = metric_value(
                metrics,
                "devmetrics_lineage_hop_seconds",
                window="30d",
                hop="task_work",
                author=author,
                quantile="0.5",
            )
            if p50 is not None:
                values.append(p50)
        ratio = metric_value(metrics, "devmetrics_dora_ai_change_share_ratio", window="30d")
        if ratio is not None:
            share.append(ratio)
    assert min(deployed.values()) > 50, deployed
    assert failed["true"] / deployed["true"] > 1.3 * failed["false"] / deployed["false"]
    ai, people = sorted(task_work["ai_agent"]), sorted(task_work["human"])
    assert ai[len(ai) // 2] * 3 < people[len(people) // 2], (ai, people)
    assert 0.4 < sum(share) / len(share) < 1.0


def test_volume_of_a_30_day_1000_project_backfill_is_8_to_12_million() -> None:
    # 60 projects x 1 day, scaled by 30 days x 1000/60 projects.
    events = sum(len(e) for _, e in run(seed=1, n=60, days=1))
    assert 8e6 <= events * 30 * 1000 / 60 <= 12e6


def test_truth_file_shape(tmp_path: Any, small_run: list[Any]) -> None:
    truth = TruthFile(as_of=T, seed=11, days=3, sli_interval_s=300, projects={})
    spec, events = small_run[0]
    truth.add_project(
        spec.project_id,
        team=spec.team,
        profile=spec.tier,
        services=[s.name for s in spec.services],
        scenarios=[],
        events=events,
    )
    path = tmp_path / "truth.json"
    truth.write(path)
    data = json.loads(path.read_text())
    assert set(data) == {
        "as_of",
        "seed",
        "days",
        "sli_interval_s",
        "agent_top_n",
        "slo_definitions",
        "projects",
    }
    assert data["slo_definitions"] is None  # the built-in SLOs
    entry = data["projects"][spec.project_id]
    assert entry["events"] == len(events)
    assert entry["profile"] in TIERS
    sample = entry["metrics"][0]
    assert set(sample) == {"name", "labels", "value"} and "project" not in sample["labels"]
    assert all(isinstance(v, str) for s in entry["metrics"] for v in s["labels"].values())
