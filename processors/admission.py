"""Which decoded events the state accepts: time range, routing and the project cap.

Pure rules; the codec has already refused undecodable bytes, unknown schemas and invalid
fields. Every refusal names a dead-letter reason (docs/processors.md lists them).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka.partitioner import murmur2

from processors.aggregators.samples import MINUTE_MS, RETENTION_MS
from processors.errors import Rejected

TOO_OLD = "too_old"
TOO_NEW = "too_new"
MISROUTED = "misrouted"
PROJECT_CAP = "project_cap"


@functools.lru_cache(maxsize=1 << 16)
def partition_for(project_id: str, partitions: int) -> int:
    """The partition of a project id: murmur2 of its UTF-8 bytes, as the Java client does.

    Cached: every event is checked, murmur2 is pure Python, and a worker holds a bounded
    number of projects.
    """
    return (murmur2(project_id.encode()) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True)
class AsOf:
    """The as-of time T: fixed (backfills, tests) or the wall clock floored to the minute."""

    fixed_ms: int | None = None

    def at(self, now_ms: int) -> int:
        """T for a snapshot computed at wall time `now_ms`."""
        if self.fixed_ms is not None:
            return self.fixed_ms
        return now_ms - now_ms % MINUTE_MS

    def horizon(self, now_ms: int) -> int:
        """The time events are judged against: the fixed T, or the unfloored wall clock."""
        return self.fixed_ms if self.fixed_ms is not None else now_ms

    @property
    def live(self) -> bool:
        return self.fixed_ms is None


@dataclass(frozen=True)
class Admission:
    """The acceptance rules of one worker."""

    partitions: int
    max_future_skew_ms: int
    max_projects: int
    as_of: AsOf

    def check(
        self,
        record: Mapping[str, Any],
        key: bytes | None,
        partition: int,
        now_ms: int,
        known_project: bool,
        projects_held: int,
    ) -> None:
        """Raise `Rejected` unless the event may be folded into its project's state."""
        project = record["project_id"]
        if key != project.encode():
            raise Rejected(MISROUTED, f"message key {key!r} is not the project id {project!r}")
        expected = partition_for(project, self.partitions)
        if partition != expected:
            raise Rejected(
                MISROUTED,
                f"project {project!r} belongs in partition {expected} (murmur2), read from "
                f"partition {partition}",
            )
        horizon = self.as_of.horizon(now_ms)
        t = record["occurred_at"]
        if t <= horizon - RETENTION_MS:
            raise Rejected(
                TOO_OLD, f"occurred_at {t} is not after T - 31d = {horizon - RETENTION_MS}"
            )
        if t > horizon + self.max_future_skew_ms:
            raise Rejected(
                TOO_NEW,
                f"occurred_at {t} is later than T + {self.max_future_skew_ms} ms = "
                f"{horizon + self.max_future_skew_ms}",
            )
        if not known_project and projects_held >= self.max_projects:
            raise Rejected(
                PROJECT_CAP,
                f"project {project!r} would exceed the cap of {self.max_projects} projects",
            )
