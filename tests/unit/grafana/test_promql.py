"""Reading series selectors back out of PromQL, and the shared selection snippets."""

from __future__ import annotations

import pytest

from dashboards.promql import (
    Aggregation,
    PromQLReadError,
    Selector,
    across_projects,
    aggregations,
    metric_names,
    selectors,
    series,
    variable_expression,
    weighted,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up", [Selector("up")]),
        (
            'sum by (team) (rate(a_total{x="1", y=~"a|b"}[5m])) / on (project) group_left (team) b',
            [Selector("a_total", (("x", "=", "1"), ("y", "=~", "a|b"))), Selector("b")],
        ),
        (
            'count_values("tier", max without (instance, job) (t{metric="overall"}))',
            [Selector("t", (("metric", "=", "overall"),))],
        ),
        (
            "histogram_quantile(0.9, sum by (le) (rate(h_bucket[$__rate_interval])))",
            [Selector("h_bucket")],
        ),
        ("a offset 5m - a > bool 3", [Selector("a"), Selector("a")]),
        ("topk($n, a) or vector(0)", [Selector("a")]),
        ("sum(a) by (x) + b unless ignoring (w) c", [Selector("a"), Selector("b"), Selector("c")]),
        ('{__name__="a", le="0.5"}', [Selector("a", (("__name__", "=", "a"), ("le", "=", "0.5")))]),
        ('a{s="}\\" {"} * 2e3', [Selector("a", (("s", "=", '}\\" {'),))]),
        ("devmetrics:exporter_series:sum > 0", [Selector("devmetrics:exporter_series:sum")]),
    ],
)
def test_selectors(expr: str, expected: list[Selector]) -> None:
    assert selectors(expr) == expected


@pytest.mark.parametrize("expr", ["sum(a", 'a{x="1"', 'a{x="1}', "{x=1}"])
def test_unreadable_expressions_are_refused(expr: str) -> None:
    with pytest.raises(PromQLReadError):
        selectors(expr)


def test_a_selector_without_a_fixed_name_is_refused() -> None:
    with pytest.raises(PromQLReadError, match="without a fixed metric name"):
        metric_names('{__name__=~"devmetrics_.*"}')


def test_snippets() -> None:
    # A project's series carry no target labels (dropped at scrape): selected as exported.
    assert series("m", window="7d") == 'm{project=~"$project", window="7d"}'
    info = 'devmetrics_project_info{team=~"$team", project=~"$project"}'
    assert weighted("r", "w") == (
        f"sum ((r * on (project) w) and on (project) {info})"
        f" / (sum ((w) and on (project) {info}) > 0)"
    )
    assert variable_expression('label_values(i{team=~"$team"}, project)') == (
        'i{team=~"$team"}',
        "project",
    )
    with pytest.raises(PromQLReadError):
        variable_expression("query_result(up)")


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("a", []),
        ("sum(a)", [Aggregation("sum")]),
        ("sum by (team) (a)", [Aggregation("sum", "by", frozenset({"team"}))]),
        ("sum (a) by (project, x)", [Aggregation("sum", "by", frozenset({"project", "x"}))]),
        ("max without (window) (a)", [Aggregation("max", "without", frozenset({"window"}))]),
        (
            'count_values("tier", a) / (sum by (actor) (b) > 0)',
            [Aggregation("count_values"), Aggregation("sum", "by", frozenset({"actor"}))],
        ),
        ('topk($n, a{sum="x"}) or vector(0)', [Aggregation("topk")]),
        ("sum(rate(a[$__rate_interval]))", [Aggregation("sum")]),
    ],
)
def test_aggregations(expr: str, expected: list[Aggregation]) -> None:
    assert aggregations(expr) == expected


@pytest.mark.parametrize(
    ("expr", "across"),
    [
        ('a{project="$project"}', False),
        ("time() - a", False),
        ("max by (project, actor) (a)", False),
        ("max without (window) (a)", False),
        ("sum(a)", True),
        ("quantile by (actor) (0.5, a)", True),
        ("bottomk(15, a)", True),
        ("max without (project) (a)", True),
        ("count(a > 0) or vector(0)", True),
    ],
)
def test_across_projects(expr: str, across: bool) -> None:
    assert across_projects(expr) is across
