"""Every metric of docs/metrics.md of one project's state as of T: DORA, SLO and process."""

from __future__ import annotations

from processors.aggregators.dora import dora_samples
from processors.aggregators.process import process_samples
from processors.aggregators.samples import Sample
from processors.aggregators.slo import slo_samples
from processors.aggregators.state import ProjectState


def snapshot(state: ProjectState, as_of: int) -> list[Sample]:
    """Every metric of docs/metrics.md as of T (epoch ms), without the project label."""
    return [
        *dora_samples(state, as_of),
        *slo_samples(state, as_of),
        *process_samples(state, as_of),
    ]
