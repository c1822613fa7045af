"""OpenSLO v1 import (devmetrics/slo/openslo.py): documents shaped like the specification's
examples import to the expected definitions; what cannot be honoured is refused with its
line and reason, and nothing is imported then."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from core.slo_definitions import Indicator, Period, SloDefinition, load_slo_file
from devmetrics.cli import cli
from devmetrics.slo.openslo import OpenSloError, import_openslo, import_openslo_files

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).parent / "openslo"


def test_the_examples_import_to_the_expected_definitions() -> None:
    made = import_openslo_files(sorted(EXAMPLES.glob("*.yaml")), project="shop-*")
    assert made == [
        SloDefinition(
            name="checkout-availability",
            projects=("shop-eu",),  # metadata.labels.project wins over the option
            services=("checkout",),
            indicator=Indicator(kind="availability"),
            objective=0.9995,
            period=Period(rolling_days=28),
        ),
        SloDefinition(
            name="api-latency",
            projects=("shop-*",),
            services=("api",),
            indicator=Indicator(kind="latency", threshold_s=1.0),
            objective=0.9,
            period=Period(calendar="week", timezone="America/New_York"),
        ),
        SloDefinition(
            name="search-availability",
            projects=("shop-*",),
            services=("search",),
            indicator=Indicator(kind="availability"),  # bad / total
            objective=0.995,  # targetPercent 99.5
            period=Period(calendar="month", timezone="Europe/Berlin"),
        ),
        SloDefinition(
            name="search-latency",
            projects=("shop-*",),
            services=("search",),
            indicator=Indicator(kind="latency", threshold_s=0.5),  # op lte, value 0.5
            objective=0.95,
            period=Period(rolling_days=7),
        ),
    ]


SLO = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: s
spec:
  service: api
  indicator:
    metadata: {{name: i}}
    spec:
      ratioMetric:
        good:
          metricSource: {{type: {source}, spec: {{query: requests_good}}}}
        total:
          metricSource: {{type: devmetrics, spec: {{query: requests_total}}}}
  timeWindow:
    - duration: {duration}
      isRolling: {rolling}
  budgetingMethod: {budgeting}
  objectives:
    - target: {target}
"""


def _slo(**changes: str) -> str:
    fields = {
        "source": "devmetrics",
        "duration": "30d",
        "rolling": "true",
        "budgeting": "Occurrences",
        "target": "0.99",
    }
    return SLO.format(**{**fields, **changes})


def test_a_minimal_slo_imports() -> None:
    (made,) = import_openslo([("a.yaml", _slo())])
    assert made.indicator == Indicator(kind="availability") and made.objective == 0.99
    assert made.period == Period(rolling_days=30) and made.projects == ("*",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            _slo(budgeting="Timeslices"),
            "a.yaml:18: budgetingMethod 'Timeslices': only Occurrences is supported",
        ),
        (
            _slo(budgeting="RatioTimeslices"),
            "a.yaml:18: budgetingMethod 'RatioTimeslices': only Occurrences is supported",
        ),
        (_slo(source="Prometheus"), "a.yaml:12: metric source type 'Prometheus': only"),
        (_slo(duration="1Q", rolling="false"), "a.yaml:16: calendar window 1Q: only 1M and 1w"),
        (_slo(duration="90d"), "a.yaml:16: rolling window 90d: whole days up to 30 only"),
        (_slo(duration="12h"), "a.yaml:16: rolling window 12h: whole days up to 30 only"),
        (_slo(target="1.5"), "a.yaml:20: the target must lie strictly between 0 and 1"),
        (
            _slo().replace("    - target: 0.99\n", "    - target: 0.99\n    - target: 0.9\n"),
            "a.yaml:21: one objective per SLO",
        ),
        (
            _slo().replace("target: 0.99", "target: 0.99\n      targetPercent: 99"),
            "a.yaml:20: give exactly one of target and targetPercent",
        ),
        (
            _slo().replace("query: requests_good", "query: errors"),
            "a.yaml:12: good must be the query requests_good or latency_bucket",
        ),
        (
            _slo().replace("  indicator:\n", "  indicatorRef: nowhere\n  unused:\n"),
            "a.yaml:7: indicatorRef 'nowhere': no SLI of that name",
        ),
        (
            _slo() + "---\napiVersion: openslo/v1\nkind: AlertPolicy\nmetadata: {name: p}\n",
            "a.yaml:23: alert policies are not imported",
        ),
        (_slo().replace("openslo/v1", "openslo/v1alpha"), "a.yaml:1: apiVersion 'openslo/v1alpha'"),
        ("kind: [", "a.yaml:1: not YAML"),
    ],
)
def test_what_cannot_be_honoured_is_refused_with_line_and_reason(text: str, expected: str) -> None:
    with pytest.raises(OpenSloError) as err:
        import_openslo([("a.yaml", text)])
    assert str(err.value).startswith(expected), str(err.value)


def test_a_threshold_slo_needs_lte_and_calendar_windows_must_start_on_a_boundary() -> None:
    text = (EXAMPLES / "referenced.yaml").read_text()
    with pytest.raises(OpenSloError) as err:
        import_openslo(
            [
                (
                    "r.yaml",
                    text.replace("op: lte", "op: lt").replace(
                        "2026-01-01 00:00:00", "2026-01-02 00:00:00"
                    ),
                )
            ]
        )
    assert str(err.value).splitlines() == [
        "r.yaml:47: startTime must be midnight on the first of a month",
        "r.yaml:73: op 'lt': only lte (latency buckets count requests at or under a bound)",
    ]


def test_the_import_command_adds_definitions_to_a_file_and_list_shows_them(
    tmp_path: Path,
) -> None:
    output = tmp_path / "slo.yaml"
    files = [str(p) for p in sorted(EXAMPLES.glob("*.yaml"))]
    runner = CliRunner()
    result = runner.invoke(
        cli, ["slo", "import", *files, "--project", "shop-*", "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert len(load_slo_file(output).slos) == 4
    result = runner.invoke(
        cli,
        ["slo", "list", "--project", "shop-eu", "--service", "search", "--config", str(output)],
    )
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines()[1:]]
    # The built-in SLOs stay; the imported ones are added under their own names.
    assert [row[1] for row in rows] == [
        "availability",
        "latency",
        "search-availability",
        "search-latency",
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text(_slo(budgeting="Timeslices"))
    result = runner.invoke(cli, ["slo", "import", str(bad), "--output", str(output)])
    assert result.exit_code == 1
    assert f"{bad}:18: budgetingMethod 'Timeslices'" in result.output
    assert len(load_slo_file(output).slos) == 4  # nothing written
