"""A project's team: the latest event stating one wins, whatever the order; blocks keep it."""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from agg_helpers import D, H, T

from core.slo_definitions import SloDefinitions
from processors.aggregators import HourBlock, ProjectLedger, ProjectState, hour_of, to_row
from processors.aggregators.blocks import BLOCK_FORMAT
from processors.aggregators.rows import TeamMark

pytestmark = pytest.mark.unit

Factory = Callable[..., dict[str, Any]]


def _id(n: int) -> str:
    return str(uuid.UUID(int=1_000 + n))


def _teamed(make_event: Factory, t: int, team: str | None, event_id: str) -> dict[str, Any]:
    return make_event("rfc", t, event_id=event_id, schema_version=2, team=team)


def _digest(event_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "little")


def _fold_all(events: list[dict[str, Any]]) -> ProjectLedger:
    ledger = ProjectLedger("p1")
    for event in events:
        ledger.fold("rfc", event)
    return ledger


def test_latest_team_wins_in_every_order_and_null_is_ignored(make_event: Factory) -> None:
    events = [
        _teamed(make_event, T - 3 * H, "alpha", _id(1)),
        _teamed(make_event, T - 2 * H, "beta", _id(2)),
        _teamed(make_event, T - H, None, _id(3)),  # latest, but states no team
        _teamed(make_event, T - 5 * H, "gamma", _id(4)),
    ]
    for order in itertools.permutations(events):
        assert _fold_all(list(order)).state.team == "beta"


def test_tie_on_time_goes_to_the_smaller_event_key(make_event: Factory) -> None:
    ids = [_id(n) for n in (7, 8, 9)]
    winner = min(ids, key=_digest)
    events = [_teamed(make_event, T - H, f"team-{i}", i) for i in ids]
    for order in itertools.permutations(events):
        assert _fold_all(list(order)).state.team == f"team-{winner}"


def test_no_team_stated_leaves_it_absent_and_duplicates_change_nothing(
    make_event: Factory,
) -> None:
    ledger = _fold_all([_teamed(make_event, T - H, None, _id(1)), make_event("rfc", T)])
    assert ledger.state.team is None and ledger.state.team_mark is None
    first = _teamed(make_event, T - 2 * H, "alpha", _id(2))
    assert ledger.fold("rfc", first)
    # The same event id again, even claiming another team, is a duplicate: ignored.
    assert not ledger.fold("rfc", {**first, "team": "beta"})
    assert ledger.state.team == "alpha"


def test_rebuild_from_stored_blocks_keeps_the_team(make_event: Factory) -> None:
    events = [
        _teamed(make_event, T - 30 * H, "old", _id(1)),
        _teamed(make_event, T - 2 * H, "new", _id(2)),
        _teamed(make_event, T - 2 * H + 1, None, _id(3)),
        _teamed(make_event, T - 10 * H, "mid", _id(4)),
    ]
    ledger = _fold_all(events)
    assert ledger.blocks[hour_of(T - 2 * H)].team == TeamMark(T - 2 * H, _digest(_id(2)), "new")
    rebuilt = ProjectState("p1", SloDefinitions())
    for block in reversed(list(ledger.blocks.values())):
        loaded = HourBlock.from_bytes(block.to_bytes())
        for row in loaded.rows:
            rebuilt.apply(row)
        rebuilt.note_team(loaded.team)
    assert rebuilt.team == "new" and rebuilt.team_mark == ledger.state.team_mark


def test_block_without_team_field_still_loads(make_event: Factory) -> None:
    row = to_row("rfc", make_event("rfc", T))
    legacy = json.dumps({"v": 1, "rows": [["rfc", *row]]}).encode()
    block = HourBlock.from_bytes(legacy)
    assert block.rows == [row] and block.team is None
    # And a block of events without a team is written without one.
    assert (
        HourBlock([row]).to_bytes()
        == json.dumps({"v": BLOCK_FORMAT, "rows": [["rfc", *row]]}, separators=(",", ":")).encode()
    )


def test_team_leaves_with_its_event_at_the_retention(make_event: Factory) -> None:
    ledger = _fold_all([_teamed(make_event, T - 2 * D, "alpha", _id(1))])
    ledger.prune(T + 29 * D - 1)
    assert ledger.state.team == "alpha"
    ledger.prune(T + 29 * D)  # the event is now exactly at T - 31d: out
    assert ledger.state.team is None
