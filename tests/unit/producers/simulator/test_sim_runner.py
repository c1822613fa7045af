"""The runner (backfill and live with a fake clock), progress output and the CLI."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from core.settings import Settings
from producers.simulator.cli import simulate
from producers.simulator.runner import LiveOptions, Progress, RunPlan, backfill, live, live_truth
from producers.simulator.scenarios import ScenarioSpan
from producers.simulator.truth import TruthFile

pytestmark = pytest.mark.unit

T = 1_767_225_600_000  # 2026-01-01T00:00:00Z


class ListSink:
    def __init__(self) -> None:
        self.events: list[tuple[str, Mapping[str, Any]]] = []

    def publish(self, family: str, event: Mapping[str, Any]) -> None:
        self.events.append((family, event))

    def poll(self, timeout_s: float = 0.0) -> int:
        return 0


class FakeClock:
    """Starts at `now`; sleeping moves time forward by exactly the time slept."""

    def __init__(self, now: int) -> None:
        self.now = now
        self.slept = 0.0

    def now_ms(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += max(1, int(seconds * 1000))


def plan(**kw: Any) -> RunPlan:
    base: dict[str, Any] = dict(
        seed=4, n_projects=3, end_ms=T, days=1, sli_interval_s=300, scenarios={}
    )
    base.update(kw)
    return RunPlan(**base)


def test_backfill_sends_every_event_and_records_truth() -> None:
    sink = ListSink()
    truth = TruthFile(as_of=T, seed=4, days=1, sli_interval_s=300, projects={})
    result = backfill(plan(), sink, truth)
    assert result.total == len(sink.events)
    assert result.generated == Counter(f for f, _ in sink.events)
    assert sorted(truth.projects) == ["proj-0001", "proj-0002", "proj-0003"]
    assert sum(p["events"] for p in truth.projects.values()) == len(sink.events)


def test_live_publishes_in_time_order_and_never_early() -> None:
    clock = FakeClock(T + 123)  # starts mid-second: the run starts at T
    sink = ListSink()
    published_at: list[tuple[int, int]] = []

    class Watch(ListSink):
        def publish(self, family: str, event: Mapping[str, Any]) -> None:
            published_at.append((event["occurred_at"], clock.now))
            super().publish(family, event)

    sink = Watch()
    p = plan(sli_interval_s=10, activity=50.0)
    result, kept = live(
        p, sink, clock, LiveOptions(duration_s=120, block_s=60), keep_for_truth=True
    )
    assert result.as_of == T + 120_000
    times = [t for t, _ in published_at]
    assert times == sorted(times)
    assert all(t <= now for t, now in published_at)
    assert all(T < t <= T + 120_000 for t in times)
    # 12 SLI samples per service in 120 s at 10 s intervals.
    sli = [e for f, e in sink.events if f == "sli"]
    services = {(e["project_id"], e["service"]) for e in sli}
    assert len(sli) == 12 * len(services)
    truth = live_truth(p, result.as_of, kept, days=0)
    assert sum(v["events"] for v in truth.projects.values()) == len(sink.events)


def test_live_scenarios_apply_from_the_run_start() -> None:
    clock = FakeClock(T)
    sink = ListSink()
    spans = {"proj-0001": [ScenarioSpan("project_silent", T, T + 60_000)]}
    live(
        plan(sli_interval_s=10, scenarios=spans),
        sink,
        clock,
        LiveOptions(duration_s=120, block_s=60),
        keep_for_truth=False,
    )
    mine = [e["occurred_at"] for _, e in sink.events if e["project_id"] == "proj-0001"]
    assert mine and min(mine) > T + 60_000


def test_progress_plain_lines_when_not_a_terminal() -> None:
    ticks = iter([0.0, 2.0, 6.0, 6.0, 10.0])
    out = io.StringIO()
    progress = Progress(out, total_projects=10, every_s=5.0, monotonic=lambda: next(ticks))
    progress.update(events=1000, projects=1)  # t=2: too soon
    progress.update(events=2000, projects=1)  # t=6: a line
    progress.close()  # t=10
    assert out.getvalue().splitlines() == [
        "projects 2/10  events 3,000  500 events/s",
        "projects 2/10  events 3,000  300 events/s",
    ]


def test_cli_no_kafka_writes_truth(tmp_path: Path) -> None:
    path = tmp_path / "truth.json"
    result = CliRunner().invoke(
        simulate,
        [
            "--projects",
            "3",
            "--days",
            "1",
            "--seed",
            "2",
            "--end",
            "2026-01-01T00:00:30Z",
            "--no-kafka",
            "--truth",
            str(path),
            "--scenario",
            "error_spike:proj-0002:-1h..now",
        ],
        obj=Settings(),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(path.read_text())
    assert data["as_of"] == T  # floored to the minute
    assert data["seed"] == 2 and data["days"] == 1 and data["sli_interval_s"] == 300
    assert {"name": "error_spike", "start": T - 3_600_000, "end": T} in data["projects"][
        "proj-0002"
    ]["scenarios"]
    assert "generated" in result.output


def test_cli_truth_honours_the_slo_definitions_given(tmp_path: Path) -> None:
    slo_file = tmp_path / "slo.yaml"
    slo_file.write_text(
        "defaults: false\nslos:\n"
        "  - {name: fast, indicator: {kind: latency, threshold_s: 0.1}, objective: 0.9,\n"
        "     period: {calendar: week, timezone: Europe/Paris}, freeze_below: 0.2}\n"
    )
    path = tmp_path / "truth.json"
    args = ["--projects", "2", "--days", "1", "--end", "2026-01-01T00:00:30Z", "--no-kafka"]
    result = CliRunner().invoke(
        simulate, [*args, "--truth", str(path), "--slo-file", str(slo_file)], obj=Settings()
    )
    assert result.exit_code == 0, result.output
    data = json.loads(path.read_text())
    assert [d["name"] for d in data["slo_definitions"]["slos"]] == ["fast"]
    slos = {
        m["labels"]["slo"]
        for project in data["projects"].values()
        for m in project["metrics"]
        if m["name"].startswith("devmetrics_slo_")
    }
    assert slos == {"fast"}
    # A Monday-started week in Paris: the period began 29 December 2025, 00:00 CET.
    starts = {
        m["value"]
        for project in data["projects"].values()
        for m in project["metrics"]
        if m["name"] == "devmetrics_slo_period_start_timestamp_seconds"
    }
    assert starts == {1766962800.0}

    slo_file.write_text("slos:\n  - {name: fast, objective: 0.9}\n")
    result = CliRunner().invoke(
        simulate, [*args, "--truth", str(path), "--slo-file", str(slo_file)], obj=Settings()
    )
    assert result.exit_code == 1
    assert "slo.yaml:2: slos.0.indicator: Field required" in result.output


def test_cli_dry_run_lists_default_scenarios() -> None:
    result = CliRunner().invoke(
        simulate,
        ["--projects", "30", "--days", "2", "--dry-run", "--end", "2026-01-01T00:00Z"],
        obj=Settings(),
    )
    assert result.exit_code == 0, result.output
    assert "simulate 30 projects" in result.output
    for name in ("error_spike", "project_silent", "agent_failure_loop"):
        assert name in result.output


def test_cli_bad_scenario_is_a_usage_error() -> None:
    result = CliRunner().invoke(
        simulate, ["--scenario", "bogus:proj-0001", "--dry-run"], obj=Settings()
    )
    assert result.exit_code == 2
    assert "unknown scenario 'bogus'" in result.output
