"""Running every query of the committed dashboards against a real Prometheus and
VictoriaMetrics, as Grafana would, and telling an empty answer that has a checked reason
from one that is a defect (see `empty_reason`)."""

from __future__ import annotations

import json
import math
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dashboards.kit import VICTORIAMETRICS_UID
from dashboards.promql import selectors, variable_expression
from dashboards.render import OUTPUT_DIR
from dashboards.validate import Query, queries

PROCESSORS_JOB = "devmetrics-processors"
RECEIVERS_JOB = "devmetrics-receivers"
BURN_ALERT = "DevmetricsSLOErrorBudgetBurn"
# Grafana's built-in variables, at the test's scale (1 s scrapes, a minute or two of data).
RATE_INTERVAL, STEP_S = "10s", 2
_REGEX_SPECIAL = re.compile(r"([\\^$*+?.()|{}\[\]])")


def get_json(url: str, path: str, **params: str) -> Any:
    with urllib.request.urlopen(f"{url}{path}?{urllib.parse.urlencode(params)}", timeout=30) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return body["data"]


@dataclass
class Live:
    """The real Prometheus and VictoriaMetrics the queries run against, and what they hold."""

    prometheus_url: str
    victoriametrics_url: str
    start: float
    processor_metrics: frozenset[str]
    receiver_metrics: frozenset[str] = frozenset()
    # Queries run at this time once the test fixes it (None: now, while waiting for data).
    end: float | None = None

    @property
    def at(self) -> float:
        return time.time() if self.end is None else self.end

    def instant(self, uid: str, expr: str) -> list[dict[str, Any]]:
        if uid == VICTORIAMETRICS_UID:
            # VictoriaMetrics hides the newest 30 s unless asked (docs: latency_offset).
            data = get_json(
                self.victoriametrics_url,
                "/api/v1/query",
                query=expr,
                time=str(self.at),
                latency_offset="1s",
            )
        else:
            data = get_json(self.prometheus_url, "/api/v1/query", query=expr, time=str(self.at))
        return [{"metric": r["metric"], "values": [r["value"]]} for r in data["result"]]

    def range(self, uid: str, expr: str) -> list[dict[str, Any]]:
        url = self.victoriametrics_url if uid == VICTORIAMETRICS_UID else self.prometheus_url
        extra = {"latency_offset": "1s"} if uid == VICTORIAMETRICS_UID else {}
        data = get_json(
            url,
            "/api/v1/query_range",
            query=expr,
            start=str(self.start),
            end=str(self.at),
            step=str(STEP_S),
            **extra,
        )
        return list(data["result"])

    def label_values(self, uid: str, expr: str, label: str) -> list[str]:
        url = self.victoriametrics_url if uid == VICTORIAMETRICS_UID else self.prometheus_url
        data = get_json(
            url, "/api/v1/series", **{"match[]": expr}, start=str(self.start), end=str(self.at)
        )
        return sorted({s[label] for s in data if label in s})

    def processors_scraped(self) -> bool:
        return self.job_scraped(PROCESSORS_JOB)

    def job_scraped(self, job: str) -> bool:
        """Whether Prometheus has an active target of ``job``."""
        targets = get_json(self.prometheus_url, "/api/v1/targets", state="active")["activeTargets"]
        return any(t["labels"].get("job") == job for t in targets)

    def active_alerts(self, uid: str) -> set[str]:
        """Names of the alerts pending or firing, as the datasource holds them: Prometheus'
        own rules, or the ALERTS series every Prometheus server remote-writes."""
        if uid == VICTORIAMETRICS_UID:
            return {r["metric"]["alertname"] for r in self.instant(uid, "ALERTS")}
        return {
            a["labels"]["alertname"]
            for a in get_json(self.prometheus_url, "/api/v1/alerts")["alerts"]
        }


def has_data(result: list[dict[str, Any]]) -> bool:
    """At least one series with at least one finite value, as a panel would draw."""
    return any(math.isfinite(float(v)) for series in result for _t, v in series["values"])


def substitute(expr: str, values: dict[str, str], range_s: float) -> str:
    """Grafana's interpolation: variables (regex-escaped values), then the built-ins."""
    expr = (
        expr.replace("$__rate_interval", RATE_INTERVAL)
        .replace("$__interval", f"{STEP_S}s")
        .replace("$__range", f"{int(range_s)}s")
    )
    for name in sorted(values, key=len, reverse=True):
        verbatim = values[name] == ".*" or name in ("n", "window", "datasource")
        value = values[name] if verbatim else _REGEX_SPECIAL.sub(r"\\\\\1", values[name])
        expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
    return expr


def fill_variables(
    board: dict[str, Any], live: Live, choose: Callable[[str, list[str]], str]
) -> tuple[dict[str, str], list[str]]:
    """A real value for every variable, in order, and the variables that offered none.

    A variable with no values but an "All" option gets All, as Grafana does; it is reported.
    """
    values: dict[str, str] = {}
    without_values: list[str] = []
    for variable in board["templating"]["list"]:
        name = variable["name"]
        if variable["type"] in ("datasource", "custom"):
            values[name] = variable["current"]["value"]
            continue
        expr, label = variable_expression(variable["query"]["query"])
        options = live.label_values(
            variable["datasource"]["uid"], substitute(expr, values, 0), label
        )
        if not options:
            assert variable.get("includeAll"), f"{board['title']}: variable {name} has no values"
            without_values.append(f"{board['title']}: {name}")
            values[name] = variable["allValue"]
            continue
        values[name] = choose(name, options)
        assert values[name] in options, (name, values[name], options)
    return values, without_values


def empty_reason(query: Query, expr: str, live: Live) -> str | None:
    """Why an empty answer is right for this query now, or None if it must have data."""
    found = selectors(expr)
    names = {s.name for s in found}
    reads_processors = bool(names & live.processor_metrics) or any(
        s.matcher("job") == ("=", PROCESSORS_JOB) for s in found
    )
    if reads_processors and not live.processors_scraped():
        return "no processor worker is a Prometheus target here"
    if names & live.receiver_metrics and not live.job_scraped(RECEIVERS_JOB):
        return "no webhook receiver is a Prometheus target here"
    if "ALERTS" in names:
        wanted = [s.matcher("alertname") for s in found if s.name == "ALERTS"]
        active = live.active_alerts(query.datasource)
        if not any(
            (op == "=" and value in active)
            or (op == "=~" and any(re.fullmatch(value, a) for a in active))
            for op, value in (w for w in wanted if w is not None)
        ):
            return "no such alert is pending or firing"
    if query.kind == "annotation":
        (selector, *_rest) = found
        matchers = ", ".join(f'{k}{op}"{v}"' for k, op, v in selector.matchers)
        raw = f"devmetrics_dora_deployments{{{matchers}}}"
        rises = [
            float(b[1]) > float(a[1])
            for series in live.range(query.datasource, substitute(raw, {}, 0))
            for a, b in zip(series["values"], series["values"][1:], strict=False)
        ]
        if not any(rises):
            return "no selected project's 30d deployment count rose in the range"
    return None


@dataclass
class Proof:
    dashboards: int = 0
    panels: int = 0
    queries: int = 0
    with_data: int = 0
    empty: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    variables_without_values: list[str] = field(default_factory=list)
    # Queries answered with data by VictoriaMetrics (the fleet and history panels).
    with_data_from_victoriametrics: int = 0


def prove(live: Live, choose: Callable[[str, list[str]], str]) -> Proof:
    """Run every query of every committed dashboard; collect the failures."""
    proof = Proof()
    for path in sorted(OUTPUT_DIR.glob("*.json")):
        board = json.loads(path.read_text())
        proof.dashboards += 1
        proof.panels += sum(p["type"] != "row" for p in board["panels"])
        values, without_values = fill_variables(board, live, choose)
        proof.variables_without_values += without_values
        for query in queries(board):
            proof.queries += 1
            where = f"{path.name}: {query.where}"
            expr = substitute(query.expr, values, live.at - live.start)
            try:
                if query.kind == "variable" or query.instant:
                    result = live.instant(query.datasource, expr)
                else:
                    result = live.range(query.datasource, expr)
            except urllib.error.HTTPError as exc:
                proof.failures.append(f"{where}: HTTP {exc.code} {exc.read()[:300]!r} for {expr}")
                continue
            if has_data(result):
                proof.with_data += 1
                proof.with_data_from_victoriametrics += query.datasource == VICTORIAMETRICS_UID
                continue
            reason = empty_reason(query, expr, live)
            if reason is None:
                proof.failures.append(f"{where}: no data for {expr}")
            else:
                proof.empty[where] = reason
    return proof


# --- the monitoring stack and two real exporter shards ------------------------------------
