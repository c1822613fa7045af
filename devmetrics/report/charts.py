"""The report's charts, drawn with matplotlib (its Agg backend: no display, PNG bytes).

A chart is drawn only from data: a section without data gets a sentence saying so (the
report's notes), never an empty frame. Every function returns the PNG of one chart.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display here, and none needed

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from devmetrics.report.model import (
    ACTORS,
    TIER_NAMES,
    ActorFigure,
    Budget,
    Figure,
    Period,
    Points,
    Unit,
)

COLOURS = {"ai_agent": "#7b4fd6", "human": "#2b8a3e"}
TIER_COLOURS = {4: "#2b8a3e", 3: "#1c7ed6", 2: "#f59f00", 1: "#e03131"}
_DPI = 100
# Seconds are drawn in the largest unit that keeps the figure above 1.
_TIME_UNITS = ((86400.0, "days"), (3600.0, "hours"), (60.0, "minutes"), (1.0, "seconds"))


def _dates(points: Points) -> list[float]:
    """The times of ``points`` as matplotlib date numbers."""
    return [float(mdates.date2num(datetime.fromtimestamp(t, UTC))) for t, _v in points]


def _png(fig: MplFigure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _time_unit(values: list[float]) -> tuple[float, str]:
    top = max((abs(v) for v in values), default=0.0)
    return next(((s, n) for s, n in _TIME_UNITS if top >= s), (1.0, "seconds"))


def _value_axis(ax: plt.Axes, unit: Unit, values: list[float]) -> float:
    """Label the value axis for ``unit``; returns the divisor to draw the values with."""
    if unit is Unit.RATIO:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        return 1.0
    if unit is Unit.SECONDS:
        divisor, name = _time_unit(values)
        ax.set_ylabel(name)
        return divisor
    if unit is Unit.USD:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"${v:,.2f}"))
    return 1.0


def _time_axis(ax: plt.Axes, period: Period) -> None:
    """The x axis spans the whole period (a figure with data in part of it shows where),
    with matplotlib's concise date labels, in UTC."""
    start, end = _dates([(period.start, 0.0), (period.end, 0.0)])
    ax.set_xlim(start, end)
    locator = mdates.AutoDateLocator(tz=UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))


def trend(figure: Figure, period: Period) -> bytes:
    """One figure's line across the period."""
    fig, ax = plt.subplots(figsize=(5.2, 2.6))
    times = _dates(figure.trend)
    values = [v for _t, v in figure.trend]
    divisor = _value_axis(ax, figure.unit, values)
    # A line of fewer than three points is drawn with its points, so that one shows at all.
    marker = "o" if len(values) < 3 else None
    ax.plot(times, [v / divisor for v in values], color="#1c7ed6", linewidth=1.6, marker=marker)
    ax.set_title(figure.title, fontsize=10, loc="left")
    _time_axis(ax, period)
    ax.grid(alpha=0.3)
    return _png(fig)


def tier_mix(mix: dict[str, dict[int, int]]) -> bytes:
    """Projects per tier, one stacked bar per tier metric."""
    metrics = list(mix)
    fig, ax = plt.subplots(figsize=(7.5, 0.5 + 0.45 * len(metrics)))
    left = [0] * len(metrics)
    for tier in sorted(TIER_NAMES, reverse=True):
        counts = [mix[m].get(tier, 0) for m in metrics]
        ax.barh(
            [m.replace("_", " ") for m in metrics],
            counts,
            left=left,
            color=TIER_COLOURS[tier],
            label=TIER_NAMES[tier],
        )
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("projects")
    ax.set_title("DORA tiers (30d)", fontsize=10, loc="left")
    ax.legend(ncols=4, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.02), frameon=False)
    return _png(fig)


def budgets(shown: list[Budget], period: Period) -> bytes:
    """Error budget left across the period: one line an SLO, the zero line marked."""
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    for budget in shown:
        times = _dates(budget.history)
        ax.plot(
            times,
            [v for _t, v in budget.history],
            linewidth=1.4,
            marker="o" if len(budget.history) < 3 else None,
            label=f"{budget.project} {budget.service} {budget.slo}",
        )
    ax.axhline(0.0, color="#e03131", linewidth=1, linestyle="--")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    _time_axis(ax, period)
    ax.set_title("Error budget left (30-day SLO period)", fontsize=10, loc="left")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return _png(fig)


def actors(title: str, figures: list[ActorFigure]) -> bytes:
    """AI agents next to people: one pair of bars a figure (figures share a unit)."""
    shown = [f for f in figures if f.values]
    unit = shown[0].unit
    fig, ax = plt.subplots(figsize=(6.2, 0.8 + 0.55 * len(shown)))
    all_values = [v for f in shown for v in f.values.values()]
    divisor = 1.0
    if unit is Unit.SECONDS:
        divisor, name = _time_unit(all_values)
        ax.set_xlabel(name)
    height = 0.38
    for i, (actor, label) in enumerate(ACTORS):
        ys = [n + (i - 0.5) * height for n in range(len(shown))]
        xs = [f.values.get(actor, 0.0) / divisor for f in shown]
        ax.barh(ys, xs, height=height, color=COLOURS[actor], label=label)
    ax.set_yticks(range(len(shown)), [f.title for f in shown], fontsize=8)
    ax.invert_yaxis()
    if unit is Unit.RATIO:
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    elif unit is Unit.USD:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"${v:,.2f}"))
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)
