"""The series a shard serves per project: the catalogue (core.catalogue) and the per-project
service cap.

Every series of a snapshot that belongs to a family of the catalogue is served; the only
protective limit is the number of services whose SLOs a project may export (``max_services``,
default 8, the busiest by 30d requests). A project above it keeps its busiest services, and
the count of services left out is served as ``devmetrics_project_services_capped{project}``
so that an alert names the project: nothing is dropped silently. See docs/exporters.md.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from core.catalogue import (
    FAMILIES,
    META_FAMILIES,
    PROJECT_INFO,
    SAMPLE_FAMILIES,
    SERVICES_CAPPED,
    SLO_RANK_WINDOW,
    STATE_AS_OF,
    STATE_COMPUTED,
    STATE_EVENTS,
    STATE_LAST_EVENT,
    Family,
    fixed_series,
    series_per_service,
)
from exporters.errors import SeriesPolicyError
from exporters.snapshot import LabelPairs, ProjectSnapshot

DEFAULT_MAX_SERVICES = 8

# Reasons a series of a snapshot is not served, as the ``reason`` label of the drop gauge.
DROP_SERVICE_CAP = "service_cap"
DROP_UNKNOWN_FAMILY = "unknown_family"

FAMILY_INDEX: dict[str, int] = {family.name: i for i, family in enumerate(FAMILIES)}
SAMPLE_FAMILY_NAMES = frozenset(family.name for family in SAMPLE_FAMILIES)

# Per-project series of the catalogue, at most (docs/exporters.md, "The series a project
# costs"): the project's own, DORA and the process figures, and per service its two SLOs.
FIXED_SERIES = fixed_series()
SERIES_PER_SERVICE = series_per_service()

__all__ = [
    "FAMILIES",
    "META_FAMILIES",
    "PROJECT_INFO",
    "SERVICES_CAPPED",
    "STATE_AS_OF",
    "STATE_COMPUTED",
    "STATE_EVENTS",
    "STATE_LAST_EVENT",
    "Family",
    "ServicePolicy",
    "max_series",
    "services_by_traffic",
]

_SLO_PREFIX = "devmetrics_slo_"


def max_series(services: int) -> int:
    """The most series a project with ``services`` served services can cost."""
    return FIXED_SERIES + SERIES_PER_SERVICE * services


def services_by_traffic(snapshot: ProjectSnapshot) -> list[str]:
    """The snapshot's services, busiest first (30d requests over its SLOs), then by name."""
    traffic: dict[str, float] = defaultdict(float)
    for (name, pairs), value in snapshot.samples.items():
        if not name.startswith(_SLO_PREFIX):
            continue
        labels = dict(pairs)
        service = labels.get("service")
        if service is None:
            continue
        if name == "devmetrics_slo_requests" and labels.get("window") == SLO_RANK_WINDOW:
            traffic[service] += value
        else:
            traffic.setdefault(service, 0.0)
    return sorted(traffic, key=lambda service: (-traffic[service], service))


@dataclass(frozen=True, slots=True)
class Selected:
    """A sample chosen for export."""

    family: int
    labels: LabelPairs
    value: float


@dataclass(frozen=True, slots=True)
class Selection:
    """The samples a project exports; the services and series left out, by reason."""

    samples: list[Selected]
    services_capped: int = 0
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServicePolicy:
    """How many services' SLOs a project may export (the busiest ones)."""

    max_services: int = DEFAULT_MAX_SERVICES

    def __post_init__(self) -> None:
        if self.max_services < 1:
            raise SeriesPolicyError(f"max_services must be >= 1, got {self.max_services}")

    def select(self, snapshot: ProjectSnapshot) -> Selection:
        """Every catalogue sample of the snapshot, but for the SLOs of capped services."""
        ranked = services_by_traffic(snapshot)
        capped = frozenset(ranked[self.max_services :])
        chosen: list[Selected] = []
        dropped: dict[str, int] = {}
        for (name, pairs), value in snapshot.samples.items():
            index = FAMILY_INDEX.get(name)
            if index is None or name not in SAMPLE_FAMILY_NAMES:
                dropped[DROP_UNKNOWN_FAMILY] = dropped.get(DROP_UNKNOWN_FAMILY, 0) + 1
                continue
            if capped and name.startswith(_SLO_PREFIX) and dict(pairs).get("service") in capped:
                dropped[DROP_SERVICE_CAP] = dropped.get(DROP_SERVICE_CAP, 0) + 1
                continue
            chosen.append(Selected(index, pairs, value))
        return Selection(chosen, len(capped), dropped)
