"""`--at` of `devmetrics report`: Unix seconds or an ISO 8601 time with its offset."""

from __future__ import annotations

import pytest

from core.errors import UserError
from devmetrics.report import cli
from devmetrics.report.cli import parse_time

pytestmark = pytest.mark.unit

START = 1_767_225_600.0  # 2026-01-01 00:00 UTC


@pytest.mark.parametrize(
    ("text", "ts"),
    [
        ("1767225600", START),
        ("1767225600.5", START + 0.5),
        ("0", 0.0),
        ("2026-01-01T00:00:00Z", START),
        ("2026-01-01T00:00:00+00:00", START),
        ("2026-01-01 00:00:00+00:00", START),
        ("2026-01-01T01:00:00+01:00", START),
        ("2025-12-31T19:00:00-05:00", START),
        ("2026-01-01T09:30:15Z", START + 9 * 3600 + 30 * 60 + 15),
    ],
)
def test_parse_time(text: str, ts: float) -> None:
    assert parse_time(text) == ts


@pytest.mark.parametrize("text", ["2026-01-01T00:00:00", "2026-01-01", "2026-01-01 12:00"])
def test_parse_time_needs_an_offset(text: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_time(text)
    assert str(caught.value) == f"--at {text!r} has no UTC offset (add Z or +00:00)"


@pytest.mark.parametrize("text", ["yesterday", "", "2026-13-01T00:00:00Z", "12:00 UTC", "1d"])
def test_parse_time_refuses_garbage(text: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_time(text)
    assert str(caught.value) == f"--at {text!r} is neither Unix seconds nor an ISO 8601 time"


def test_parse_time_defaults_to_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.time, "time", lambda: 1234.5)
    assert parse_time(None) == 1234.5


@pytest.mark.parametrize("text", ["nan", "inf", "-inf"])
def test_parse_time_refuses_nan_and_infinity(text: str) -> None:
    with pytest.raises(UserError):
        parse_time(text)
