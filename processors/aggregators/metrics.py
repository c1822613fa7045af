"""Every metric of docs/metrics.md of one project's state as of T: DORA, AI impact, SLO and
process, as aggregations (`initialize / agg / result`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from core.catalogue import AGENT_TOP_N
from core.slo_definitions import SloDefinitions
from processors.aggregators.ai import ai_samples
from processors.aggregators.dora import Deliveries, deliveries, dora_samples
from processors.aggregators.process import process_samples
from processors.aggregators.rows import Row, TeamMark
from processors.aggregators.samples import Sample
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


Part = Callable[[ProjectState, int, Deliveries], list[Sample]]

# The figure groups of docs/metrics.md, in the order a snapshot lists them. DORA and AI
# impact share the deliveries (each change's first successful production deployment).
PARTS: dict[str, Part] = {
    "dora": dora_samples,
    "ai": ai_samples,
    "slo": lambda state, as_of, _delivered: slo_samples(state, as_of),
    "process": lambda state, as_of, _delivered: process_samples(state, as_of),
}


@dataclass(frozen=True)
class Figures:
    """The aggregation of a project's figures over its packed `ProjectState`: every group of
    docs/metrics.md by default, or the groups named in `parts`."""

    slo: SloDefinitions = field(default_factory=SloDefinitions)
    agent_top_n: int = AGENT_TOP_N
    parts: tuple[str, ...] = tuple(PARTS)

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
            delivered = deliveries(state, as_of) if {"dora", "ai"} & set(self.parts) else None
            samples: list[Sample] = []
            for part in self.parts:
                samples.extend(PARTS[part](state, as_of, delivered))  # type: ignore[arg-type]
            return samples
        finally:
            state.release()


ALL = Figures()


def snapshot(state: ProjectState, as_of: int) -> list[Sample]:
    """Every metric of docs/metrics.md as of T (epoch ms), without the project label."""
    return ALL.result(state, as_of)
