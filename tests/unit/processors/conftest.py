"""Event factories of the processor tests: records shaped exactly like decoded schemas/*.avsc."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from schemas.codec import Codec

# Family-specific fields that every record of the family carries, with test defaults.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "rfc": {"type": "submitted", "rfc_id": "r1", "decision": None, "title": None},
    "task": {
        "type": "created",
        "task_id": "t1",
        "rfc_id": None,
        "attempt": 1,
        "tokens": None,
        "cost_usd": None,
        "duration_seconds": None,
        "error": None,
    },
    "review": {
        "type": "requested",
        "review_id": "v1",
        "change_id": "c1",
        "iteration": 1,
        "outcome": None,
        "findings_count": 0,
    },
    "test": {
        "type": "run_completed",
        "run_id": "run1",
        "change_id": None,
        "passed": 0,
        "failed": 0,
        "skipped": 0,
        "flaky": 0,
        "duration_seconds": 1.0,
        "coverage_ratio": None,
    },
    "change": {
        "type": "committed",
        "change_id": "c1",
        "committed_at": 0,
        "commit_sha": None,
        "task_id": None,
        "rfc_id": None,
    },
    "deployment": {
        "type": "finished",
        "deployment_id": "d1",
        "environment": "production",
        "status": "success",
        "change_ids": [],
        "kind": "planned",
        "rolls_back_deployment_id": None,
        "remediates_incident_id": None,
        "started_at": None,
    },
    "incident": {
        "type": "opened",
        "incident_id": "i1",
        "severity": "sev2",
        "caused_by_deployment_id": None,
        "title": None,
    },
    "sli": {
        "type": "window_sample",
        "service": "api",
        "interval_seconds": 10,
        "requests_total": 0,
        "requests_good": 0,
        "latency_buckets": [],
    },
}

EventFactory = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def codec() -> Codec:
    return Codec.default()


@pytest.fixture
def make_event(codec: Codec) -> EventFactory:
    """`make_event(family, t, project="p1", actor="human", **fields)`: a validated record."""
    ids = itertools.count(1)

    def make(
        family: str,
        t: int,
        project: str = "p1",
        actor: str = "human",
        event_id: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "event_id": event_id or str(uuid.UUID(int=next(ids))),
            "project_id": project,
            "occurred_at": t,
            "source": "simulator",
            "actor": {"kind": actor, "name": f"{actor}-1", "model": None},
            "schema_version": 1,
            **_DEFAULTS[family],
            **fields,
        }
        return codec.validate(family, record)

    return make
