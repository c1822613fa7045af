"""Per-project state: rows folded in any order, from which a snapshot at any T is computed.

Folding is commutative (rows are kept per family, SLI counts are summed into minute buckets),
so late and out-of-order events give the same snapshot as in-order ones. De-duplication is
not done here but by the hour blocks (`ProjectLedger` or the worker's block store).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, TypeVar

from core.catalogue import AGENT_TOP_N
from core.slo_definitions import SloDefinitions
from processors.aggregators.columns import RowColumns, StringTable
from processors.aggregators.rows import (
    ChangeRow,
    DeploymentRow,
    IncidentRow,
    ReviewRow,
    RfcRow,
    Row,
    SliRow,
    TaskRow,
    TeamMark,
    TestRunRow,
    latest_team,
)
from processors.aggregators.samples import MINUTE_MS, RETENTION_MS
from processors.aggregators.sli import SliSeries

R = TypeVar("R", bound=Row)

_MINUTES_PER_HOUR = 60


class ProjectState:
    """Everything one project's snapshot is computed from; folded row by row."""

    def __init__(
        self, project_id: str, slo: SloDefinitions, agent_top_n: int = AGENT_TOP_N
    ) -> None:
        self.project_id = project_id
        self.slo = slo
        self.agent_top_n = agent_top_n
        """How many of the busiest agents keep their name as `agent` (docs/metrics.md)."""
        self.strings = StringTable()
        self.rfc = RowColumns(RfcRow, self.strings)
        self.task = RowColumns(TaskRow, self.strings)
        self.review = RowColumns(ReviewRow, self.strings)
        self.test = RowColumns(TestRunRow, self.strings)
        self.change = RowColumns(ChangeRow, self.strings)
        self.deployment = RowColumns(DeploymentRow, self.strings)
        self.incident = RowColumns(IncidentRow, self.strings)
        self._all: tuple[RowColumns[Any], ...] = (
            self.rfc,
            self.task,
            self.review,
            self.test,
            self.change,
            self.deployment,
            self.incident,
        )
        self._by_type: dict[type[Any], RowColumns[Any]] = {rows.cls: rows for rows in self._all}
        self.sli: dict[str, SliSeries] = defaultdict(SliSeries)
        self.events_applied = 0
        self.last_event_at: int | None = None
        self.team_mark: TeamMark | None = None
        """The winning team statement of the held events (`latest_team`)."""
        self.kept: dict[str, Any] = {}
        """Figure groups' results kept while they stay exact (metrics.Part), by group."""
        self.kept_hits = 0
        """Snapshots' groups served from `kept`."""

    def apply(self, row: Row) -> None:
        """Fold one (already de-duplicated) row into the state."""
        if isinstance(row, SliRow):
            self.sli[row.service].add(row)
        else:
            self._rows_for(row).append(row)
        self.events_applied += 1
        if self.last_event_at is None or row.t > self.last_event_at:
            self.last_event_at = row.t

    def note_team(self, mark: TeamMark | None) -> None:
        """Fold an event's (or a whole hour block's) team statement in; order does not matter."""
        self.team_mark = latest_team(self.team_mark, mark)

    @property
    def team(self) -> str | None:
        """The project's team: that of its latest event stating one; None if none did."""
        return None if self.team_mark is None else self.team_mark.team

    def prune(self, as_of: int) -> None:
        """Forget rows outside the retention (T - 31d, ...]; SLI hours wholly before it.

        The team goes too once its event is out: every other statement is older, so a
        rebuild from the retained blocks finds none either.
        """
        cutoff = as_of - RETENTION_MS
        if self.team_mark is not None and self.team_mark.t <= cutoff:
            self.team_mark = None
        dropped = sum(rows.prune(cutoff) for rows in self._families())
        self.events_applied -= dropped
        if dropped and len(self.strings) > 64:
            self.strings.compact(self._families())
        # An SLI hour is dropped once its last bucket is out of retention.
        before_hour = (cutoff // MINUTE_MS) // _MINUTES_PER_HOUR
        for service in list(self.sli):
            self.events_applied -= self.sli[service].prune(before_hour)
            if not self.sli[service]:
                del self.sli[service]

    def history_start(self, as_of: int) -> int | None:
        """H of docs/metrics.md ("Tiers over a partly covered history"): the start of the UTC
        minute of the earliest event visible at T, or None when none is.

        An SLI minute bucket that straddles T - 31d is taken as visible: it can only be the
        earliest when the history already spans more than 30 days, where every coverage is 1.
        """
        cutoff = as_of - RETENTION_MS
        earliest: int | None = None
        for rows in self._families():
            t = rows.times()
            times = t[(t > cutoff) & (t <= as_of)]
            if len(times) and (earliest is None or int(times.min()) < earliest):
                earliest = int(times.min())
        start = None if earliest is None else (earliest - 1) // MINUTE_MS * MINUTE_MS
        last_bucket = (as_of - 1) // MINUTE_MS
        first_bucket = cutoff // MINUTE_MS
        for series in self.sli.values():
            bucket = series.first_bucket(first_bucket, last_bucket)
            if bucket is not None and (start is None or bucket * MINUTE_MS < start):
                start = bucket * MINUTE_MS
        return start

    def visible(self, rows: RowColumns[R], as_of: int) -> list[R]:
        """Rows with T - 31d < t <= T: what the state knows as of T (kept for the rest of
        the snapshot, until `release`)."""
        return rows.visible(as_of - RETENTION_MS, as_of)

    def release(self) -> None:
        """Forget the rows materialised for a snapshot: only the packed columns stay held."""
        for rows in self._families():
            rows.release()
        self.strings.release()
        for series in self.sli.values():
            series.release()

    def versions(self, families: tuple[str, ...]) -> tuple[int, ...]:
        """The change counts of the named families' rows (`RowColumns.version`)."""
        return tuple(getattr(self, family).version for family in families)

    def next_change(
        self, families: tuple[str, ...], as_of: int, lengths: tuple[int, ...]
    ) -> int | None:
        """The first T after `as_of` at which a row of the named families enters or leaves
        a window of one of `lengths` (`RowColumns.next_change`)."""
        changes = [
            at
            for family in families
            if (at := getattr(self, family).next_change(as_of, lengths)) is not None
        ]
        return min(changes, default=None)

    def _families(self) -> list[RowColumns[Any]]:
        return list(self._all)

    def _rows_for(self, row: Row) -> RowColumns[Any]:
        rows = self._by_type.get(type(row))
        if rows is None:
            raise TypeError(f"not a row: {row!r}")
        return rows
