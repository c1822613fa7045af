"""Every metric of docs/metrics.md of one project's state as of T: DORA, AI impact, SLO and
process."""

from __future__ import annotations

from processors.aggregators.ai import ai_samples
from processors.aggregators.dora import deliveries, dora_samples
from processors.aggregators.process import process_samples
from processors.aggregators.samples import Sample
from processors.aggregators.slo import slo_samples
from processors.aggregators.state import ProjectState


def snapshot(state: ProjectState, as_of: int) -> list[Sample]:
    """Every metric of docs/metrics.md as of T (epoch ms), without the project label."""
    try:
        delivered = deliveries(state, as_of)
        return [
            *dora_samples(state, as_of, delivered),
            *ai_samples(state, as_of, delivered),
            *slo_samples(state, as_of),
            *process_samples(state, as_of),
        ]
    finally:
        state.release()
