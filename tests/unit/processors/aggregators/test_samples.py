from fractions import Fraction

import pytest

from processors.aggregators.samples import in_window, nearest_rank

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([7.0], Fraction(1, 2), 7.0),
        ([7.0], Fraction(9, 10), 7.0),
        ([1.0, 2.0, 3.0], Fraction(1, 2), 2.0),  # rank ceil(1.5) = 2
        ([1.0, 2.0], Fraction(1, 2), 1.0),  # rank ceil(1.0) = 1
        ([float(i) for i in range(1, 11)], Fraction(9, 10), 9.0),
        ([float(i) for i in range(1, 12)], Fraction(9, 10), 10.0),  # ceil(9.9) = 10
        # 0.9 * 70 is 63.00000000000001 in floats: the rank must still be 63.
        ([float(i) for i in range(1, 71)], Fraction(9, 10), 63.0),
    ],
)
def test_nearest_rank(values: list[float], p: Fraction, expected: float) -> None:
    assert nearest_rank(values, p) == expected


def test_nearest_rank_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        nearest_rank([], Fraction(1, 2))


@pytest.mark.parametrize(
    ("t", "inside"), [(1000 - 100, False), (1000 - 99, True), (1000, True), (1001, False)]
)
def test_window_is_open_at_start_closed_at_end(t: int, inside: bool) -> None:
    assert in_window(t, as_of=1000, window_ms=100) is inside
