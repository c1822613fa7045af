"""What a report holds: its scope, its period, and the figures read for them.

The model is plain data: `collect` fills it from the store, `render` writes it as HTML,
PNG or Markdown, and a test can build one by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum

from core.errors import UserError

# A project or team name the report accepts: what the simulator and the receivers emit.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}")
_DURATION = re.compile(r"^(\d+)([hdw])$")
_UNIT_S = {"h": 3600, "d": 86400, "w": 7 * 86400}

TIER_NAMES = {4: "elite", 3: "high", 2: "medium", 1: "low"}
ACTORS = (("ai_agent", "AI agents"), ("human", "people"))


class Unit(Enum):
    """How a figure's value reads; the value is its name in the Markdown."""

    COUNT = "count"
    NUMBER = "number"  # a mean or a quotient of counts, never printed as a whole number
    RATIO = "ratio"
    SECONDS = "seconds"
    USD = "usd"
    PER_WEEK = "per week"


def parse_duration(text: str) -> float:
    """Seconds of ``30d``, ``12h`` or ``2w``; anything else is a UserError naming it."""
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise UserError(f"period {text!r} is not a duration such as 30d, 12h or 2w")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


@dataclass(frozen=True, slots=True)
class Scope:
    """What a report covers: the fleet, one team's projects, or one project."""

    kind: str  # "fleet" | "team" | "project"
    name: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("fleet", "team", "project"):
            raise UserError(f"scope {self.kind!r} is not fleet, team or project")
        if self.kind != "fleet" and (self.name is None or not _NAME.fullmatch(self.name)):
            raise UserError(f"{self.kind} name {self.name!r} is not a valid name")

    @property
    def title(self) -> str:
        return "the fleet" if self.kind == "fleet" else f"{self.kind} {self.name}"

    @property
    def slug(self) -> str:
        """A file-name-safe name: ``fleet``, ``team-a``, ``project-proj-0001``."""
        if self.kind == "fleet":
            return "fleet"
        return f"{self.kind}-{re.sub(r'[^A-Za-z0-9_.-]', '_', self.name or '')}"

    @property
    def ranks(self) -> bool:
        """Whether best and worst projects are part of the report (fleet and team)."""
        return self.kind != "project"


@dataclass(frozen=True, slots=True)
class Period:
    """The reported time range, [start, end] in Unix seconds."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def previous(self) -> Period:
        """The period of the same length just before."""
        return Period(self.start - self.seconds, self.start)

    @property
    def step_s(self) -> float:
        """The step of the trend lines: about 240 points over the period, a whole minute."""
        return max(60.0, round(self.seconds / 240 / 60) * 60.0)

    def describe(self) -> str:
        days = self.seconds / 86400
        hours = self.seconds / 3600
        length = f"{days:g} day" if days >= 1 else f"{hours:g} hour"
        plural = "" if (days if days >= 1 else hours) == 1 else "s"
        return f"{stamp(self.start)} to {stamp(self.end)} ({length}{plural})"


def stamp(ts: float) -> str:
    """A Unix time as ``2026-12-03 09:00 UTC``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


Points = list[tuple[float, float]]


@dataclass(slots=True)
class Figure:
    """One headline figure of the scope: its value at the end of the period, at the end of
    the period before, and its line across the period."""

    key: str
    title: str
    unit: Unit
    query: str
    value: float | None = None
    previous: float | None = None
    trend: Points = field(default_factory=list)
    # Project reports: the project's tier of this metric (4 elite .. 1 low), if it has one.
    tier: int | None = None
    tier_metric: str | None = None


@dataclass(slots=True)
class ActorFigure:
    """One development-process figure, AI agents next to people."""

    key: str
    title: str
    unit: Unit
    group: str  # throughput | success | latency | cost
    query: str
    values: dict[str, float] = field(default_factory=dict)  # actor -> value


@dataclass(frozen=True, slots=True)
class Budget:
    """One SLO's error budget: what is left at the end of the period, and its burn-down."""

    project: str
    service: str
    slo: str
    remaining: float
    history: Points


@dataclass(frozen=True, slots=True)
class FiredAlert:
    """An SLO's burn-rate alerts that fired in the period: their tiers (page-fast first),
    and when one was first and last seen firing."""

    project: str
    service: str
    slo: str
    tiers: tuple[str, ...]
    first: float
    last: float

    @property
    def pages(self) -> bool:
        return any(t.startswith("page") for t in self.tiers)


@dataclass(frozen=True, slots=True)
class Ranking:
    """The best and the worst projects by one figure (fleet and team reports)."""

    title: str
    unit: Unit
    best: list[tuple[str, float]]
    worst: list[tuple[str, float]]


@dataclass(slots=True)
class Report:
    """Everything a report shows; ``notes`` say what had no data, in the user's words."""

    scope: Scope
    period: Period
    source: str  # "VictoriaMetrics http://..." or "Prometheus http://..."
    dora_window: str
    process_window: str
    projects: int = 0
    dora: list[Figure] = field(default_factory=list)
    # Fleet and team reports: per tier metric, how many projects stand at each tier.
    tier_mix: dict[str, dict[int, int]] = field(default_factory=dict)
    ai: list[ActorFigure] = field(default_factory=list)
    budgets: list[Budget] = field(default_factory=list)
    slos: int = 0
    overspent: int = 0
    alerts: list[FiredAlert] = field(default_factory=list)
    rankings: list[Ranking] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # section -> why it has no data
    elapsed_s: float = 0.0
    generated_at: float = 0.0  # wall time the figures were read
