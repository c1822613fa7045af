"""Problem scenarios: what each one is, where and when it applies, and how it is written.

A scenario applies to chosen projects over an event-time span ``start < t <= end`` (epoch
ms). On the command line it is written ``NAME:PROJECTS[:START..END]``: PROJECTS is a
comma-separated list of project ids (or ``*`` for all), START and END are ``now`` (the run's
end time T), a signed offset from T such as ``-2h``, ``-1d12h`` or ``-30m``, or an ISO 8601
time with a zone. Without a span the scenario's default duration ending at T is used. In
live mode the anchor is the run's start instead of T, and a default span starts there.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from producers.simulator.model import DAY_MS, HOUR_MS, MINUTE_MS, project_id_of

SCENARIOS: tuple[str, ...] = (
    "normal",
    "incident_storm",
    "latency_regression",
    "error_spike",
    "failing_deployments",
    "deployment_freeze",
    "review_backlog",
    "flaky_tests",
    "agent_failure_loop",
    "project_silent",
)

# How long a scenario lasts, ending at T, when no span is given.
DEFAULT_DURATION_MS: dict[str, int] = {
    "normal": 30 * DAY_MS,
    "incident_storm": 12 * HOUR_MS,
    "latency_regression": 1 * DAY_MS,
    "error_spike": 2 * HOUR_MS,
    "failing_deployments": 7 * DAY_MS,
    "deployment_freeze": 3 * DAY_MS,
    "review_backlog": 2 * DAY_MS,
    "flaky_tests": 2 * DAY_MS,
    "agent_failure_loop": 1 * DAY_MS,
    "project_silent": 6 * HOUR_MS,
}

_UNIT_MS = {"s": 1000, "m": MINUTE_MS, "h": HOUR_MS, "d": DAY_MS, "w": 7 * DAY_MS}
_OFFSET = re.compile(r"^([+-])((?:\d+[smhdw])+)$")
_OFFSET_PART = re.compile(r"(\d+)([smhdw])")


class ScenarioError(ValueError):
    """A scenario is written wrongly or names something that does not exist."""


@dataclass(frozen=True)
class ScenarioSpan:
    """One scenario active on one project for event times ``start_ms < t <= end_ms``."""

    name: str
    start_ms: int
    end_ms: int

    def active(self, t_ms: int) -> bool:
        return self.start_ms < t_ms <= self.end_ms

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "start": self.start_ms, "end": self.end_ms}


@dataclass(frozen=True)
class ScenarioRequest:
    """A scenario as asked for: projects (None = all) and a span still relative to T."""

    name: str
    projects: tuple[str, ...] | None
    start: str | None = None
    end: str | None = None

    def resolve(self, anchor_ms: int, forward: bool = False) -> tuple[int, int]:
        """The span in epoch ms; times are relative to `anchor_ms` (T in a backfill, the
        start in live mode). A missing bound gives the default duration ending at the
        anchor, or starting there when `forward` (live mode)."""
        duration = DEFAULT_DURATION_MS[self.name]
        end = parse_time(self.end, anchor_ms) if self.end else None
        start = parse_time(self.start, anchor_ms) if self.start else None
        if start is None:
            if end is None:
                end = anchor_ms + duration if forward else anchor_ms
            start = end - duration
        elif end is None:
            end = start + duration
        if start >= end:
            raise ScenarioError(f"scenario {self.name}: span start must be before its end")
        return start, end


def parse_time(text: str, end_ms: int) -> int:
    """`now`, a signed offset from T (`-2h`, `-1d12h`) or ISO 8601 with a zone, to epoch ms."""
    value = text.strip()
    if value == "now":
        return end_ms
    match = _OFFSET.match(value)
    if match:
        amount = sum(int(n) * _UNIT_MS[u] for n, u in _OFFSET_PART.findall(match.group(2)))
        return end_ms + amount if match.group(1) == "+" else end_ms - amount
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ScenarioError(
            f"time {text!r} is not 'now', an offset like -2h, or ISO 8601 with a zone"
        ) from exc
    if moment.tzinfo is None:
        raise ScenarioError(f"time {text!r} has no time zone; add Z or +00:00")
    return int(moment.timestamp() * 1000)


def _check_name(name: str) -> str:
    if name not in SCENARIOS:
        raise ScenarioError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    return name


def parse_scenario(text: str) -> ScenarioRequest:
    """Parse ``NAME:PROJECTS[:START..END]`` (see the module docstring)."""
    parts = text.split(":", 2)
    if len(parts) < 2 or not parts[1]:
        raise ScenarioError(f"scenario {text!r} must be NAME:PROJECTS[:START..END]")
    name = _check_name(parts[0].strip())
    projects = _parse_projects(parts[1])
    start = end = None
    if len(parts) == 3:
        if ".." not in parts[2]:
            raise ScenarioError(f"scenario {text!r}: span must be START..END")
        start, end = (p.strip() or None for p in parts[2].split("..", 1))
    return ScenarioRequest(name, projects, start, end)


def _parse_projects(value: str | Sequence[str]) -> tuple[str, ...] | None:
    items = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(str(p).strip() for p in items if str(p).strip())
    if names == ("*",):
        return None
    if not names:
        raise ScenarioError("a scenario needs at least one project (or '*')")
    return names


def load_scenario_file(path: Path) -> list[ScenarioRequest]:
    """Read a YAML or JSON file: ``{scenarios: [{name, projects, start?, end?}, ...]}``."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ScenarioError(f"scenario file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"scenario file {path} is not valid YAML or JSON: {exc}") from exc
    if not isinstance(data, Mapping) or not isinstance(data.get("scenarios"), list):
        raise ScenarioError(f"scenario file {path} must hold a list under 'scenarios'")
    requests = []
    for i, item in enumerate(data["scenarios"]):
        if not isinstance(item, Mapping) or "name" not in item or "projects" not in item:
            raise ScenarioError(f"scenario file {path}: entry {i} needs 'name' and 'projects'")
        start, end = item.get("start"), item.get("end")
        requests.append(
            ScenarioRequest(
                _check_name(str(item["name"])),
                _parse_projects(item["projects"]),
                None if start is None else str(start),
                None if end is None else str(end),
            )
        )
    return requests


def resolve_requests(
    requests: Iterable[ScenarioRequest],
    project_ids: Sequence[str],
    anchor_ms: int,
    forward: bool = False,
) -> dict[str, list[ScenarioSpan]]:
    """Spans per project id for requests against the run's projects (see `resolve`)."""
    known = set(project_ids)
    result: dict[str, list[ScenarioSpan]] = {}
    for request in requests:
        start, end = request.resolve(anchor_ms, forward)
        targets = project_ids if request.projects is None else request.projects
        for pid in targets:
            if pid not in known:
                raise ScenarioError(
                    f"scenario {request.name} names project {pid!r}, which is not simulated "
                    f"(projects are {project_ids[0]}..{project_ids[-1]})"
                )
            result.setdefault(pid, []).append(ScenarioSpan(request.name, start, end))
    return result


def default_requests(n_projects: int, seed: int) -> list[ScenarioRequest]:
    """A handful of projects per problem scenario, chosen from the seed, default spans."""
    problems = [s for s in SCENARIOS if s != "normal"]
    per_scenario = 5 if n_projects >= 500 else 3
    rng = random.Random(f"scenarios-{seed}")
    count = min(n_projects, per_scenario * len(problems))
    chosen = rng.sample(range(1, n_projects + 1), count)
    requests = []
    for k, index in enumerate(chosen):
        name = problems[k % len(problems)]
        requests.append(ScenarioRequest(name, (project_id_of(index),)))
    return requests


def describe(spans: Mapping[str, list[ScenarioSpan]]) -> str:
    """A JSON summary of which projects run which scenarios, for logs and dry runs."""
    return json.dumps(
        {pid: [s.to_dict() for s in items] for pid, items in sorted(spans.items())}, indent=1
    )
