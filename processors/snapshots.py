"""When to publish a project's snapshot, and the state record it is published as."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from processors.aggregators.samples import Sample

STATE_FAMILY = "state"
STATE_SCHEMA_VERSION = 1


@dataclass
class _Cadence:
    last_published_ms: int | None = None
    changed: bool = False
    pending_since_ms: int | None = None
    """Arrival time of the earliest event not yet reflected in a published snapshot."""


@dataclass
class SnapshotScheduler:
    """Rate-limits publication per project; in live mode also refreshes every project.

    A changed project is published at most once per `min_interval_ms`; in live mode every
    project is republished at least every `refresh_ms` because its windows slide with time.
    """

    min_interval_ms: int
    refresh_ms: int
    live: bool
    _projects: dict[str, _Cadence] = field(default_factory=dict)
    _pending: int = 0  # projects with `changed` set, kept as they change (`pending`)

    def changed(self, project_id: str, arrived_ms: int) -> None:
        cadence = self._projects.setdefault(project_id, _Cadence())
        self._pending += not cadence.changed
        cadence.changed = True
        if cadence.pending_since_ms is None or arrived_ms < cadence.pending_since_ms:
            cadence.pending_since_ms = arrived_ms

    def forget(self, project_id: str) -> None:
        cadence = self._projects.pop(project_id, None)
        if cadence is not None and cadence.changed:
            self._pending -= 1

    def due(self, now_ms: int, flush: bool = False, idle: bool = False) -> list[str]:
        """Projects to publish now; with `flush`, every changed project regardless of rate.

        `idle` (no events arrived since the last call) also lifts the rate limit: it only
        saves work while more events are coming, so once they stop the state goes out at once.
        """
        out = []
        for project, c in self._projects.items():
            age = None if c.last_published_ms is None else now_ms - c.last_published_ms
            rate_ok = flush or idle or age is None or age >= self.min_interval_ms
            stale = self.live and not flush and (age is None or age >= self.refresh_ms)
            if (c.changed and rate_ok) or stale:
                out.append(project)
        return out

    def published(self, project_id: str, now_ms: int) -> int | None:
        """Record a publication; returns the arrival time of the earliest event it reflects."""
        cadence = self._projects.setdefault(project_id, _Cadence())
        pending = cadence.pending_since_ms
        cadence.last_published_ms = now_ms
        self._pending -= cadence.changed
        cadence.changed = False
        cadence.pending_since_ms = None
        return pending

    @property
    def pending(self) -> int:
        """Changed projects not yet published; a counter, safe to read from another thread."""
        return self._pending


def state_record(
    project_id: str,
    as_of_ms: int,
    computed_at_ms: int,
    last_event_at_ms: int | None,
    events_applied: int,
    samples: list[Sample],
    team: str | None = None,
) -> dict[str, Any]:
    """The `state` family record (schemas/state.avsc) of one snapshot."""
    return {
        "project_id": project_id,
        "as_of": as_of_ms,
        "computed_at": computed_at_ms,
        "last_event_at": last_event_at_ms,
        "events_applied": events_applied,
        "team": team,
        "schema_version": STATE_SCHEMA_VERSION,
        "metrics": [{"name": s.name, "labels": s.labels, "value": s.value} for s in samples],
    }
