"""Compact rows: the few fields of each event that the metrics need, in a fixed tuple shape.

A row is what the state keeps of an event; rows are stored (in hour blocks) and folded into
per-project state. Every row starts with the event time `t` (epoch ms) and `key`, a 64-bit
digest of the event id used for de-duplication and as a deterministic tie-break.
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple


class RfcRow(NamedTuple):
    t: int
    key: int
    type: str
    rfc_id: str
    actor: str
    decision: str | None


class TaskRow(NamedTuple):
    t: int
    key: int
    type: str
    task_id: str
    actor: str
    cost_usd: float | None
    agent: str | None = None
    """The actor's name when it is an AI agent (the per-agent figures); None for people."""
    rfc_id: str | None = None


class ReviewRow(NamedTuple):
    t: int
    key: int
    type: str
    review_id: str
    actor: str
    outcome: str | None
    iteration: int
    findings: int
    change_id: str | None = None


class TestRunRow(NamedTuple):
    t: int
    key: int
    actor: str
    passed: int
    failed: int
    flaky: int
    duration_s: float
    coverage: float | None


class ChangeRow(NamedTuple):
    t: int
    key: int
    change_id: str
    committed_at: int
    type: str | None = None
    """`committed` or `merged`; None in rows stored before block format 2."""
    author: str | None = None
    """The actor kind; the change's author is that of its earliest event."""
    agent: str | None = None
    """The actor's name when it is an AI agent; None for people."""
    task_id: str | None = None
    rfc_id: str | None = None


class DeploymentRow(NamedTuple):
    t: int
    key: int
    deployment_id: str
    counted: bool
    """A successful production deployment: the kind DORA counts."""
    kind: str
    change_ids: tuple[str, ...]
    rolls_back: str | None
    remediates: bool


class IncidentRow(NamedTuple):
    t: int
    key: int
    type: str
    incident_id: str
    caused_by: str | None


class SliRow(NamedTuple):
    t: int
    key: int
    service: str
    total: int
    good: int
    """Good requests for the availability SLO."""
    latency: tuple[tuple[float, int], ...]
    """Every latency bucket the sample carries, (le, cumulative count), bounds increasing: a
    latency SLO's threshold is applied when computing, so a changed threshold needs no
    re-ingestion (docs/slo-definitions.md)."""


LEGACY_LATENCY_THRESHOLD_S = 0.3
"""The threshold SLI rows stored before block format 3 were counted under: they kept only the
count of that bucket, and read as a sample carrying that one bucket."""


class TeamMark(NamedTuple):
    """The team stated by one event, with that event's time and key to rank it."""

    t: int
    key: int
    team: str


def latest_team(a: TeamMark | None, b: TeamMark | None) -> TeamMark | None:
    """The mark that wins: greater `t`, on ties the smaller key (order-independent)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if (a.t, -a.key) >= (b.t, -b.key) else b


Row = RfcRow | TaskRow | ReviewRow | TestRunRow | ChangeRow | DeploymentRow | IncidentRow | SliRow

ROW_TYPES: dict[str, type[Any]] = {
    "rfc": RfcRow,
    "task": TaskRow,
    "review": ReviewRow,
    "test": TestRunRow,
    "change": ChangeRow,
    "deployment": DeploymentRow,
    "incident": IncidentRow,
    "sli": SliRow,
}
FAMILY_OF_ROW: dict[type[Any], str] = {cls: family for family, cls in ROW_TYPES.items()}


# Positions (after t and key) of enum-like strings that repeat in every row of a family.
_INTERNED_FIELDS: dict[type[Any], tuple[int, ...]] = {
    RfcRow: (2, 4),
    ReviewRow: (2, 4),
    TestRunRow: (2,),
    TaskRow: (2, 4, 6),
    ChangeRow: (4, 5, 6),
    DeploymentRow: (4,),
    IncidentRow: (2,),
    SliRow: (2,),
}


def event_key(event_id: str) -> int:
    """64-bit digest of an event id: the de-duplication key (8 bytes instead of a 36-char id)."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "little")


def to_row(family: str, record: Mapping[str, Any]) -> Row:
    """The row of a decoded, validated event record (timestamps in epoch ms)."""
    t = record["occurred_at"]
    key = event_key(record["event_id"])
    actor = sys.intern(record["actor"]["kind"])
    agent = sys.intern(record["actor"]["name"]) if actor == "ai_agent" else None
    kind = sys.intern(record["type"]) if "type" in record else ""
    match family:
        case "rfc":
            return RfcRow(t, key, kind, record["rfc_id"], actor, record.get("decision"))
        case "task":
            return TaskRow(
                t,
                key,
                kind,
                record["task_id"],
                actor,
                record.get("cost_usd"),
                agent,
                record.get("rfc_id"),
            )
        case "review":
            return ReviewRow(
                t,
                key,
                kind,
                record["review_id"],
                actor,
                record.get("outcome"),
                record.get("iteration", 1),
                record.get("findings_count", 0),
                record["change_id"],
            )
        case "test":
            return TestRunRow(
                t,
                key,
                actor,
                record["passed"],
                record["failed"],
                record["flaky"],
                float(record["duration_seconds"]),
                record.get("coverage_ratio"),
            )
        case "change":
            return ChangeRow(
                t,
                key,
                record["change_id"],
                record["committed_at"],
                kind,
                actor,
                agent,
                record.get("task_id"),
                record.get("rfc_id"),
            )
        case "deployment":
            return DeploymentRow(
                t,
                key,
                record["deployment_id"],
                record["status"] == "success" and record["environment"] == "production",
                sys.intern(record["kind"]),
                tuple(record.get("change_ids") or ()),
                record.get("rolls_back_deployment_id"),
                record.get("remediates_incident_id") is not None,
            )
        case "incident":
            return IncidentRow(
                t, key, kind, record["incident_id"], record.get("caused_by_deployment_id")
            )
        case "sli":
            return SliRow(
                t,
                key,
                sys.intern(record["service"]),
                int(record["requests_total"]),
                int(record["requests_good"]),
                tuple(
                    (float(b["le"]), int(b["count"])) for b in record.get("latency_buckets") or ()
                ),
            )
    raise ValueError(f"unknown event family {family!r}")


def team_mark(row: Row, record: Mapping[str, Any]) -> TeamMark | None:
    """The event's team as a mark, or None when the event states none."""
    team = record.get("team")
    return None if team is None else TeamMark(row.t, row.key, team)


def row_to_json(row: Row) -> list[Any]:
    """The row as a JSON array led by its family name (an SLI row's +Inf bound as "+Inf")."""
    if isinstance(row, SliRow):
        buckets = [["+Inf" if le == math.inf else le, n] for le, n in row.latency]
        return ["sli", *row[:-1], buckets]
    return [FAMILY_OF_ROW[type(row)], *row]


def _sli_buckets(stored: Any) -> tuple[tuple[float, int], ...]:
    """The latency buckets of a stored SLI row; a count alone is a row of format 1 or 2."""
    if isinstance(stored, int):
        return ((LEGACY_LATENCY_THRESHOLD_S, stored),)
    return tuple((math.inf if le == "+Inf" else float(le), int(n)) for le, n in stored)


def row_from_json(item: list[Any]) -> Row:
    """Inverse of `row_to_json`; interns the repeated small strings to keep memory flat.

    A row stored before block format 2 lacks the trailing fields added since (a change's
    type, author and links, a task's agent and RFC, a review's change): they read as None,
    and the figures that need them leave such rows out (docs/processors.md, "Stored state").
    """
    family, *fields = item
    cls = ROW_TYPES.get(family)
    if cls is None:
        raise ValueError(f"stored row of unknown family {family!r}")
    if len(fields) > len(cls._fields):
        most = len(cls._fields)
        raise ValueError(f"stored {family} row has {len(fields)} fields, at most {most}")
    for index in _INTERNED_FIELDS[cls]:
        if index < len(fields) and fields[index] is not None:
            fields[index] = sys.intern(fields[index])
    if cls is DeploymentRow:
        fields[5] = tuple(fields[5])
    elif cls is SliRow and len(fields) == len(cls._fields):
        fields[5] = _sli_buckets(fields[5])
    row: Row = cls(*fields)
    return row
