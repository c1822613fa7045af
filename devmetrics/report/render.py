"""Writing a report: Markdown (the figures, for a pull-request comment), HTML (one file with
every chart embedded, nothing fetched when it opens) and PNG (one file a chart).

The HTML and the Markdown print the same figures with the same formatting (`value`), so a
figure reads the same wherever it is pasted.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devmetrics.report import charts
from devmetrics.report.model import (
    ACTORS,
    TIER_NAMES,
    Report,
    Unit,
    stamp,
)

NO_DATA = "no data"
ALERTS_SHOWN = 30  # SLOs listed with their fired alerts; the count says how many fired
# Which charts go under which heading: (section, heading's first words).
_SECTIONS = (("dora", "DORA"), ("slo", "SLOs"), ("ai", "AI agents"))
CHART_GROUPS = (
    ("throughput", "Throughput"),
    ("success", "Success"),
    ("latency", "Latency"),
    ("cost", "Cost"),
)


def value(v: float | None, unit: Unit) -> str:
    """One figure as the report prints it; ``no data`` when the store had none."""
    if v is None:
        return NO_DATA
    if not math.isfinite(v):  # a store answers NaN for 0/0 and ±Inf for x/0
        return "NaN" if math.isnan(v) else ("+Inf" if v > 0 else "-Inf")
    if unit is Unit.RATIO:
        return f"{v * 100:.2f}%"
    if unit is Unit.USD:
        return f"-${-v:,.2f}" if v < 0 else f"${v:,.2f}"
    if unit is Unit.SECONDS:
        for seconds, name in ((86400.0, "d"), (3600.0, "h"), (60.0, "min")):
            if abs(v) >= 2 * seconds:
                return f"{v / seconds:.2f} {name}"
        return f"{v:.2f} s"
    if unit is Unit.COUNT and v == int(v):
        return f"{int(v)}"
    return f"{v:.2f}"


def change(now: float | None, before: float | None, unit: Unit) -> str:
    """The change against the previous period: in points for ratios, relative otherwise."""
    if now is None or before is None:
        return "n/a"
    if unit is Unit.RATIO:
        return f"{(now - before) * 100:+.2f} pt"
    if before == 0:
        return "n/a" if now == 0 else "new"
    return f"{(now - before) / abs(before) * 100:+.1f}%"


def _tier(tier: int | None) -> str:
    return TIER_NAMES.get(tier, "-") if tier is not None else "-"


@dataclass(frozen=True, slots=True)
class Chart:
    key: str
    title: str
    section: str
    png: bytes


def draw(report: Report) -> list[Chart]:
    """Every chart the report's data allows, in reading order."""
    found: list[Chart] = []
    for figure in report.dora:
        if figure.trend:
            found.append(
                Chart(
                    f"dora-{figure.key}", figure.title, "dora", charts.trend(figure, report.period)
                )
            )
    if report.scope.ranks and any(report.tier_mix.values()):
        found.append(Chart("dora-tiers", "DORA tiers", "dora", charts.tier_mix(report.tier_mix)))
    if any(b.history for b in report.budgets):
        found.append(
            Chart(
                "slo-budget",
                "Error budget left",
                "slo",
                charts.budgets(report.budgets, report.period),
            )
        )
    for group, title in CHART_GROUPS:
        members = [f for f in report.ai if f.group == group and f.values]
        if members:
            found.append(Chart(f"ai-{group}", title, "ai", charts.actors(title, members)))
    return found


# --- Markdown ---------------------------------------------------------------------------------


def _header(report: Report) -> list[str]:
    return [
        f"# devmetrics report: {report.scope.title}",
        "",
        f"Period {report.period.describe()}; {report.projects} project"
        f"{'s' if report.projects != 1 else ''}; read from {report.source}. DORA figures over "
        f"the {report.dora_window} window and development figures over the "
        f"{report.process_window} window, at the end of the period; previous = at its start.",
    ]


def _dora_rows(report: Report) -> Iterator[list[str]]:
    for f in report.dora:
        row = [
            f.title,
            value(f.value, f.unit),
            value(f.previous, f.unit),
            change(f.value, f.previous, f.unit),
        ]
        if not report.scope.ranks:
            row.append(_tier(f.tier) if f.tier_metric else "")
        yield row


def _tier_rows(report: Report) -> Iterator[list[str]]:
    for metric, mix in report.tier_mix.items():
        if report.scope.ranks:
            cells = [str(mix.get(t, 0)) for t in sorted(TIER_NAMES, reverse=True)]
            yield [metric.replace("_", " "), *cells]
        else:
            tier = next(iter(mix), None)
            yield [metric.replace("_", " "), _tier(tier)]


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(head), "|" + "---|" * len(head), *(line(r) for r in rows)]


def markdown(report: Report) -> str:
    """The figures as Markdown: a summary fit for a pull-request comment."""
    out = _header(report)
    out += ["", f"## DORA ({report.dora_window})", ""]
    if "dora" in report.notes:
        out.append(report.notes["dora"])
    else:
        head = ["metric", "end of period", "previous period", "change"]
        out += _table(head + ([] if report.scope.ranks else ["tier"]), list(_dora_rows(report)))
        empty = [f.title for f in report.dora if not f.trend]
        if empty:
            out += ["", f"No data in the period, so no trend line: {', '.join(empty)}."]
    out += [""]
    if report.scope.ranks:
        tiers = [TIER_NAMES[t] for t in sorted(TIER_NAMES, reverse=True)]
        out += _table(["tier (projects)", *tiers], list(_tier_rows(report)))
    else:
        out += _table(["tier metric", "tier"], list(_tier_rows(report)))
    out += ["", "## SLOs", ""]
    if "slo" in report.notes:
        out.append(report.notes["slo"])
    else:
        lowest = "" if report.scope.kind == "project" else f", the {len(report.budgets)} lowest"
        out.append(f"{report.slos} SLOs, {report.overspent} overspent{lowest}:")
        out.append("")
        out += _table(
            ["project", "service", "SLO", "error budget left"],
            [[b.project, b.service, b.slo, value(b.remaining, Unit.RATIO)] for b in report.budgets],
        )
    out += [""]
    if report.alerts:
        shown = report.alerts[:ALERTS_SHOWN]
        more = len(report.alerts) - len(shown)
        out.append(
            f"Burn-rate alerts fired in the period for {len(report.alerts)} SLOs"
            + (f"; the first {len(shown)} (pages first):" if more else ":")
        )
        out.append("")
        out += _table(
            ["project", "service", "SLO", "alert tiers", "first seen", "last seen"],
            [
                [a.project, a.service, a.slo, ", ".join(a.tiers), stamp(a.first), stamp(a.last)]
                for a in shown
            ],
        )
    else:
        out.append("No burn-rate alert fired in the period.")
    out += ["", f"## AI agents and people ({report.process_window})", ""]
    if "ai" in report.notes:
        out.append(report.notes["ai"])
    else:
        out += _table(
            ["figure", *(label for _a, label in ACTORS)],
            [
                [f.title, *(value(f.values.get(actor), f.unit) for actor, _l in ACTORS)]
                for f in report.ai
            ],
        )
    if report.scope.ranks:
        out += ["", "## Best and worst projects", ""]
        out += _table(
            ["figure", "best", "worst"],
            [
                [
                    r.title,
                    ", ".join(f"{n} {value(v, r.unit)}" for n, v in r.best) or NO_DATA,
                    ", ".join(f"{n} {value(v, r.unit)}" for n, v in r.worst) or NO_DATA,
                ]
                for r in report.rankings
            ],
        )
    return "\n".join(out) + "\n"


# --- HTML ---------------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #212529;
       padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #dee2e6; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #dee2e6; padding: 0.3rem 0.6rem; text-align: left; }
th { background: #f1f3f5; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
.charts figure { margin: 0; } .charts img { max-width: 100%; }
.note { background: #fff3bf; padding: 0.6rem 0.8rem; border-radius: 4px; }
.meta { color: #495057; }
"""


def _html_table(lines: list[str]) -> str:
    """A Markdown table of `_table` as HTML (its cells are escaped here)."""
    rows = [
        [c.strip().replace("\\|", "|") for c in line.strip("|").split(" | ")]
        for line in lines
        if not line.startswith("|---")
    ]
    head, body = rows[0], rows[1:]
    th = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def _img(chart: Chart) -> str:
    data = base64.b64encode(chart.png).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(chart.title)}" data-chart="{chart.key}" '
        f'src="data:image/png;base64,{data}"></figure>'
    )


def to_html(report: Report, drawn: list[Chart]) -> str:
    """One self-contained page: the Markdown's sections as HTML, each with its charts."""
    parts: list[str] = []
    block: list[str] = []
    for line in markdown(report).splitlines():
        if line.startswith("|"):
            block.append(line)
            continue
        if block:
            parts.append(_html_table(block))
            block = []
        if line.startswith("# "):
            parts.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            title = line[3:]
            section = next((k for k, t in _SECTIONS if title.startswith(t)), None)
            parts.append(f"<h2>{html.escape(title)}</h2>")
            images = [_img(c) for c in drawn if c.section == section]
            if images:
                parts.append(f'<div class="charts">{"".join(images)}</div>')
        elif line.startswith("No ") and ("data" in line or "alert" in line):
            parts.append(f'<p class="note">{html.escape(line)}</p>')
        elif line:
            css = ' class="meta"' if line.startswith("Period ") else ""
            parts.append(f"<p{css}>{html.escape(line)}</p>")
    if block:
        parts.append(_html_table(block))
    title = html.escape(f"devmetrics report: {report.scope.title}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_STYLE}</style></head>\n<body>\n"
        + "\n".join(parts)
        + f'\n<p class="meta">Generated at {stamp(report.generated_at)} in '
        f"{report.elapsed_s:.1f} s.</p>\n</body></html>\n"
    )


# --- writing ------------------------------------------------------------------------------------


def write(report: Report, fmt: str, out: Path | None) -> list[Path]:
    """Write ``report`` in ``fmt`` (html, png, markdown) to ``out``; the paths written.
    Markdown without ``out`` goes to standard output (the caller prints it)."""
    if fmt == "markdown":
        if out is None:
            return []
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(markdown(report))
        return [out]
    drawn = draw(report)
    if fmt == "html":
        target = out or Path(f"devmetrics-report-{report.scope.slug}.html")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(to_html(report, drawn))
        return [target]
    folder = out or Path(f"devmetrics-report-{report.scope.slug}")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for chart in drawn:
        path = folder / f"{chart.key}.png"
        path.write_bytes(chart.png)
        written.append(path)
    return written
