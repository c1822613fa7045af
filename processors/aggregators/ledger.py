"""A project's complete in-memory state: hour blocks for de-duplication plus folded state.

The worker keeps the blocks in a faust table instead; this class is the same logic held in
memory, for tests, benchmarks and the simulator-truth comparisons.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.catalogue import AGENT_TOP_N
from core.slo_definitions import SloDefinitions
from processors.aggregators.blocks import HourBlock, hour_of
from processors.aggregators.metrics import Figures
from processors.aggregators.rows import Row, TeamMark, team_mark, to_row
from processors.aggregators.samples import HOUR_MS, RETENTION_MS, Sample
from processors.aggregators.state import ProjectState


def expired_hours(hours: list[int], as_of: int) -> list[int]:
    """Hour blocks whose every millisecond is at or before T - 31d (nothing in them is visible)."""
    cutoff = as_of - RETENTION_MS
    return [hour for hour in hours if (hour + 1) * HOUR_MS - 1 <= cutoff]


class ProjectLedger:
    """Folds a project's events idempotently: an event id seen before changes nothing."""

    def __init__(
        self,
        project_id: str,
        slo: SloDefinitions | None = None,
        agent_top_n: int = AGENT_TOP_N,
    ) -> None:
        self.project_id = project_id
        self.figures = Figures(slo or SloDefinitions(), agent_top_n)
        self.state: ProjectState = self.figures.initialize(project_id)
        self.blocks: dict[int, HourBlock] = {}

    def fold(self, family: str, record: Mapping[str, Any]) -> bool:
        """Apply one decoded event record; False when its event id was already applied."""
        if record["project_id"] != self.project_id:
            raise ValueError(
                f"event of project {record['project_id']!r} folded into {self.project_id!r}"
            )
        row = to_row(family, record)
        return self.fold_row(row, team_mark(row, record))

    def fold_row(self, row: Row, team: TeamMark | None = None) -> bool:
        block = self.blocks.setdefault(hour_of(row.t), HourBlock())
        if not block.add(row, team):
            return False
        self.figures.agg(self.state, row, team)
        return True

    def prune(self, as_of: int) -> None:
        """Drop everything older than the retention (T - 31d)."""
        for hour in expired_hours(list(self.blocks), as_of):
            del self.blocks[hour]
        self.state.prune(as_of)

    def snapshot(self, as_of: int) -> list[Sample]:
        return self.figures.result(self.state, as_of)
