"""Strict checks of dashboard JSON beyond the SDK's models: layout, references, metric names,
and which datasource a panel reads.

Each check returns human-readable problems (empty when the dashboard is sound), naming the
dashboard and panel, so one run lists everything that is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from core.catalogue import FAMILIES
from core.paths import infra_dir
from dashboards.catalog import Catalog, load_catalog
from dashboards.kit import VICTORIAMETRICS_UID, Reads
from dashboards.promql import (
    PromQLReadError,
    across_projects,
    selectors,
    variable_expression,
)
from dashboards.render import canonical, render_all

DATASOURCES_FILE = infra_dir("grafana", "provisioning", "datasources", "datasources.yml")
PANEL_TYPES = frozenset({"row", "timeseries", "stat", "table", "bargauge"})
GRID_COLUMNS = 24
# Variables Grafana defines itself.
BUILTIN_VARIABLES = frozenset({"__rate_interval", "__interval", "__range", "__all"})
_VARIABLE_USE = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?\}|([A-Za-z_][A-Za-z0-9_]*))"
)
_UID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# The families a shard serves per project (each series carries the project label).
PROJECT_FAMILIES = frozenset(family.name for family in FAMILIES)


@dataclass(frozen=True, slots=True)
class Query:
    """One PromQL query of a dashboard: where it is, its datasource uid and whether instant."""

    dashboard: str
    where: str
    expr: str
    datasource: str
    instant: bool
    kind: str  # panel, annotation or variable


def provisioned_uids(path: Path = DATASOURCES_FILE) -> frozenset[str]:
    return frozenset(source["uid"] for source in yaml.safe_load(path.read_text())["datasources"])


def queries(board: dict[str, Any]) -> Iterator[Query]:
    """Every query of a dashboard: panel targets, annotations, variable queries (as series)."""
    title = board["title"]
    for panel in board.get("panels", []):
        uid = panel.get("datasource", {}).get("uid", "")
        for target in panel.get("targets", []):
            yield Query(
                title,
                f"panel {panel['id']} {panel['title']!r} target {target['refId']}",
                target["expr"],
                uid,
                bool(target.get("instant")),
                "panel",
            )
    for annotation in board.get("annotations", {}).get("list", []):
        if "expr" in annotation:
            yield Query(
                title,
                f"annotation {annotation['name']!r}",
                annotation["expr"],
                annotation["datasource"]["uid"],
                False,
                "annotation",
            )
    for variable in board.get("templating", {}).get("list", []):
        if variable["type"] == "query":
            expr, _label = variable_expression(variable["query"]["query"])
            yield Query(
                title,
                f"variable {variable['name']!r}",
                expr,
                variable["datasource"]["uid"],
                True,
                "variable",
            )


def _overlap(a: dict[str, int], b: dict[str, int]) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


def check_structure(board: dict[str, Any], datasource_uids: frozenset[str]) -> list[str]:
    """Layout, ids, panel types, datasources, refIds and variable references."""
    name = board.get("title", "<untitled>")
    problems: list[str] = []
    if not _UID.match(str(board.get("uid", ""))):
        problems.append(f"{name}: uid {board.get('uid')!r} is not 1-40 of [A-Za-z0-9_-]")
    for key, kind in (("title", str), ("schemaVersion", int), ("panels", list)):
        if not isinstance(board.get(key), kind):
            problems.append(f"{name}: {key} missing or not a {kind.__name__}")
    variables = {v["name"] for v in board.get("templating", {}).get("list", [])}
    if len(variables) != len(board.get("templating", {}).get("list", [])):
        problems.append(f"{name}: duplicate variable names")
    known_uids = (
        datasource_uids | {"${datasource}"} if "datasource" in variables else datasource_uids
    )
    ids: set[int] = set()
    grids: list[tuple[str, dict[str, int]]] = []
    for panel in board.get("panels", []):
        where = f"{name}: panel {panel.get('id')} {panel.get('title')!r}"
        if panel.get("type") not in PANEL_TYPES:
            problems.append(f"{where}: type {panel.get('type')!r} not one of {sorted(PANEL_TYPES)}")
        if not isinstance(panel.get("id"), int) or panel["id"] in ids or panel["id"] < 1:
            problems.append(f"{where}: id missing, below 1 or repeated")
        ids.add(panel.get("id", 0))
        grid = panel.get("gridPos", {})
        if not all(isinstance(grid.get(k), int) for k in "xywh"):
            problems.append(f"{where}: gridPos needs integer x, y, w, h")
            continue
        if grid["x"] < 0 or grid["y"] < 0 or grid["w"] < 1 or grid["h"] < 1:
            problems.append(f"{where}: gridPos {grid} out of range")
        if grid["x"] + grid["w"] > GRID_COLUMNS:
            problems.append(f"{where}: gridPos {grid} wider than {GRID_COLUMNS} columns")
        problems.extend(f"{where}: overlaps {other}" for other, g in grids if _overlap(grid, g))
        grids.append((where, grid))
        if panel.get("type") == "row":
            continue
        if not panel.get("title"):
            problems.append(f"{where}: no title")
        uid = panel.get("datasource", {}).get("uid")
        if uid not in known_uids:
            problems.append(f"{where}: datasource uid {uid!r} not provisioned")
        refs = [t.get("refId") for t in panel.get("targets", [])]
        if not refs or len(set(refs)) != len(refs) or not all(refs):
            problems.append(f"{where}: targets need distinct non-empty refIds, got {refs}")
        for target in panel.get("targets", []):
            if not str(target.get("expr", "")).strip():
                problems.append(f"{where}: empty expression")
    used = {a or b for a, b in _VARIABLE_USE.findall(json.dumps(board))}
    for missing in sorted(used - variables - BUILTIN_VARIABLES):
        problems.append(f"{name}: uses ${missing}, which is not a variable of the dashboard")
    return problems


def check_names(board: dict[str, Any], catalog: Catalog) -> list[str]:
    """Every series a query reads is produced; every ALERTS alertname matcher names an alert."""
    problems: list[str] = []
    for query in queries(board):
        where = f"{query.dashboard}: {query.where}"
        try:
            found = selectors(query.expr)
        except PromQLReadError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if not found:
            problems.append(f"{where}: reads no series")
        for selector in found:
            if selector.name not in catalog.names:
                problems.append(f"{where}: {selector.name!r} is not produced")
            if selector.name in ("ALERTS", "ALERTS_FOR_STATE"):
                matcher = selector.matcher("alertname")
                if matcher is None:
                    problems.append(f"{where}: ALERTS without an alertname matcher")
                    continue
                op, value = matcher
                named = (
                    {value} & catalog.alerts
                    if op == "="
                    else {a for a in catalog.alerts if re.fullmatch(value, a)}
                )
                if not named:
                    problems.append(f"{where}: alertname {op}{value!r} matches no alert rule")
    return problems


def _reads(panel: dict[str, Any]) -> Reads | None:
    """What the panel reads, by its datasource and time override."""
    uid = panel.get("datasource", {}).get("uid")
    if uid == VICTORIAMETRICS_UID:
        return Reads.HISTORY if panel.get("timeFrom") else Reads.FLEET
    return Reads.SELECTED if uid == "${datasource}" else None


def check_datasources(board: dict[str, Any]) -> list[str]:
    """Each panel says what it reads, and a panel summing, counting or ranking series of
    several projects reads VictoriaMetrics: with several Prometheus servers, each holds only
    the projects of its shards."""
    name = board.get("title", "<untitled>")
    problems: list[str] = []
    for panel in board.get("panels", []):
        if panel.get("type") == "row":
            continue
        where = f"{name}: panel {panel.get('id')} {panel.get('title')!r}"
        reads = _reads(panel)
        if reads is None:
            problems.append(f"{where}: reads neither the selected datasource nor VictoriaMetrics")
            continue
        if not str(panel.get("description", "")).endswith(reads.value):
            problems.append(f"{where}: description does not end with {reads.value!r}")
        for target in panel.get("targets", []):
            expr = str(target.get("expr", ""))
            try:
                project_series = {s.name for s in selectors(expr)} & PROJECT_FAMILIES
                fleet = bool(project_series) and across_projects(expr)
            except PromQLReadError:
                continue  # check_names reports it
            if fleet and reads is Reads.SELECTED:
                problems.append(
                    f"{where} target {target.get('refId')}: aggregates across projects "
                    "but reads the selected datasource, not VictoriaMetrics"
                )
    return problems


def check_round_trip(text: str, name: str) -> list[str]:
    """The JSON is a fixed point of the SDK's models (nothing they do not know)."""
    return [] if canonical(text) == text else [f"{name}: changes when decoded by the SDK models"]


def validate_texts(texts: dict[str, str], catalog: Catalog | None = None) -> list[str]:
    catalog = catalog or load_catalog()
    uids = provisioned_uids()
    problems: list[str] = []
    seen_uids: dict[str, str] = {}
    for name, text in texts.items():
        board = json.loads(text)
        if board.get("uid") in seen_uids:
            problems.append(f"{name}: uid {board['uid']!r} also used by {seen_uids[board['uid']]}")
        seen_uids[board.get("uid")] = name
        problems += check_round_trip(text, name)
        problems += check_structure(board, uids)
        problems += check_names(board, catalog)
        problems += check_datasources(board)
    return problems


def validate_all() -> list[str]:
    """Problems of the dashboards the code generates now."""
    return validate_texts(render_all())
