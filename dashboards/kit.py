"""Small builders over grafana-foundation-sdk: the few panel, query and variable shapes we use.

A panel reads one of three ways (``Reads``): the dashboard's ``datasource`` variable
(Prometheus by default) for per-project figures; VictoriaMetrics for fleet-wide figures,
because with several Prometheus servers each holds only the projects of its shards and only
VictoriaMetrics holds them all; VictoriaMetrics over 90 days for history. Every panel's
description ends with the sentence naming what it reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

# Datasource uids provisioned by infra/grafana/provisioning/datasources/datasources.yml.
PROMETHEUS_UID = "prometheus"
VICTORIAMETRICS_UID = "victoriametrics"
DATASOURCE_VAR = "datasource"

SELECTED = dm.DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VAR}}}")
VICTORIAMETRICS = dm.DataSourceRef(type_val="prometheus", uid=VICTORIAMETRICS_UID)
# How far back the history panels look (VictoriaMetrics keeps 400 days).
LONG_RANGE = "90d"


class Reads(Enum):
    """Which datasource a panel reads; the value is the sentence its description ends with."""

    SELECTED = "Reads the selected datasource (Prometheus by default)."
    FLEET = "Reads VictoriaMetrics (fleet-wide: the projects of every Prometheus server)."
    HISTORY = "Reads VictoriaMetrics (fleet-wide, 90 days)."

    @property
    def datasource(self) -> dm.DataSourceRef:
        return SELECTED if self is Reads.SELECTED else VICTORIAMETRICS


PanelBuilder = cogbuilder.Builder[dm.Panel]
P = TypeVar("P", timeseries.Panel, stat.Panel, bargauge.Panel, table.Panel)

TIER_NAMES = {
    4: ("elite", "green"),
    3: ("high", "blue"),
    2: ("medium", "yellow"),
    1: ("low", "red"),
}


@dataclass(frozen=True, slots=True)
class Q:
    """One panel query: PromQL, legend and whether it is an instant query."""

    expr: str
    legend: str = ""
    instant: bool = False


def _target(query: Q, ref: str, as_table: bool) -> prom.Dataquery:
    target = prom.Dataquery().expr(query.expr).ref_id(ref).legend_format(query.legend or "__auto")
    target = target.instant() if query.instant or as_table else target.range()
    if as_table:
        target = target.format(PromQueryFormat.TABLE)
    return target


def _with_targets(panel: P, queries: Sequence[Q], as_table: bool = False) -> P:
    for i, query in enumerate(queries):
        panel = panel.with_target(_target(query, chr(ord("A") + i), as_table))
    return panel


def _thresholds(steps: Sequence[tuple[float | None, str]]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=value, color=color) for value, color in steps])
    )


def _common(
    panel: P, title: str, description: str, unit: str, span: int, height: int, reads: Reads
) -> P:
    panel = panel.title(title).description(f"{description} {reads.value}")
    panel = panel.span(span).height(height).datasource(reads.datasource)
    if unit:
        panel = panel.unit(unit)
    if reads is Reads.HISTORY:
        return panel.time_from(LONG_RANGE)
    return panel


def timeseries_panel(
    title: str,
    description: str,
    queries: Sequence[Q],
    *,
    unit: str = "",
    span: int = 12,
    height: int = 8,
    reads: Reads = Reads.SELECTED,
) -> timeseries.Panel:
    """A time series panel of range queries."""
    panel = timeseries.Panel().legend(
        common_builders.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.TABLE)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(True)
        .calcs(["lastNotNull", "max"])
    )
    panel = _common(panel, title, description, unit, span, height, reads)
    return _with_targets(panel, queries)


def stat_panel(
    title: str,
    description: str,
    queries: Sequence[Q],
    *,
    unit: str = "",
    span: int = 4,
    height: int = 4,
    steps: Sequence[tuple[float | None, str]] = ((None, "text"),),
    mappings: Iterable[dm.ValueMap] = (),
    reads: Reads = Reads.SELECTED,
) -> stat.Panel:
    """A single-value panel: instant queries, last value, coloured by ``steps``."""
    panel = (
        stat.Panel()
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .color_mode(common.BigValueColorMode.VALUE)
        .graph_mode(common.BigValueGraphMode.NONE)
        .thresholds(_thresholds(steps))
    )
    if mappings:
        panel = panel.mappings(list(mappings))
    panel = _common(panel, title, description, unit, span, height, reads)
    return _with_targets(panel, [Q(q.expr, q.legend, instant=True) for q in queries])


def bar_panel(
    title: str,
    description: str,
    queries: Sequence[Q],
    *,
    unit: str = "",
    span: int = 8,
    height: int = 8,
    steps: Sequence[tuple[float | None, str]] = ((None, "blue"),),
    mappings: Iterable[dm.ValueMap] = (),
    reads: Reads = Reads.SELECTED,
) -> bargauge.Panel:
    """Horizontal bars, one per series of instant queries: rankings and breakdowns."""
    panel = (
        bargauge.Panel()
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.BASIC)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(_thresholds(steps))
    )
    if mappings:
        panel = panel.mappings(list(mappings))
    panel = _common(panel, title, description, unit, span, height, reads)
    return _with_targets(panel, [Q(q.expr, q.legend, instant=True) for q in queries])


def table_panel(
    title: str,
    description: str,
    columns: Sequence[tuple[str, Q]],
    *,
    span: int = 24,
    height: int = 10,
    sort_by: str | None = None,
    descending: bool = True,
    units: dict[str, str] | None = None,
    mappings: dict[str, Iterable[dm.ValueMap]] | None = None,
    reads: Reads = Reads.SELECTED,
    keys: Sequence[str] = (),
) -> table.Panel:
    """A table joining instant queries on their labels, one named column per query.

    With ``keys``, each query is reduced to those labels (``max by (keys)``), so that the
    columns of different families (other names, quantile labels) join into one row per key.
    """
    if keys:
        by = ", ".join(keys)
        columns = [
            (name, Q(f"max by ({by}) ({q.expr})", q.legend, q.instant)) for name, q in columns
        ]
    rename = {f"Value #{chr(ord('A') + i)}": name for i, (name, _q) in enumerate(columns)}
    if len(columns) == 1:
        rename = {"Value": columns[0][0]}
    panel = (
        table.Panel()
        .with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {
                        "Time": True,
                        "__name__": True,
                        "instance": True,
                        "job": True,
                    },
                    "renameByName": rename,
                },
            )
        )
    )
    if sort_by:
        panel = panel.sort_by(
            [common_builders.TableSortByFieldState().display_name(sort_by).desc(descending)]
        )
    for name, unit in (units or {}).items():
        panel = panel.override_by_name(name, [dm.DynamicConfigValue(id_val="unit", value=unit)])
    for name, maps in (mappings or {}).items():
        panel = panel.override_by_name(
            name, [dm.DynamicConfigValue(id_val="mappings", value=list(maps))]
        )
    panel = _common(panel, title, description, "", span, height, reads)
    return _with_targets(panel, [q for _name, q in columns], as_table=True)


def tier_mappings() -> list[dm.ValueMap]:
    """DORA tier values 4..1 shown as elite / high / medium / low."""
    return [
        dm.ValueMap(
            options={
                str(value): dm.ValueMappingResult(text=name, color=color, index=4 - value)
                for value, (name, color) in TIER_NAMES.items()
            }
        )
    ]


def row(title: str) -> db.Row:
    return db.Row(title)


def datasource_variable() -> db.DatasourceVariable:
    """Prometheus (default) or VictoriaMetrics for the panels that read the selected datasource."""
    return (
        db.DatasourceVariable(DATASOURCE_VAR)
        .label("Data source")
        .type("prometheus")
        .current(dm.VariableOption(selected=True, text="Prometheus", value=PROMETHEUS_UID))
    )


def query_variable(
    name: str,
    label: str,
    query: str,
    *,
    multi: bool = True,
    include_all: bool = True,
    reads: Reads = Reads.SELECTED,
) -> db.QueryVariable:
    """A variable whose values come from a label_values() query (the selected datasource, or
    VictoriaMetrics on a dashboard of fleet panels only)."""
    variable = (
        db.QueryVariable(name)
        .label(label)
        .datasource(reads.datasource)
        .query({"query": query, "refId": f"{name}-values", "qryType": 1})
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
        .multi(multi)
        .include_all(include_all)
    )
    if include_all:
        variable = variable.all_value(".*").current(
            dm.VariableOption(selected=True, text="All", value="$__all")
        )
    return variable


def custom_variable(
    name: str, label: str, values: Sequence[str], default: str
) -> db.CustomVariable:
    """A fixed list of values (windows, ranking sizes)."""
    return (
        db.CustomVariable(name)
        .label(label)
        .values(",".join(values))
        .current(dm.VariableOption(selected=True, text=default, value=default))
        .options(
            [
                dm.VariableOption(selected=value == default, text=value, value=value)
                for value in values
            ]
        )
    )


def dashboard(uid: str, title: str, description: str, tags: Sequence[str]) -> db.Dashboard:
    """A dashboard with the shared settings: UTC, 6 hours, refreshed every minute."""
    return (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["devmetrics", *tags])
        .timezone("utc")
        .time("now-6h", "now")
        .refresh("1m")
        .readonly()
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .with_variable(datasource_variable())
    )
