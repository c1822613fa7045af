"""One complete, valid example event of every family (and a state snapshot), written by hand.

They document the event shapes and give tests a known-good starting point:
``example_event("deployment", kind="planned")`` is a fresh copy with fields replaced.
"""

from __future__ import annotations

import copy
from typing import Any

# 2024-05-01T00:00:00Z in epoch milliseconds.
T0 = 1_714_521_600_000

_ENVELOPE: dict[str, Any] = {
    "event_id": "6f1c1b8e-2a4b-4c8e-9a55-0d4f3b8f2e10",
    "project_id": "proj-0001",
    "team": "platform",
    "occurred_at": T0,
    "source": "simulator",
    "actor": {"kind": "ai_agent", "name": "builder", "model": "model-x"},
    "schema_version": 2,
}

EXAMPLES: dict[str, dict[str, Any]] = {
    "rfc": {"type": "decided", "rfc_id": "rfc-1", "decision": "accepted", "title": "Faster CI"},
    "task": {
        "type": "completed",
        "task_id": "task-7",
        "rfc_id": "rfc-1",
        "attempt": 2,
        "tokens": 12_345,
        "cost_usd": 0.42,
        "duration_seconds": 61.5,
        "error": None,
    },
    "review": {
        "type": "completed",
        "review_id": "rev-3",
        "change_id": "c-9",
        "iteration": 2,
        "outcome": "changes_requested",
        "findings_count": 4,
    },
    "test": {
        "type": "run_completed",
        "run_id": "run-5",
        "change_id": "c-9",
        "passed": 120,
        "failed": 2,
        "skipped": 3,
        "flaky": 1,
        "duration_seconds": 93.25,
        "coverage_ratio": 0.81,
    },
    "change": {
        "type": "merged",
        "change_id": "c-9",
        "committed_at": T0 - 3_600_000,
        "commit_sha": "0f3a9c1",
        "task_id": "task-7",
        "rfc_id": "rfc-1",
    },
    "deployment": {
        "type": "finished",
        "deployment_id": "dep-11",
        "environment": "production",
        "status": "success",
        "change_ids": ["c-8", "c-9"],
        "kind": "rollback",
        "rolls_back_deployment_id": "dep-10",
        "remediates_incident_id": "inc-2",
        "started_at": T0 - 120_000,
    },
    "incident": {
        "type": "opened",
        "incident_id": "inc-2",
        "severity": "sev2",
        "caused_by_deployment_id": "dep-10",
        "title": "Checkout errors",
    },
    "sli": {
        "type": "window_sample",
        "service": "checkout",
        "interval_seconds": 10,
        "requests_total": 1000,
        "requests_good": 997,
        "latency_buckets": [
            {"le": 0.1, "count": 700},
            {"le": 0.3, "count": 990},
            {"le": float("inf"), "count": 1000},
        ],
    },
}

STATE_EXAMPLE: dict[str, Any] = {
    "project_id": "proj-0001",
    "as_of": T0,
    "computed_at": T0 + 1_500,
    "last_event_at": T0 - 10,
    "events_applied": 42,
    "team": "payments",
    "schema_version": 1,
    "metrics": [
        {"name": "devmetrics_dora_deployments", "labels": {"window": "1d"}, "value": 3.0},
    ],
}


def example_event(family: str, **overrides: Any) -> dict[str, Any]:
    """A complete valid event of the family, with top-level fields replaced by overrides."""
    if family == "state":
        event = copy.deepcopy(STATE_EXAMPLE)
    else:
        event = copy.deepcopy(_ENVELOPE) | copy.deepcopy(EXAMPLES[family])
    event.update(overrides)
    return event
