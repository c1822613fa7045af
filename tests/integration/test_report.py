"""`devmetrics report` against a real VictoriaMetrics holding hand-written series.

Three projects in two teams are written into the store (an hour of samples, every 5
minutes) with figures chosen by hand; the report's printed figures must equal what the
definitions give for them, computed here in Python from the same numbers (sums, weighted
ratios, medians), not by PromQL. A project without SLO series says so instead of drawing
an empty chart; an unreachable store and a refused login end with exit code 2 and the
endpoint named.
"""

from __future__ import annotations

import statistics
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from support.reports import printed, rows, run_report, table

from devmetrics.stack.process import free_port

pytestmark = pytest.mark.integration

PERIOD_S = 3600
STEP_S = 300
AI, HUMAN = "ai_agent", "human"

# Per project: team, DORA figures (30d window) now and an hour ago, tiers, SLO budgets.
PROJECTS: dict[str, dict[str, Any]] = {
    "proj-a": {
        "team": "alpha",
        "now": {"deploys": 40, "days": 7.0, "lead": 3600, "cfr": 0.1, "rec": 1800, "rework": 0.05},
        "before": {
            "deploys": 20,
            "days": 7.0,
            "lead": 7200,
            "cfr": 0.2,
            "rec": 1800,
            "rework": 0.05,
        },
        "tiers": {
            "deployment_frequency": 4,
            "lead_time": 4,
            "change_failure_rate": 3,
            "recovery_time": 4,
            "overall": 3,
        },
        "budgets": {("api", "availability"): (0.9, 0.5), ("api", "latency"): (1.0, 1.0)},
    },
    "proj-b": {
        "team": "alpha",
        "now": {"deploys": 10, "days": 3.5, "lead": 7200, "cfr": 0.3, "rec": 3600, "rework": 0.2},
        "before": {
            "deploys": 10,
            "days": 3.5,
            "lead": 7200,
            "cfr": 0.3,
            "rec": 3600,
            "rework": 0.2,
        },
        "tiers": {
            "deployment_frequency": 3,
            "lead_time": 3,
            "change_failure_rate": 1,
            "recovery_time": 3,
            "overall": 2,
        },
        "budgets": {},
    },
    "proj-c": {
        "team": "beta",
        "now": {"deploys": 5, "days": 1.0, "lead": 86400, "cfr": 0.0, "rec": 600, "rework": 0.0},
        "before": {"deploys": 6, "days": 1.0, "lead": 86400, "cfr": 0.0, "rec": 600, "rework": 0.0},
        "tiers": {
            "deployment_frequency": 2,
            "lead_time": 2,
            "change_failure_rate": 4,
            "recovery_time": 4,
            "overall": 3,
        },
        "budgets": {("web", "availability"): (0.1, -0.2)},
    },
}
# Development figures (7d window) per project and actor.
PROCESS: dict[str, dict[str, dict[str, float]]] = {
    "proj-a": {
        AI: {
            "completed": 10,
            "failed": 2,
            "cost": 6.0,
            "cycle": 1800,
            "reviews": 4,
            "approval": 0.5,
            "findings": 8,
            "runs": 3,
            "pass": 0.9,
            "duration": 100,
            "rfcs": 1,
            "decided": 1,
            "accept": 1.0,
            "decision": 3600,
        },
        HUMAN: {
            "completed": 5,
            "failed": 1,
            "cost": 0.0,
            "cycle": 7200,
            "reviews": 4,
            "approval": 1.0,
            "findings": 2,
            "runs": 1,
            "pass": 1.0,
            "duration": 200,
            "rfcs": 2,
            "decided": 2,
            "accept": 0.5,
            "decision": 7200,
        },
    },
    "proj-b": {
        AI: {
            "completed": 2,
            "failed": 2,
            "cost": 3.0,
            "cycle": 900,
            "reviews": 2,
            "approval": 1.0,
            "findings": 1,
            "runs": 5,
            "pass": 0.8,
            "duration": 50,
            "rfcs": 0,
            "decided": 0,
            "accept": 0.0,
            "decision": 0,
        },
        HUMAN: {
            "completed": 3,
            "failed": 1,
            "cost": 0.0,
            "cycle": 3600,
            "reviews": 6,
            "approval": 0.5,
            "findings": 3,
            "runs": 2,
            "pass": 0.95,
            "duration": 400,
            "rfcs": 1,
            "decided": 1,
            "accept": 1.0,
            "decision": 1800,
        },
    },
}  # proj-c reports no development events
SLO_HEADER = ["project", "service", "SLO", "error budget left"]
ALERT = {"project": "proj-a", "service": "api", "slo": "availability", "tier": "page-fast"}


def _series(t: float, ago: float) -> list[str]:
    """The exposition lines of every series at time ``t``, ``ago`` seconds before the end."""
    lines: list[str] = []
    ms = int(t * 1000)

    def add(name: str, value: float, **labels: str) -> None:
        text = ",".join(f'{k}="{v}"' for k, v in labels.items())
        lines.append(f"{name}{{{text}}} {value} {ms}")

    for pid, p in PROJECTS.items():
        d = p["before"] if ago >= PERIOD_S else p["now"]
        add("devmetrics_project_info", 1, project=pid, team=p["team"])
        add("devmetrics_dora_deployments", d["deploys"], project=pid, window="30d")
        add("devmetrics_dora_deploy_day_per_week", d["days"], project=pid, window="30d")
        add(
            "devmetrics_dora_lead_time_seconds",
            d["lead"],
            project=pid,
            window="30d",
            quantile="0.5",
        )
        add("devmetrics_dora_change_failure_ratio", d["cfr"], project=pid, window="30d")
        add(
            "devmetrics_dora_recovery_time_seconds",
            d["rec"],
            project=pid,
            window="30d",
            quantile="0.5",
        )
        add("devmetrics_dora_rework_ratio", d["rework"], project=pid, window="30d")
        for metric, tier in p["tiers"].items():
            add("devmetrics_dora_tier", tier, project=pid, metric=metric)
        for (service, slo), (before, now) in p["budgets"].items():
            budget = before + (now - before) * (1 - ago / PERIOD_S)
            add(
                "devmetrics_slo_error_budget_remaining_ratio",
                budget,
                project=pid,
                service=service,
                slo=slo,
            )
    for pid, actors in PROCESS.items():
        for actor, f in actors.items():
            labels = {"project": pid, "actor": actor, "window": "7d"}
            add("devmetrics_task_completed", f["completed"], **labels)
            add("devmetrics_task_failed", f["failed"], **labels)
            add("devmetrics_task_cost_usd", f["cost"], **labels)
            add("devmetrics_task_cycle_time_seconds", f["cycle"], **labels, quantile="0.5")
            add("devmetrics_review_completed", f["reviews"], **labels)
            add("devmetrics_review_approval_ratio", f["approval"], **labels)
            add("devmetrics_review_findings", f["findings"], **labels)
            add("devmetrics_review_latency_seconds", 60, **labels, quantile="0.5")
            add("devmetrics_test_runs", f["runs"], **labels)
            add("devmetrics_test_pass_ratio", f["pass"], **labels)
            add("devmetrics_test_duration_seconds", f["duration"], **labels, quantile="0.5")
            add("devmetrics_rfc_submitted", f["rfcs"], **labels)
            if f["decided"]:
                add("devmetrics_rfc_decided", f["decided"], **labels)
                add("devmetrics_rfc_acceptance_ratio", f["accept"], **labels)
                add(
                    "devmetrics_rfc_time_to_decision_seconds",
                    f["decision"],
                    **labels,
                    quantile="0.5",
                )
    if 1500 <= ago <= 1800:  # the burn alert fired for five minutes, half an hour ago
        add(
            "ALERTS",
            1,
            alertname="DevmetricsSLOErrorBudgetBurn",
            alertstate="firing",
            severity="page",
            **ALERT,
        )
    return lines


@pytest.fixture(scope="module")
def store(private_monitoring_stack: Any) -> Iterator[tuple[str, float]]:
    """VictoriaMetrics with the series written, and the end of the reported hour."""
    url = private_monitoring_stack.victoriametrics_url
    end = float(int(time.time() // 60) * 60 - 120)
    lines = [line for ago in range(PERIOD_S, -1, -STEP_S) for line in _series(end - ago, ago)]
    request = urllib.request.Request(
        f"{url}/api/v1/import/prometheus", data="\n".join(lines).encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=30).close()
    urllib.request.urlopen(f"{url}/internal/force_flush", timeout=30).close()
    time.sleep(2)
    yield url, end


def _report(store: tuple[str, float], *args: str) -> str:
    url, end = store
    common = ["--url", url, "--at", f"{end:.0f}", "--period", "1h", "--dora-window", "30d"]
    done = run_report([*common, "--process-window", "7d", "--format", "markdown", *args])
    assert done.returncode == 0, done.stderr
    return done.stdout


def _dora(pids: list[str], when: str) -> dict[str, float | None]:
    """The report's DORA figures over ``pids``, from the definitions of docs/dashboards.md:
    sums, means and medians over the projects, ratios weighted by deployments."""
    d = [PROJECTS[p][when] for p in pids]
    deploys = sum(x["deploys"] for x in d)
    return {
        "Deployments": deploys,
        "Deploy days per week": statistics.mean(x["days"] for x in d),
        "Lead time p50": statistics.median(x["lead"] for x in d),
        "Change failure rate": sum(x["cfr"] * x["deploys"] for x in d) / deploys,
        "Recovery time p50": statistics.median(x["rec"] for x in d),
        "Rework rate": sum(x["rework"] * x["deploys"] for x in d) / deploys,
    }


def _process(pids: list[str], actor: str) -> dict[str, float | None]:
    f = [PROCESS[p][actor] for p in pids if p in PROCESS]
    total = {k: sum(x[k] for x in f) for k in f[0]}
    decided = [x for x in f if x["decided"]]
    return {
        "Tasks completed": total["completed"],
        "Task attempts failed": total["failed"],
        "Reviews completed": total["reviews"],
        "Test runs": total["runs"],
        "RFCs submitted": total["rfcs"],
        "Task success rate": total["completed"] / (total["completed"] + total["failed"]),
        "Review approval rate": sum(x["approval"] * x["reviews"] for x in f) / total["reviews"],
        "Test pass rate (mean project)": statistics.mean(x["pass"] for x in f),
        "RFC acceptance rate": (
            sum(x["accept"] * x["decided"] for x in decided) / total["decided"] if decided else None
        ),
        "Task cycle time p50 (median project)": statistics.median(x["cycle"] for x in f),
        "Review latency p50 (median project)": 60,
        "Test duration p50 (median project)": statistics.median(x["duration"] for x in f),
        "RFC time to decision p50 (median project)": (
            statistics.median(x["decision"] for x in decided) if decided else None
        ),
        "Review findings per review": total["findings"] / total["reviews"],
        "Task cost": total["cost"],
        "Cost per completed task": total["cost"] / total["completed"],
    }


def _same(got: str, expected: float | None, what: str) -> None:
    assert printed(got).matches(expected), f"{what}: printed {got!r}, expected {expected!r}"


def test_team_report_prints_the_figures_of_its_projects(store: tuple[str, float]) -> None:
    md = _report(store, "--team", "alpha")
    assert "# devmetrics report: team alpha" in md
    assert "; 2 projects; read from VictoriaMetrics" in md
    dora = table(md, "metric")
    now, before = _dora(["proj-a", "proj-b"], "now"), _dora(["proj-a", "proj-b"], "before")
    # By hand: 40 + 10 deployments; (40 x 0.1 + 10 x 0.3) / 50 = 14 %; median(1 h, 2 h) = 90 min.
    assert dora["Deployments"][:3] == ["50", "30", "+66.7%"]
    assert dora["Change failure rate (weighted by deployments)"][0] == "14.00%"
    assert dora["Lead time p50 (median project)"][0] == "90.00 min"
    for name, cells in dora.items():
        key = name.split(" (")[0]
        _same(cells[0], now[key], f"{name} at the end")
        _same(cells[1], before[key], f"{name} at the start")
    tiers = table(md, "tier (projects)")
    assert tiers["overall"] == ["0", "1", "1", "0"]  # elite high medium low: a high, b medium
    assert tiers["change failure rate"] == ["0", "1", "0", "1"]
    assert rows(md, SLO_HEADER) == [
        ["proj-a", "api", "availability", "50.00%"],
        ["proj-a", "api", "latency", "100.00%"],
    ]
    assert "2 SLOs, 0 overspent, the 2 lowest:" in md
    fired = [
        r for r in md.splitlines() if r.startswith("| proj-a | api | availability | page-fast")
    ]
    assert len(fired) == 1, md
    assert "Burn-rate alerts fired in the period for 1 SLOs:" in md
    ai = table(md, "figure")
    for actor, column in ((AI, 0), (HUMAN, 1)):
        for name, expected in _process(["proj-a", "proj-b"], actor).items():
            _same(ai[name][column], expected, f"{name} of {actor}")
    ranks = {r[0]: r[1:] for r in rows(md, ["figure", "best", "worst"])}
    assert ranks["Deployments (30d)"] == ["proj-a 40, proj-b 10", "proj-b 10, proj-a 40"]
    assert ranks["Lead time p50 (30d)"] == [
        "proj-a 60.00 min, proj-b 2.00 h",
        "proj-b 2.00 h, proj-a 60.00 min",
    ]
    assert (
        ranks["Error budget left (SLO period)"][1]
        == "proj-a api availability 50.00%, proj-a api latency 100.00%"
    )
    assert "proj-c" not in md


def test_fleet_report_covers_every_team(store: tuple[str, float]) -> None:
    md = _report(store)
    pids = list(PROJECTS)
    now = _dora(pids, "now")
    dora = table(md, "metric")
    for name, cells in dora.items():
        _same(cells[0], now[name.split(" (")[0]], name)
    assert "3 SLOs, 1 overspent, the 3 lowest:" in md
    assert rows(md, SLO_HEADER)[0] == ["proj-c", "web", "availability", "-20.00%"]
    ranks = {r[0]: r[1:] for r in rows(md, ["figure", "best", "worst"])}
    assert ranks["Change failure rate (30d)"] == [
        "proj-c 0.00%, proj-a 10.00%, proj-b 30.00%",
        "proj-b 30.00%, proj-a 10.00%, proj-c 0.00%",
    ]
    # proj-c reports no development events: the AI figures are those of proj-a and proj-b.
    ai = table(md, "figure")
    _same(ai["Tasks completed"][0], 12, "fleet tasks completed by agents")


def test_project_without_sli_data_says_so_and_draws_no_budget(
    store: tuple[str, float], tmp_path: Path
) -> None:
    md = _report(store, "--project", "proj-b")
    assert "No SLI data: project proj-b has no SLO series at" in md
    assert table(md, "tier metric")["overall"] == ["medium"]
    assert table(md, "metric")["Change failure rate"] == ["30.00%", "30.00%", "+0.00 pt", "low"]
    url, end = store
    done = run_report(
        [
            *("--url", url, "--at", f"{end:.0f}", "--period", "1h", "--dora-window", "30d"),
            *("--project", "proj-b"),
            *("--format", "png", "--out", str(tmp_path / "png")),
        ]
    )
    assert done.returncode == 0, done.stderr
    charts = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert "slo-budget.png" not in charts
    assert "dora-change_failure.png" in charts
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in (tmp_path / "png").iterdir())


def test_unknown_project_is_a_usage_error(store: tuple[str, float]) -> None:
    url, end = store
    done = run_report(
        ["--url", url, "--at", f"{end:.0f}", "--project", "nope", "--format", "markdown"]
    )
    assert done.returncode == 1
    assert "holds no series of project nope between" in done.stderr
    assert "Traceback" not in done.stderr


def test_unreachable_store_exits_2_naming_the_endpoint() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = run_report(["--url", url, "--format", "markdown"])
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(f"devmetrics report: {url} cannot be reached")
    ), done.stderr
    assert "Traceback" not in done.stderr


class _Refusing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="store"')
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_refused_login_exits_2_naming_the_endpoint() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        done = run_report(["--url", url, "--format", "markdown"])
    finally:
        server.shutdown()
    assert done.returncode == 2
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(f"devmetrics report: {url} refused the login of user"), done.stderr
