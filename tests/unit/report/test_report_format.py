"""How the report prints one figure (`render.value`) and its change (`render.change`)."""

from __future__ import annotations

import pytest

from devmetrics.report.model import Unit
from devmetrics.report.render import NO_DATA, change, value

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("v", "unit", "expected"),
    [
        # Counts: whole numbers without decimals, anything else with two.
        (42.0, Unit.COUNT, "42"),
        (0.0, Unit.COUNT, "0"),
        (-3.0, Unit.COUNT, "-3"),
        (1234567.0, Unit.COUNT, "1234567"),
        (2.5, Unit.COUNT, "2.50"),
        (0.125, Unit.COUNT, "0.12"),
        # Numbers are means or quotients: always two decimals, even when whole.
        (3.0, Unit.NUMBER, "3.00"),
        (2.345, Unit.NUMBER, "2.35"),
        (0.0, Unit.NUMBER, "0.00"),
        # Ratios as percentages with two decimals.
        (0.1234, Unit.RATIO, "12.34%"),
        (1.0, Unit.RATIO, "100.00%"),
        (0.0, Unit.RATIO, "0.00%"),
        (-0.05, Unit.RATIO, "-5.00%"),
        # Dollars with thousands separators.
        (1234.5, Unit.USD, "$1,234.50"),
        (0.5, Unit.USD, "$0.50"),
        (1234567.891, Unit.USD, "$1,234,567.89"),
        # Per week: two decimals.
        (3.0, Unit.PER_WEEK, "3.00"),
        (4.25, Unit.PER_WEEK, "4.25"),
    ],
)
def test_value(v: float, unit: Unit, expected: str) -> None:
    assert value(v, unit) == expected


@pytest.mark.parametrize(
    ("v", "expected"),
    [
        (0.0, "0.00 s"),
        (59.5, "59.50 s"),
        (119.0, "119.00 s"),  # under 2 minutes stays in seconds
        (120.0, "2.00 min"),  # 2 x 60
        (150.0, "2.50 min"),
        (7199.0, "119.98 min"),  # under 2 hours stays in minutes
        (7200.0, "2.00 h"),  # 2 x 3600
        (9000.0, "2.50 h"),
        (172799.0, "48.00 h"),  # 47.9997 h: under 2 days stays in hours
        (172800.0, "2.00 d"),  # 2 x 86400
        (1209600.0, "14.00 d"),
        (-7200.0, "-2.00 h"),  # the threshold is on the magnitude
    ],
)
def test_seconds_choose_the_largest_unit_at_twice_its_size(v: float, expected: str) -> None:
    assert value(v, Unit.SECONDS) == expected


@pytest.mark.parametrize("unit", list(Unit))
def test_a_figure_without_data_prints_no_data(unit: Unit) -> None:
    assert value(None, unit) == NO_DATA == "no data"


@pytest.mark.parametrize(
    ("now", "before", "unit", "expected"),
    [
        # Ratios change in percentage points.
        (0.125, 0.1, Unit.RATIO, "+2.50 pt"),
        (0.1, 0.125, Unit.RATIO, "-2.50 pt"),
        (0.5, 0.5, Unit.RATIO, "+0.00 pt"),
        (0.2, 0.0, Unit.RATIO, "+20.00 pt"),  # points, so a ratio from 0 is not "new"
        # Everything else relatively, one decimal.
        (42.0, 40.0, Unit.COUNT, "+5.0%"),
        (30.0, 40.0, Unit.COUNT, "-25.0%"),
        (40.0, 40.0, Unit.COUNT, "+0.0%"),
        (3.5, 3.0, Unit.PER_WEEK, "+16.7%"),
        (7200.0, 9000.0, Unit.SECONDS, "-20.0%"),
        (1.5, 1.0, Unit.USD, "+50.0%"),
        (-1.0, -2.0, Unit.NUMBER, "+50.0%"),  # relative to |before|
        # From zero: new when there is something now, n/a when still nothing.
        (5.0, 0.0, Unit.COUNT, "new"),
        (0.0, 0.0, Unit.COUNT, "n/a"),
        (0.0, 0.0, Unit.SECONDS, "n/a"),
        # A side without data.
        (None, 40.0, Unit.COUNT, "n/a"),
        (42.0, None, Unit.COUNT, "n/a"),
        (None, None, Unit.RATIO, "n/a"),
        (0.1, None, Unit.RATIO, "n/a"),
    ],
)
def test_change(now: float | None, before: float | None, unit: Unit, expected: str) -> None:
    assert change(now, before, unit) == expected


@pytest.mark.parametrize("unit", list(Unit))
def test_nan_and_infinities_print_as_prometheus_writes_them(unit: Unit) -> None:
    assert value(float("nan"), unit) == "NaN"
    assert value(float("inf"), unit) == "+Inf"
    assert value(float("-inf"), unit) == "-Inf"


def test_a_negative_amount_of_dollars_puts_the_sign_first() -> None:
    assert value(-5.0, Unit.USD) == "-$5.00"
