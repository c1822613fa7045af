"""SLO definitions as configuration: per project and service, with defaults and wildcards.

A definition names one SLO (the `slo` label), the projects and services it applies to (glob
patterns), its indicator (availability from good / total requests, or latency: the requests
counted by the latency bucket whose bound is `threshold_s`), its objective, its period
(rolling N days, or a calendar month or ISO week in a named time zone) and the error-budget
level under which a deploy freeze holds.

Which definition applies (docs/slo-definitions.md): for each SLO name, the most specific
match wins, the project selector before the service selector: a literal name is more
specific than a glob, a glob more than `*`. Among equally specific matches the later entry
wins, so a file read after the built-in defaults overrides them.

The processors read them from the file of the `processor.slo_file` setting (`SloFile`), and
read it again when it changes; the simulator's truth is given the same definitions.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

MAX_ROLLING_DAYS = 30
"""The state holds 31 days: a rolling period longer than the longest window cannot be exact."""
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_GLOB = re.compile(r"[*?\[]")


class SloConfigError(ValueError):
    """A definition file that cannot be used; the message names file, line and field."""


class Indicator(BaseModel):
    """What a good request is: availability (`requests_good`) or latency under a bound."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["availability", "latency"]
    threshold_s: float | None = Field(default=None, gt=0)
    """Latency only: the `le` of the latency bucket whose count is the good requests."""

    @model_validator(mode="after")
    def _threshold_for_latency_only(self) -> Indicator:
        if self.kind == "latency" and self.threshold_s is None:
            raise ValueError("a latency indicator needs threshold_s")
        if self.kind == "availability" and self.threshold_s is not None:
            raise ValueError("an availability indicator takes no threshold_s")
        return self


class Period(BaseModel):
    """The error-budget period: `rolling_days`, or a `calendar` month or week in `timezone`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rolling_days: int | None = Field(default=None, ge=1, le=MAX_ROLLING_DAYS)
    calendar: Literal["month", "week"] | None = None
    timezone: str = "UTC"
    """IANA time zone of the calendar period's boundaries (weeks start on Monday, ISO)."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Period:
        if (self.rolling_days is None) == (self.calendar is None):
            raise ValueError("give exactly one of rolling_days and calendar")
        return self

    def describe(self) -> str:
        if self.rolling_days is not None:
            return f"rolling {self.rolling_days}d"
        return f"calendar {self.calendar} ({self.timezone})"


class SloDefinition(BaseModel):
    """One SLO for the services its selectors match."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    projects: tuple[str, ...] = ("*",)
    services: tuple[str, ...] = ("*",)
    indicator: Indicator
    objective: float = Field(gt=0, lt=1)
    period: Period = Period(rolling_days=MAX_ROLLING_DAYS)
    freeze_below: float = Field(default=0.0, ge=-1000, lt=1)
    """A deploy freeze holds while the error budget remaining is below this ratio."""

    @field_validator("name")
    @classmethod
    def _label_value(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"{value!r} is not an SLO name: lower-case letters, digits, '-' and '_', "
                "starting with a letter, at most 63 characters"
            )
        return value

    @field_validator("projects", "services")
    @classmethod
    def _selectors(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or any(not pattern for pattern in value):
            raise ValueError("a selector lists at least one non-empty pattern")
        return value

    def specificity(self, project: str, service: str) -> tuple[int, int] | None:
        """How specifically this definition matches (project, service); None: no match."""
        p, s = _match(self.projects, project), _match(self.services, service)
        return None if p is None or s is None else (p, s)


def _match(patterns: Sequence[str], value: str) -> int | None:
    """2 for a literal match, 1 for a glob other than `*`, 0 for `*`; None without a match."""
    scores = [
        0 if pattern == "*" else 1 if _GLOB.search(pattern) else 2
        for pattern in patterns
        if fnmatch.fnmatchcase(value, pattern)
    ]
    return max(scores) if scores else None


DEFAULT_DEFINITIONS: tuple[SloDefinition, ...] = (
    SloDefinition(name="availability", indicator=Indicator(kind="availability"), objective=0.999),
    SloDefinition(
        name="latency", indicator=Indicator(kind="latency", threshold_s=0.3), objective=0.99
    ),
)
"""Every service's SLOs unless configured otherwise (docs/metrics.md, "SLO")."""


class SloDefinitions(BaseModel):
    """An ordered list of definitions; later entries override earlier equally specific ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: bool = True
    """Start from the built-in definitions (availability 0.999, latency 0.99 under 0.3 s)."""
    slos: tuple[SloDefinition, ...] = ()

    @property
    def ordered(self) -> tuple[SloDefinition, ...]:
        return (DEFAULT_DEFINITIONS if self.defaults else ()) + self.slos

    def effective(self, project: str, service: str) -> list[SloDefinition]:
        """The SLOs of one service of one project, by name."""
        chosen: dict[str, tuple[tuple[int, int], SloDefinition]] = {}
        for definition in self.ordered:
            rank = definition.specificity(project, service)
            if rank is None:
                continue
            known = chosen.get(definition.name)
            if known is None or rank >= known[0]:
                chosen[definition.name] = (rank, definition)
        return [chosen[name][1] for name in sorted(chosen)]

    def merged(self, more: Sequence[SloDefinition]) -> SloDefinitions:
        """These definitions followed by `more` (which then win among equals)."""
        return SloDefinitions(defaults=self.defaults, slos=self.slos + tuple(more))

    def to_yaml(self) -> str:
        data = self.model_dump(mode="json", exclude_defaults=False)
        for slo in data["slos"]:
            slo["projects"], slo["services"] = list(slo["projects"]), list(slo["services"])
            slo["period"] = {k: v for k, v in slo["period"].items() if v is not None}
            if slo["indicator"]["threshold_s"] is None:
                del slo["indicator"]["threshold_s"]
        return yaml.safe_dump(data, sort_keys=False)


def parse_slo_yaml(text: str, source: str) -> SloDefinitions:
    """Definitions from YAML text; errors name `source`, the line and the field."""
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise SloConfigError(f"{source}{line}: not YAML: {err}") from None
    if data is None:
        return SloDefinitions()
    if not isinstance(data, dict):
        raise SloConfigError(f"{source}:1: expected a mapping with a `slos` list")
    try:
        return SloDefinitions.model_validate(data)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            loc = tuple(error["loc"])
            field = ".".join(str(part) for part in loc) or "(top)"
            problems.append(f"{source}:{_line_of(root, loc)}: {field}: {error['msg']}")
        raise SloConfigError("\n".join(problems)) from None


def load_slo_file(path: Path) -> SloDefinitions:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SloConfigError(f"{path}: cannot read: {err.strerror}") from None
    return parse_slo_yaml(text, str(path))


class SloFile:
    """The definitions of a file (None: the built-in ones), read again when the file changes."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._stamp = self._stat()
        self.definitions = SloDefinitions() if path is None else load_slo_file(path)

    def _stat(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def reload(self) -> bool:
        """Read the file again if it changed since it was last read; True when the definitions
        were replaced. A file that became unusable raises `SloConfigError` and is tried again
        after its next change; the definitions in force stay."""
        stamp = self._stat()
        if self.path is None or stamp == self._stamp:
            return False
        self._stamp = stamp
        self.definitions = load_slo_file(self.path)
        return True


def _line_of(node: Any, loc: tuple[Any, ...]) -> int:
    """1-based line of the deepest node of `loc` that the YAML holds."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next(
                (value for key, value in node.value if key.value == str(part)),
                None,
            )
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            found = node.value[part] if part < len(node.value) else None
        else:
            found = None
        if found is None:
            break
        node = found
        line = node.start_mark.line + 1
    return line
