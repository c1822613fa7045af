"""The metric catalogue against what uses it: the docs' tables, the processors' samples, the
simulator's independent truth, and the series counts docs/exporters.md states."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pytest
from support import REPO_ROOT

from core import catalogue
from processors.aggregators import ProjectLedger
from producers.simulator import SimConfig, generate
from producers.simulator.truth import compute_metrics

pytestmark = pytest.mark.unit

T = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY_MS = 86_400_000
# One row of a metric table of docs/metrics.md: | `name` | labels | definition |
_ROW = re.compile(r"^\| `(devmetrics_[a-z_]+)` \| ([^|]*) \|")


def _docs_tables() -> dict[str, tuple[set[str], set[str]]]:
    """name -> (label names, fixed windows) of every metric table row of docs/metrics.md."""
    rows: dict[str, tuple[set[str], set[str]]] = {}
    for line in (REPO_ROOT / "docs" / "metrics.md").read_text().splitlines():
        match = _ROW.match(line)
        if match is None:
            continue
        labels: set[str] = set()
        windows: set[str] = set()
        for part in match.group(2).split(","):
            word = part.strip().split(" ")[0]
            name, _, fixed = word.partition("=")
            labels.add(name)
            if fixed:
                windows.add(fixed)
        rows[match.group(1)] = (labels, windows)
    return rows


def _simulated(projects: int = 6, days: int = 8) -> Iterable[list[tuple[str, dict[str, Any]]]]:
    config = SimConfig(seed=11, start_ms=T - days * DAY_MS, end_ms=T)
    for _spec, events in generate(config, projects):
        yield events


def _check_samples(samples: Iterable[tuple[str, dict[str, str]]]) -> set[str]:
    """Assert every sample is of a catalogue family with its labels and windows; the names."""
    seen = set()
    for name, labels in samples:
        family = catalogue.BY_NAME.get(name)
        assert family is not None and family in catalogue.SAMPLE_FAMILIES, name
        assert set(labels) == set(family.label_names), (name, labels)
        if family.windows:
            assert labels["window"] in family.windows, (name, labels)
        if family.kind == "summary":
            assert labels["quantile"] in catalogue.QUANTILE_LABELS, (name, labels)
        for label, allowed in catalogue.LABEL_VALUES.items():
            if label in labels:
                assert labels[label] in allowed, (name, labels)
        seen.add(name)
    return seen


def test_docs_tables_list_exactly_the_catalogue_figures_with_their_labels() -> None:
    docs = _docs_tables()
    assert set(docs) == {family.name for family in catalogue.SAMPLE_FAMILIES}
    for family in catalogue.SAMPLE_FAMILIES:
        labels, windows = docs[family.name]
        assert labels == set(family.label_names), family.name
        if windows:  # a table that fixes the window names the one window the family has
            assert windows == set(family.windows), family.name


def test_processors_emit_only_catalogue_families_and_every_one_of_them() -> None:
    seen: set[str] = set()
    for events in _simulated():
        ledger = ProjectLedger(events[0][1]["project_id"])
        for family, event in events:
            ledger.fold(family, event)
        seen |= _check_samples((s.name, s.labels) for s in ledger.snapshot(T))
    assert seen == {family.name for family in catalogue.SAMPLE_FAMILIES}


def test_the_independent_truth_names_the_same_families_with_the_same_labels() -> None:
    seen: set[str] = set()
    for events in _simulated():
        samples = compute_metrics(events, T)
        seen |= _check_samples((s["name"], s["labels"]) for s in samples)
    assert seen == {family.name for family in catalogue.SAMPLE_FAMILIES}


def test_series_per_project_as_docs_exporters_states() -> None:
    # docs/exporters.md, "The series a project costs": 262 + 76 per service, by hand:
    # 5 of the project's own; DORA 3 windows x (deployments 1 + lead 2 + recovery 2 + ratios 2)
    # + deploy days 1 + 5 tiers = 27; process 2 actors x (backlog 1 + 2 windows x (16 + 4 x 2));
    # AI impact: coverage 3 + lead by author 3 x 2 x 2 + share 3 + by assist 3 x 3 x 2
    # + per agent 5 x 2 windows x 4 labels + lineage 2 windows x 7 hops x 2 authors x 2;
    # per service 2 SLOs x (objective + budget + period SLI + period start + freeze
    # + violations 1d + 4 windowed figures x 8 windows).
    ai_impact = 3 + 12 + 3 + 18 + 40 + 56
    assert catalogue.fixed_series() == 5 + 27 + 2 * (1 + 2 * (16 + 8)) + ai_impact == 262
    assert catalogue.series_per_service() == 2 * (6 + 4 * 8) == 76
    assert catalogue.series_per_slo() == 38
    assert "series(S) = 262 + 76 * S" in (REPO_ROOT / "docs" / "exporters.md").read_text()


def test_a_family_with_an_unknown_window_or_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown windows"):
        catalogue.Family("devmetrics_x", "x", windows=("2w",))
    with pytest.raises(ValueError, match="kind"):
        catalogue.Family("devmetrics_x", "x", kind="histogram")
