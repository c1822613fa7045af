"""Prometheus text exposition (format 0.0.4) of project snapshots, rendered once per snapshot.

A project's series are rendered to bytes when its snapshot arrives, one chunk per metric
family; a scrape body is those cached chunks joined family by family (the format wants every
family's lines in one group), so a scrape never formats a number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from exporters.series import (
    FAMILIES,
    FAMILY_INDEX,
    PROJECT_INFO,
    SERVICES_CAPPED,
    STATE_AS_OF,
    STATE_COMPUTED,
    STATE_EVENTS,
    STATE_LAST_EVENT,
    Family,
    ServicePolicy,
)
from exporters.snapshot import LabelPairs, ProjectSnapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape_label_value(value: str) -> str:
    """Escape a label value: backslash, double quote and line feed."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(text: str) -> str:
    """Escape a HELP text: backslash and line feed."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    """A sample value as the text format spells it (integers without a fraction)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def format_labels(pairs: Iterable[tuple[str, str]]) -> str:
    """``{a="x",b="y"}`` with escaped values, or an empty string for no labels."""
    body = ",".join(f'{name}="{escape_label_value(value)}"' for name, value in pairs)
    return "{" + body + "}" if body else ""


def family_header(family: Family) -> bytes:
    """The HELP and TYPE lines opening a family's group."""
    return (
        f"# HELP {family.name} {escape_help(family.help)}\n# TYPE {family.name} {family.kind}\n"
    ).encode()


FAMILY_HEADERS: tuple[bytes, ...] = tuple(family_header(family) for family in FAMILIES)


def render_family(family: Family, samples: Sequence[tuple[LabelPairs, float]]) -> str:
    """One complete family group (header and samples); empty when there are no samples."""
    if not samples:
        return ""
    lines = [f"{family.name}{format_labels(labels)} {format_value(v)}\n" for labels, v in samples]
    return family_header(family).decode() + "".join(lines)


_INFO, _AS_OF, _COMPUTED, _LAST_EVENT, _EVENTS, _CAPPED = (
    FAMILY_INDEX[f.name]
    for f in (
        PROJECT_INFO,
        STATE_AS_OF,
        STATE_COMPUTED,
        STATE_LAST_EVENT,
        STATE_EVENTS,
        SERVICES_CAPPED,
    )
)


def render_summary(family: Family, total: float, count: int) -> str:
    """A summary family without quantiles: its ``_sum`` and ``_count``."""
    return (
        family_header(family).decode()
        + f"{family.name}_sum {format_value(total)}\n{family.name}_count {count}\n"
    )


@dataclass(frozen=True, slots=True)
class RenderedProject:
    """A project's exposition lines, one chunk per family of FAMILIES (b"" when none)."""

    project_id: str
    parts: tuple[bytes, ...]
    series: int
    dropped: Mapping[str, int]
    services_capped: int = 0


def render_project(snapshot: ProjectSnapshot, policy: ServicePolicy) -> RenderedProject:
    """Render the served series of one snapshot, grouped by family."""
    project = f'project="{escape_label_value(snapshot.project_id)}"'
    lines: list[list[str]] = [[] for _ in FAMILIES]

    def add(index: int, value: float, pairs: LabelPairs = ()) -> None:
        extra = "".join(f',{name}="{escape_label_value(v)}"' for name, v in pairs)
        lines[index].append(f"{FAMILIES[index].name}{{{project}{extra}}} {format_value(value)}\n")

    add(_INFO, 1.0, (("team", snapshot.team),) if snapshot.team else ())
    add(_AS_OF, snapshot.as_of_ms / 1000)
    add(_COMPUTED, snapshot.computed_at_ms / 1000)
    if snapshot.last_event_at_ms is not None:
        add(_LAST_EVENT, snapshot.last_event_at_ms / 1000)
    add(_EVENTS, float(snapshot.events_applied))
    selection = policy.select(snapshot)
    if selection.services_capped:
        add(_CAPPED, float(selection.services_capped))
    for sample in selection.samples:
        add(sample.family, sample.value, sample.labels)
    return RenderedProject(
        project_id=snapshot.project_id,
        parts=tuple("".join(group).encode() for group in lines),
        series=sum(len(group) for group in lines),
        dropped=selection.dropped,
        services_capped=selection.services_capped,
    )


def assemble(projects: Sequence[RenderedProject]) -> bytes:
    """The exposition of many projects: each family's header, then every project's chunk."""
    out: list[bytes] = []
    for index, header in enumerate(FAMILY_HEADERS):
        chunks = [part for project in projects if (part := project.parts[index])]
        if chunks:
            out.append(header)
            out.extend(chunks)
    return b"".join(out)
