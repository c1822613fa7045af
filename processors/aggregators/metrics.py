"""Every metric of docs/metrics.md of one project's state as of T: DORA, AI impact, SLO and
process, as aggregations (`initialize / agg / result`)."""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, TypeVar

from core.catalogue import AGENT_TOP_N, LINEAGE_WINDOWS
from core.slo_definitions import SloDefinitions
from processors.aggregators.ai import RANK_WINDOW, ai_samples
from processors.aggregators.dora import (
    Deliveries,
    deliveries,
    dora_history_samples,
    dora_window_samples,
)
from processors.aggregators.process import BACKLOG_WINDOW, process_samples
from processors.aggregators.rows import Row, TeamMark
from processors.aggregators.samples import (
    DORA_WINDOWS,
    PROCESS_WINDOWS,
    RETENTION_MS,
    WINDOWS_MS,
    Sample,
)
from processors.aggregators.slo import slo_samples
from processors.aggregators.state import ProjectState

S = TypeVar("S")


class Aggregation(Protocol[S]):
    """The metric logic of one project, free of any transport.

    `initialize(project_id)` makes the empty state; `agg(state, row, team)` folds one
    de-duplicated event row (and the team its event states) in and returns the state: folding
    is commutative, so any order of the same rows gives the same state; `result(state, as_of)`
    computes the samples as of T (epoch ms, whole minute) from the rows of (T - 31d, T]. The
    worker (blocks in a faust table), the ledger (blocks in memory) and the tests (plain lists)
    drive the same aggregations.
    """

    def initialize(self, project_id: str) -> S: ...

    def agg(self, state: S, row: Row, team: TeamMark | None = None) -> S: ...

    def result(self, state: S, as_of: int) -> list[Sample]: ...


@dataclass(frozen=True)
class Part:
    """One figure group of docs/metrics.md: how it is computed and what it reads.

    `compute(state, as_of, deliveries)` gives the group's samples and what `finish` needs
    from them. `reads` names the families whose rows the computed figures depend on, where
    they depend on T only through which of those rows are in which window (T - w < t <= T,
    for the windows of docs/metrics.md and the 31-day retention): such a result stays exact
    until a row of those families is added or pruned, or T reaches the next time a row
    enters or leaves a window (`RowColumns.next_change`), so it is kept until then. None:
    computed at every snapshot (the SLO group reads the minutes of the SLI series, which
    move with every sample). `finish(state, as_of, carried)` gives the figures that move
    with T itself (how much of each window the history covers, and the tiers judged over
    it), computed at every snapshot from the group's carried inputs.
    """

    compute: Callable[[ProjectState, int, Deliveries | None], tuple[list[Sample], Any]]
    reads: tuple[str, ...] | None = None
    finish: Callable[[ProjectState, int, Any], list[Sample]] | None = None
    shares_deliveries: bool = False
    """Reads `Deliveries`, computed once per snapshot for the groups that need it."""


def _plain(
    fn: Callable[[ProjectState, int], list[Sample]],
) -> Callable[[ProjectState, int, Deliveries | None], tuple[list[Sample], Any]]:
    return lambda state, as_of, _delivered: (fn(state, as_of), None)


_DELIVERY_FAMILIES = ("deployment", "incident", "change")

# The figure groups of docs/metrics.md, in the order a snapshot lists them. DORA and AI
# impact share the deliveries (each change's first successful production deployment).
PARTS: dict[str, Part] = {
    "dora": Part(
        compute=dora_window_samples,  # type: ignore[arg-type]
        reads=_DELIVERY_FAMILIES,
        finish=dora_history_samples,
        shares_deliveries=True,
    ),
    "ai": Part(
        compute=lambda state, as_of, delivered: (
            ai_samples(state, as_of, delivered),  # type: ignore[arg-type]
            None,
        ),
        reads=(*_DELIVERY_FAMILIES, "task", "review", "rfc"),
        shares_deliveries=True,
    ),
    "slo": Part(compute=_plain(slo_samples)),
    "process": Part(compute=_plain(process_samples), reads=("rfc", "task", "review", "test")),
}

WINDOW_LENGTHS: tuple[int, ...] = tuple(
    sorted(
        {0, RETENTION_MS}
        | {
            WINDOWS_MS[w]
            for w in (
                *DORA_WINDOWS,
                *PROCESS_WINDOWS,
                *LINEAGE_WINDOWS,
                RANK_WINDOW,
                BACKLOG_WINDOW,
            )
        }
    )
)
"""Where a row's membership of a window of the kept groups changes: at t (it becomes
visible) and at t + each window the DORA, AI impact and process figures use (and the
retention). A window added to those figures must be added here."""


class _SeriesTable:
    """Every (name, labels) a kept result has held, numbered, for the whole process: a kept
    result lists its series as 4-byte numbers, and identical lists (projects with the same
    sequence of series) are held once, so it costs about 8 bytes a sample (its values).
    Past `limit` series the table starts again; results kept under the old numbering are
    then computed afresh (`generation`)."""

    def __init__(self, limit: int = 1 << 20) -> None:
        self.limit = limit
        self.generation = 0
        self._series: list[tuple[str, dict[str, str]]] = []
        self._numbers: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
        self._layouts: dict[bytes, bytes] = {}

    def layout(self, samples: list[Sample]) -> bytes:
        if len(self._series) + len(samples) > self.limit:
            self.generation += 1
            self._series, self._numbers, self._layouts = [], {}, {}
        numbers = array("I")
        for sample in samples:
            key = (sample.name, tuple(sample.labels.items()))
            number = self._numbers.get(key)
            if number is None:
                number = self._numbers[key] = len(self._series)
                self._series.append((sample.name, sample.labels))
            numbers.append(number)
        data = numbers.tobytes()
        return self._layouts.setdefault(data, data)

    def samples(self, layout: bytes, values: array[float]) -> list[Sample]:
        series = self._series
        return [
            Sample(*series[number], value)
            for number, value in zip(array("I", layout), values, strict=True)
        ]


_SERIES = _SeriesTable()


class _Kept(NamedTuple):
    """A group's result kept between snapshots (`Part`)."""

    figures: Figures
    versions: tuple[int, ...]
    since: int
    until: int
    """The first T at which a row enters or leaves a window (exclusive end of validity)."""
    generation: int
    layout: bytes
    """Its series, numbered in `_SERIES` of `generation`."""
    values: array[float]
    carried: Any


@dataclass(frozen=True)
class Figures:
    """The aggregation of a project's figures over its packed `ProjectState`: every group of
    docs/metrics.md by default, or the groups named in `parts`. With `keep`, a group's
    result is kept in the state and reused while it stays exact (`Part`)."""

    slo: SloDefinitions = field(default_factory=SloDefinitions)
    agent_top_n: int = AGENT_TOP_N
    parts: tuple[str, ...] = tuple(PARTS)
    keep: bool = True

    def __post_init__(self) -> None:
        unknown = [part for part in self.parts if part not in PARTS]
        if unknown:
            raise ValueError(f"unknown figure groups {unknown}; known: {', '.join(PARTS)}")

    def initialize(self, project_id: str) -> ProjectState:
        return ProjectState(project_id, self.slo, self.agent_top_n)

    def agg(self, state: ProjectState, row: Row, team: TeamMark | None = None) -> ProjectState:
        state.apply(row)
        state.note_team(team)
        return state

    def result(self, state: ProjectState, as_of: int) -> list[Sample]:
        try:
            delivered: Deliveries | None = None
            samples: list[Sample] = []
            for name in self.parts:
                part = PARTS[name]
                got, carried = self._kept(state, name, part, as_of)
                if got is None:
                    if part.shares_deliveries and delivered is None:
                        delivered = deliveries(state, as_of)
                    got, carried = part.compute(state, as_of, delivered)
                    self._keep(state, name, part, as_of, got, carried)
                samples.extend(got)
                if part.finish is not None:
                    samples.extend(part.finish(state, as_of, carried))
            return samples
        finally:
            state.release()

    def _kept(
        self, state: ProjectState, name: str, part: Part, as_of: int
    ) -> tuple[list[Sample] | None, Any]:
        kept = state.kept.get(name)
        if (
            kept is None
            or kept.figures is not self
            or not kept.since <= as_of < kept.until
            or kept.generation != _SERIES.generation
            or kept.versions != state.versions(part.reads or ())
        ):
            return None, None
        state.kept_hits += 1
        return _SERIES.samples(kept.layout, kept.values), kept.carried

    def _keep(
        self,
        state: ProjectState,
        name: str,
        part: Part,
        as_of: int,
        samples: list[Sample],
        carried: Any,
    ) -> None:
        if not self.keep or part.reads is None:
            return
        until = state.next_change(part.reads, as_of, WINDOW_LENGTHS)
        layout = _SERIES.layout(samples)  # first: it may start a new generation
        state.kept[name] = _Kept(
            self,
            state.versions(part.reads),
            as_of,
            sys.maxsize if until is None else until,
            _SERIES.generation,
            layout,
            array("d", [s.value for s in samples]),
            carried,
        )


ALL = Figures()


def snapshot(state: ProjectState, as_of: int) -> list[Sample]:
    """Every metric of docs/metrics.md as of T (epoch ms), without the project label."""
    return ALL.result(state, as_of)
