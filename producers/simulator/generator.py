"""The pure, deterministic event generator: one project's events over an event-time span.

No Kafka and no clock: the span ``start_ms < t <= end_ms`` is a parameter. Every project has
its own random streams derived from ``(seed, project index[, block])``, one per concern, so a
project's stream does not depend on the other projects, and a scenario that only touches SLI
traffic leaves the other families of that project unchanged.

Arrivals are `stochastic` Poisson processes, outcomes Bernoulli processes, and latency drift
an Ornstein-Uhlenbeck diffusion. The causal chain is explicit in ids: RFC -> tasks ->
changes -> reviews and test runs -> deployments -> incidents -> remediating deployments.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from stochastic.processes.continuous import PoissonProcess
from stochastic.processes.diffusion import OrnsteinUhlenbeckProcess
from stochastic.processes.discrete import BernoulliProcess

from producers.simulator.model import (
    DAY_MS,
    DEPLOY_AGENT,
    HOUR_MS,
    LATENCY_BUCKETS_S,
    MINUTE_MS,
    MODEL_PRICE_PER_1K_TOKENS,
    MONITOR_AGENT,
    PLANNER_AGENT,
    REVIEW_AGENT,
    ProjectSpec,
    ServiceSpec,
    draw_project,
)
from producers.simulator.scenarios import ScenarioSpan

Event = tuple[str, dict[str, Any]]
"""An event as (family, record); the record follows ``schemas/<family>.avsc`` exactly."""

# Fields with defaults in the schemas, written out so every record is complete.
_FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "rfc": {"decision": None, "title": None},
    "task": {
        "rfc_id": None,
        "attempt": 1,
        "tokens": None,
        "cost_usd": None,
        "duration_seconds": None,
        "error": None,
    },
    "review": {"iteration": 1, "outcome": None, "findings_count": 0},
    "test": {"change_id": None, "coverage_ratio": None},
    "change": {"commit_sha": None, "task_id": None, "rfc_id": None},
    "deployment": {
        "change_ids": [],
        "rolls_back_deployment_id": None,
        "remediates_incident_id": None,
        "started_at": None,
    },
    "incident": {"caused_by_deployment_id": None, "title": None},
}

# Scenario strengths (see docs/simulator.md).
ERROR_SPIKE_RATIO = 0.08  # burn rate 80 on a 99.9 % objective
LATENCY_REGRESSION_SLOW_RATIO = 0.025  # burn rate about 2.5 on a 99 % objective
FAILING_DEPLOYMENT_TROUBLE_P = 0.6
# How much likelier a deployment that ships an agent's change goes wrong, per DORA tier: the
# agents' changes fail more where review and tests catch less (docs/simulator.md).
AGENT_TROUBLE_FACTOR = {"elite": 1.5, "high": 2.0, "medium": 1.3, "low": 1.0}
AGENT_FINDINGS_FACTOR = 1.5
"""Reviewers find this many times more in an agent's change than in a person's."""
INCIDENT_STORM_PER_HOUR = 1.0
FLAKY_RATIO_NORMAL = 0.0005
FLAKY_RATIO_SCENARIO = 0.03
REVIEW_BACKLOG_SLOWDOWN = 8.0
REVIEW_BACKLOG_ABANDON_P = 0.5
AGENT_LOOP_SUCCESS_P = 0.15
AGENT_LOOP_MAX_ATTEMPTS = 6
AGENT_LOOP_TOKEN_FACTOR = 3.0
# An open incident multiplies its services' error ratio for up to an hour.
INCIDENT_ERROR_FACTOR = 4.0
INCIDENT_ERROR_SPAN_MS = HOUR_MS
# Latency drift: OU on the log of the slow-request ratio, per day of event time.
OU_SPEED_PER_DAY = 4.0
OU_VOL = 0.6

_STREAMS = ("rfc", "task", "review", "deploy", "incident", "sli", "ids")


@dataclass(frozen=True)
class SimConfig:
    """What every project of a run shares: seed, span, SLI interval, activity scale."""

    seed: int
    start_ms: int
    end_ms: int
    sli_interval_s: int = 300
    activity: float = 1.0
    """Multiplies every arrival rate and the SLI traffic (live mode's --rate)."""
    block: int = 0
    """Live mode generates successive blocks of time, each with its own random streams."""
    emit_until_ms: int | None = None
    """Keep consequences (reviews, deployments, resolutions...) of the span's arrivals up to
    this time; None keeps events up to `end_ms` only (backfill)."""

    @property
    def horizon_ms(self) -> int:
        return self.end_ms if self.emit_until_ms is None else max(self.end_ms, self.emit_until_ms)

    def __post_init__(self) -> None:
        if self.start_ms >= self.end_ms:
            raise ValueError(f"span start {self.start_ms} must be before end {self.end_ms}")
        if self.sli_interval_s < 1:
            raise ValueError(f"SLI interval must be >= 1 s, got {self.sli_interval_s}")
        if self.activity <= 0:
            raise ValueError(f"activity must be positive, got {self.activity}")


def project_spec(seed: int, index: int) -> ProjectSpec:
    """The fixed traits of project `index` (1-based) for this seed."""
    seq = np.random.SeedSequence([seed, index, 0])
    return draw_project(index, np.random.Generator(np.random.PCG64(seq)))


def generate_project(
    spec: ProjectSpec, config: SimConfig, scenarios: Sequence[ScenarioSpan] = ()
) -> list[Event]:
    """All events of one project in ``(start_ms, end_ms]``, sorted by time, ids assigned."""
    return _ProjectRun(spec, config, scenarios).run()


def generate(
    config: SimConfig,
    n_projects: int,
    scenarios: dict[str, list[ScenarioSpan]] | None = None,
) -> Iterable[tuple[ProjectSpec, list[Event]]]:
    """Each project's spec and events, project by project (memory: one project at a time)."""
    scenarios = scenarios or {}
    for index in range(1, n_projects + 1):
        spec = project_spec(config.seed, index)
        yield spec, generate_project(spec, config, scenarios.get(spec.project_id, ()))


def _human(name: str) -> dict[str, Any]:
    return {"kind": "human", "name": name, "model": None}


def _agent(agent: tuple[str, str]) -> dict[str, Any]:
    return {"kind": "ai_agent", "name": agent[0], "model": agent[1]}


class _ProjectRun:
    """One project's generation; collects (time, seq, family, record) and sorts at the end."""

    def __init__(
        self, spec: ProjectSpec, config: SimConfig, scenarios: Sequence[ScenarioSpan]
    ) -> None:
        self.spec = spec
        self.config = config
        self.scenarios = tuple(scenarios)
        seq = np.random.SeedSequence([config.seed, spec.index, 1 + config.block])
        children = seq.spawn(len(_STREAMS))
        self.rng = {
            name: np.random.Generator(np.random.PCG64(child))
            for name, child in zip(_STREAMS, children, strict=True)
        }
        self.ids = random.Random(int(children[-1].generate_state(4, np.uint64)[0]))
        self.pending: list[tuple[int, int, str, dict[str, Any]]] = []
        self.counters: dict[str, int] = {}
        self.successful_deployments: list[tuple[int, str]] = []
        self.agent_changes: set[str] = set()
        """Changes an agent wrote: a deployment shipping one goes wrong more often."""
        self.incident_windows: list[tuple[int, int]] = []

    # --- helpers ------------------------------------------------------------------------

    def active(self, name: str, t_ms: int) -> bool:
        return any(s.name == name and s.active(t_ms) for s in self.scenarios)

    def spans(self, name: str) -> list[ScenarioSpan]:
        return [s for s in self.scenarios if s.name == name]

    def next_id(self, kind: str) -> str:
        n = self.counters.get(kind, 0) + 1
        self.counters[kind] = n
        block = f"b{self.config.block}-" if self.config.block else ""
        return f"{self.spec.project_id}-{kind}-{block}{n:05d}"

    def emit(self, family: str, t_ms: int, actor: dict[str, Any], **fields: Any) -> None:
        record: dict[str, Any] = {
            "event_id": "",
            "project_id": self.spec.project_id,
            "team": self.spec.team,
            "occurred_at": int(t_ms),
            "source": "simulator",
            "actor": actor,
            "schema_version": 2,
        }
        record.update(_FAMILY_DEFAULTS.get(family, {}))
        record.update(fields)
        self.pending.append((int(t_ms), len(self.pending), family, record))

    def arrivals(self, stream: str, per_day: float, start: int, end: int) -> list[int]:
        """Poisson arrival times in ``(start, end]`` at `per_day` (times the activity)."""
        rate = per_day * self.config.activity
        if rate <= 0 or end <= start:
            return []
        process = PoissonProcess(rate=rate, rng=self.rng[stream])
        times = process.sample(length=(end - start) / DAY_MS)[1:]
        out = [start + int(x * DAY_MS) for x in times]
        return [t for t in out if start < t <= end]

    def bernoulli(self, stream: str, p: float) -> bool:
        p = min(1.0, max(0.0, float(p)))
        return bool(BernoulliProcess(p=p, rng=self.rng[stream]).sample(1)[0])

    def exp_ms(self, stream: str, mean_ms: float) -> int:
        return int(self.rng[stream].exponential(mean_ms))

    def lognormal_ms(self, stream: str, median_ms: float, sigma: float) -> int:
        return int(median_ms * math.exp(sigma * self.rng[stream].standard_normal()))

    def pick(self, stream: str, items: Sequence[Any]) -> Any:
        return items[int(self.rng[stream].integers(len(items)))]

    def human(self, stream: str) -> dict[str, Any]:
        return _human(self.pick(stream, self.spec.humans))

    # --- the run ------------------------------------------------------------------------

    def run(self) -> list[Event]:
        start, end = self.config.start_ms, self.config.end_ms
        # Work starts a little before the span so that the span opens mid-flow, and ends at
        # the span's end: events after it are dropped below.
        rfc_tasks = self.rfcs(start, end)
        merged = self.tasks(start, end, rfc_tasks)
        self.deployments(start, end, merged)
        self.unrelated_incidents(start, end)
        self.incident_storms(start, end)
        self.error_spike_incidents(start, end)
        for service in self.spec.services:
            self.sli(service, start, end)
        return self.finish(start, self.config.horizon_ms)

    def finish(self, start: int, end: int) -> list[Event]:
        """Keep events in ``(start, end]`` outside silent spans; sort; assign event ids."""
        silent = self.spans("project_silent")
        kept = [
            item
            for item in self.pending
            if start < item[0] <= end and not any(s.active(item[0]) for s in silent)
        ]
        kept.sort(key=lambda item: (item[0], item[1]))
        events: list[Event] = []
        for _, _, family, record in kept:
            record["event_id"] = str(uuid.UUID(int=self.ids.getrandbits(128), version=4))
            events.append((family, record))
        return events

    # --- RFCs ---------------------------------------------------------------------------

    def rfcs(self, start: int, end: int) -> list[tuple[int, str, dict[str, Any]]]:
        """RFCs and their decisions; returns (task creation time, rfc id, rfc author) items."""
        tasks: list[tuple[int, str, dict[str, Any]]] = []
        for t0 in self.arrivals("rfc", self.spec.rfcs_per_day, start, end):
            rfc_id = self.next_id("rfc")
            author = _agent(PLANNER_AGENT) if self.bernoulli("rfc", 0.4) else self.human("rfc")
            self.emit("rfc", t0, author, type="submitted", rfc_id=rfc_id, title=f"RFC {rfc_id}")
            t1 = t0 + self.exp_ms("rfc", 3 * HOUR_MS)
            reviewer = _agent(PLANNER_AGENT) if self.bernoulli("rfc", 0.3) else self.human("rfc")
            self.emit("rfc", t1, reviewer, type="review_started", rfc_id=rfc_id)
            t2 = t1 + self.lognormal_ms("rfc", 20 * HOUR_MS, 0.6)
            decision = self.pick(
                "rfc", ("accepted",) * 13 + ("rejected",) * 3 + ("changes_requested",) * 4
            )
            decider = self.human("rfc") if self.bernoulli("rfc", 0.75) else _agent(PLANNER_AGENT)
            self.emit("rfc", t2, decider, type="decided", rfc_id=rfc_id, decision=decision)
            if decision == "changes_requested":
                t2 += self.lognormal_ms("rfc", 24 * HOUR_MS, 0.5)
                decision = "accepted" if self.bernoulli("rfc", 0.8) else "rejected"
                self.emit("rfc", t2, decider, type="decided", rfc_id=rfc_id, decision=decision)
            if decision == "accepted":
                n_tasks = 1 + int(self.rng["rfc"].poisson(1.2))
                for _ in range(n_tasks):
                    tasks.append((t2 + self.exp_ms("rfc", 2 * HOUR_MS), rfc_id, author))
        return tasks

    # --- tasks, changes, reviews, tests -------------------------------------------------

    def tasks(
        self, start: int, end: int, rfc_tasks: list[tuple[int, str, dict[str, Any]]]
    ) -> list[tuple[int, str]]:
        """Tasks and the changes they produce; returns (merge time, change id), sorted."""
        items: list[tuple[int, str | None, dict[str, Any] | None]] = [
            (t, None, None) for t in self.arrivals("task", self.spec.tasks_per_day, start, end)
        ]
        items.extend(rfc_tasks)
        items.sort(key=lambda item: (item[0], item[1] or ""))
        merged: list[tuple[int, str]] = []
        rfc_last_merge: dict[str, list[int | None]] = {}
        rfc_authors: dict[str, dict[str, Any]] = {}
        for created, rfc_id, rfc_author in items:
            merge = self.task(created, rfc_id, merged)
            if rfc_id is not None and rfc_author is not None:
                rfc_last_merge.setdefault(rfc_id, []).append(merge)
                rfc_authors[rfc_id] = rfc_author
        for rfc_id, merges in rfc_last_merge.items():
            if all(m is not None for m in merges):
                done = max(m for m in merges if m is not None) + 10 * MINUTE_MS
                self.emit("rfc", done, rfc_authors[rfc_id], type="implemented", rfc_id=rfc_id)
        merged.sort()
        return merged

    def task_actor(self, created: int) -> tuple[dict[str, Any], bool]:
        """Who works on a task created at `created`, and whether it is the looping agent."""
        looping = self.active("agent_failure_loop", created)
        if not self.bernoulli("task", self.spec.ai_task_share):
            return self.human("task"), False
        agent = self.spec.agents[0] if looping else self.pick("task", self.spec.agents)
        return _agent(agent), looping

    def task(self, created: int, rfc_id: str | None, merged: list[tuple[int, str]]) -> int | None:
        """One task through its attempts; returns its change's merge time, if merged."""
        task_id = self.next_id("task")
        actor, looping = self.task_actor(created)
        is_ai = actor["kind"] == "ai_agent"
        self.emit("task", created, actor, type="created", task_id=task_id, rfc_id=rfc_id)
        max_attempts = AGENT_LOOP_MAX_ATTEMPTS if looping else 3
        success_p = AGENT_LOOP_SUCCESS_P if looping else (0.85 if is_ai else 0.95)
        t = created + self.exp_ms("task", 20 * MINUTE_MS)
        for attempt in range(1, max_attempts + 1):
            self.emit(
                "task", t, actor, type="started", task_id=task_id, rfc_id=rfc_id, attempt=attempt
            )
            duration = self.lognormal_ms("task", (30 if is_ai else 180) * MINUTE_MS, 0.6)
            tokens = cost = None
            if is_ai:
                factor = AGENT_LOOP_TOKEN_FACTOR if looping else 1.0
                tokens = int(factor * 40_000 * math.exp(0.5 * self.rng["task"].standard_normal()))
                cost = round(tokens / 1000 * MODEL_PRICE_PER_1K_TOKENS[actor["model"]], 6)
            t_end = t + max(duration, MINUTE_MS)
            common = {
                "task_id": task_id,
                "rfc_id": rfc_id,
                "attempt": attempt,
                "tokens": tokens,
                "cost_usd": cost,
                "duration_seconds": (t_end - t) / 1000,
            }
            if self.bernoulli("task", success_p):
                self.emit("task", t_end, actor, type="completed", **common)
                return self.change(t_end, actor, task_id, rfc_id, merged)
            error = self.pick(
                "task", ("tests failing", "build broken", "timeout", "context limit exceeded")
            )
            self.emit("task", t_end, actor, type="failed", error=error, **common)
            t = t_end + self.exp_ms("task", (10 if is_ai else 60) * MINUTE_MS)
        return None

    def change(
        self,
        t_done: int,
        author: dict[str, Any],
        task_id: str | None,
        rfc_id: str | None,
        merged: list[tuple[int, str]],
    ) -> int | None:
        """A change committed after a task, reviewed until approved, then merged."""
        change_id = self.next_id("change")
        committed = t_done + MINUTE_MS
        sha = f"{self.ids.getrandbits(160):040x}"
        link = {
            "change_id": change_id,
            "committed_at": committed,
            "commit_sha": sha,
            "task_id": task_id,
            "rfc_id": rfc_id,
        }
        self.emit("change", committed, author, type="committed", **link)
        author_ai = author["kind"] == "ai_agent"
        if author_ai:
            self.agent_changes.add(change_id)
        self.test_run(committed, author, change_id)
        requested = committed + self.exp_ms("review", 5 * MINUTE_MS)
        for iteration in range(1, 5):
            outcome = self.review(requested, iteration, author, change_id)
            if outcome is None:
                return None
            approved, done = outcome
            if approved:
                merge = done + self.exp_ms("review", 5 * MINUTE_MS)
                self.emit("change", merge, author, type="merged", **link)
                merged.append((merge, change_id))
                return merge
            fixed = done + self.exp_ms("review", (30 if author_ai else 120) * MINUTE_MS)
            self.test_run(fixed, author, change_id)
            requested = fixed + MINUTE_MS
        return None

    def review(
        self, requested: int, iteration: int, author: dict[str, Any], change_id: str
    ) -> tuple[bool, int] | None:
        """One review iteration: (approved, completion time), or None if never completed."""
        review_id = self.next_id("review")
        ids = {"review_id": review_id, "change_id": change_id, "iteration": iteration}
        self.emit("review", requested, author, type="requested", **ids)
        backlog = self.active("review_backlog", requested)
        if backlog and self.bernoulli("review", REVIEW_BACKLOG_ABANDON_P):
            return None
        ai = self.bernoulli("review", 0.6)
        reviewer = _agent(REVIEW_AGENT) if ai else self.human("review")
        median = 10 * MINUTE_MS if ai else self.spec.review_hours_human * HOUR_MS
        if backlog:
            median *= REVIEW_BACKLOG_SLOWDOWN
        done = requested + max(MINUTE_MS, self.lognormal_ms("review", median, 0.7))
        approved = iteration == 4 or self.bernoulli("review", 0.55 + 0.1 * iteration)
        findings_mean = (1.0 if approved else 3.0) if ai else (0.3 if approved else 1.5)
        if author["kind"] == "ai_agent":
            findings_mean *= AGENT_FINDINGS_FACTOR
        findings = int(self.rng["review"].poisson(findings_mean))
        self.emit(
            "review",
            done,
            reviewer,
            type="completed",
            outcome="approved" if approved else "changes_requested",
            findings_count=findings,
            **ids,
        )
        return approved, done

    def test_run(self, t: int, actor: dict[str, Any], change_id: str | None) -> None:
        """A test-suite run started at `t`, reported when it completes."""
        rng = self.rng["review"]
        size = self.spec.test_suite_size
        flaky_p = FLAKY_RATIO_SCENARIO if self.active("flaky_tests", t) else FLAKY_RATIO_NORMAL
        failed = 0 if self.bernoulli("review", 0.85) else 1 + int(rng.poisson(2.0))
        skipped = int(rng.binomial(size, 0.02))
        passed = max(0, size - failed - skipped)
        flaky = min(passed, int(rng.binomial(size, flaky_p)))
        duration = round(size * 0.04 * math.exp(0.15 * rng.standard_normal()), 3)
        coverage = None
        if not self.bernoulli("review", 0.1):
            coverage = round(
                min(1.0, max(0.0, self.spec.coverage + 0.01 * rng.standard_normal())), 4
            )
        self.emit(
            "test",
            t + int(duration * 1000),
            actor,
            type="run_completed",
            run_id=self.next_id("run"),
            change_id=change_id,
            passed=passed,
            failed=failed,
            skipped=skipped,
            flaky=flaky,
            duration_seconds=duration,
            coverage_ratio=coverage,
        )

    # --- deployments and incidents ------------------------------------------------------

    def frozen(self, t: int) -> bool:
        return self.active("deployment_freeze", t)

    def deploy(
        self,
        t: int,
        actor: dict[str, Any],
        *,
        environment: str = "production",
        status: str = "success",
        kind: str = "planned",
        change_ids: Sequence[str] = (),
        rolls_back: str | None = None,
        remediates: str | None = None,
    ) -> str:
        deployment_id = self.next_id("deploy")
        self.emit(
            "deployment",
            t,
            actor,
            type="finished",
            deployment_id=deployment_id,
            environment=environment,
            status=status,
            change_ids=list(change_ids),
            kind=kind,
            rolls_back_deployment_id=rolls_back,
            remediates_incident_id=remediates,
            started_at=t - self.exp_ms("deploy", 8 * MINUTE_MS) - MINUTE_MS,
        )
        if environment == "production" and status == "success":
            self.successful_deployments.append((t, deployment_id))
        return deployment_id

    def deploy_actor(self) -> dict[str, Any]:
        return _agent(DEPLOY_AGENT) if self.bernoulli("deploy", 0.7) else self.human("deploy")

    def deployments(self, start: int, end: int, merged: list[tuple[int, str]]) -> None:
        """Planned deployments ship every merged change not yet shipped; some go wrong."""
        shipped = 0
        for planned in self.arrivals("deploy", self.spec.deploys_per_day, start, end):
            if self.frozen(planned):
                continue
            changes = []
            staged = planned - 15 * MINUTE_MS  # staging ships the same changes first
            while shipped < len(merged) and merged[shipped][0] <= staged:
                changes.append(merged[shipped][1])
                shipped += 1
            actor = self.deploy_actor()
            self.deploy(staged, actor, environment="staging", change_ids=changes)
            at = planned
            if self.bernoulli("deploy", 0.03):
                self.deploy(at, actor, status="failure", change_ids=changes)
                at += 20 * MINUTE_MS
                if self.frozen(at):
                    continue
            deployment_id = self.deploy(at, actor, change_ids=changes)
            trouble_p = (
                FAILING_DEPLOYMENT_TROUBLE_P
                if self.active("failing_deployments", at)
                else self.spec.deploy_trouble_p
            )
            if any(change_id in self.agent_changes for change_id in changes):
                trouble_p = min(1.0, trouble_p * AGENT_TROUBLE_FACTOR[self.spec.tier])
            if self.bernoulli("deploy", trouble_p):
                self.trouble(at, deployment_id)

    def trouble(self, at: int, deployment_id: str) -> None:
        """A deployment that went wrong: rolled back, or an incident fixed by a hotfix."""
        if self.bernoulli("deploy", 0.4):
            back = at + max(2 * MINUTE_MS, self.exp_ms("deploy", 20 * MINUTE_MS))
            if not self.frozen(back):
                self.deploy(back, self.deploy_actor(), kind="rollback", rolls_back=deployment_id)
            return
        opened = at + max(MINUTE_MS, self.exp_ms("deploy", 30 * MINUTE_MS))
        self.incident(opened, deployment_id, self.spec.recovery_hours * HOUR_MS, remediate=True)

    def incident(
        self, opened: int, caused_by: str | None, median_ms: float, remediate: bool = False
    ) -> None:
        rng = self.rng["incident"]
        incident_id = self.next_id("incident")
        severity = ("sev1", "sev2", "sev3", "sev4")[int(rng.choice(4, p=(0.1, 0.3, 0.4, 0.2)))]
        opener = (
            _agent(MONITOR_AGENT) if self.bernoulli("incident", 0.6) else self.human("incident")
        )
        fields = {
            "incident_id": incident_id,
            "severity": severity,
            "caused_by_deployment_id": caused_by,
            "title": f"incident {incident_id}",
        }
        self.emit("incident", opened, opener, type="opened", **fields)
        duration = max(5 * MINUTE_MS, self.lognormal_ms("incident", median_ms, 0.5))
        resolved = opened + duration
        self.incident_windows.append((opened, min(resolved, opened + INCIDENT_ERROR_SPAN_MS)))
        fixer = self.human("incident")
        if remediate:
            fix_commit = opened + duration // 2
            change_id = self.next_id("change")
            link = {
                "change_id": change_id,
                "committed_at": fix_commit,
                "commit_sha": f"{self.ids.getrandbits(160):040x}",
                "task_id": None,
                "rfc_id": None,
            }
            self.emit("change", fix_commit, fixer, type="committed", **link)
            self.emit("change", fix_commit + duration // 5, fixer, type="merged", **link)
            hotfix_at = opened + duration * 4 // 5
            if not self.frozen(hotfix_at):
                self.deploy(
                    hotfix_at, fixer, kind="hotfix", change_ids=[change_id], remediates=incident_id
                )
        self.emit("incident", resolved, fixer, type="resolved", **fields)

    def unrelated_incidents(self, start: int, end: int) -> None:
        for opened in self.arrivals("incident", 0.03, start, end):
            self.incident(opened, None, self.spec.recovery_hours * HOUR_MS)

    def incident_storms(self, start: int, end: int) -> None:
        """Many incidents, most blamed on the latest deployment before them."""
        for span in self.spans("incident_storm"):
            lo, hi = max(start, span.start_ms), min(end, span.end_ms)
            for opened in self.arrivals("incident", INCIDENT_STORM_PER_HOUR * 24, lo, hi):
                before = [d for t, d in self.successful_deployments if t < opened]
                cause = before[-1] if before and self.bernoulli("incident", 0.7) else None
                self.incident(opened, cause, 40 * MINUTE_MS)

    def error_spike_incidents(self, start: int, end: int) -> None:
        """An incident (not caused by a deployment) opened as the error spike starts."""
        for span in self.spans("error_spike"):
            opened = span.start_ms + 5 * MINUTE_MS
            if start < opened <= end:
                self.incident(opened, None, span.end_ms - span.start_ms)

    # --- SLI samples ----------------------------------------------------------------------

    def sli(self, service: ServiceSpec, start: int, end: int) -> None:
        """One sample per interval, ending on multiples of the interval, in ``(start, end]``."""
        rng = self.rng["sli"]
        step = self.config.sli_interval_s * 1000
        ends = np.arange((start // step + 1) * step, end + 1, step, dtype=np.int64)
        n = len(ends)
        reporter = (
            _agent(MONITOR_AGENT)
            if self.bernoulli("sli", 0.5)
            else _human(f"oncall-{self.spec.team}")
        )
        if n == 0:
            return
        hours = (ends % DAY_MS) / HOUR_MS
        diurnal = 1.0 + 0.6 * np.sin(2 * np.pi * (hours - 9.0) / 24.0)
        expected = service.requests_per_s * self.config.activity * step / 1000 * diurnal
        total = rng.poisson(expected)
        error_p = np.full(n, service.error_ratio)
        for opened, until in self.incident_windows:
            error_p[(ends > opened) & (ends <= until)] *= INCIDENT_ERROR_FACTOR
        for span in self.spans("error_spike"):
            error_p[(ends > span.start_ms) & (ends <= span.end_ms)] = ERROR_SPIKE_RATIO
        bad = rng.binomial(total, np.clip(error_p, 0.0, 1.0))
        drift = self.latency_drift(n)
        slow_p = service.slow_ratio * np.exp(drift)
        for span in self.spans("latency_regression"):
            mask = (ends > span.start_ms) & (ends <= span.end_ms)
            slow_p[mask] = LATENCY_REGRESSION_SLOW_RATIO * np.exp(0.3 * drift[mask])
        slow = rng.binomial(total, np.clip(slow_p, 0.0, 0.5))
        fast = total - slow
        le_005 = rng.binomial(fast, 0.55)
        le_010 = le_005 + rng.binomial(fast - le_005, 0.6)
        le_050 = fast + rng.binomial(slow, 0.5)
        le_100 = le_050 + rng.binomial(total - le_050, 0.6)
        le_250 = le_100 + rng.binomial(total - le_100, 0.7)
        columns = [
            le_005.tolist(),
            le_010.tolist(),
            fast.tolist(),
            le_050.tolist(),
            le_100.tolist(),
            le_250.tolist(),
        ]
        good = (total - bad).tolist()
        totals = total.tolist()
        interval = self.config.sli_interval_s
        for k, t in enumerate(ends.tolist()):
            buckets = [
                {"le": le, "count": col[k]}
                for le, col in zip(LATENCY_BUCKETS_S, columns, strict=True)
            ]
            self.emit(
                "sli",
                t,
                reporter,
                type="window_sample",
                service=service.name,
                interval_seconds=interval,
                requests_total=totals[k],
                requests_good=good[k],
                latency_buckets=buckets,
            )

    def latency_drift(self, n: int) -> np.ndarray:
        """Ornstein-Uhlenbeck drift of log(slow ratio), one value per sample, starting at 0."""
        if n < 2:
            return np.zeros(n)
        days = n * self.config.sli_interval_s / 86_400
        process = OrnsteinUhlenbeckProcess(speed=OU_SPEED_PER_DAY, vol=OU_VOL, t=days)
        # The constructor drops its rng argument; set the generator afterwards so the
        # path is reproducible from the project's seed.
        process.rng = self.rng["sli"]
        return np.asarray(process.sample(n - 1, initial=0.0), dtype=float)
