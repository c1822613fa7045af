"""Reading a report's figures from the store, through the dashboards' own PromQL.

Every expression comes from `dashboards.queries`, with the template variables filled from
the report's scope; the store is VictoriaMetrics by default (it holds the projects of every
Prometheus server and their history) or one Prometheus server for short ranges of the
projects it holds.

Windows: the DORA figures are the largest DORA window that fits in the period (30d for the
default 30-day period) and the development-process figures the largest process window that
fits (7d), read at the end of the period; trend lines show the same figures across the
period, and "previous" is the figure at the start of the period (the end of the period
before).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from core.errors import UserError
from dashboards import queries as q
from dashboards.promql import PROJECTS
from devmetrics.query import PromClient
from devmetrics.report.model import (
    ActorFigure,
    Budget,
    Figure,
    FiredAlert,
    Period,
    Points,
    Ranking,
    Report,
    Scope,
    Unit,
    stamp,
)

log = logging.getLogger(__name__)

DORA_WINDOWS = (("30d", 30 * 86400), ("7d", 7 * 86400), ("1d", 86400))
PROCESS_WINDOWS = (("7d", 7 * 86400), ("1d", 86400))
RANKED = 5  # projects shown at each end of a ranking
LOWEST_BUDGETS = 10  # SLOs drawn in a fleet or team burn-down

# (key, title, unit, expression, tier metric); fleet and team titles add how they aggregate.
DORA_FIGURES: tuple[tuple[str, str, str, Unit, str, str | None], ...] = (
    ("deployments", "Deployments", "", Unit.COUNT, q.SELECTION_DEPLOYMENTS, "deployment_frequency"),
    (
        "deploy_days",
        "Deploy days per week",
        " (mean project)",
        Unit.PER_WEEK,
        q.SELECTION_DEPLOY_DAYS,
        None,
    ),
    (
        "lead_time",
        "Lead time p50",
        " (median project)",
        Unit.SECONDS,
        q.SELECTION_LEAD_P50,
        "lead_time",
    ),
    (
        "change_failure",
        "Change failure rate",
        " (weighted by deployments)",
        Unit.RATIO,
        q.SELECTION_CFR,
        "change_failure_rate",
    ),
    (
        "recovery_time",
        "Recovery time p50",
        " (median project)",
        Unit.SECONDS,
        q.SELECTION_RECOVERY_P50,
        "recovery_time",
    ),
    ("rework", "Rework rate", " (weighted by deployments)", Unit.RATIO, q.SELECTION_REWORK, None),
)

# (key, title, unit, chart group or None, expression), AI agents next to people.
AI_FIGURES: tuple[tuple[str, str, Unit, str | None, str], ...] = (
    (
        "tasks_completed",
        "Tasks completed",
        Unit.COUNT,
        "throughput",
        q.by_actor("devmetrics_task_completed"),
    ),
    (
        "tasks_failed",
        "Task attempts failed",
        Unit.COUNT,
        None,
        q.by_actor("devmetrics_task_failed"),
    ),
    (
        "reviews",
        "Reviews completed",
        Unit.COUNT,
        "throughput",
        q.by_actor("devmetrics_review_completed"),
    ),
    ("test_runs", "Test runs", Unit.COUNT, "throughput", q.by_actor("devmetrics_test_runs")),
    ("rfcs", "RFCs submitted", Unit.COUNT, "throughput", q.by_actor("devmetrics_rfc_submitted")),
    ("task_success", "Task success rate", Unit.RATIO, "success", q.TASK_SUCCESS),
    (
        "review_approval",
        "Review approval rate",
        Unit.RATIO,
        "success",
        q.by_actor_weighted("devmetrics_review_approval_ratio", "devmetrics_review_completed"),
    ),
    (
        "test_pass",
        "Test pass rate (mean project)",
        Unit.RATIO,
        "success",
        q.by_actor_mean("devmetrics_test_pass_ratio"),
    ),
    (
        "rfc_acceptance",
        "RFC acceptance rate",
        Unit.RATIO,
        "success",
        q.by_actor_weighted("devmetrics_rfc_acceptance_ratio", "devmetrics_rfc_decided"),
    ),
    (
        "task_cycle",
        "Task cycle time p50 (median project)",
        Unit.SECONDS,
        "latency",
        q.by_actor_median("devmetrics_task_cycle_time_seconds", "0.5"),
    ),
    (
        "review_latency",
        "Review latency p50 (median project)",
        Unit.SECONDS,
        "latency",
        q.by_actor_median("devmetrics_review_latency_seconds", "0.5"),
    ),
    (
        "test_duration",
        "Test duration p50 (median project)",
        Unit.SECONDS,
        "latency",
        q.by_actor_median("devmetrics_test_duration_seconds", "0.5"),
    ),
    (
        "rfc_decision",
        "RFC time to decision p50 (median project)",
        Unit.SECONDS,
        "latency",
        q.by_actor_median("devmetrics_rfc_time_to_decision_seconds", "0.5"),
    ),
    (
        "findings_per_review",
        "Review findings per review",
        Unit.NUMBER,
        None,
        q.by_actor_per("devmetrics_review_findings", "devmetrics_review_completed"),
    ),
    ("task_cost", "Task cost", Unit.USD, None, q.by_actor("devmetrics_task_cost_usd")),
    (
        "cost_per_task",
        "Cost per completed task",
        Unit.USD,
        "cost",
        q.by_actor_per("devmetrics_task_cost_usd", "devmetrics_task_completed"),
    ),
)

_UNITS = {"": Unit.COUNT, "s": Unit.SECONDS, "percentunit": Unit.RATIO}


def window_for(period_s: float, windows: tuple[tuple[str, int], ...]) -> str:
    """The largest window that fits in the period; the smallest when none does."""
    return next((name for name, seconds in windows if seconds <= period_s), windows[-1][0])


class Collector:
    """Runs the report's queries against one store for one scope and period."""

    def __init__(
        self,
        store: PromClient,
        source: str,
        scope: Scope,
        period: Period,
        progress: Callable[[str], None] = log.info,
        dora_window: str | None = None,
        process_window: str | None = None,
        **params: str,
    ) -> None:
        """The windows default to the largest that fit in the period (`window_for`)."""
        self.store = store
        self.scope = scope
        self.period = period
        self.params = params
        self.progress = progress
        self.report = Report(
            scope,
            period,
            source,
            dora_window or window_for(period.seconds, DORA_WINDOWS),
            process_window or window_for(period.seconds, PROCESS_WINDOWS),
        )
        self.queries = 0

    # --- the store --------------------------------------------------------------------------

    def variables(self, window: str, project: str | None = None) -> dict[str, str]:
        name = q.regex_literal(self.scope.name or "")
        return {
            "team": name if self.scope.kind == "team" else ".*",
            "project": project or (name if self.scope.kind == "project" else ".*"),
            "window": window,
            "service": ".*",
            "slo": ".*",
            "n": str(RANKED),
        }

    def instant(self, expr: str, at: float) -> list[dict[str, Any]]:
        self.queries += 1
        return self.store.query(expr, time=f"{at:.3f}", **self.params)

    def scalar(self, expr: str, at: float) -> float | None:
        result = self.instant(expr, at)
        return float(result[0]["value"][1]) if result else None

    def matrix(self, expr: str) -> list[dict[str, Any]]:
        self.queries += 1
        p = self.period
        return self.store.query_range(expr, p.start, p.end, p.step_s, **self.params)

    # --- the sections -------------------------------------------------------------------------

    def collect(self) -> Report:
        began = time.monotonic()
        report = self.report
        report.generated_at = time.time()
        report.projects = self._projects()
        self.progress(f"{self.scope.title}: {report.projects} projects; reading DORA figures")
        self._dora()
        self.progress("reading SLO error budgets and burn-rate alerts")
        self._slos()
        self.progress("reading AI agents next to people")
        self._ai()
        if self.scope.ranks:
            self.progress("ranking projects")
            self._rankings()
        report.elapsed_s = time.monotonic() - began
        self.progress(f"{self.queries} queries in {report.elapsed_s:.1f} s")
        return report

    def _projects(self) -> int:
        """Projects of the scope the store knows at any time in the period; none is an error:
        a misspelt name must not give a report of empty charts."""
        info = q.fill(PROJECTS, self.variables(self.report.dora_window))
        seconds = int(self.period.seconds)
        count = self.scalar(
            f"count(count by (project) (last_over_time({info}[{seconds}s])))", self.period.end
        )
        if not count:
            raise UserError(
                f"{self.report.source} holds no series of {self.scope.title} between "
                f"{stamp(self.period.start)} and {stamp(self.period.end)}"
            )
        return int(count)

    def _dora(self) -> None:
        report = self.report
        fleet = self.scope.kind != "project"
        values = self.variables(report.dora_window)
        # The tiers first: a project's tier of a metric stands beside that metric's figure.
        for metric in (*q.TIER_METRICS, "overall"):
            if fleet:
                mix = self.instant(q.fill(q.tier_mix(metric), values), self.period.end)
                report.tier_mix[metric] = {
                    int(r["metric"]["tier"]): int(float(r["value"][1])) for r in mix
                }
            else:
                tier = _int(self.scalar(q.fill(q.tier(metric), values), self.period.end))
                report.tier_mix[metric] = {} if tier is None else {tier: 1}
        for key, title, aggregated, unit, expr, tier_metric in DORA_FIGURES:
            query = q.fill(expr, values)
            figure = Figure(
                key, title + (aggregated if fleet else ""), unit, query, tier_metric=tier_metric
            )
            figure.value = self.scalar(query, self.period.end)
            figure.previous = self.scalar(query, self.period.start)
            figure.trend = _points(self.matrix(query))
            if tier_metric is not None and not fleet:
                figure.tier = next(iter(report.tier_mix[tier_metric]), None)
            report.dora.append(figure)
        if all(f.value is None and not f.trend for f in report.dora):
            report.notes["dora"] = (
                f"No DORA data: no DORA series of {self.scope.title} in the period."
            )

    def _slos(self) -> None:
        report = self.report
        values = self.variables(report.dora_window)
        budget = q.fill(q.BUDGET, values)
        report.slos = int(self.scalar(f"count({budget})", self.period.end) or 0)
        report.overspent = int(self.scalar(f"count(({budget}) < 0)", self.period.end) or 0)
        shown_expr = (
            budget if self.scope.kind == "project" else f"bottomk({LOWEST_BUDGETS}, {budget})"
        )
        shown = {
            (r["metric"]["project"], r["metric"]["service"], r["metric"]["slo"]): float(
                r["value"][1]
            )
            for r in self.instant(shown_expr, self.period.end)
        }
        if shown:
            projects = "|".join(sorted({q.regex_literal(p) for p, _s, _o in shown}))
            history = {
                (m["metric"]["project"], m["metric"]["service"], m["metric"]["slo"]): _values(m)
                for m in self.matrix(q.fill(q.BUDGET, self.variables(report.dora_window, projects)))
            }
            report.budgets = sorted(
                (
                    Budget(p, s, o, remaining, history.get((p, s, o), []))
                    for (p, s, o), remaining in shown.items()
                ),
                key=lambda b: (b.remaining, b.project, b.service, b.slo),
            )
        else:
            report.notes["slo"] = (
                f"No SLI data: {self.scope.title} has no SLO series at "
                f"{stamp(self.period.end)}, so there is no error budget to draw."
            )
        step = f"{int(self.period.step_s)}s"
        fired: dict[tuple[str, str, str], list[float]] = {}
        tiers: dict[tuple[str, str, str], set[str]] = {}
        for m in self.matrix(q.fill(q.burn_alerts_fired(step), values)):
            labels = m["metric"]
            key = (labels["project"], labels["service"], labels["slo"])
            fired.setdefault(key, []).extend(t for t, _v in _values(m))
            tiers.setdefault(key, set()).add(labels.get("tier", ""))
        alerts = [
            FiredAlert(
                p, s, o, tuple(sorted(tiers[p, s, o])), min(ts) - self.period.step_s, max(ts)
            )
            for (p, s, o), ts in fired.items()
        ]
        # Pages first, then by when they began.
        report.alerts = sorted(alerts, key=lambda a: (not a.pages, a.first, a.project, a.service))

    def _ai(self) -> None:
        report = self.report
        values = self.variables(report.process_window)
        for key, title, unit, group, expr in AI_FIGURES:
            query = q.fill(expr, values)
            figure = ActorFigure(key, title, unit, group or "", query)
            for r in self.instant(query, self.period.end):
                actor = r["metric"].get("actor")
                if actor is not None:
                    figure.values[actor] = float(r["value"][1])
            report.ai.append(figure)
        if not any(f.values for f in report.ai):
            report.notes["ai"] = (
                f"No development-process data: {self.scope.title} has no task, review, test or "
                f"RFC series in the {report.process_window} window at {stamp(self.period.end)}."
            )

    def _rankings(self) -> None:
        report = self.report
        values = self.variables(report.dora_window)
        for title, family, labels, unit, higher_better in q.RANKINGS:
            expr = q.ranked(family, labels)
            best = self.instant(q.fill(q.best(expr, higher_better), values), self.period.end)
            worst = self.instant(q.fill(q.worst(expr, higher_better), values), self.period.end)
            report.rankings.append(
                Ranking(
                    q.fill(title, values),
                    _UNITS[unit],
                    [_labelled(r) for r in best],
                    [_labelled(r) for r in worst],
                )
            )


def _values(m: dict[str, Any]) -> Points:
    return [(float(t), float(v)) for t, v in m.get("values", [])]


def _points(matrix: list[dict[str, Any]]) -> Points:
    """The one line of a figure's range query (a selection figure has no labels)."""
    return _values(matrix[0]) if matrix else []


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _labelled(r: dict[str, Any]) -> tuple[str, float]:
    labels = r["metric"]
    name = labels.get("project", "?")
    if "service" in labels:
        name = f"{name} {labels['service']} {labels.get('slo', '')}".rstrip()
    return name, float(r["value"][1])
