"""Runs a simulation: backfill (event time, as fast as the sink takes it) or live (wall clock).

The generator is pure; this module feeds its events to a sink (the Kafka publisher, or
nothing) and to the truth file, and reports progress. Time comes from an injected clock.
"""

from __future__ import annotations

import heapq
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

from core.slo_definitions import SloDefinitions
from producers.simulator.generator import Event, SimConfig, generate_project, project_spec
from producers.simulator.model import DAY_MS, ProjectSpec
from producers.simulator.scenarios import ScenarioSpan
from producers.simulator.truth import AGENT_TOP_N, TruthFile


class Sink(Protocol):
    """Where events go: the Kafka publisher in production, a list in tests."""

    def publish(self, family: str, event: Mapping[str, Any]) -> None: ...

    def poll(self, timeout_s: float = 0.0) -> int: ...


class Clock(Protocol):
    """Wall-clock time in epoch ms and a way to wait; injected so live mode is testable."""

    def now_ms(self) -> int: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True)
class RunPlan:
    """What to simulate: projects, end time T, span, SLI interval, scenarios per project."""

    seed: int
    n_projects: int
    end_ms: int
    days: float
    sli_interval_s: int
    scenarios: Mapping[str, list[ScenarioSpan]]
    activity: float = 1.0

    @property
    def start_ms(self) -> int:
        return self.end_ms - int(self.days * DAY_MS)

    def config(self) -> SimConfig:
        return SimConfig(
            seed=self.seed,
            start_ms=self.start_ms,
            end_ms=self.end_ms,
            sli_interval_s=self.sli_interval_s,
            activity=self.activity,
        )


@dataclass
class RunResult:
    """What a run generated, per event family."""

    generated: Counter[str] = field(default_factory=Counter)
    as_of: int = 0

    @property
    def total(self) -> int:
        return sum(self.generated.values())


class Progress:
    """Events generated and events/s on a stream: a rewritten line on a terminal, plain
    lines every `every_s` seconds otherwise (logs, CI)."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        total_projects: int,
        every_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
        acknowledged: Callable[[], int] | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.total_projects = total_projects
        self.every_s = 0.5 if self.tty else every_s
        self.monotonic = monotonic
        self.acknowledged = acknowledged
        self.started = monotonic()
        self.last = self.started
        self.events = 0
        self.projects = 0

    def line(self) -> str:
        elapsed = max(self.monotonic() - self.started, 1e-9)
        text = (
            f"projects {self.projects}/{self.total_projects}  events {self.events:,}  "
            f"{self.events / elapsed:,.0f} events/s"
        )
        if self.acknowledged is not None:
            text += f"  acknowledged {self.acknowledged():,}"
        return text

    def update(self, events: int = 0, projects: int = 0) -> None:
        self.events += events
        self.projects += projects
        now = self.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            self._write()

    def close(self) -> None:
        self._write()
        if self.tty:
            self.stream.write("\n")
        self.stream.flush()

    def _write(self) -> None:
        if self.tty:
            self.stream.write("\r" + self.line().ljust(100))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()


def backfill(
    plan: RunPlan,
    sink: Sink | None,
    truth: TruthFile | None,
    progress: Progress | None = None,
) -> RunResult:
    """Generate every project's events over (T - days, T] and send them, project by project."""
    config = plan.config()
    result = RunResult(as_of=plan.end_ms)
    for index in range(1, plan.n_projects + 1):
        spec = project_spec(plan.seed, index)
        spans = plan.scenarios.get(spec.project_id, [])
        events = generate_project(spec, config, spans)
        if sink is not None:
            for family, event in events:
                sink.publish(family, event)
        for family, _ in events:
            result.generated[family] += 1
        if truth is not None:
            _add_truth(truth, spec, spans, events)
        if progress is not None:
            progress.update(events=len(events), projects=1)
    return result


def _add_truth(
    truth: TruthFile, spec: ProjectSpec, spans: list[ScenarioSpan], events: list[Event]
) -> None:
    truth.add_project(
        spec.project_id,
        team=spec.team,
        profile=spec.tier,
        services=[s.name for s in spec.services],
        scenarios=[s.to_dict() for s in spans],
        events=events,
    )


@dataclass(frozen=True)
class LiveOptions:
    """Live mode: run for `duration_s` (None: until interrupted), generating `block_s` of
    arrivals at a time; consequences of a block's arrivals follow in later blocks' time."""

    duration_s: float | None
    block_s: int = 600
    horizon_days: float = 7.0
    idle_sleep_s: float = 0.5


def live(
    plan: RunPlan,
    sink: Sink | None,
    clock: Clock,
    options: LiveOptions,
    keep_for_truth: bool,
    progress: Progress | None = None,
) -> tuple[RunResult, dict[str, list[Event]]]:
    """Publish events as wall-clock time reaches their event time.

    The run starts at the clock's current second; block k covers arrivals in
    (start + k*block, start + (k+1)*block]. Returns what was published and, when asked, the
    published events per project for the truth (as of the stop time).
    """
    start = clock.now_ms() // 1000 * 1000
    stop = None if options.duration_s is None else start + int(options.duration_s * 1000)
    horizon = stop if stop is not None else start + int(options.horizon_days * DAY_MS)
    block_ms = options.block_s * 1000
    specs = [project_spec(plan.seed, i) for i in range(1, plan.n_projects + 1)]
    queue: list[tuple[int, int, str, dict[str, Any]]] = []
    published: dict[str, list[Event]] = {s.project_id: [] for s in specs}
    result = RunResult()
    seq = 0
    block = 0
    now = start
    try:
        while stop is None or now < stop:
            block_start = start + block * block_ms
            if block_start <= now and (stop is None or block_start < stop):
                block_end = (
                    block_start + block_ms if stop is None else min(block_start + block_ms, stop)
                )
                config = SimConfig(
                    seed=plan.seed,
                    start_ms=block_start,
                    end_ms=block_end,
                    sli_interval_s=plan.sli_interval_s,
                    activity=plan.activity,
                    block=block,
                    emit_until_ms=max(horizon, block_end),
                )
                for spec in specs:
                    for family, event in generate_project(
                        spec, config, plan.scenarios.get(spec.project_id, [])
                    ):
                        heapq.heappush(queue, (event["occurred_at"], seq, family, event))
                        seq += 1
                block += 1
            now = clock.now_ms()
            sent = _publish_due(
                queue,
                now if stop is None else min(now, stop),
                sink,
                result,
                published if keep_for_truth else None,
            )
            if progress is not None:
                progress.update(events=sent)
            if sent == 0:
                next_due = queue[0][0] if queue else now + block_ms
                wait_ms = min(next_due, start + block * block_ms) - now
                if stop is not None:
                    wait_ms = min(wait_ms, stop - now)
                clock.sleep(max(0.0, min(options.idle_sleep_s, wait_ms / 1000)))
                now = clock.now_ms()
            if sink is not None:
                sink.poll(0)
    except KeyboardInterrupt:
        now = clock.now_ms()
    as_of = now if stop is None else min(now, stop)
    _publish_due(queue, as_of, sink, result, published if keep_for_truth else None)
    result.as_of = as_of
    return result, published


def _publish_due(
    queue: list[tuple[int, int, str, dict[str, Any]]],
    until_ms: int,
    sink: Sink | None,
    result: RunResult,
    published: dict[str, list[Event]] | None,
) -> int:
    sent = 0
    while queue and queue[0][0] <= until_ms:
        _, _, family, event = heapq.heappop(queue)
        if sink is not None:
            sink.publish(family, event)
        if published is not None:
            published[event["project_id"]].append((family, event))
        result.generated[family] += 1
        sent += 1
    return sent


def live_truth(
    plan: RunPlan,
    as_of: int,
    published: Mapping[str, list[Event]],
    days: float,
    agent_top_n: int = AGENT_TOP_N,
    slos: SloDefinitions | None = None,
) -> TruthFile:
    """The truth of a live run as of its stop time, from the events it published."""
    truth = TruthFile(
        as_of=as_of,
        seed=plan.seed,
        days=days,
        sli_interval_s=plan.sli_interval_s,
        projects={},
        agent_top_n=agent_top_n,
        slos=slos,
    )
    for index in range(1, plan.n_projects + 1):
        spec = project_spec(plan.seed, index)
        spans = plan.scenarios.get(spec.project_id, [])
        _add_truth(truth, spec, spans, published.get(spec.project_id, []))
    return truth
