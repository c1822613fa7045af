"""The metric catalogue: every series family devmetrics serves per project, with its type,
labels and windows, and the windows, quantiles and label values they range over.

One place for the names: the processors emit samples of these families, the exporters serve
exactly these (anything else is dropped and counted), the dashboards' queries and the docs are
checked against them (tests/unit/core/test_catalogue.py). The simulator's truth keeps its own
copy of the names on purpose, so that it stays an independent check; the tests hold it
against this catalogue.

Every family also carries the `project` label, set by the exporter; `quantile` (values
QUANTILE_LABELS) belongs to the summaries only; `window` (values `windows`) to the families
that have windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

# Window label -> length in milliseconds (docs/metrics.md, "Conventions").
WINDOWS_MS: dict[str, int] = {
    "5m": 5 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "6h": 6 * HOUR_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "7d": 7 * DAY_MS,
    "30d": 30 * DAY_MS,
}
DORA_WINDOWS = ("1d", "7d", "30d")
SLO_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")
PROCESS_WINDOWS = ("1d", "7d")
# Exact fractions: in floats 0.9 * 70 is 63.00000000000001, whose ceiling is the wrong rank.
QUANTILES: tuple[tuple[str, Fraction], ...] = (("0.5", Fraction(1, 2)), ("0.9", Fraction(9, 10)))
QUANTILE_LABELS = tuple(label for label, _ in QUANTILES)
ACTORS = ("ai_agent", "human")
SLOS = ("availability", "latency")
"""The built-in SLOs of every service; SLO definitions (docs/slo-definitions.md) may name
others, so the series model counts per SLO (`series_per_slo`)."""
POLICY_WINDOWS = ("1d",)
"""Windows of the policy-violation count: judging the freeze at a deployment needs the SLO
period before it, and the state holds 31 days (docs/metrics.md, "Error-budget policy")."""
DORA_TIER_METRICS = (
    "deployment_frequency",
    "lead_time",
    "change_failure_rate",
    "recovery_time",
    "overall",
)
AUTHORS = ACTORS
"""Values of `author`: the actor kind of a change's earliest change event."""
AI_ASSISTED = ("true", "false")
LINEAGE_WINDOWS = ("7d", "30d")
LINEAGE_HOPS = (
    "rfc_decision",
    "decision_to_start",
    "task_work",
    "task_to_commit",
    "commit_to_approval",
    "approval_to_merge",
    "merge_to_deploy",
)
AGENT_TOP_N = 3
"""Default of `agent_top_n`: the busiest agents of a project that keep their name as `agent`."""
AGENT_OTHER = "other"
SLO_RANK_WINDOW = "30d"
"""The window whose request counts rank a project's services (the per-project service cap)."""

# The values each closed label takes; `service` is open (the services a project reports) and
# the labels of `devmetrics_project_info` describe the project (one value each).
LABEL_VALUES: dict[str, tuple[str, ...]] = {
    "actor": ACTORS,
    "slo": SLOS,
    "metric": DORA_TIER_METRICS,
    "author": AUTHORS,
    "ai_assisted": AI_ASSISTED,
    "hop": LINEAGE_HOPS,
}

KINDS = ("gauge", "counter", "summary")


@dataclass(frozen=True, slots=True)
class Family:
    """A metric family as exposed: name, type, help text, labels (besides `project`, `window`
    and `quantile`) and the windows it is computed over (none: the family has no `window`).

    Summaries carry the `quantile` label and no `_sum` or `_count`: the snapshot holds
    nearest-rank quantiles only.
    """

    name: str
    help: str
    kind: str = "gauge"
    labels: tuple[str, ...] = ()
    windows: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"family {self.name}: kind {self.kind!r} is not one of {KINDS}")
        unknown = [w for w in self.windows if w not in WINDOWS_MS]
        if unknown:
            raise ValueError(f"family {self.name}: unknown windows {unknown}")

    @property
    def label_names(self) -> tuple[str, ...]:
        """Every label a sample of the family has in a snapshot (no `project`)."""
        extra = (("window",) if self.windows else ()) + (
            ("quantile",) if self.kind == "summary" else ()
        )
        return self.labels + extra

    def series(self, services: int = 1, agents: int = AGENT_TOP_N + 1) -> int:
        """Series of one project of this family, with `services` services for `service` and
        `agents` values of `agent` (the N named agents and `other`)."""
        count = max(len(self.windows), 1)
        if self.kind == "summary":
            count *= len(QUANTILES)
        for label in self.labels:
            if label == "service":
                count *= services
            elif label == "agent":
                count *= agents
            elif label in LABEL_VALUES:
                count *= len(LABEL_VALUES[label])
            # any other label is a descriptive attribute: one value per project

        return count


# Series the exporter derives from the snapshot's own fields, not from its samples.
PROJECT_INFO = Family(
    "devmetrics_project_info",
    "Descriptive attributes of a project; value 1.",
    labels=("team",),
)
STATE_AS_OF = Family(
    "devmetrics_state_as_of_timestamp_seconds",
    "As-of time T of the project's state: every window ends at T.",
)
STATE_COMPUTED = Family(
    "devmetrics_state_computed_timestamp_seconds",
    "Wall time the project's state snapshot was computed.",
)
STATE_LAST_EVENT = Family(
    "devmetrics_state_last_event_timestamp_seconds",
    "Latest event time folded into the project's state.",
)
STATE_EVENTS = Family(
    "devmetrics_state_events_applied_total",
    "Distinct events folded into the project's state.",
    kind="counter",
)
SERVICES_CAPPED = Family(
    "devmetrics_project_services_capped",
    "Services of the project whose SLOs are not served: above the per-project service cap.",
)
META_FAMILIES = (PROJECT_INFO, STATE_AS_OF, STATE_COMPUTED, STATE_LAST_EVENT, STATE_EVENTS)

# The figures of docs/metrics.md, as the processors compute them.
DORA_DEPLOYMENTS = Family(
    "devmetrics_dora_deployments",
    "Successful production deployments in the window.",
    windows=DORA_WINDOWS,
)
DORA_DEPLOY_DAY_PER_WEEK = Family(
    "devmetrics_dora_deploy_day_per_week",
    "Distinct UTC deployment dates in the 30d window, times 7 / 30.",
    windows=("30d",),
)
DORA_LEAD_TIME_SECONDS = Family(
    "devmetrics_dora_lead_time_seconds",
    "Commit-to-first-deployment time of the changes first deployed in the window.",
    kind="summary",
    windows=DORA_WINDOWS,
)
DORA_CHANGE_FAILURE_RATIO = Family(
    "devmetrics_dora_change_failure_ratio",
    "Share of the window's deployments that caused an incident or were rolled back.",
    windows=DORA_WINDOWS,
)
DORA_RECOVERY_TIME_SECONDS = Family(
    "devmetrics_dora_recovery_time_seconds",
    "Open-to-resolve time of deployment-caused incidents resolved in the window.",
    kind="summary",
    windows=DORA_WINDOWS,
)
DORA_REWORK_RATIO = Family(
    "devmetrics_dora_rework_ratio",
    "Share of the window's deployments that were hotfixes, rollbacks or remediations.",
    windows=DORA_WINDOWS,
)
DORA_TIER = Family(
    "devmetrics_dora_tier",
    "DORA 2024 tier over 30d: 4 elite, 3 high, 2 medium, 1 low.",
    labels=("metric",),
)
DORA_HISTORY_COVERAGE_RATIO = Family(
    "devmetrics_dora_history_coverage_ratio",
    "Share of the window the project's history covers (tiers judge a partly covered 30d).",
    windows=DORA_WINDOWS,
)
DORA_LEAD_TIME_BY_AUTHOR_SECONDS = Family(
    "devmetrics_dora_lead_time_by_author_seconds",
    "Lead time for changes of the window, split by the change's author kind.",
    kind="summary",
    labels=("author",),
    windows=DORA_WINDOWS,
)
DORA_AI_CHANGE_SHARE_RATIO = Family(
    "devmetrics_dora_ai_change_share_ratio",
    "Share of the changes first deployed in the window that agents authored.",
    windows=DORA_WINDOWS,
)
DORA_DEPLOYMENTS_BY_ASSIST = Family(
    "devmetrics_dora_deployments_by_assist",
    "Deployments in the window that shipped (true) or did not ship (false) an agent's change.",
    labels=("ai_assisted",),
    windows=DORA_WINDOWS,
)
DORA_CHANGE_FAILURE_BY_ASSIST_RATIO = Family(
    "devmetrics_dora_change_failure_by_assist_ratio",
    "Change failure ratio of the window's AI-assisted (true) or other (false) deployments.",
    labels=("ai_assisted",),
    windows=DORA_WINDOWS,
)
DORA_REWORK_BY_ASSIST_RATIO = Family(
    "devmetrics_dora_rework_by_assist_ratio",
    "Rework ratio of the window's AI-assisted (true) or other (false) deployments.",
    labels=("ai_assisted",),
    windows=DORA_WINDOWS,
)
AGENT_TASK_COMPLETED = Family(
    "devmetrics_agent_task_completed",
    "Tasks the agent completed in the window (agent: the N busiest, the rest as other).",
    labels=("agent",),
    windows=PROCESS_WINDOWS,
)
AGENT_TASK_FAILED = Family(
    "devmetrics_agent_task_failed",
    "Task attempts of the agent that failed in the window.",
    labels=("agent",),
    windows=PROCESS_WINDOWS,
)
AGENT_TASK_SUCCESS_RATIO = Family(
    "devmetrics_agent_task_success_ratio",
    "Completed / (completed + failed) task events of the agent in the window.",
    labels=("agent",),
    windows=PROCESS_WINDOWS,
)
AGENT_COST_PER_MERGED_CHANGE_USD = Family(
    "devmetrics_agent_cost_per_merged_change_usd",
    "Task cost behind each of the agent's changes merged in the window, in US dollars.",
    labels=("agent",),
    windows=PROCESS_WINDOWS,
)
AGENT_REVIEW_FINDINGS_PER_CHANGE = Family(
    "devmetrics_agent_review_findings_per_change",
    "Review findings per reviewed change of the agent in the window.",
    labels=("agent",),
    windows=PROCESS_WINDOWS,
)
LINEAGE_HOP_SECONDS = Family(
    "devmetrics_lineage_hop_seconds",
    "Time of each hop from RFC to production of the changes first deployed in the window.",
    kind="summary",
    labels=("hop", "author"),
    windows=LINEAGE_WINDOWS,
)
SLO_OBJECTIVE_RATIO = Family(
    "devmetrics_slo_objective_ratio",
    "The SLO's configured objective.",
    labels=("service", "slo"),
)
SLO_ERROR_BUDGET_REMAINING_RATIO = Family(
    "devmetrics_slo_error_budget_remaining_ratio",
    "Share of the SLO period's error budget left; negative once overspent.",
    labels=("service", "slo"),
)
SLO_REQUESTS = Family(
    "devmetrics_slo_requests",
    "Requests counted by the SLO in the window.",
    labels=("service", "slo"),
    windows=SLO_WINDOWS,
)
SLO_REQUESTS_GOOD = Family(
    "devmetrics_slo_requests_good",
    "Good requests of the SLO in the window.",
    labels=("service", "slo"),
    windows=SLO_WINDOWS,
)
SLO_SLI_RATIO = Family(
    "devmetrics_slo_sli_ratio",
    "Good / total requests of the SLO in the window.",
    labels=("service", "slo"),
    windows=SLO_WINDOWS,
)
SLO_BURN_RATE = Family(
    "devmetrics_slo_burn_rate",
    "(1 - SLI) / (1 - objective) in the window: 1 spends the budget in exactly the period.",
    labels=("service", "slo"),
    windows=SLO_WINDOWS,
)
SLO_PERIOD_SLI_RATIO = Family(
    "devmetrics_slo_period_sli_ratio",
    "Good / total requests of the SLO over its period (rolling, or the current calendar one).",
    labels=("service", "slo"),
)
SLO_PERIOD_START_TIMESTAMP = Family(
    "devmetrics_slo_period_start_timestamp_seconds",
    "Start of the SLO's current period (exclusive), seconds since the epoch.",
    labels=("service", "slo"),
)
SLO_DEPLOY_FREEZE = Family(
    "devmetrics_slo_deploy_freeze",
    "1 while the SLO's error budget remaining is below its freeze level, else 0.",
    labels=("service", "slo"),
)
SLO_POLICY_VIOLATIONS = Family(
    "devmetrics_slo_policy_violations",
    "Production deployments in the window made while the SLO's deploy freeze held.",
    labels=("service", "slo"),
    windows=POLICY_WINDOWS,
)
TASK_COMPLETED = Family(
    "devmetrics_task_completed",
    "Tasks completed in the window.",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
TASK_FAILED = Family(
    "devmetrics_task_failed",
    "Task attempts failed in the window.",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
TASK_SUCCESS_RATIO = Family(
    "devmetrics_task_success_ratio",
    "Completed / (completed + failed) tasks.",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
TASK_CYCLE_TIME_SECONDS = Family(
    "devmetrics_task_cycle_time_seconds",
    "Start-to-completion time of the tasks completed in the window.",
    kind="summary",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
TASK_COST_USD = Family(
    "devmetrics_task_cost_usd",
    "Cost of the completed and failed tasks, in US dollars.",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
TASK_COST_PER_TASK_USD = Family(
    "devmetrics_task_cost_per_task_usd",
    "Cost of the completed and failed tasks per completed task, in US dollars.",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
REVIEW_COMPLETED = Family(
    "devmetrics_review_completed",
    "Reviews completed in the window.",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
REVIEW_LATENCY_SECONDS = Family(
    "devmetrics_review_latency_seconds",
    "Request-to-completion time of the reviews completed in the window.",
    kind="summary",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
REVIEW_APPROVAL_RATIO = Family(
    "devmetrics_review_approval_ratio",
    "Share of completed reviews that approved.",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
REVIEW_ITERATIONS_PER_CHANGE = Family(
    "devmetrics_review_iterations_per_change",
    "Mean iteration of the approved reviews in the window.",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
REVIEW_FINDINGS = Family(
    "devmetrics_review_findings",
    "Findings reported by completed reviews.",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
TEST_RUNS = Family(
    "devmetrics_test_runs",
    "Test runs completed in the window.",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
TEST_PASS_RATIO = Family(
    "devmetrics_test_pass_ratio",
    "Passed / (passed + failed) tests.",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
TEST_FLAKY_RATIO = Family(
    "devmetrics_test_flaky_ratio",
    "Flaky / (passed + failed) tests.",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
TEST_DURATION_SECONDS = Family(
    "devmetrics_test_duration_seconds",
    "Duration of the test runs in the window.",
    kind="summary",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
TEST_COVERAGE_RATIO = Family(
    "devmetrics_test_coverage_ratio",
    "Mean coverage of the runs that report one.",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
RFC_SUBMITTED = Family(
    "devmetrics_rfc_submitted",
    "RFCs submitted in the window.",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
RFC_DECIDED = Family(
    "devmetrics_rfc_decided",
    "RFCs accepted or rejected in the window.",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
RFC_ACCEPTANCE_RATIO = Family(
    "devmetrics_rfc_acceptance_ratio",
    "Accepted / decided RFCs.",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
RFC_TIME_TO_DECISION_SECONDS = Family(
    "devmetrics_rfc_time_to_decision_seconds",
    "Submission-to-decision time of the RFCs decided in the window.",
    kind="summary",
    labels=("actor",),
    windows=PROCESS_WINDOWS,
)
RFC_OPEN_BACKLOG = Family(
    "devmetrics_rfc_open_backlog",
    "RFCs submitted in the last 30d still undecided.",
    labels=("actor",),
)

SAMPLE_FAMILIES: tuple[Family, ...] = (
    DORA_DEPLOYMENTS,
    DORA_DEPLOY_DAY_PER_WEEK,
    DORA_LEAD_TIME_SECONDS,
    DORA_CHANGE_FAILURE_RATIO,
    DORA_RECOVERY_TIME_SECONDS,
    DORA_REWORK_RATIO,
    DORA_TIER,
    DORA_HISTORY_COVERAGE_RATIO,
    DORA_LEAD_TIME_BY_AUTHOR_SECONDS,
    DORA_AI_CHANGE_SHARE_RATIO,
    DORA_DEPLOYMENTS_BY_ASSIST,
    DORA_CHANGE_FAILURE_BY_ASSIST_RATIO,
    DORA_REWORK_BY_ASSIST_RATIO,
    AGENT_TASK_COMPLETED,
    AGENT_TASK_FAILED,
    AGENT_TASK_SUCCESS_RATIO,
    AGENT_COST_PER_MERGED_CHANGE_USD,
    AGENT_REVIEW_FINDINGS_PER_CHANGE,
    LINEAGE_HOP_SECONDS,
    SLO_OBJECTIVE_RATIO,
    SLO_ERROR_BUDGET_REMAINING_RATIO,
    SLO_REQUESTS,
    SLO_REQUESTS_GOOD,
    SLO_SLI_RATIO,
    SLO_BURN_RATE,
    SLO_PERIOD_SLI_RATIO,
    SLO_PERIOD_START_TIMESTAMP,
    SLO_DEPLOY_FREEZE,
    SLO_POLICY_VIOLATIONS,
    TASK_COMPLETED,
    TASK_FAILED,
    TASK_SUCCESS_RATIO,
    TASK_CYCLE_TIME_SECONDS,
    TASK_COST_USD,
    TASK_COST_PER_TASK_USD,
    REVIEW_COMPLETED,
    REVIEW_LATENCY_SECONDS,
    REVIEW_APPROVAL_RATIO,
    REVIEW_ITERATIONS_PER_CHANGE,
    REVIEW_FINDINGS,
    TEST_RUNS,
    TEST_PASS_RATIO,
    TEST_FLAKY_RATIO,
    TEST_DURATION_SECONDS,
    TEST_COVERAGE_RATIO,
    RFC_SUBMITTED,
    RFC_DECIDED,
    RFC_ACCEPTANCE_RATIO,
    RFC_TIME_TO_DECISION_SECONDS,
    RFC_OPEN_BACKLOG,
)
"""The figures of docs/metrics.md: the samples of a state snapshot."""

FAMILIES: tuple[Family, ...] = (*META_FAMILIES, SERVICES_CAPPED, *SAMPLE_FAMILIES)
"""Every family served per project, in exposition order."""

BY_NAME: dict[str, Family] = {family.name: family for family in FAMILIES}


def fixed_series() -> int:
    """Series of a project that do not depend on its services (at most: a figure with no
    data in its window is absent)."""
    per_project = [f for f in (*META_FAMILIES, *SAMPLE_FAMILIES) if "service" not in f.labels]
    return sum(f.series() for f in per_project)


def series_per_service() -> int:
    """Series each served service adds to a project: its SLOs' figures (the built-in SLOs)."""
    return sum(f.series() for f in SAMPLE_FAMILIES if "service" in f.labels)


def series_per_slo() -> int:
    """Series each SLO of a service adds (a service with k SLOs adds k times this)."""
    return series_per_service() // len(SLOS)


def exposition_names(family: Family) -> tuple[str, ...]:
    """Sample names of the family in the text exposition format (counters end in _total)."""
    return (family.name,)
