"""The report's rules on its input: durations, scopes, periods."""

from __future__ import annotations

import pytest

from core.errors import UserError
from devmetrics.report.model import FiredAlert, Period, Scope, parse_duration, stamp

pytestmark = pytest.mark.unit

START = 1_767_225_600.0  # 2026-01-01 00:00 UTC
DAY = 86400.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30d", 2_592_000),
        ("12h", 43_200),
        ("2w", 1_209_600),
        ("1h", 3_600),
        ("1d", 86_400),
        ("400d", 34_560_000),
        (" 7d ", 604_800),  # surrounding blanks are ignored
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["0d", "0h", "30", "d", "1y", "", "30D", "-1d", "1.5d", "30 d", "30dd", "1m"]
)
def test_parse_duration_refuses_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_duration(text)
    assert str(caught.value) == f"period {text!r} is not a duration such as 30d, 12h or 2w"


# --- Scope ------------------------------------------------------------------------------------


def test_scope_kind_must_be_fleet_team_or_project() -> None:
    with pytest.raises(UserError) as caught:
        Scope("galaxy", "x")
    assert str(caught.value) == "scope 'galaxy' is not fleet, team or project"


@pytest.mark.parametrize("kind", ["team", "project"])
def test_scope_team_and_project_need_a_name(kind: str) -> None:
    with pytest.raises(UserError) as caught:
        Scope(kind)
    assert str(caught.value) == f"{kind} name None is not a valid name"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "-proj",  # must start with a letter or digit
        ".proj",
        "proj 1",
        'proj"1',
        "proj{1}",
        "proj|1",
        "proj\\1",
        "a" * 201,  # at most 200 characters
        "proj\n1",
    ],
)
def test_scope_refuses_a_bad_name(name: str) -> None:
    with pytest.raises(UserError) as caught:
        Scope("project", name)
    assert str(caught.value) == f"project name {name!r} is not a valid name"


@pytest.mark.parametrize("name", ["proj-0001", "a", "a" * 200, "org/repo:main", "Team_A.x"])
def test_scope_accepts_a_good_name(name: str) -> None:
    assert Scope("team", name).name == name


def test_scope_refuses_a_name_with_a_trailing_newline() -> None:
    with pytest.raises(UserError):
        Scope("project", "proj-0001\n")


@pytest.mark.parametrize(
    ("scope", "title", "slug", "ranks"),
    [
        (Scope("fleet"), "the fleet", "fleet", True),
        (Scope("fleet", "ignored"), "the fleet", "fleet", True),
        (Scope("team", "team-a"), "team team-a", "team-team-a", True),
        (Scope("project", "proj-0001"), "project proj-0001", "project-proj-0001", False),
        (
            Scope("project", "org/repo:main"),
            "project org/repo:main",
            "project-org_repo_main",
            False,
        ),
        (Scope("project", "a.b_c"), "project a.b_c", "project-a.b_c", False),
    ],
)
def test_scope_title_slug_and_ranks(scope: Scope, title: str, slug: str, ranks: bool) -> None:
    assert (scope.title, scope.slug, scope.ranks) == (title, slug, ranks)


# --- Period -----------------------------------------------------------------------------------


def test_period_seconds_and_previous() -> None:
    period = Period(START, START + 30 * DAY)
    assert period.seconds == 2_592_000.0
    assert period.previous == Period(START - 30 * DAY, START)
    assert period.previous.previous == Period(START - 60 * DAY, START - 30 * DAY)


@pytest.mark.parametrize(
    ("seconds", "step"),
    [
        (30 * DAY, 10800.0),  # 2592000 / 240 = 10800 s, 180 whole minutes
        (7 * DAY, 2520.0),  # 604800 / 240 = 2520 s, 42 minutes
        (DAY, 360.0),  # 86400 / 240 = 360 s, 6 minutes
        (12 * 3600.0, 180.0),  # 43200 / 240 = 180 s
        (3600.0, 60.0),  # 15 s would be too fine: one minute at least
        (60.0, 60.0),
    ],
)
def test_period_step(seconds: float, step: float) -> None:
    assert Period(START, START + seconds).step_s == step


@pytest.mark.parametrize(
    ("seconds", "length"),
    [
        (30 * DAY, "(30 days)"),
        (DAY, "(1 day)"),
        (1.5 * DAY, "(1.5 days)"),
        (3600.0, "(1 hour)"),
        (12 * 3600.0, "(12 hours)"),
        (1800.0, "(0.5 hours)"),
    ],
)
def test_period_describe(seconds: float, length: str) -> None:
    end = stamp(START + seconds)
    assert Period(START, START + seconds).describe() == f"2026-01-01 00:00 UTC to {end} {length}"


def test_period_describe_whole_text() -> None:
    period = Period(START, START + 30 * DAY)
    assert period.describe() == "2026-01-01 00:00 UTC to 2026-01-31 00:00 UTC (30 days)"
    assert Period(START, START + 12 * 3600).describe() == (
        "2026-01-01 00:00 UTC to 2026-01-01 12:00 UTC (12 hours)"
    )


@pytest.mark.parametrize(
    ("ts", "text"),
    [
        (0.0, "1970-01-01 00:00 UTC"),
        (START, "2026-01-01 00:00 UTC"),
        (START + 9 * 3600 + 59, "2026-01-01 09:00 UTC"),  # minutes, seconds cut
        (START + 9 * 3600 + 60, "2026-01-01 09:01 UTC"),
    ],
)
def test_stamp(ts: float, text: str) -> None:
    assert stamp(ts) == text


@pytest.mark.parametrize(
    ("tiers", "pages"),
    [
        (("page-fast",), True),
        (("page-slow", "ticket-slow"), True),
        (("ticket-fast", "ticket-slow"), False),
        ((), False),
    ],
)
def test_fired_alert_pages(tiers: tuple[str, ...], pages: bool) -> None:
    assert FiredAlert("p", "s", "o", tiers, START, START).pages is pages
