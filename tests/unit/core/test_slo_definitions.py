"""SLO definitions as configuration (core/slo_definitions.py): precedence, validation and the
errors a bad file gets, naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.slo_definitions import (
    DEFAULT_DEFINITIONS,
    SloConfigError,
    load_slo_file,
    parse_slo_yaml,
)

pytestmark = pytest.mark.unit

CONFIG = """\
slos:
  - name: availability
    services: [checkout]
    indicator: {kind: availability}
    objective: 0.9995
    period: {calendar: month, timezone: Europe/Berlin}
    freeze_below: 0.1
  - name: latency
    projects: ["shop-*"]
    indicator: {kind: latency, threshold_s: 0.5}
    objective: 0.95
  - name: latency
    projects: [shop-eu]
    services: [search]
    indicator: {kind: latency, threshold_s: 1.0}
    objective: 0.9
    period: {rolling_days: 7}
  - name: latency
    projects: ["shop-*"]
    indicator: {kind: latency, threshold_s: 2.5}
    objective: 0.97
"""


def _summary(project: str, service: str) -> dict[str, tuple[float, float | None, str]]:
    found = parse_slo_yaml(CONFIG, "slo.yaml").effective(project, service)
    return {d.name: (d.objective, d.indicator.threshold_s, d.period.describe()) for d in found}


def test_without_configuration_every_service_has_the_two_default_slos() -> None:
    found = parse_slo_yaml("", "empty.yaml").effective("any", "api")
    assert found == list(DEFAULT_DEFINITIONS)
    assert _summary("other", "api") == {
        "availability": (0.999, None, "rolling 30d"),
        "latency": (0.99, 0.3, "rolling 30d"),
    }


def test_the_most_specific_match_wins_and_later_entries_win_among_equals() -> None:
    # checkout: its own availability (service literal beats the default's `*`); latency from
    # the `shop-*` glob, the later of the two equally specific entries (2.5 s).
    assert _summary("shop-us", "checkout") == {
        "availability": (0.9995, None, "calendar month (Europe/Berlin)"),
        "latency": (0.97, 2.5, "rolling 30d"),
    }
    # shop-eu/search: the literal project beats the glob whatever the order.
    assert _summary("shop-eu", "search")["latency"] == (0.9, 1.0, "rolling 7d")
    # A project the globs do not match keeps the defaults.
    assert _summary("blog", "search")["latency"] == (0.99, 0.3, "rolling 30d")


def test_defaults_can_be_left_out() -> None:
    text = "defaults: false\n" + CONFIG
    found = parse_slo_yaml(text, "slo.yaml").effective("blog", "api")
    assert found == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "slos:\n  - name: latency\n    indicator: {kind: latency}\n    objective: 0.9\n",
            "slo.yaml:3: slos.0.indicator: Value error, a latency indicator needs threshold_s",
        ),
        (
            "slos:\n  - name: a\n    indicator: {kind: availability}\n    objective: 1.5\n",
            "slo.yaml:4: slos.0.objective: Input should be less than 1",
        ),
        (
            "slos:\n  - name: a\n    indicator: {kind: availability}\n    objective: 0.9\n"
            "    period: {calendar: month, timezone: Mars/Olympus}\n",
            "slo.yaml:5: slos.0.period.timezone: Value error, unknown time zone 'Mars/Olympus'",
        ),
        (
            "slos:\n  - name: a\n    indicator: {kind: availability}\n    objective: 0.9\n"
            "    period: {rolling_days: 45}\n",
            "slo.yaml:5: slos.0.period.rolling_days: Input should be less than or equal to 30",
        ),
        (
            "slos:\n  - name: a\n    indicator: {kind: availability}\n    objective: 0.9\n"
            "    period: {rolling_days: 7, calendar: week}\n",
            "slo.yaml:5: slos.0.period: Value error, give exactly one of rolling_days and",
        ),
        (
            "slos:\n  - name: Bad Name\n    indicator: {kind: availability}\n    objective: 0.9\n",
            "slo.yaml:2: slos.0.name: Value error, 'Bad Name' is not an SLO name",
        ),
        (
            "slos:\n  - name: a\n    indicator: {kind: availability}\n    objective: 0.9\n"
            "    burn: fast\n",
            "slo.yaml:5: slos.0.burn: Extra inputs are not permitted",
        ),
        ("slos: [\n", "slo.yaml:2: not YAML"),
        ("- a\n", "slo.yaml:1: expected a mapping with a `slos` list"),
    ],
)
def test_a_bad_definition_names_file_line_and_field(text: str, expected: str) -> None:
    with pytest.raises(SloConfigError) as err:
        parse_slo_yaml(text, "slo.yaml")
    assert str(err.value).startswith(expected), str(err.value)


def test_a_file_round_trips_through_yaml(tmp_path: Path) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text(CONFIG)
    loaded = load_slo_file(path)
    again = parse_slo_yaml(loaded.to_yaml(), "again.yaml")
    assert again == loaded
    with pytest.raises(SloConfigError, match=r"missing\.yaml: cannot read"):
        load_slo_file(tmp_path / "missing.yaml")


def test_the_list_command_shows_each_services_effective_slos(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from devmetrics.cli import cli

    path = tmp_path / "slo.yaml"
    path.write_text(CONFIG)
    args = ["slo", "list", "--project", "shop-eu", "--service", "checkout", "--service", "search"]
    result = CliRunner().invoke(cli, [*args, "--config", str(path)])
    assert result.exit_code == 0, result.output
    lines = [line.split("  ") for line in result.output.splitlines()]
    cells = [[cell.strip() for cell in line if cell.strip()] for line in lines]
    assert cells == [
        ["service", "slo", "project", "indicator", "objective", "period", "freeze below"],
        [
            "checkout",
            "availability",
            "*",
            "availability",
            "0.9995",
            "calendar month (Europe/Berlin)",
            "0.1",
        ],
        ["checkout", "latency", "shop-*", "latency <= 2.5 s", "0.97", "rolling 30d", "0"],
        ["search", "availability", "*", "availability", "0.999", "rolling 30d", "0"],
        ["search", "latency", "shop-eu", "latency <= 1 s", "0.9", "rolling 7d", "0"],
    ]
    path.write_text("slos:\n  - name: a\n    indicator: {kind: availability}\n    objective: 2\n")
    result = CliRunner().invoke(cli, [*args, "--config", str(path)])
    assert result.exit_code == 1
    assert f"{path}:4: slos.0.objective: Input should be less than 1" in result.output
