"""The expected value of every metric in docs/metrics.md, computed from a list of events.

Written independently of the processors, in plain batch style (filter, sort, index) so that
each figure can be checked against the definition by eye. The end-to-end tests compare the
processors' state with this, value by value.
"""

from __future__ import annotations

import hashlib
import json
import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from fractions import Fraction
from itertools import accumulate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from core.slo_definitions import SloDefinitions
from producers.simulator.model import (
    AVAILABILITY_OBJECTIVE,
    DAY_MS,
    HOUR_MS,
    LATENCY_OBJECTIVE,
    LATENCY_THRESHOLD_S,
    MINUTE_MS,
)

Event = tuple[str, Mapping[str, Any]]
Sample = dict[str, Any]

WINDOWS_MS: dict[str, int] = {
    "5m": 5 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "6h": 6 * HOUR_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "7d": 7 * DAY_MS,
    "30d": 30 * DAY_MS,
}
DORA_WINDOWS = ("1d", "7d", "30d")
SLO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
PROCESS_WINDOWS = ("1d", "7d")
ACTORS = ("ai_agent", "human")
QUANTILES = (("0.5", 0.5), ("0.9", 0.9))
RETENTION_MS = 31 * DAY_MS
FINAL_DECISIONS = ("accepted", "rejected")
TIER_WINDOW_MS = 30 * DAY_MS
AUTHORS = ("ai_agent", "human")
AGENT_TOP_N = 3
LINEAGE_WINDOWS = ("7d", "30d")
LINEAGE_HOPS = (
    "rfc_decision",
    "decision_to_start",
    "task_work",
    "task_to_commit",
    "commit_to_approval",
    "approval_to_merge",
    "merge_to_deploy",
)


POLICY_WINDOW = "1d"


@dataclass(frozen=True)
class Slo:
    """One SLO of a service: name, objective, the latency bucket bound (latency SLOs), the
    period (rolling days, or a calendar month or week in a time zone) and the freeze level."""

    name: str
    objective: float
    latency_le: float | None = None
    rolling_days: int | None = 30
    calendar: str | None = None
    timezone: str = "UTC"
    freeze_below: float = 0.0


DEFAULT_SLOS: tuple[Slo, ...] = (
    Slo("availability", AVAILABILITY_OBJECTIVE),
    Slo("latency", LATENCY_OBJECTIVE, LATENCY_THRESHOLD_S),
)


def slos_of(definitions: SloDefinitions | None, project: str, service: str) -> list[Slo]:
    """The SLOs a service gets: the built-in ones, or those the definitions give it."""
    if definitions is None:
        return list(DEFAULT_SLOS)
    return [
        Slo(
            d.name,
            d.objective,
            d.indicator.threshold_s,
            d.period.rolling_days,
            d.period.calendar,
            d.period.timezone,
            d.freeze_below,
        )
        for d in definitions.effective(project, service)
    ]


def period_start(slo: Slo, t: int) -> int:
    """Exclusive start of the SLO period holding the instant t (epoch ms): t minus the rolling
    days, or the local midnight that began the calendar month or ISO week in which the
    millisecond before t falls (so at a boundary the period just ended is the current one)."""
    if slo.rolling_days is not None:
        return t - slo.rolling_days * DAY_MS
    zone = ZoneInfo(slo.timezone)
    moment = datetime.fromtimestamp((t - 1) / 1000, zone)
    midnight = datetime(moment.year, moment.month, moment.day, tzinfo=zone)
    if slo.calendar == "month":
        midnight = datetime(moment.year, moment.month, 1, tzinfo=zone)
    else:
        monday = moment.date().toordinal() - moment.isoweekday() + 1
        first = date.fromordinal(monday)
        midnight = datetime(first.year, first.month, first.day, tzinfo=zone)
    return round(midnight.timestamp() * 1000)


def nearest_rank(values: Sequence[float], p: float) -> float | None:
    """The value at 1-based rank ceil(p * n) of the sorted values; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    # Exact rank: in binary floating point 0.9 * 70 is 63.00000000000001, whose ceiling is 64.
    return ordered[math.ceil(Fraction(str(p)) * len(ordered)) - 1]


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None (absent) when the denominator is 0."""
    if denominator == 0:
        return None
    return numerator / denominator


class _Metrics:
    """Collects samples; absent values (None) are left out."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []

    def add(self, name: str, labels: Mapping[str, str], value: float | None) -> None:
        if value is not None:
            self.samples.append({"name": name, "labels": dict(labels), "value": float(value)})

    def add_quantiles(self, name: str, labels: Mapping[str, str], values: list[float]) -> None:
        for label, p in QUANTILES:
            self.add(name, {**labels, "quantile": label}, nearest_rank(values, p))


def accepted_events(events: Iterable[Event], as_of: int) -> list[Event]:
    """Events inside retention (T - 31d < t <= T), then de-duplicated by event_id (first read)."""
    seen: set[str] = set()
    kept: list[Event] = []
    for family, event in events:
        if not as_of - RETENTION_MS < event["occurred_at"] <= as_of:
            continue
        if event["event_id"] in seen:
            continue
        seen.add(event["event_id"])
        kept.append((family, event))
    return kept


def compute_metrics(
    events: Iterable[Event],
    as_of: int,
    slos: SloDefinitions | None = None,
    agent_top_n: int = AGENT_TOP_N,
) -> list[Sample]:
    """Every metric of one project as of T = `as_of` (epoch ms); `slos` are the SLO
    definitions in force (None: the built-in SLOs); `agent_top_n` is how many of the
    project's agents keep their name in the per-agent figures."""
    by_family: dict[str, list[Mapping[str, Any]]] = {}
    for family, event in accepted_events(events, as_of):
        by_family.setdefault(family, []).append(event)
    calc = _Calculator(as_of, by_family)
    out = _Metrics()
    calc.dora(out)
    calc.ai_impact(out, agent_top_n)
    calc.slo(out, slos)
    calc.rfc(out)
    calc.task(out)
    calc.review(out)
    calc.test(out)
    return out.samples


class _Calculator:
    def __init__(self, as_of: int, by_family: dict[str, list[Mapping[str, Any]]]) -> None:
        self.as_of = as_of
        self.events = by_family

    def family(self, name: str, type_: str | None = None) -> list[Mapping[str, Any]]:
        return [e for e in self.events.get(name, []) if type_ is None or e["type"] == type_]

    def in_window(self, t: int, window: str) -> bool:
        return self.as_of - WINDOWS_MS[window] < t <= self.as_of

    @staticmethod
    def earliest(events: Iterable[Mapping[str, Any]], key: str) -> dict[str, Mapping[str, Any]]:
        """The earliest event per value of `key`; equal times go to the smaller event-id digest
        (docs/metrics.md, "Readings"), so the answer does not depend on arrival order."""
        first: dict[str, Mapping[str, Any]] = {}
        for e in events:
            k = e[key]
            if k not in first or _order(e) < _order(first[k]):
                first[k] = e
        return first

    # --- DORA -------------------------------------------------------------------------

    def counted_deployments(self) -> list[Mapping[str, Any]]:
        """The deployments DORA counts: successful, to production."""
        return [
            d
            for d in self.family("deployment")
            if d["status"] == "success" and d["environment"] == "production"
        ]

    def failed_deployment_ids(self) -> set[str]:
        """Deployments named as the cause of an incident or rolled back (reading 5)."""
        failed = {i["caused_by_deployment_id"] for i in self.family("incident")}
        failed |= {
            d["rolls_back_deployment_id"]
            for d in self.family("deployment")
            if d["kind"] == "rollback"
        }
        failed.discard(None)
        return failed

    def dora(self, out: _Metrics) -> None:
        deployments = self.counted_deployments()
        failed_ids = self.failed_deployment_ids()

        first_deploy: dict[str, int] = {}
        for d in deployments:
            for change_id in d["change_ids"]:
                if change_id not in first_deploy or d["occurred_at"] < first_deploy[change_id]:
                    first_deploy[change_id] = d["occurred_at"]
        first_change = self.earliest(self.family("change"), "change_id")

        incidents = self.family("incident")
        caused = {i["incident_id"] for i in incidents if i["caused_by_deployment_id"] is not None}
        opened = self.earliest([i for i in incidents if i["type"] == "opened"], "incident_id")
        resolved = self.earliest([i for i in incidents if i["type"] == "resolved"], "incident_id")

        tiers: dict[str, float | None] = {}
        deployments_30d = 0
        for window in DORA_WINDOWS:
            labels = {"window": window}
            in_window = [d for d in deployments if self.in_window(d["occurred_at"], window)]
            out.add("devmetrics_dora_deployments", labels, len(in_window))
            if window == "30d":
                days = {
                    datetime.fromtimestamp(d["occurred_at"] / 1000, tz=UTC).date()
                    for d in in_window
                }
                out.add("devmetrics_dora_deploy_day_per_week", labels, len(days) * 7 / 30)

            lead_times = [
                (t - first_change[c]["committed_at"]) / 1000
                for c, t in first_deploy.items()
                if self.in_window(t, window) and c in first_change
            ]
            out.add_quantiles("devmetrics_dora_lead_time_seconds", labels, lead_times)

            failed = [d for d in in_window if d["deployment_id"] in failed_ids]
            cfr = ratio(len(failed), len(in_window))
            out.add("devmetrics_dora_change_failure_ratio", labels, cfr)

            recovery = [
                (r["occurred_at"] - opened[i]["occurred_at"]) / 1000
                for i, r in resolved.items()
                if i in caused and i in opened and self.in_window(r["occurred_at"], window)
            ]
            out.add_quantiles("devmetrics_dora_recovery_time_seconds", labels, recovery)

            rework = [d for d in in_window if is_rework(d)]
            out.add("devmetrics_dora_rework_ratio", labels, ratio(len(rework), len(in_window)))

            if window == "30d":
                deployments_30d = len(in_window)
                tiers = {
                    "deployment_frequency": None,
                    "lead_time": lead_time_tier(nearest_rank(lead_times, 0.5)),
                    "change_failure_rate": change_failure_tier(cfr),
                    "recovery_time": recovery_tier(nearest_rank(recovery, 0.5)),
                }
        start = self.history_start()
        if start is None:
            return
        for window in DORA_WINDOWS:
            coverage = min(1.0, (self.as_of - start) / WINDOWS_MS[window])
            out.add("devmetrics_dora_history_coverage_ratio", {"window": window}, coverage)
        covered = min(TIER_WINDOW_MS, self.as_of - start)
        if covered < DAY_MS:
            return  # "Tiers over a partly covered history": withheld under one day
        tiers["deployment_frequency"] = deployment_frequency_tier(deployments_30d, covered)
        present = [t for t in tiers.values() if t is not None]
        for metric, tier in tiers.items():
            out.add("devmetrics_dora_tier", {"metric": metric}, tier)
        if present:
            out.add(
                "devmetrics_dora_tier",
                {"metric": "overall"},
                math.floor(sum(present) / len(present)),
            )

    def history_start(self) -> int | None:
        """The start of the UTC minute that holds the earliest accepted event of any family
        (docs/metrics.md, "Tiers over a partly covered history"); None without events."""
        times = [e["occurred_at"] for events in self.events.values() for e in events]
        if not times:
            return None
        return (min(times) - 1) // MINUTE_MS * MINUTE_MS

    # --- AI impact --------------------------------------------------------------------

    def ai_impact(self, out: _Metrics, agent_top_n: int) -> None:
        """docs/metrics.md, "AI impact": every figure recomputed here from the events."""
        deployments = self.counted_deployments()
        first_deploy: dict[str, int] = {}
        for d in sorted(deployments, key=lambda d: d["occurred_at"]):
            for change_id in d["change_ids"]:
                first_deploy.setdefault(change_id, d["occurred_at"])
        # The author of a change is the actor of its earliest change event.
        first_change = self.earliest(self.family("change"), "change_id")
        author = {c: e["actor"]["kind"] for c, e in first_change.items()}
        agent = {
            c: e["actor"]["name"]
            for c, e in first_change.items()
            if e["actor"]["kind"] == "ai_agent"
        }
        self._authored(out, deployments, first_deploy, first_change, author)
        self._per_agent(out, first_change, agent, agent_top_n)
        self._lineage(out, first_deploy, first_change, author)

    def _authored(
        self,
        out: _Metrics,
        deployments: list[Mapping[str, Any]],
        first_deploy: dict[str, int],
        first_change: dict[str, Mapping[str, Any]],
        author: dict[str, str],
    ) -> None:
        failed_ids = self.failed_deployment_ids()
        for window in DORA_WINDOWS:
            labels = {"window": window}
            leads = [
                (author[c], (t - first_change[c]["committed_at"]) / 1000)
                for c, t in first_deploy.items()
                if self.in_window(t, window) and c in first_change
            ]
            for who in AUTHORS:
                out.add_quantiles(
                    "devmetrics_dora_lead_time_by_author_seconds",
                    {**labels, "author": who},
                    [lead for kind, lead in leads if kind == who],
                )
            agents_share = ratio(sum(1 for kind, _ in leads if kind == "ai_agent"), len(leads))
            out.add("devmetrics_dora_ai_change_share_ratio", labels, agents_share)
            in_window = [d for d in deployments if self.in_window(d["occurred_at"], window)]
            for assisted in ("true", "false"):
                group = [
                    d
                    for d in in_window
                    if any(author.get(c) == "ai_agent" for c in d["change_ids"])
                    == (assisted == "true")
                ]
                failed = [d for d in group if d["deployment_id"] in failed_ids]
                rework = [d for d in group if is_rework(d)]
                split = {**labels, "ai_assisted": assisted}
                out.add("devmetrics_dora_deployments_by_assist", split, len(group))
                out.add(
                    "devmetrics_dora_change_failure_by_assist_ratio",
                    split,
                    ratio(len(failed), len(group)),
                )
                out.add(
                    "devmetrics_dora_rework_by_assist_ratio", split, ratio(len(rework), len(group))
                )

    def _per_agent(
        self,
        out: _Metrics,
        first_change: dict[str, Mapping[str, Any]],
        agent: dict[str, str],
        top_n: int,
    ) -> None:
        tasks = self.family("task")
        by_agents = [t for t in tasks if t["actor"]["kind"] == "ai_agent"]
        finished = [t for t in by_agents if t["type"] in ("completed", "failed")]
        names = {t["actor"]["name"] for t in by_agents} | set(agent.values())
        busy = {
            name: sum(
                1
                for t in finished
                if t["actor"]["name"] == name and self.in_window(t["occurred_at"], "7d")
            )
            for name in names
        }
        ranked = sorted(names, key=lambda name: (-busy[name], name))
        label = {name: name if i < top_n else "other" for i, name in enumerate(ranked)}

        task_cost: dict[str, float] = {}
        for t in tasks:
            if t["type"] in ("completed", "failed"):
                task_cost[t["task_id"]] = task_cost.get(t["task_id"], 0.0) + (t["cost_usd"] or 0.0)
        merged = self.earliest(self.family("change", "merged"), "change_id")
        reviews = self.family("review", "completed")

        for window in PROCESS_WINDOWS:
            for name in sorted(set(label.values())):
                labels = {"window": window, "agent": name}
                mine = [
                    t
                    for t in finished
                    if label[t["actor"]["name"]] == name
                    and self.in_window(t["occurred_at"], window)
                ]
                completed = sum(1 for t in mine if t["type"] == "completed")
                failed = len(mine) - completed
                out.add("devmetrics_agent_task_completed", labels, completed)
                out.add("devmetrics_agent_task_failed", labels, failed)
                out.add("devmetrics_agent_task_success_ratio", labels, ratio(completed, len(mine)))
                costs = [
                    task_cost.get(first_change[c]["task_id"], 0.0)
                    for c, m in merged.items()
                    if c in agent
                    and label[agent[c]] == name
                    and first_change[c]["task_id"] is not None
                    and self.in_window(m["occurred_at"], window)
                ]
                out.add(
                    "devmetrics_agent_cost_per_merged_change_usd",
                    labels,
                    ratio(sum(costs), len(costs)),
                )
                reviewed = [
                    r
                    for r in reviews
                    if r["change_id"] in agent
                    and label[agent[r["change_id"]]] == name
                    and self.in_window(r["occurred_at"], window)
                ]
                out.add(
                    "devmetrics_agent_review_findings_per_change",
                    labels,
                    ratio(
                        sum(r["findings_count"] for r in reviewed),
                        len({r["change_id"] for r in reviewed}),
                    ),
                )

    def _lineage(
        self,
        out: _Metrics,
        first_deploy: dict[str, int],
        first_change: dict[str, Mapping[str, Any]],
        author: dict[str, str],
    ) -> None:
        def first_time(events: list[Mapping[str, Any]], key: str) -> dict[str, int]:
            return {k: e["occurred_at"] for k, e in self.earliest(events, key).items()}

        submitted = first_time(self.family("rfc", "submitted"), "rfc_id")
        accepted = first_time(
            [e for e in self.family("rfc", "decided") if e["decision"] == "accepted"], "rfc_id"
        )
        started = first_time(self.family("task", "started"), "task_id")
        completed = first_time(self.family("task", "completed"), "task_id")
        first_task_event = self.earliest(self.family("task"), "task_id")
        approved = first_time(
            [
                r
                for r in self.family("review", "completed")
                if r["outcome"] == "approved" and r["change_id"] is not None
            ],
            "change_id",
        )
        merged = first_time(self.family("change", "merged"), "change_id")

        for window in LINEAGE_WINDOWS:
            hops: dict[tuple[str, str], list[float]] = {}
            for c, deployed_at in first_deploy.items():
                if not self.in_window(deployed_at, window) or c not in first_change:
                    continue
                change = first_change[c]
                task_id = change["task_id"]
                if task_id is None:
                    continue
                rfc_id = change.get("rfc_id")
                if rfc_id is None and task_id in first_task_event:
                    rfc_id = first_task_event[task_id]["rfc_id"]
                points = [
                    submitted.get(rfc_id) if rfc_id is not None else None,
                    accepted.get(rfc_id) if rfc_id is not None else None,
                    started.get(task_id),
                    completed.get(task_id),
                    change["committed_at"],
                    approved.get(c),
                    merged.get(c),
                    deployed_at,
                ]
                for i, hop in enumerate(LINEAGE_HOPS):
                    earlier, later = points[i], points[i + 1]
                    if earlier is not None and later is not None:
                        hops.setdefault((hop, author[c]), []).append((later - earlier) / 1000)
            for hop in LINEAGE_HOPS:
                for who in AUTHORS:
                    out.add_quantiles(
                        "devmetrics_lineage_hop_seconds",
                        {"window": window, "hop": hop, "author": who},
                        hops.get((hop, who), []),
                    )

    # --- SLO --------------------------------------------------------------------------

    def slo(self, out: _Metrics, definitions: SloDefinitions | None) -> None:
        samples = self.family("sli")
        deployed = [
            d["occurred_at"]
            for d in self.counted_deployments()
            if self.in_window(d["occurred_at"], POLICY_WINDOW)
        ]
        held_from = self.as_of - RETENTION_MS
        for service in sorted({s["service"] for s in samples}):
            mine = [s for s in samples if s["service"] == service]
            project = mine[0]["project_id"]
            for slo in slos_of(definitions, project, service):
                labels = {"service": service, "slo": slo.name}
                for window in SLO_WINDOWS:
                    inside = [s for s in mine if self.in_window(s["occurred_at"], window)]
                    total = sum(s["requests_total"] for s in inside)
                    good = sum(good_requests(s, slo) for s in inside)
                    w = {**labels, "window": window}
                    out.add("devmetrics_slo_requests", w, total)
                    out.add("devmetrics_slo_requests_good", w, good)
                    sli = ratio(good, total)
                    out.add("devmetrics_slo_sli_ratio", w, sli)
                    burn = None if sli is None else (1 - sli) / (1 - slo.objective)
                    out.add("devmetrics_slo_burn_rate", w, burn)

                budget_at = _Budget(slo, mine, held_from)
                budget, total_p, good_p = budget_at(self.as_of)
                out.add("devmetrics_slo_error_budget_remaining_ratio", labels, budget)
                out.add("devmetrics_slo_period_sli_ratio", labels, ratio(good_p, total_p))
                out.add("devmetrics_slo_objective_ratio", labels, slo.objective)
                start = period_start(slo, self.as_of) / 1000
                out.add("devmetrics_slo_period_start_timestamp_seconds", labels, start)
                frozen = freeze_holds(slo, total_p, good_p)
                out.add("devmetrics_slo_deploy_freeze", labels, 1 if frozen else 0)
                violations = 0
                for t in deployed:
                    _, total_then, good_then = budget_at(t - t % MINUTE_MS)
                    if freeze_holds(slo, total_then, good_then):
                        violations += 1
                out.add(
                    "devmetrics_slo_policy_violations",
                    {**labels, "window": POLICY_WINDOW},
                    violations,
                )

    # --- development process ----------------------------------------------------------

    def per_actor(self, events: list[Mapping[str, Any]], window: str, actor: str) -> list[Any]:
        return [
            e
            for e in events
            if e["actor"]["kind"] == actor and self.in_window(e["occurred_at"], window)
        ]

    def rfc(self, out: _Metrics) -> None:
        submitted = self.family("rfc", "submitted")
        finals = [e for e in self.family("rfc", "decided") if e["decision"] in FINAL_DECISIONS]
        first_submitted = self.earliest(submitted, "rfc_id")
        for window in PROCESS_WINDOWS:
            for actor in ACTORS:
                labels = {"window": window, "actor": actor}
                decided = self.per_actor(finals, window, actor)
                accepted = [e for e in decided if e["decision"] == "accepted"]
                out.add(
                    "devmetrics_rfc_submitted",
                    labels,
                    len(self.per_actor(submitted, window, actor)),
                )
                out.add("devmetrics_rfc_decided", labels, len(decided))
                out.add(
                    "devmetrics_rfc_acceptance_ratio", labels, ratio(len(accepted), len(decided))
                )
                waits = [
                    (e["occurred_at"] - first_submitted[e["rfc_id"]]["occurred_at"]) / 1000
                    for e in decided
                    if e["rfc_id"] in first_submitted
                ]
                out.add_quantiles("devmetrics_rfc_time_to_decision_seconds", labels, waits)
        decided_ids = {e["rfc_id"] for e in finals}
        for actor in ACTORS:
            open_rfcs = [
                rfc_id
                for rfc_id, e in first_submitted.items()
                if e["actor"]["kind"] == actor
                and self.in_window(e["occurred_at"], "30d")
                and rfc_id not in decided_ids
            ]
            out.add("devmetrics_rfc_open_backlog", {"actor": actor}, len(open_rfcs))

    def task(self, out: _Metrics) -> None:
        completed_all = self.family("task", "completed")
        failed_all = self.family("task", "failed")
        first_started = self.earliest(self.family("task", "started"), "task_id")
        for window in PROCESS_WINDOWS:
            for actor in ACTORS:
                labels = {"window": window, "actor": actor}
                completed = self.per_actor(completed_all, window, actor)
                failed = self.per_actor(failed_all, window, actor)
                out.add("devmetrics_task_completed", labels, len(completed))
                out.add("devmetrics_task_failed", labels, len(failed))
                out.add(
                    "devmetrics_task_success_ratio",
                    labels,
                    ratio(len(completed), len(completed) + len(failed)),
                )
                cycle = [
                    (e["occurred_at"] - first_started[e["task_id"]]["occurred_at"]) / 1000
                    for e in completed
                    if e["task_id"] in first_started
                ]
                out.add_quantiles("devmetrics_task_cycle_time_seconds", labels, cycle)
                cost = sum(e["cost_usd"] or 0.0 for e in completed + failed)
                out.add("devmetrics_task_cost_usd", labels, cost)
                out.add("devmetrics_task_cost_per_task_usd", labels, ratio(cost, len(completed)))

    def review(self, out: _Metrics) -> None:
        completed_all = self.family("review", "completed")
        first_requested = self.earliest(self.family("review", "requested"), "review_id")
        for window in PROCESS_WINDOWS:
            for actor in ACTORS:
                labels = {"window": window, "actor": actor}
                completed = self.per_actor(completed_all, window, actor)
                approved = [e for e in completed if e["outcome"] == "approved"]
                out.add("devmetrics_review_completed", labels, len(completed))
                latency = [
                    (e["occurred_at"] - first_requested[e["review_id"]]["occurred_at"]) / 1000
                    for e in completed
                    if e["review_id"] in first_requested
                ]
                out.add_quantiles("devmetrics_review_latency_seconds", labels, latency)
                out.add(
                    "devmetrics_review_approval_ratio", labels, ratio(len(approved), len(completed))
                )
                out.add(
                    "devmetrics_review_iterations_per_change",
                    labels,
                    ratio(sum(e["iteration"] for e in approved), len(approved)),
                )
                out.add(
                    "devmetrics_review_findings",
                    labels,
                    sum(e["findings_count"] for e in completed),
                )

    def test(self, out: _Metrics) -> None:
        runs_all = self.family("test", "run_completed")
        for window in PROCESS_WINDOWS:
            for actor in ACTORS:
                labels = {"window": window, "actor": actor}
                runs = self.per_actor(runs_all, window, actor)
                executed = sum(r["passed"] + r["failed"] for r in runs)
                out.add("devmetrics_test_runs", labels, len(runs))
                out.add(
                    "devmetrics_test_pass_ratio",
                    labels,
                    ratio(sum(r["passed"] for r in runs), executed),
                )
                out.add(
                    "devmetrics_test_flaky_ratio",
                    labels,
                    ratio(sum(r["flaky"] for r in runs), executed),
                )
                out.add_quantiles(
                    "devmetrics_test_duration_seconds",
                    labels,
                    [r["duration_seconds"] for r in runs],
                )
                coverage = [r["coverage_ratio"] for r in runs if r["coverage_ratio"] is not None]
                out.add(
                    "devmetrics_test_coverage_ratio", labels, ratio(sum(coverage), len(coverage))
                )


def is_rework(deployment: Mapping[str, Any]) -> bool:
    """A hotfix, a rollback, or a deployment that remediates an incident."""
    return (
        deployment["kind"] in ("hotfix", "rollback")
        or deployment["remediates_incident_id"] is not None
    )


class _Budget:
    """An SLO's error budget remaining as of any instant, over one service's samples."""

    def __init__(self, slo: Slo, samples: list[Mapping[str, Any]], held_from: int) -> None:
        self.slo, self.held_from = slo, held_from
        # Running totals in time order: the requests of (a, b] are those at b minus those at a.
        ordered = sorted(samples, key=lambda s: s["occurred_at"])
        self.times = [s["occurred_at"] for s in ordered]
        self.total = list(accumulate((s["requests_total"] for s in ordered), initial=0))
        self.good = list(accumulate((good_requests(s, slo) for s in ordered), initial=0))

    def __call__(self, t: int) -> tuple[float | None, int, int]:
        """Budget remaining as of t, with the period's total and good requests."""
        start = max(period_start(self.slo, t), self.held_from)
        a, b = bisect_right(self.times, start), bisect_right(self.times, t)
        total, good = self.total[b] - self.total[a], self.good[b] - self.good[a]
        if total == 0:
            return None, 0, 0
        return 1 - (total - good) / ((1 - self.slo.objective) * total), total, good


def freeze_holds(slo: Slo, total: int, good: int) -> bool:
    """Budget remaining below the freeze level, in exact decimals (the figures as written)."""
    if total == 0:
        return False
    objective, level = Fraction(str(slo.objective)), Fraction(str(slo.freeze_below))
    remaining = 1 - Fraction(total - good) / ((1 - objective) * total)
    return remaining < level


def good_requests(sample: Mapping[str, Any], slo: Slo) -> int:
    """Good requests of one SLI sample for an SLO; a latency SLO without its bucket gets 0."""
    if slo.latency_le is None:
        return int(sample["requests_good"])
    for bucket in sample["latency_buckets"]:
        if bucket["le"] == slo.latency_le:
            return int(bucket["count"])
    return 0


# --- tiers (docs/metrics.md, "Tier thresholds") ---------------------------------------


def deployment_frequency_tier(deployments_30d: int, covered_ms: int = TIER_WINDOW_MS) -> int:
    """The tier of the deployments in the 30d window, as a rate over the `covered_ms` of it
    that the history covers: the count scaled to 30 days, compared in exact integers."""
    scaled = deployments_30d * TIER_WINDOW_MS
    if scaled >= 30 * covered_ms:
        return 4
    if scaled >= 4 * covered_ms:
        return 3
    if scaled >= 1 * covered_ms:
        return 2
    return 1


def lead_time_tier(p50_s: float | None) -> int | None:
    if p50_s is None:
        return None
    if p50_s < DAY_MS / 1000:
        return 4
    if p50_s < 7 * DAY_MS / 1000:
        return 3
    if p50_s < 30 * DAY_MS / 1000:
        return 2
    return 1


def change_failure_tier(cfr: float | None) -> int | None:
    if cfr is None:
        return None
    if cfr <= 0.05:
        return 4
    if cfr <= 0.20:
        return 3
    if cfr <= 0.30:
        return 2
    return 1


def recovery_tier(p50_s: float | None) -> int | None:
    if p50_s is None:
        return None
    if p50_s < HOUR_MS / 1000:
        return 4
    if p50_s < DAY_MS / 1000:
        return 3
    if p50_s < 7 * DAY_MS / 1000:
        return 2
    return 1


# --- the truth file -------------------------------------------------------------------


def _order(event: Mapping[str, Any]) -> tuple[int, int]:
    """Event time, then the first 8 bytes (little-endian) of BLAKE2b of the event id."""
    digest = hashlib.blake2b(event["event_id"].encode(), digest_size=8).digest()
    return event["occurred_at"], int.from_bytes(digest, "little")


@dataclass
class TruthFile:
    """The expected metrics of a run: header plus one entry per project, written as JSON."""

    as_of: int
    seed: int
    days: float
    sli_interval_s: int
    projects: dict[str, dict[str, Any]]
    agent_top_n: int = AGENT_TOP_N
    """The processors' `agent_top_n` the per-agent figures are computed for."""
    slos: SloDefinitions | None = None
    """The SLO definitions the SLOs are computed under (None: the built-in SLOs)."""

    def add_project(
        self,
        project_id: str,
        *,
        team: str,
        profile: str,
        services: Sequence[str],
        scenarios: Sequence[Mapping[str, Any]],
        events: Sequence[Event],
    ) -> None:
        self.projects[project_id] = {
            "team": team,
            "profile": profile,
            "services": list(services),
            "scenarios": [dict(s) for s in scenarios],
            "events": len(events),
            "metrics": compute_metrics(
                events, self.as_of, slos=self.slos, agent_top_n=self.agent_top_n
            ),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "seed": self.seed,
            "days": self.days,
            "sli_interval_s": self.sli_interval_s,
            "agent_top_n": self.agent_top_n,
            "slo_definitions": None if self.slos is None else self.slos.model_dump(mode="json"),
            "projects": self.projects,
        }

    def write(self, path: Path) -> None:
        """Write atomically (temp file then rename) so a reader never sees half a file."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")))
        tmp.replace(path)


def metric_value(samples: Iterable[Sample], name: str, **labels: str) -> float | None:
    """The value of the sample with this name and exactly these labels, or None if absent."""
    for s in samples:
        if s["name"] == name and s["labels"] == labels:
            return float(s["value"])
    return None
