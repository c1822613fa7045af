"""The report's PromQL: the windows it reads, and the dashboards' expressions filled from its
scope (`dashboards.queries.fill`, `regex_literal`)."""

from __future__ import annotations

import re
from typing import cast

import pytest

from dashboards import queries as q
from dashboards.promql import PROJECTS
from devmetrics.query import PromClient
from devmetrics.report.collect import (
    AI_FIGURES,
    DORA_FIGURES,
    DORA_WINDOWS,
    PROCESS_WINDOWS,
    Collector,
    window_for,
)
from devmetrics.report.model import Period, Scope

pytestmark = pytest.mark.unit

START = 1_767_225_600.0
DAY = 86400.0


# --- windows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "window"),
    [
        (400 * DAY, "30d"),
        (30 * DAY, "30d"),
        (30 * DAY - 1, "7d"),
        (10 * DAY, "7d"),
        (7 * DAY, "7d"),
        (7 * DAY - 1, "1d"),
        (3 * DAY, "1d"),
        (DAY, "1d"),
        (3600.0, "1d"),  # none fits: the smallest
    ],
)
def test_dora_window(seconds: float, window: str) -> None:
    assert window_for(seconds, DORA_WINDOWS) == window


@pytest.mark.parametrize(
    ("seconds", "window"),
    [(30 * DAY, "7d"), (14 * DAY, "7d"), (7 * DAY, "7d"), (3 * DAY, "1d"), (12 * 3600.0, "1d")],
)
def test_process_window(seconds: float, window: str) -> None:
    assert window_for(seconds, PROCESS_WINDOWS) == window


def _collector(
    scope: Scope,
    seconds: float,
    dora_window: str | None = None,
    process_window: str | None = None,
) -> Collector:
    # The constructor and `variables` never touch the store.
    store = cast(PromClient, object())
    return Collector(
        store,
        "test",
        scope,
        Period(START, START + seconds),
        dora_window=dora_window,
        process_window=process_window,
    )


@pytest.mark.parametrize(
    ("seconds", "dora", "process"),
    [(30 * DAY, "30d", "7d"), (7 * DAY, "7d", "7d"), (DAY, "1d", "1d")],
)
def test_collector_default_windows(seconds: float, dora: str, process: str) -> None:
    report = _collector(Scope("fleet"), seconds).report
    assert (report.dora_window, report.process_window) == (dora, process)


def test_collector_given_windows_win() -> None:
    collector = _collector(Scope("fleet"), 30 * DAY, dora_window="1d", process_window="1d")
    assert (collector.report.dora_window, collector.report.process_window) == ("1d", "1d")


@pytest.mark.parametrize(
    ("scope", "team", "project"),
    [
        (Scope("fleet"), ".*", ".*"),
        (Scope("team", "team-a"), "team-a", ".*"),
        (Scope("team", "a.b"), "a\\\\.b", ".*"),
        (Scope("project", "proj-0001"), ".*", "proj-0001"),
        (Scope("project", "proj.1"), ".*", "proj\\\\.1"),
    ],
)
def test_collector_variables(scope: Scope, team: str, project: str) -> None:
    assert _collector(scope, 30 * DAY).variables("30d") == {
        "team": team,
        "project": project,
        "window": "30d",
        "service": ".*",
        "slo": ".*",
        "n": "5",
    }


def test_collector_variables_given_projects() -> None:
    variables = _collector(Scope("team", "team-a"), 30 * DAY).variables("7d", "p1|p2")
    assert (variables["team"], variables["project"], variables["window"]) == (
        "team-a",
        "p1|p2",
        "7d",
    )


# --- regex_literal ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "literal"),
    [
        ("proj-0001", "proj-0001"),
        ("org/repo:main_x", "org/repo:main_x"),
        ("", ""),
        # One backslash escapes the dot for RE2; the PromQL string needs it doubled.
        ("a.b", "a\\\\.b"),
        ("a+b", "a\\\\+b"),
        ("x(y)", "x\\\\(y\\\\)"),
        ("a|b", "a\\\\|b"),
        ("[a]{2}", "\\\\[a\\\\]\\\\{2\\\\}"),
        ("^a$", "\\\\^a\\\\$"),
        ("a*?", "a\\\\*\\\\?"),
    ],
)
def test_regex_literal(name: str, literal: str) -> None:
    assert q.regex_literal(name) == literal


@pytest.mark.parametrize("name", ["a.b", "x(y)|z", "[a]{2}+", "^a$", "a*?", "proj-0001"])
def test_regex_literal_matches_only_the_name(name: str) -> None:
    # The PromQL string's text, unquoted, is an anchored RE2 (here: Python re) pattern.
    pattern = q.regex_literal(name).replace("\\\\", "\\")
    assert re.fullmatch(pattern, name)
    assert not re.fullmatch(pattern, name + "x")
    if "." in name:
        assert not re.fullmatch(pattern, name.replace(".", "x"))


def test_regex_literal_of_a_backslash() -> None:
    # RE2 matches a backslash as two backslashes; in a PromQL string each is doubled: four.
    assert q.regex_literal("a\\b") == "a" + "\\" * 4 + "b"


# --- fill ---------------------------------------------------------------------------------------


def test_fill_replaces_the_variables() -> None:
    expr = 'sum(up{team=~"$team", project=~"$project", window="$window"})'
    values = {"team": "team-a", "project": ".*", "window": "7d"}
    assert q.fill(expr, values) == 'sum(up{team=~"team-a", project=~".*", window="7d"})'


def test_fill_braced_form() -> None:
    assert q.fill("rate(x[${window}]) or $n", {"window": "7d", "n": "5"}) == "rate(x[7d]) or 5"


def test_fill_does_not_fill_its_values() -> None:
    # Values are inserted as they are: no backslash processing, no second pass.
    values = {"team": "$project", "project": "a\\\\.b"}
    assert q.fill('{team=~"$team", project=~"$project"}', values) == (
        '{team=~"$project", project=~"a\\\\.b"}'
    )


def test_fill_leaves_what_is_not_a_variable() -> None:
    assert q.fill('label_replace(x, "a", "$1", "b", "(.*)$")', {}) == (
        'label_replace(x, "a", "$1", "b", "(.*)$")'
    )


def test_fill_a_missing_variable_is_an_error_naming_it() -> None:
    with pytest.raises(KeyError) as caught:
        q.fill('x{project=~"$project"}[$window]', {"project": "p"})
    assert caught.value.args == ("no value for $window in 'x{project=~\"$project\"}[$window]'",)
    with pytest.raises(KeyError, match=r"no value for \$slo"):
        q.fill("${slo}", {})


def test_fill_a_selection_figure() -> None:
    values = {"team": ".*", "project": "proj-0001", "window": "30d"}
    assert q.fill(q.SELECTION_DEPLOYMENTS, values) == (
        'sum((devmetrics_dora_deployments{project=~"proj-0001", window="30d"})'
        ' and on (project) devmetrics_project_info{team=~".*", project=~"proj-0001"})'
    )
    assert q.fill(PROJECTS, values) == 'devmetrics_project_info{team=~".*", project=~"proj-0001"}'


def test_every_expression_of_the_report_fills_completely() -> None:
    variables = _collector(Scope("team", "team-a"), 30 * DAY).variables("30d")
    expressions = [
        *(expr for *_f, expr, _t in DORA_FIGURES),
        *(expr for *_f, expr in AI_FIGURES),
        q.BUDGET,
        q.burn_alerts_fired("10800s"),
        *(q.tier(m) for m in (*q.TIER_METRICS, "overall")),
        *(q.tier_mix(m) for m in (*q.TIER_METRICS, "overall")),
        *(q.best(q.ranked(f, labels), hb) for _t, f, labels, _u, hb in q.RANKINGS),
        *(q.worst(q.ranked(f, labels), hb) for _t, f, labels, _u, hb in q.RANKINGS),
    ]
    for expr in expressions:
        filled = q.fill(expr, variables)
        assert "$" not in filled, filled
    titles = [q.fill(title, variables) for title, *_r in q.RANKINGS]
    assert titles == [
        "Deployments (30d)",
        "Lead time p50 (30d)",
        "Change failure rate (30d)",
        "Recovery time p50 (30d)",
        "Rework rate (30d)",
        "Error budget left (SLO period)",
    ]
