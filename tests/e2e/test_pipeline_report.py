"""`devmetrics report` on the whole pipeline: a project report and a fleet report read from
VictoriaMetrics, every printed figure checked against the simulator's truth, and the HTML
opened in headless Chromium.

The expectations are computed here from the truth file (the values every project's series
must have, test_pipeline.py), with the definitions of the figures (docs/reports.md): sums
over the projects, ratios weighted by their counts, medians and means of the projects'
own figures; a figure whose inputs a project lacks leaves that project out, as PromQL's
matching does. The burn-rate alerts are checked against VictoriaMetrics' ALERTS.

The fleet report covers every project VictoriaMetrics holds in the period: this module runs
right after test_pipeline.py (its name orders it so), before other e2e modules remote-write
projects of their own into the same VictoriaMetrics (the receiver pipeline's deployments
would add to the fleet's figures).
"""

from __future__ import annotations

import re
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from support.browser import ARTIFACTS, open_page
from support.pipeline import prometheus_query, wait_for
from support.reports import Printed, printed, rows, run_report, table

pytestmark = pytest.mark.e2e

AI, HUMAN = "ai_agent", "human"
TIERS = {4: "elite", 3: "high", 2: "medium", 1: "low"}
TIER_METRICS = ("deployment_frequency", "lead_time", "change_failure_rate", "recovery_time")
SLO_HEADER = ["project", "service", "SLO", "error budget left"]
BURN = "DevmetricsSLOErrorBudgetBurn"
TIME_UNITS = {"s", "min", "h", "d"}

Truth = dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]


def _truth(pipeline: Any) -> Truth:
    """Per project, the truth's samples keyed by (name, sorted labels)."""
    return {
        pid: {(m["name"], tuple(sorted(m["labels"].items()))): m["value"] for m in t["metrics"]}
        for pid, t in pipeline.truth.items()
    }


def _get(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


class Fleet:
    """The report's figures over a set of projects, from their truth."""

    def __init__(self, truth: Truth, pids: Iterable[str]) -> None:
        self.projects = [truth[p] for p in pids]

    def values(self, name: str, **labels: str) -> list[float]:
        return [v for s in self.projects if (v := _get(s, name, **labels)) is not None]

    def total(self, name: str, **labels: str) -> float | None:
        found = self.values(name, **labels)
        return sum(found) if found else None

    def weighted(self, ratio: str, weight: str, **labels: str) -> float | None:
        """sum(ratio x weight) over projects with both / sum(weight) over projects with it."""
        pairs = [
            (r, w)
            for s in self.projects
            if (r := _get(s, ratio, **labels)) is not None
            and (w := _get(s, weight, **labels)) is not None
        ]
        weight_sum = self.total(weight, **labels)
        if not pairs or not weight_sum:
            return None
        return sum(r * w for r, w in pairs) / weight_sum

    def per(self, numerator: str, denominator: str, **labels: str) -> float | None:
        top, bottom = self.total(numerator, **labels), self.total(denominator, **labels)
        return None if top is None or not bottom else top / bottom

    def median(self, name: str, **labels: str) -> float | None:
        found = self.values(name, **labels)
        return statistics.median(found) if found else None

    def mean(self, name: str, **labels: str) -> float | None:
        found = self.values(name, **labels)
        return statistics.fmean(found) if found else None

    def dora(self) -> dict[str, float | None]:
        w = {"window": "30d"}
        return {
            "Deployments": self.total("devmetrics_dora_deployments", **w),
            "Deploy days per week": self.mean("devmetrics_dora_deploy_day_per_week", **w),
            "Lead time p50": self.median("devmetrics_dora_lead_time_seconds", **w, quantile="0.5"),
            "Change failure rate": self.weighted(
                "devmetrics_dora_change_failure_ratio", "devmetrics_dora_deployments", **w
            ),
            "Recovery time p50": self.median(
                "devmetrics_dora_recovery_time_seconds", **w, quantile="0.5"
            ),
            "Rework rate": self.weighted(
                "devmetrics_dora_rework_ratio", "devmetrics_dora_deployments", **w
            ),
        }

    def process(self, actor: str) -> dict[str, float | None]:
        w = {"window": "7d", "actor": actor}
        completed, failed = (
            self.total("devmetrics_task_completed", **w),
            self.total("devmetrics_task_failed", **w),
        )
        return {
            "Tasks completed": completed,
            "Task attempts failed": failed,
            "Reviews completed": self.total("devmetrics_review_completed", **w),
            "Test runs": self.total("devmetrics_test_runs", **w),
            "RFCs submitted": self.total("devmetrics_rfc_submitted", **w),
            "Task success rate": (
                completed / (completed + failed)
                if completed is not None and failed is not None and completed + failed > 0
                else None
            ),
            "Review approval rate": self.weighted(
                "devmetrics_review_approval_ratio", "devmetrics_review_completed", **w
            ),
            "Test pass rate (mean project)": self.mean("devmetrics_test_pass_ratio", **w),
            "RFC acceptance rate": self.weighted(
                "devmetrics_rfc_acceptance_ratio", "devmetrics_rfc_decided", **w
            ),
            "Task cycle time p50 (median project)": self.median(
                "devmetrics_task_cycle_time_seconds", **w, quantile="0.5"
            ),
            "Review latency p50 (median project)": self.median(
                "devmetrics_review_latency_seconds", **w, quantile="0.5"
            ),
            "Test duration p50 (median project)": self.median(
                "devmetrics_test_duration_seconds", **w, quantile="0.5"
            ),
            "RFC time to decision p50 (median project)": self.median(
                "devmetrics_rfc_time_to_decision_seconds", **w, quantile="0.5"
            ),
            "Review findings per review": self.per(
                "devmetrics_review_findings", "devmetrics_review_completed", **w
            ),
            "Task cost": self.total("devmetrics_task_cost_usd", **w),
            "Cost per completed task": self.per(
                "devmetrics_task_cost_usd", "devmetrics_task_completed", **w
            ),
        }

    def tier_mix(self, metric: str) -> list[str]:
        counts: dict[int, int] = defaultdict(int)
        for value in self.values("devmetrics_dora_tier", metric=metric):
            counts[int(value)] += 1
        return [str(counts[t]) for t in sorted(TIERS, reverse=True)]

    def budgets(self) -> list[float]:
        return sorted(
            v
            for s in self.projects
            for (name, _labels), v in s.items()
            if name == "devmetrics_slo_error_budget_remaining_ratio"
        )


def _check(cells: dict[str, list[str]], expected: dict[str, float | None], column: int) -> int:
    """Every row's printed figure in ``column`` equals its expectation; the rows checked."""
    checked = 0
    for name, cells_of in cells.items():
        key = name if name in expected else name.split(" (")[0]
        got = printed(cells_of[column])
        assert got.matches(expected[key]), f"{name}: printed {got.text}, expected {expected[key]}"
        checked += 1
    return checked


def _ranking_values(cell: str) -> list[Printed]:
    """The printed values of a ranking cell: ``proj-1 12, proj-2 3.00 h``. The value is the
    entry's last word, or its last two when they are a number and a time unit (an error
    budget's entry is named ``project service slo``)."""
    values = []
    for entry in cell.split(", "):
        words = entry.split(" ")
        text = " ".join(words[-2:]) if words[-1] in TIME_UNITS else words[-1]
        values.append(printed(text))
    return values


@pytest.mark.timeout(3000)
def test_project_and_fleet_reports_print_the_truth(pipeline: Any, tmp_path: Path) -> None:
    vm = pipeline.victoriametrics_url
    ids = set(pipeline.project_ids)
    truth = _truth(pipeline)
    figures = "devmetrics_(dora|slo|task|review|test|rfc|agent|lineage)_.+"
    served = sum(1 for s in truth.values() for name, _l in s if re.fullmatch(figures, name))

    def vm_holds_the_truth() -> bool:
        """VictoriaMetrics holds every project and as many figure series as the truth."""
        info = prometheus_query(vm, "devmetrics_project_info", latency_offset="1s")
        count = prometheus_query(vm, f'count({{__name__=~"{figures}"}})', latency_offset="1s")
        held = int(float(count[0]["value"][1])) if count else 0
        return {r["metric"]["project"] for r in info} == ids and held == served

    # Every figure family of the truth, counted alike on both sides; remote write of the
    # whole fleet can take VictoriaMetrics a few minutes on a shared 2-core machine.
    wait_for(vm_holds_the_truth, 600, 5, "VictoriaMetrics to hold every pipeline series")
    at = f"{time.time() - 5:.0f}"
    common = ["--url", vm, "--at", at]

    # One project: the one with the most SLOs, then the most series.
    project = max(
        ids,
        key=lambda p: (
            sum(1 for n, _l in truth[p] if n == "devmetrics_slo_error_budget_remaining_ratio"),
            len(truth[p]),
            p,
        ),
    )
    done = run_report([*common, "--project", project, "--format", "markdown"])
    assert done.returncode == 0, done.stderr
    md = done.stdout
    one = Fleet(truth, [project])
    checked = _check(table(md, "metric"), one.dora(), 0)
    assert all(cells[1] == "no data" for cells in table(md, "metric").values())
    tiers = table(md, "tier metric")
    for metric in (*TIER_METRICS, "overall"):
        value = _get(truth[project], "devmetrics_dora_tier", metric=metric)
        assert tiers[metric.replace("_", " ")] == [TIERS[int(value)] if value else "-"]
    budgets = rows(md, SLO_HEADER)
    assert len(budgets) == len(one.budgets()) > 0
    for service_row in budgets:
        _p, service, slo, cell = service_row
        expected = _get(
            truth[project],
            "devmetrics_slo_error_budget_remaining_ratio",
            service=service,
            slo=slo,
        )
        assert printed(cell).matches(expected), service_row
    ai = table(md, "figure")
    checked += _check(ai, one.process(AI), 0) + _check(ai, one.process(HUMAN), 1)
    print(f"\nproject report of {project}: {checked} figures equal the truth")

    # The same report from the Prometheus server that holds a project (`--source prometheus`,
    # for short ranges): its figures equal those read from VictoriaMetrics (the alerts' first
    # and last times are left out: the two stores see a firing at their own sample times).
    first = pipeline.prometheus_urls[0]
    held = {r["metric"]["project"] for r in prometheus_query(first, "devmetrics_project_info")}
    local = max(held & ids)
    from_vm = run_report([*common, "--project", local, "--format", "markdown"])
    from_prometheus = run_report(
        [
            *("--source", "prometheus", "--url", first, "--at", at),
            *("--project", local, "--format", "markdown"),
        ]
    )
    assert from_vm.returncode == from_prometheus.returncode == 0, from_prometheus.stderr
    assert f"read from Prometheus {first}" in from_prometheus.stdout
    for read in (
        lambda md: table(md, "metric"),
        lambda md: table(md, "tier metric"),
        lambda md: rows(md, SLO_HEADER),
        lambda md: table(md, "figure"),
    ):
        assert read(from_prometheus.stdout) == read(from_vm.stdout)

    # The fleet: every project of the pipeline.
    started = time.monotonic()
    done = run_report([*common, "--format", "markdown"])
    fleet_s = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    md = done.stdout
    fleet = Fleet(truth, sorted(ids))
    checked = _check(table(md, "metric"), fleet.dora(), 0)
    tiers = table(md, "tier (projects)")
    for metric in (*TIER_METRICS, "overall"):
        assert tiers[metric.replace("_", " ")] == fleet.tier_mix(metric), metric
    ai = table(md, "figure")
    checked += _check(ai, fleet.process(AI), 0) + _check(ai, fleet.process(HUMAN), 1)
    budgets = fleet.budgets()
    overspent = sum(1 for b in budgets if b < 0)
    assert f"{len(budgets)} SLOs, {overspent} overspent, the 10 lowest:" in md
    lowest = [printed(r[3]) for r in rows(md, SLO_HEADER)]
    assert len(lowest) == 10
    assert all(p.matches(v) for p, v in zip(lowest, budgets[:10], strict=True)), lowest
    checked += 10
    # Best and worst five by each figure: the printed values are the truth's extremes.
    ranks = {r[0]: r[1:] for r in rows(md, ["figure", "best", "worst"])}
    rankings: dict[str, tuple[Callable[[], list[float]], bool]] = {
        "Deployments (30d)": (
            lambda: fleet.values("devmetrics_dora_deployments", window="30d"),
            True,
        ),
        "Lead time p50 (30d)": (
            lambda: fleet.values("devmetrics_dora_lead_time_seconds", window="30d", quantile="0.5"),
            False,
        ),
        "Change failure rate (30d)": (
            lambda: fleet.values("devmetrics_dora_change_failure_ratio", window="30d"),
            False,
        ),
        "Recovery time p50 (30d)": (
            lambda: fleet.values(
                "devmetrics_dora_recovery_time_seconds", window="30d", quantile="0.5"
            ),
            False,
        ),
        "Rework rate (30d)": (
            lambda: fleet.values("devmetrics_dora_rework_ratio", window="30d"),
            False,
        ),
        "Error budget left (SLO period)": (fleet.budgets, True),
    }
    for title, (values_of, higher_better) in rankings.items():
        ordered = sorted(values_of(), reverse=higher_better)
        best, worst = (_ranking_values(cell) for cell in ranks[title])
        assert len(best) == len(worst) == 5, (title, ranks[title])
        assert all(b.matches(v) for b, v in zip(best, ordered[:5], strict=True)), (title, ordered)
        assert all(w.matches(v) for w, v in zip(worst, ordered[::-1][:5], strict=True)), title
        checked += 10
    # The burn-rate alerts that fired in the period, from VictoriaMetrics' own ALERTS.
    period_s = 30 * 86400
    fired = prometheus_query(
        vm,
        f"count by (project, service, slo) "
        f'(max_over_time(ALERTS{{alertname="{BURN}", alertstate="firing"}}[{period_s}s]))',
        time=at,
        latency_offset="1s",
    )
    fired_slos = {
        (r["metric"]["project"], r["metric"]["service"], r["metric"]["slo"])
        for r in fired
        if r["metric"]["project"] in ids
    }
    if fired_slos:
        assert f"Burn-rate alerts fired in the period for {len(fired_slos)} SLOs" in md
    else:
        assert "No burn-rate alert fired in the period." in md
    print(
        f"fleet report of {len(ids)} projects: {checked} figures equal the truth, {fleet_s:.1f} s"
    )

    # The HTML, in a real browser: no console error, every chart loaded.
    html = tmp_path / "fleet.html"
    started = time.monotonic()
    done = run_report([*common, "--out", str(html)])
    html_s = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(html)
    page = open_page(html, ARTIFACTS / "report-fleet.png")
    assert page.console_errors == []
    assert page.title == "devmetrics report: the fleet"
    charts = [alt for alt, _ok in page.images]
    assert [alt for alt, ok in page.images if not ok] == []
    assert {"Deployments", "DORA tiers", "Error budget left", "Throughput", "Success"} <= {
        a.split(" (")[0] for a in charts
    }, charts
    shot = ARTIFACTS / "report-fleet.png"
    print(f"fleet HTML report: {len(charts)} charts in {html_s:.1f} s; screenshot {shot}")
    html = tmp_path / "project.html"
    done = run_report([*common, "--project", project, "--out", str(html)])
    assert done.returncode == 0, done.stderr
    page = open_page(html, ARTIFACTS / "report-project.png")
    assert page.console_errors == []
    assert page.images and all(ok for _alt, ok in page.images)
