"""The figures' PromQL, in one place: the Grafana dashboards' panels and `devmetrics report`
read the same expressions.

The expressions carry the dashboards' template variables: ``$team`` and ``$project``
(regular expressions of the selection), ``$window`` (a DORA or process window), ``$service``
and ``$slo`` (SLO selection), ``$n`` (how many projects a ranking shows). Grafana fills them
from the dashboard's variables; the report fills them with ``fill`` from its scope. Nothing
here imports the Grafana SDK, so the report runs without the ``dashboards`` extra.
"""

from __future__ import annotations

import re

from dashboards.promql import PROJECTS, TEAM_PROJECTS, selected, series, weighted

WINDOW = "$window"
QUANTILES = (("0.5", "p50"), ("0.9", "p90"))

# --- DORA ---------------------------------------------------------------------------------

DEPLOYS = series("devmetrics_dora_deployments", window=WINDOW)
CFR = series("devmetrics_dora_change_failure_ratio", window=WINDOW)
REWORK = series("devmetrics_dora_rework_ratio", window=WINDOW)
DEPLOY_DAYS = series("devmetrics_dora_deploy_day_per_week", window="30d")
# The whole fleet, whatever the team and project variables hold.
FLEET_DEPLOYS = f'devmetrics_dora_deployments{{window="{WINDOW}"}}'
# The tier metrics of docs/metrics.md, `overall` last.
TIER_METRICS = ("deployment_frequency", "lead_time", "change_failure_rate", "recovery_time")


def dora_quantile(name: str, q: str) -> str:
    """A DORA summary family's quantile in the window, for the selected projects."""
    return series(name, window=WINDOW, quantile=q)


def fleet_share(ratio: str) -> str:
    """A fleet share of deployments: sum(ratio * deployments) / sum(deployments)."""
    return (
        f'sum({ratio}{{window="{WINDOW}"}} * on (project) {FLEET_DEPLOYS})'
        f" / (sum({FLEET_DEPLOYS}) > 0)"
    )


def tier(metric: str) -> str:
    """The selected projects' 30d tier of one metric (or ``overall``)."""
    return series("devmetrics_dora_tier", metric=metric)


def tier_mix(metric: str) -> str:
    """How many selected projects stand at each tier of ``metric``: one series per tier."""
    return f'count_values("tier", {selected(tier(metric))})'


# The selection's five DORA figures (the DORA dashboard's stat panels, the report's headline).
SELECTION_DEPLOYMENTS = f"sum({selected(DEPLOYS)})"
SELECTION_DEPLOY_DAYS = f"avg({selected(DEPLOY_DAYS)})"
SELECTION_LEAD_P50 = (
    f"quantile(0.5, {selected(dora_quantile('devmetrics_dora_lead_time_seconds', '0.5'))})"
)
SELECTION_CFR = weighted(CFR, DEPLOYS)
SELECTION_RECOVERY_P50 = (
    f"quantile(0.5, {selected(dora_quantile('devmetrics_dora_recovery_time_seconds', '0.5'))})"
)
SELECTION_REWORK = weighted(REWORK, DEPLOYS)

# Rankings across the team's projects: (title, family, labels, unit, higher is better).
RANKINGS: tuple[tuple[str, str, dict[str, str], str, bool], ...] = (
    ("Deployments ($window)", "devmetrics_dora_deployments", {"window": "$window"}, "", True),
    (
        "Lead time p50 ($window)",
        "devmetrics_dora_lead_time_seconds",
        {"window": "$window", "quantile": "0.5"},
        "s",
        False,
    ),
    (
        "Change failure rate ($window)",
        "devmetrics_dora_change_failure_ratio",
        {"window": "$window"},
        "percentunit",
        False,
    ),
    (
        "Recovery time p50 ($window)",
        "devmetrics_dora_recovery_time_seconds",
        {"window": "$window", "quantile": "0.5"},
        "s",
        False,
    ),
    (
        "Rework rate ($window)",
        "devmetrics_dora_rework_ratio",
        {"window": "$window"},
        "percentunit",
        False,
    ),
    (
        "Error budget left (SLO period)",
        "devmetrics_slo_error_budget_remaining_ratio",
        {},
        "percentunit",
        True,
    ),
)


def ranked(family: str, labels: dict[str, str]) -> str:
    """``family`` with ``labels``, for the projects of the selected teams (rankings)."""
    matchers = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return selected(f"{family}{{{matchers}}}", TEAM_PROJECTS)


def best(expr: str, higher_better: bool, n: str = "$n") -> str:
    """The ``n`` best series of ``expr``, best first."""
    return f"sort_desc(topk({n}, {expr}))" if higher_better else f"sort(bottomk({n}, {expr}))"


def worst(expr: str, higher_better: bool, n: str = "$n") -> str:
    """The ``n`` worst series of ``expr``, worst first."""
    return f"sort(bottomk({n}, {expr}))" if higher_better else f"sort_desc(topk({n}, {expr}))"


# --- AI agents next to people (development-process figures, by actor) ---------------------


def fleet_by_actor(name: str) -> str:
    """Per actor, summed over every project."""
    return f'sum by (actor) ({name}{{window="{WINDOW}"}})'


def by_label(name: str, by: str, window: str = WINDOW) -> str:
    """Per value of the label ``by``, summed over the selected projects."""
    return f"sum by ({by}) ({selected(series(name, window=window))})"


def by_actor(name: str) -> str:
    """Per actor, summed over the selected projects."""
    return by_label(name, "actor")


def by_actor_per(numerator: str, denominator: str) -> str:
    """Per actor, one selection sum over another (a ratio of counts, never a mean)."""
    return f"{by_actor(numerator)} / ({by_actor(denominator)} > 0)"


def weighted_by(ratio: str, weight: str, by: str) -> str:
    """Per value of the label ``by``, a ratio over the selection weighted by each project's
    count (the two families share the label)."""
    r, w = series(ratio, window=WINDOW), series(weight, window=WINDOW)
    return (
        f"sum by ({by}) ({selected(f'{r} * on (project, {by}) {w}')})"
        f" / (sum by ({by}) ({selected(w)}) > 0)"
    )


def by_actor_weighted(ratio: str, weight: str) -> str:
    """Per-actor ratio over the selection, weighted by each project's count."""
    return weighted_by(ratio, weight, "actor")


def median_by(name: str, by: str, q: str, window: str = WINDOW) -> str:
    """Median over the selected projects of their ``q`` quantile, per value of ``by``."""
    return f"quantile by ({by}) (0.5, {selected(series(name, window=window, quantile=q))})"


def by_actor_median(name: str, q: str) -> str:
    """Median over the selected projects of their ``q`` quantile, per actor."""
    return median_by(name, "actor", q)


def mean_by(name: str, by: str) -> str:
    """Mean over the selected projects, per value of the label ``by``."""
    return f"avg by ({by}) ({selected(series(name, window=WINDOW))})"


def by_actor_mean(name: str) -> str:
    """Mean over the selected projects, per actor."""
    return mean_by(name, "actor")


def review_iterations() -> str:
    """Mean iterations of the approved reviews: weighted by each project's approved reviews
    (approval ratio x completed), which is exactly the mean over all approved reviews."""
    iterations = series("devmetrics_review_iterations_per_change", window=WINDOW)
    approval = series("devmetrics_review_approval_ratio", window=WINDOW)
    completed = series("devmetrics_review_completed", window=WINDOW)
    approved = f"({approval} * on (project, actor) {completed})"
    return (
        f"sum by (actor) ({selected(f'{iterations} * on (project, actor) {approved}')})"
        f" / (sum by (actor) ({selected(approved)}) > 0)"
    )


TASK_SUCCESS = (
    f"{by_actor('devmetrics_task_completed')} / (({by_actor('devmetrics_task_completed')}"
    f" + {by_actor('devmetrics_task_failed')}) > 0)"
)
AI_SHARE = (
    f'sum(devmetrics_task_completed{{window="{WINDOW}", actor="ai_agent"}})'
    f' / (sum(devmetrics_task_completed{{window="{WINDOW}"}}) > 0)'
)

# --- AI impact: who wrote the change (docs/metrics.md, "AI impact") ---------------------------

LINEAGE_WINDOW = "30d"
"""The lineage is exported for 7d and 30d; the dashboard shows the longer, steadier one."""
BY_ASSIST = "devmetrics_dora_deployments_by_assist"
AGENT_SUCCESS = (
    f"{by_label('devmetrics_agent_task_completed', 'agent')}"
    f" / (({by_label('devmetrics_agent_task_completed', 'agent')}"
    f" + {by_label('devmetrics_agent_task_failed', 'agent')}) > 0)"
)
AI_CHANGE_SHARE = weighted(
    series("devmetrics_dora_ai_change_share_ratio", window=WINDOW),
    f"sum by (project) ({series(BY_ASSIST, window=WINDOW)})",
)
"""The agents' share of the changes first deployed, over the selection: each project's share
weighted by its deployments in the window (the changes themselves are not exported)."""
COVERAGE_30D = series("devmetrics_dora_history_coverage_ratio", window="30d")
TIERS_WITHHELD = f"count(({selected(COVERAGE_30D)}) < 1 / 30) or vector(0)"
"""Selected projects whose history covers less than a day: their tiers are withheld."""


# --- SLOs -----------------------------------------------------------------------------------

BURN_ALERT = "DevmetricsSLOErrorBudgetBurn"
SLO_SCOPE = 'project=~"$project", service=~"$service", slo=~"$slo"'


def slo_scoped(name: str, **labels: str) -> str:
    """An exported SLO family of the selected projects, services and SLOs."""
    extra = "".join(f', {k}="{v}"' for k, v in labels.items())
    return selected(f"{name}{{{SLO_SCOPE}{extra}}}")


BUDGET = slo_scoped("devmetrics_slo_error_budget_remaining_ratio")
BURN_ALERTS_FIRING = f'ALERTS{{alertname="{BURN_ALERT}", alertstate="firing", {SLO_SCOPE}}}'


def burn_alerts_fired(step: str) -> str:
    """The selected SLOs' burn alerts that fired at any time within ``step`` before each
    evaluation: a range query over it misses no firing shorter than its step."""
    return f"max_over_time({BURN_ALERTS_FIRING}[{step}]) and on (project) {PROJECTS}"


# --- filling the variables --------------------------------------------------------------------

_VARIABLE = re.compile(r"\$([a-z_]+)\b|\$\{([a-z_]+)\}")


def regex_literal(value: str) -> str:
    """``value`` matched literally by a PromQL regular expression, written for a PromQL
    double-quoted string: each RE2 metacharacter escaped with a backslash, then every
    backslash doubled and every double quote escaped for the string."""
    pattern = re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", value)
    return pattern.replace("\\", "\\\\").replace('"', '\\"')


def fill(expr: str, values: dict[str, str]) -> str:
    """``expr`` with its template variables replaced; a variable without a value is an
    error naming it, never left for the server to refuse."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value for ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(one, expr)
