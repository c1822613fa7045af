"""Reading series selectors back out of PromQL, and the shared selection snippets."""

from __future__ import annotations

import pytest

from exporters.dashboards.promql import (
    PromQLReadError,
    Selector,
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
        ("devmetrics:slo_sli:ratio > 0", [Selector("devmetrics:slo_sli:ratio")]),
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
    assert series("m", window="7d") == (
        'max without (instance, job) (m{project=~"$project", window="7d"})'
    )
    info = (
        'max without (instance, job) (devmetrics_project_info{team=~"$team", project=~"$project"})'
    )
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
