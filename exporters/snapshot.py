"""A project's state snapshot as the exporter holds it: validated, keyed for lookup."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.limits import MAX_LABEL_LENGTH
from exporters.errors import RecordRejected

LabelPairs = tuple[tuple[str, str], ...]
SeriesKey = tuple[str, LabelPairs]

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
# Label values come from events (project ids, service names): bounded so that one hostile
# producer cannot bloat every scrape (the same bound events are held to at ingest,
# core.limits); escaping keeps any content within the format.
MAX_LABELS = 8
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True, slots=True)
class ProjectSnapshot:
    """One project's metrics as of a time; ``samples`` maps (name, sorted labels) to value."""

    project_id: str
    as_of_ms: int
    computed_at_ms: int
    last_event_at_ms: int | None
    events_applied: int
    team: str | None
    samples: Mapping[SeriesKey, float]

    def value(self, name: str, **labels: str) -> float | None:
        """The value of one series, or None when the snapshot does not hold it."""
        return self.samples.get((name, tuple(sorted(labels.items()))))


def _millis(record: Mapping[str, Any], field: str, *, nullable: bool = False) -> int | None:
    value = record.get(field)
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordRejected("invalid", f"{field} must be epoch milliseconds, got {value!r}")
    return value


def snapshot_from_record(record: Mapping[str, Any]) -> ProjectSnapshot:
    """Check a decoded state record's shape and index its samples; RecordRejected if unusable.

    The codec has checked the Avro types already; this checks what the exporter relies on
    beyond them: metric and label names valid, no ``project`` label, no duplicate series.
    """
    project_id = record.get("project_id")
    if not isinstance(project_id, str) or not project_id:
        raise RecordRejected("invalid", f"project_id must be a non-empty string: {project_id!r}")
    as_of = _millis(record, "as_of")
    computed_at = _millis(record, "computed_at")
    assert as_of is not None and computed_at is not None  # not nullable: checked above
    events_applied = record.get("events_applied")
    if isinstance(events_applied, bool) or not isinstance(events_applied, int):
        raise RecordRejected("invalid", f"events_applied must be an int, got {events_applied!r}")
    if len(project_id) > MAX_LABEL_LENGTH:
        raise RecordRejected("invalid", f"project_id longer than {MAX_LABEL_LENGTH}")
    team = record.get("team")
    if team is not None and not isinstance(team, str):
        raise RecordRejected("invalid", f"team must be a string or null, got {team!r}")
    if team is not None and len(team) > MAX_LABEL_LENGTH:
        raise RecordRejected("invalid", f"team longer than {MAX_LABEL_LENGTH} characters")
    metrics = record.get("metrics")
    if not isinstance(metrics, list):
        raise RecordRejected("invalid", "metrics must be a list of samples")
    samples: dict[SeriesKey, float] = {}
    for index, sample in enumerate(metrics):
        key, value = _sample(index, sample)
        if key in samples:
            raise RecordRejected("duplicate_series", f"metrics[{index}] repeats series {key}")
        samples[key] = value
    return ProjectSnapshot(
        project_id=project_id,
        as_of_ms=as_of,
        computed_at_ms=computed_at,
        last_event_at_ms=_millis(record, "last_event_at", nullable=True),
        events_applied=events_applied,
        team=team or None,
        samples=samples,
    )


def _sample(index: int, sample: Any) -> tuple[SeriesKey, float]:
    where = f"metrics[{index}]"
    if not isinstance(sample, Mapping):
        raise RecordRejected("invalid", f"{where} is not a record")
    name, labels, value = sample.get("name"), sample.get("labels"), sample.get("value")
    if not isinstance(name, str) or not _NAME.match(name):
        raise RecordRejected("invalid", f"{where}.name {name!r} is not a valid metric name")
    if not isinstance(labels, Mapping):
        raise RecordRejected("invalid", f"{where}.labels of {name} is not a map")
    if len(labels) > MAX_LABELS:
        raise RecordRejected("invalid", f"{where} ({name}) has more than {MAX_LABELS} labels")
    for label, label_value in labels.items():
        if not isinstance(label, str) or not _LABEL.match(label) or label.startswith("__"):
            raise RecordRejected("invalid", f"{where} ({name}): bad label name {label!r}")
        if label == "project":
            raise RecordRejected("invalid", f"{where} ({name}) carries a project label")
        if not isinstance(label_value, str):
            raise RecordRejected("invalid", f"{where} ({name}): label {label} is not a string")
        if len(label_value) > MAX_LABEL_LENGTH:
            raise RecordRejected(
                "invalid",
                f"{where} ({name}): label {label} longer than {MAX_LABEL_LENGTH} characters",
            )
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordRejected("invalid", f"{where} ({name}): value {value!r} is not a number")
    return (name, tuple(sorted(labels.items()))), float(value)
