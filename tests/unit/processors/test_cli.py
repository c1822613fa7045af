"""`devmetrics process` refuses to start on unusable SLO definitions, naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from core.settings import Settings
from processors.cli import process

pytestmark = pytest.mark.unit


def test_an_unusable_slo_file_stops_start_up_with_file_line_and_field(tmp_path: Path) -> None:
    slo_file = tmp_path / "slo.yaml"
    slo_file.write_text(
        "slos:\n  - name: latency\n    indicator: {kind: latency}\n    objective: 0.99\n"
    )
    result = CliRunner().invoke(
        process,
        ["--slo-file", str(slo_file), "--data-dir", str(tmp_path / "data")],
        obj=Settings(),
    )
    assert result.exit_code == 1
    assert "SLO definitions unusable" in result.output
    assert "slo.yaml:3: slos.0.indicator: Value error, a latency indicator needs threshold_s" in (
        result.output
    )
    assert not (tmp_path / "data").exists()  # nothing was started


def test_a_missing_slo_file_is_named(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        process, ["--slo-file", str(tmp_path / "none.yaml")], obj=Settings()
    )
    assert result.exit_code == 1
    assert f"{tmp_path / 'none.yaml'}: cannot read" in result.output
