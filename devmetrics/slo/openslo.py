"""OpenSLO v1 documents -> devmetrics SLO definitions (core/slo_definitions.py).

What is read (docs/slo-definitions.md, "OpenSLO import"): multi-document YAML files of kinds
SLO, SLI, Service and DataSource (`apiVersion: openslo/v1`); an SLO's inline `indicator` or
its `indicatorRef` to an SLI of any of the files read together; one objective with `target`
or `targetPercent`; a rolling `timeWindow` of whole days up to 30, or a calendar-aligned one
of `1M` (month) or `1w` (ISO week) in `calendar.timeZone`; `budgetingMethod: Occurrences`.
The indicator must read devmetrics' own figures: a metric source of `type: devmetrics` (or a
`metricSourceRef` to a DataSource of that type) whose `spec.query` names one of them:

- `ratioMetric` with `good: requests_good` (or `bad: requests_bad`) over
  `total: requests_total` -> an availability indicator;
- `ratioMetric` with `good: latency_bucket` and `spec.le: <seconds>` over `requests_total`,
  or `thresholdMetric` with `query: latency` and the objective's `op: lte`, `value: <seconds>`
  -> a latency indicator with that threshold.

Everything else is refused with the file, the line and the reason, and nothing is imported
from a set of files with any refusal: Timeslices budgets (devmetrics counts occurrences),
other metric sources, precomputed `raw` ratios, composite SLOs, alert policies (devmetrics
alerts on burn rates itself, docs/alerting.md), windows it cannot hold exactly (over 30 days,
quarters, years, calendar windows not starting at a month's first or a Monday midnight).

The project an SLO applies to is its `metadata.labels.project` when set, otherwise the
importer's `project` argument (default `*`: every project); the service is `spec.service`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from core.slo_definitions import Indicator, Period, SloDefinition

API_VERSION = "openslo/v1"
SOURCE_TYPE = "devmetrics"
_DURATION = re.compile(r"^([1-9][0-9]*)([mhdwMQY])$")
_DAYS = {"d": 1, "w": 7}
REFUSED_KINDS = {
    "AlertPolicy": "alert policies are not imported: devmetrics alerts on burn rates itself",
    "AlertCondition": "alert conditions are not imported: devmetrics alerts on burn rates itself",
    "AlertNotificationTarget": "notification targets belong in Alertmanager's configuration",
}


class OpenSloError(ValueError):
    """What cannot be imported: one `file:line: reason` per line."""


@dataclass
class _Node:
    """A YAML value with the line it starts on."""

    value: Any
    line: int

    def get(self, key: str) -> _Node | None:
        return self.value.get(key) if isinstance(self.value, dict) else None

    @property
    def text(self) -> str | None:
        return self.value if isinstance(self.value, str) else None


def _tree(node: yaml.Node, loader: yaml.SafeLoader) -> _Node:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        return _Node({str(k.value): _tree(v, loader) for k, v in node.value}, line)
    if isinstance(node, yaml.SequenceNode):
        return _Node([_tree(item, loader) for item in node.value], line)
    return _Node(loader.construct_object(node), line)


@dataclass
class _Doc:
    source: str
    root: _Node

    @property
    def kind(self) -> str | None:
        kind = self.root.get("kind")
        return kind.text if kind else None

    @property
    def name(self) -> str | None:
        meta = self.root.get("metadata")
        name = meta.get("name") if meta else None
        return name.text if name else None


class _Import:
    def __init__(self, project: str) -> None:
        self.project = project
        self.errors: list[str] = []
        self.docs: list[_Doc] = []

    def refuse(self, doc: _Doc, node: _Node | None, reason: str) -> None:
        line = node.line if node is not None else doc.root.line
        self.errors.append(f"{doc.source}:{line}: {reason}")

    def read(self, source: str, text: str) -> None:
        loader = yaml.SafeLoader("")
        try:
            nodes = list(yaml.compose_all(text))
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 1
            self.errors.append(f"{source}:{line}: not YAML: {err}")
            return
        for node in nodes:
            if node is None:
                continue
            doc = _Doc(source, _tree(node, loader))
            if not isinstance(doc.root.value, dict):
                self.refuse(doc, doc.root, "a document must be a mapping")
                continue
            version = doc.root.get("apiVersion")
            if version is None or version.value != API_VERSION:
                found = version.value if version else "none"
                self.refuse(doc, version, f"apiVersion {found!r}: only {API_VERSION} is read")
                continue
            if doc.kind in REFUSED_KINDS:
                self.refuse(doc, doc.root.get("kind"), REFUSED_KINDS[doc.kind])
                continue
            if doc.kind not in ("SLO", "SLI", "Service", "DataSource"):
                self.refuse(doc, doc.root.get("kind"), f"unknown kind {doc.kind!r}")
                continue
            if not doc.name:
                self.refuse(doc, doc.root.get("metadata"), "metadata.name is required")
                continue
            self.docs.append(doc)

    def named(self, kind: str) -> dict[str, _Doc]:
        return {doc.name: doc for doc in self.docs if doc.kind == kind and doc.name}

    def definitions(self) -> list[SloDefinition]:
        slis, sources = self.named("SLI"), self.named("DataSource")
        for doc in sources.values():
            spec = doc.root.get("spec")
            kind = spec.get("type") if spec else None
            if kind is None or str(kind.value).lower() != SOURCE_TYPE:
                self.refuse(doc, kind or spec, f"data source type must be {SOURCE_TYPE!r}")
        made = []
        for doc in self.docs:
            if doc.kind == "SLO":
                definition = self.slo(doc, slis, sources)
                if definition is not None:
                    made.append(definition)
        return made

    def slo(
        self, doc: _Doc, slis: dict[str, _Doc], sources: dict[str, _Doc]
    ) -> SloDefinition | None:
        spec = doc.root.get("spec")
        if spec is None or not isinstance(spec.value, dict):
            self.refuse(doc, doc.root, "an SLO needs a spec")
            return None
        errors = len(self.errors)
        budgeting = spec.get("budgetingMethod")
        if budgeting is None or budgeting.value != "Occurrences":
            found = budgeting.value if budgeting else "none"
            self.refuse(
                doc,
                budgeting or spec,
                f"budgetingMethod {found!r}: only Occurrences is supported (devmetrics counts "
                "good and total requests, not time slices)",
            )
        if spec.get("alertPolicies") is not None:
            self.refuse(doc, spec.get("alertPolicies"), REFUSED_KINDS["AlertPolicy"])
        service = spec.get("service")
        if service is None or not service.text:
            self.refuse(doc, service or spec, "spec.service names the devmetrics service")
        objective = self.objective(doc, spec)
        period = self.period(doc, spec.get("timeWindow"))
        indicator = self.indicator(doc, spec, slis, sources, objective)
        if len(self.errors) > errors or objective is None or indicator is None or not service:
            return None
        try:
            return SloDefinition(
                name=str(doc.name),
                projects=(self.project_of(doc),),
                services=(str(service.value),),
                indicator=indicator,
                objective=objective[0],
                period=period or Period(rolling_days=30),
            )
        except ValueError as err:
            self.refuse(doc, doc.root.get("metadata"), str(err).splitlines()[-1])
            return None

    def project_of(self, doc: _Doc) -> str:
        meta = doc.root.get("metadata")
        labels = meta.get("labels") if meta else None
        label = labels.get("project") if labels else None
        if label is None:
            return self.project
        if isinstance(label.value, list) and len(label.value) == 1:
            return str(label.value[0].value)
        if isinstance(label.value, str):
            return label.value
        self.refuse(doc, label, "metadata.labels.project must name one project")
        return self.project

    def objective(self, doc: _Doc, spec: _Node) -> tuple[float, _Node] | None:
        objectives = spec.get("objectives")
        if objectives is None or not isinstance(objectives.value, list) or not objectives.value:
            self.refuse(doc, objectives or spec, "an SLO needs one objective")
            return None
        if len(objectives.value) > 1:
            self.refuse(
                doc,
                objectives.value[1],
                "one objective per SLO: composite SLOs and several thresholds are not "
                "supported; write one SLO for each",
            )
            return None
        only: _Node = objectives.value[0]
        target, percent = only.get("target"), only.get("targetPercent")
        for field in ("indicator", "indicatorRef", "timeSliceTarget", "timeSliceWindow"):
            if only.get(field) is not None:
                self.refuse(doc, only.get(field), f"objectives[].{field} is not supported")
        if (target is None) == (percent is None):
            self.refuse(doc, only, "give exactly one of target and targetPercent")
            return None
        value = target.value if target else percent.value / 100 if percent else None
        if not isinstance(value, int | float) or not 0 < value < 1:
            self.refuse(doc, target or percent, "the target must lie strictly between 0 and 1")
            return None
        return float(value), only

    def period(self, doc: _Doc, windows: _Node | None) -> Period | None:
        if windows is None:
            return None  # not given: the default rolling 30 days
        if not isinstance(windows.value, list) or len(windows.value) != 1:
            self.refuse(doc, windows, "timeWindow holds exactly one window")
            return None
        window: _Node = windows.value[0]
        duration = window.get("duration")
        match = _DURATION.match(duration.text or "") if duration else None
        if duration is None or match is None:
            self.refuse(doc, duration or window, "timeWindow duration must be like 28d, 4w, 1M")
            return None
        count, unit = int(match.group(1)), match.group(2)
        calendar, rolling = window.get("calendar"), window.get("isRolling")
        is_rolling = rolling.value is True if rolling is not None else calendar is None
        if is_rolling:
            days = count * _DAYS.get(unit, 0)
            if not 1 <= days <= 30:
                self.refuse(
                    doc,
                    duration,
                    f"rolling window {duration.value}: whole days up to 30 only (the state "
                    "holds 31 days)",
                )
                return None
            return Period(rolling_days=days)
        return self.calendar_period(doc, duration, count, unit, calendar)

    def calendar_period(
        self, doc: _Doc, duration: _Node, count: int, unit: str, calendar: _Node | None
    ) -> Period | None:
        kinds = {("M", 1): "month", ("w", 1): "week"}
        kind = kinds.get((unit, count))
        if kind is None:
            self.refuse(
                doc, duration, f"calendar window {duration.value}: only 1M and 1w are supported"
            )
            return None
        zone = calendar.get("timeZone") if calendar else None
        timezone = zone.text if zone and zone.text else "UTC"
        start = calendar.get("startTime") if calendar else None
        if start is not None:
            try:
                begins = (
                    start.value
                    if isinstance(start.value, datetime)
                    else datetime.fromisoformat(str(start.value))
                )
            except ValueError:
                self.refuse(doc, start, f"startTime {start.value!r} is not a date and time")
                return None
            aligned = (begins.hour, begins.minute, begins.second) == (0, 0, 0) and (
                begins.day == 1 if kind == "month" else begins.weekday() == 0
            )
            if not aligned:
                where = "the first of a month" if kind == "month" else "a Monday"
                self.refuse(doc, start, f"startTime must be midnight on {where}")
                return None
        try:
            return Period(calendar=kind, timezone=timezone)  # type: ignore[arg-type]
        except ValueError:
            self.refuse(doc, zone, f"unknown time zone {timezone!r}")
            return None

    def indicator(
        self,
        doc: _Doc,
        spec: _Node,
        slis: dict[str, _Doc],
        sources: dict[str, _Doc],
        objective: tuple[float, _Node] | None,
    ) -> Indicator | None:
        inline, ref = spec.get("indicator"), spec.get("indicatorRef")
        if (inline is None) == (ref is None):
            self.refuse(doc, spec, "give exactly one of indicator and indicatorRef")
            return None
        sli_doc, sli_spec = doc, inline.get("spec") if inline else None
        if ref is not None:
            target = slis.get(str(ref.value))
            if target is None:
                self.refuse(doc, ref, f"indicatorRef {ref.value!r}: no SLI of that name")
                return None
            sli_doc, sli_spec = target, target.root.get("spec")
        if sli_spec is None:
            self.refuse(sli_doc, inline or sli_doc.root, "the SLI needs a spec")
            return None
        ratio, threshold = sli_spec.get("ratioMetric"), sli_spec.get("thresholdMetric")
        if ratio is not None:
            return self.ratio_indicator(sli_doc, ratio, sources)
        if threshold is not None:
            return self.threshold_indicator(sli_doc, threshold, sources, doc, objective)
        self.refuse(sli_doc, sli_spec, "the SLI needs ratioMetric or thresholdMetric")
        return None

    def query(self, doc: _Doc, metric: _Node | None, sources: dict[str, _Doc]) -> _Node | None:
        """The `spec` of a devmetrics metric source, or None (refused)."""
        source = metric.get("metricSource") if metric else None
        if source is None:
            self.refuse(doc, metric, "a metric needs a metricSource")
            return None
        kind, ref = source.get("type"), source.get("metricSourceRef")
        if kind is None and ref is not None and str(ref.value) in sources:
            source_spec = sources[str(ref.value)].root.get("spec")
            kind = source_spec.get("type") if source_spec else None
        if kind is None or str(kind.value).lower() != SOURCE_TYPE:
            found = kind.value if kind else "none"
            self.refuse(
                doc,
                kind or source,
                f"metric source type {found!r}: only {SOURCE_TYPE!r} (devmetrics' own figures) "
                "can be imported",
            )
            return None
        spec = source.get("spec")
        if spec is None or spec.get("query") is None:
            self.refuse(doc, spec or source, "the metric source spec needs a query")
            return None
        return spec

    def ratio_indicator(
        self, doc: _Doc, ratio: _Node, sources: dict[str, _Doc]
    ) -> Indicator | None:
        if ratio.get("raw") is not None:
            self.refuse(
                doc, ratio.get("raw"), "raw (precomputed) ratios cannot be budgeted exactly"
            )
            return None
        good, bad, total = ratio.get("good"), ratio.get("bad"), ratio.get("total")
        if total is None or (good is None) == (bad is None):
            self.refuse(doc, ratio, "ratioMetric needs total and exactly one of good and bad")
            return None
        total_spec = self.query(doc, total, sources)
        part = self.query(doc, good or bad, sources)
        if total_spec is None or part is None:
            return None
        total_query, part_query = total_spec.get("query"), part.get("query")
        if total_query is None or total_query.value != "requests_total":
            self.refuse(doc, total_query, "total must be the query requests_total")
            return None
        assert part_query is not None
        if bad is not None:
            if part_query.value != "requests_bad":
                self.refuse(doc, part_query, "bad must be the query requests_bad")
                return None
            return Indicator(kind="availability")
        if part_query.value == "requests_good":
            return Indicator(kind="availability")
        if part_query.value == "latency_bucket":
            le = part.get("le")
            if le is None or not isinstance(le.value, int | float) or le.value <= 0:
                self.refuse(doc, le or part, "latency_bucket needs le: a bucket bound in seconds")
                return None
            return Indicator(kind="latency", threshold_s=float(le.value))
        self.refuse(
            doc, part_query, "good must be the query requests_good or latency_bucket (with le)"
        )
        return None

    def threshold_indicator(
        self,
        doc: _Doc,
        threshold: _Node,
        sources: dict[str, _Doc],
        slo_doc: _Doc,
        objective: tuple[float, _Node] | None,
    ) -> Indicator | None:
        spec = self.query(doc, threshold, sources)
        if spec is None:
            return None
        query = spec.get("query")
        if query is None or query.value != "latency":
            self.refuse(doc, query, "a thresholdMetric must be the query latency")
            return None
        if objective is None:
            return None
        op, value = objective[1].get("op"), objective[1].get("value")
        if op is None or op.value != "lte":
            found = op.value if op else "none"
            self.refuse(
                slo_doc,
                op or objective[1],
                f"op {found!r}: only lte (latency buckets count requests at or under a bound)",
            )
            return None
        if value is None or not isinstance(value.value, int | float) or value.value <= 0:
            self.refuse(slo_doc, value or objective[1], "value must be a latency in seconds")
            return None
        return Indicator(kind="latency", threshold_s=float(value.value))


def import_openslo(files: Iterable[tuple[str, str]], project: str = "*") -> list[SloDefinition]:
    """Definitions from (source name, YAML text) pairs read together (an `indicatorRef` may
    name an SLI of another file); raises OpenSloError listing every refusal."""
    run = _Import(project)
    for source, text in files:
        run.read(source, text)
    made = run.definitions()
    if run.errors:
        raise OpenSloError("\n".join(run.errors))
    return made


def import_openslo_files(paths: Iterable[Path], project: str = "*") -> list[SloDefinition]:
    texts = []
    for path in paths:
        try:
            texts.append((str(path), path.read_text(encoding="utf-8")))
        except OSError as err:
            raise OpenSloError(f"{path}: cannot read: {err.strerror}") from None
    return import_openslo(texts, project)
