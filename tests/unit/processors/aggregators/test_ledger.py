"""Idempotence, order independence, retention and the stored block round trip."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from agg_helpers import D, H, M, T, as_map, value
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.slo_definitions import SloDefinitions
from processors.aggregators import HourBlock, ProjectLedger, ProjectState, hour_of, to_row
from processors.aggregators.blocks import BlockFormatError, block_key, parse_block_key
from processors.aggregators.metrics import snapshot

pytestmark = pytest.mark.unit

Factory = Callable[..., dict[str, Any]]
Event = tuple[str, dict[str, Any]]


def _mixed_events(make_event: Factory, n: int, seed: int) -> list[Event]:
    """A reproducible mix of every family over the last 31 days (and a little after T)."""
    rng = random.Random(seed)
    out: list[Event] = []
    for i in range(n):
        t = T - rng.randrange(31 * D - M) + rng.choice([0, 0, 0, 5 * M])
        actor = rng.choice(["ai_agent", "human"])
        match i % 8:
            case 0:
                ev = make_event(
                    "deployment",
                    t,
                    actor=actor,
                    deployment_id=f"d{i}",
                    change_ids=[f"c{rng.randrange(n)}"],
                    kind=rng.choice(["planned", "hotfix", "rollback"]),
                    rolls_back_deployment_id=f"d{rng.randrange(n)}",
                )
                out.append(("deployment", ev))
            case 1:
                out.append(
                    (
                        "change",
                        make_event(
                            "change", t, change_id=f"c{i - 1}", committed_at=t - rng.randrange(D)
                        ),
                    )
                )
            case 2:
                out.append(
                    (
                        "incident",
                        make_event(
                            "incident",
                            t,
                            incident_id=f"i{i % 5}",
                            type=rng.choice(["opened", "resolved"]),
                            caused_by_deployment_id=rng.choice([None, f"d{rng.randrange(n)}"]),
                        ),
                    )
                )
            case 3:
                out.append(
                    (
                        "rfc",
                        make_event(
                            "rfc",
                            t,
                            actor=actor,
                            rfc_id=f"r{i % 7}",
                            type=rng.choice(["submitted", "decided"]),
                            decision=rng.choice(["accepted", "rejected", "changes_requested"]),
                        ),
                    )
                )
            case 4:
                out.append(
                    (
                        "task",
                        make_event(
                            "task",
                            t,
                            actor=actor,
                            task_id=f"t{i % 9}",
                            type=rng.choice(["started", "completed", "failed"]),
                            cost_usd=rng.choice([None, 0.1, 0.3]),
                        ),
                    )
                )
            case 5:
                out.append(
                    (
                        "review",
                        make_event(
                            "review",
                            t,
                            actor=actor,
                            review_id=f"v{i % 6}",
                            type=rng.choice(["requested", "completed"]),
                            outcome=rng.choice(["approved", "changes_requested"]),
                            iteration=rng.randrange(1, 4),
                            findings_count=rng.randrange(4),
                        ),
                    )
                )
            case 6:
                out.append(
                    (
                        "test",
                        make_event(
                            "test",
                            t,
                            actor=actor,
                            passed=rng.randrange(3, 50),
                            failed=rng.randrange(5),
                            flaky=rng.randrange(3),
                            duration_seconds=rng.random() * 100,
                            coverage_ratio=rng.choice([None, rng.random()]),
                        ),
                    )
                )
            case _:
                total = rng.randrange(100)
                out.append(
                    (
                        "sli",
                        make_event(
                            "sli",
                            t,
                            service=rng.choice(["api", "db"]),
                            requests_total=total,
                            requests_good=total - rng.randrange(3) if total > 2 else total,
                            latency_buckets=[{"le": 0.3, "count": total // 2}],
                        ),
                    )
                )
    return out


def _fold_all(events: list[Event]) -> ProjectLedger:
    ledger = ProjectLedger("p1")
    for family, event in events:
        ledger.fold(family, event)
    return ledger


@pytest.fixture
def events(make_event: Factory) -> list[Event]:
    return _mixed_events(make_event, 400, seed=7)


# The events fixture is read-only here, so sharing it across examples is safe.
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1))
def test_any_arrival_order_gives_the_same_snapshot(events: list[Event], seed: int) -> None:
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    assert as_map(_fold_all(shuffled).snapshot(T)) == as_map(_fold_all(events).snapshot(T))


def test_duplicates_change_nothing(events: list[Event]) -> None:
    once = _fold_all(events)
    twice = ProjectLedger("p1")
    for family, event in events + list(reversed(events)):
        twice.fold(family, event)
    assert twice.state.events_applied == once.state.events_applied == len(events)
    assert as_map(twice.snapshot(T)) == as_map(once.snapshot(T))


def test_the_first_copy_of_an_event_id_wins(make_event: Factory) -> None:
    ledger = ProjectLedger("p1")
    first = make_event("deployment", T - H, event_id="00000000-0000-0000-0000-00000000000a")
    again = {**first, "kind": "hotfix"}
    assert ledger.fold("deployment", first) is True
    assert ledger.fold("deployment", again) is False
    assert value(ledger.snapshot(T), "devmetrics_dora_rework_ratio", window="1d") == 0.0


def test_late_event_gives_the_in_order_result(make_event: Factory) -> None:
    deploy = make_event("deployment", T - 2 * H, deployment_id="d1", change_ids=["c1"])
    commit = make_event("change", T - 5 * H, change_id="c1", committed_at=T - 5 * H)
    late = ProjectLedger("p1")
    late.fold("deployment", deploy)
    lead = "devmetrics_dora_lead_time_seconds"
    assert value(late.snapshot(T), lead, window="1d", quantile="0.5") is None
    late.fold("change", commit)  # arrives after the deployment that shipped it
    assert value(late.snapshot(T), lead, window="1d", quantile="0.5") == 3 * 3600.0


def test_prune_drops_what_left_the_retention(events: list[Event]) -> None:
    ledger = _fold_all(events)
    later = T + 2 * D
    before = as_map(ledger.snapshot(later))
    ledger.prune(later)
    assert all(hour >= hour_of(later - 31 * D) for hour in ledger.blocks)
    assert as_map(ledger.snapshot(later)) == before
    kept = sum(1 for _, e in events if later - 31 * D < e["occurred_at"])
    sli_straddling = ledger.state.events_applied - kept
    # Only SLI samples of the hour straddling the cutoff may outlive it (hour granularity).
    assert 0 <= sli_straddling <= sum(1 for f, _ in events if f == "sli")


def test_blocks_round_trip_and_rebuild_the_same_state(events: list[Event]) -> None:
    live = _fold_all(events)
    stored = {block_key("p1", h): b.to_bytes() for h, b in live.blocks.items()}
    rebuilt = ProjectState("p1", SloDefinitions())
    for key, data in stored.items():
        assert parse_block_key(key)[0] == "p1"
        for row in HourBlock.from_bytes(data).rows:
            rebuilt.apply(row)
    assert rebuilt.events_applied == live.state.events_applied
    assert as_map(snapshot(rebuilt, T)) == as_map(live.snapshot(T))


def test_block_dedups_and_refuses_garbage(make_event: Factory) -> None:
    row = to_row("rfc", make_event("rfc", T))
    block = HourBlock([row, row])
    assert len(block) == 1
    assert HourBlock.from_bytes(block.to_bytes()).rows == [row]
    with pytest.raises(BlockFormatError):
        HourBlock.from_bytes(b"{not json")
    with pytest.raises(BlockFormatError, match="format"):
        HourBlock.from_bytes(b'{"v": 99, "rows": []}')
    assert parse_block_key("team@a@42") == ("team@a", 42)
    with pytest.raises(BlockFormatError):
        parse_block_key("no-hour")
