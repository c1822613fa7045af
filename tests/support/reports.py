"""Reading `devmetrics report` back: running it, its Markdown tables, its printed figures.

A printed figure is read back with the half-unit of its last printed digit, so a test can
say that it equals an expected value at the precision printed (`Printed.matches`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass

_SECONDS = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_FIGURE = re.compile(
    r"^(?P<usd>\$)?(?P<num>-?[\d,]+(?:\.(?P<dec>\d+))?)(?P<suffix>%| s| min| h| d)?$"
)


def run_report(
    args: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`devmetrics report ARGS` as a user runs it, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "devmetrics", "report", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@dataclass(frozen=True, slots=True)
class Printed:
    """A figure as printed: its value, and how far the exact value may be from it."""

    value: float | None
    tolerance: float
    text: str

    def matches(self, expected: float | None) -> bool:
        if self.value is None or expected is None:
            return self.value is None and expected is None
        return abs(self.value - expected) <= self.tolerance * (1 + 1e-9) + 1e-12


def printed(text: str) -> Printed:
    """Read one printed figure: ``42``, ``0.15``, ``12.34%``, ``$1,234.50``, ``3.21 h``,
    ``no data``."""
    text = text.strip()
    if text == "no data":
        return Printed(None, 0.0, text)
    match = _FIGURE.match(text)
    if match is None:
        raise ValueError(f"not a printed figure: {text!r}")
    number = float(match.group("num").replace(",", ""))
    decimals = len(match.group("dec") or "")
    half = 0.5 * 10.0**-decimals if decimals else 0.0
    suffix = (match.group("suffix") or "").strip()
    if suffix == "%":
        return Printed(number / 100, half / 100, text)
    scale = _SECONDS.get(suffix, 1.0)
    return Printed(number * scale, half * scale, text)


def tables(markdown: str) -> list[list[list[str]]]:
    """Every Markdown table of the report, each a list of rows (the header row first)."""
    found: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in markdown.splitlines():
        if line.startswith("|"):
            if not line.startswith("|---"):
                cells = re.split(r"(?<!\\) \| ", line.strip()[2:-2])
                current.append([c.replace("\\|", "|") for c in cells])
            continue
        if current:
            found.append(current)
            current = []
    if current:
        found.append(current)
    return found


def table(markdown: str, first_header: str) -> dict[str, list[str]]:
    """The table whose first header cell is ``first_header``, as row name -> other cells."""
    for found in tables(markdown):
        if found[0][0] == first_header:
            return {row[0]: row[1:] for row in found[1:]}
    raise AssertionError(f"no table headed {first_header!r} in:\n{markdown}")


def rows(markdown: str, header: list[str]) -> list[list[str]]:
    """The rows of the table whose header is ``header`` (the header left out)."""
    for found in tables(markdown):
        if found[0] == header:
            return found[1:]
    raise AssertionError(f"no table headed {header} in:\n{markdown}")
