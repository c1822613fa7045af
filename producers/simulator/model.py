"""The simulated world: teams, DORA-tier profiles, agents, services and SLO constants.

A project's profile is drawn from its own seeded generator, so a project looks the same
whatever the run's project count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000

TEAMS: tuple[str, ...] = (
    "payments",
    "search",
    "identity",
    "platform",
    "mobile",
    "data",
    "growth",
    "billing",
    "messaging",
    "infra",
)

TIERS: tuple[str, ...] = ("elite", "high", "medium", "low")
# Share of projects drawn into each tier (elite, high, medium, low).
TIER_WEIGHTS: tuple[float, ...] = (0.2, 0.35, 0.3, 0.15)

SERVICE_NAMES: tuple[str, ...] = ("api", "web", "worker", "gateway", "auth", "ingest")
# Most projects run one service, a sixth run two, one in twenty-five runs three or four (so
# every run has wide projects whose every SLO must reach Prometheus); keeps a 30-day backfill
# near 12 M events. One uniform draw u picks the count: u < THREE_SERVICES_P gives three,
# then up to FOUR_SERVICES_P four, then up to TWO_SERVICES_P two, else one.
TWO_SERVICES_P = 0.2
THREE_SERVICES_P = 0.03
FOUR_SERVICES_P = 0.04

# AI agents (name, model) a project may use; models are priced per 1k tokens in USD.
AGENTS: tuple[tuple[str, str], ...] = (
    ("implementer", "model-large"),
    ("implementer-lite", "model-small"),
    ("refactorer", "model-medium"),
    ("bugfixer", "model-medium"),
)
REVIEW_AGENT: tuple[str, str] = ("reviewer", "model-large")
PLANNER_AGENT: tuple[str, str] = ("planner", "model-large")
DEPLOY_AGENT: tuple[str, str] = ("release-bot", "model-small")
MONITOR_AGENT: tuple[str, str] = ("sre-agent", "model-medium")
MODEL_PRICE_PER_1K_TOKENS: dict[str, float] = {
    "model-large": 0.015,
    "model-medium": 0.006,
    "model-small": 0.0015,
}
HUMANS: tuple[str, ...] = ("alex", "sam", "kim", "lee", "jo", "ana", "raj", "mia", "tom", "eve")

# SLOs of every service (docs/metrics.md): availability and latency under 0.3 s.
AVAILABILITY_OBJECTIVE = 0.999
LATENCY_OBJECTIVE = 0.99
LATENCY_THRESHOLD_S = 0.3
# Cumulative latency bucket bounds in seconds; 0.3 must be one of them (the latency SLI).
LATENCY_BUCKETS_S: tuple[float, ...] = (0.05, 0.1, 0.3, 0.5, 1.0, 2.5)


@dataclass(frozen=True)
class TierProfile:
    """Ranges a project of one DORA tier draws its behaviour from (uniform in each range)."""

    deploys_per_day: tuple[float, float]
    deploy_trouble_p: tuple[float, float]
    """Chance a successful production deployment causes an incident or a rollback."""
    recovery_hours: tuple[float, float]
    """Median incident duration."""
    review_hours_human: tuple[float, float]
    tasks_per_day: tuple[float, float]
    rfcs_per_day: tuple[float, float]
    error_ratio: tuple[float, float]
    slow_ratio: tuple[float, float]


PROFILES: dict[str, TierProfile] = {
    "elite": TierProfile(
        (3.0, 8.0),
        (0.005, 0.02),
        (0.15, 0.5),
        (0.5, 2.0),
        (4.0, 8.0),
        (0.4, 1.0),
        (0.00005, 0.0003),
        (0.001, 0.004),
    ),
    "high": TierProfile(
        (0.4, 1.0),
        (0.05, 0.12),
        (2.0, 8.0),
        (2.0, 6.0),
        (2.0, 5.0),
        (0.3, 0.7),
        (0.0002, 0.0006),
        (0.002, 0.006),
    ),
    "medium": TierProfile(
        (0.08, 0.16),
        (0.2, 0.3),
        (30.0, 80.0),
        (6.0, 24.0),
        (1.0, 3.0),
        (0.2, 0.5),
        (0.0004, 0.0012),
        (0.004, 0.01),
    ),
    "low": TierProfile(
        (0.0, 0.004),
        (0.35, 0.5),
        (200.0, 400.0),
        (24.0, 72.0),
        (0.3, 1.0),
        (0.1, 0.3),
        (0.0008, 0.002),
        (0.006, 0.015),
    ),
}


@dataclass(frozen=True)
class ServiceSpec:
    """One service of a project with its traffic and error behaviour."""

    name: str
    requests_per_s: float
    error_ratio: float
    slow_ratio: float


@dataclass(frozen=True)
class ProjectSpec:
    """Everything fixed about one simulated project."""

    index: int
    project_id: str
    team: str
    tier: str
    services: tuple[ServiceSpec, ...]
    agents: tuple[tuple[str, str], ...]
    humans: tuple[str, ...]
    deploys_per_day: float
    deploy_trouble_p: float
    recovery_hours: float
    review_hours_human: float
    tasks_per_day: float
    rfcs_per_day: float
    ai_task_share: float
    test_suite_size: int
    coverage: float


def project_id_of(index: int) -> str:
    """`proj-0001` for index 1; wider ids once past 9999."""
    return f"proj-{index:04d}"


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _service_count(u: float) -> int:
    if u < THREE_SERVICES_P:
        return 3
    if u < FOUR_SERVICES_P:
        return 4
    return 2 if u < TWO_SERVICES_P else 1


def draw_project(index: int, rng: np.random.Generator) -> ProjectSpec:
    """Draw the fixed traits of project `index` from its own generator."""
    tier = TIERS[int(rng.choice(len(TIERS), p=TIER_WEIGHTS))]
    profile = PROFILES[tier]
    team = TEAMS[int(rng.integers(len(TEAMS)))]
    n_services = _service_count(float(rng.uniform()))
    names = rng.choice(len(SERVICE_NAMES), size=n_services, replace=False)
    services = tuple(
        ServiceSpec(
            name=SERVICE_NAMES[int(i)],
            requests_per_s=float(np.exp(rng.uniform(np.log(0.5), np.log(40.0)))),
            error_ratio=_uniform(rng, profile.error_ratio),
            slow_ratio=_uniform(rng, profile.slow_ratio),
        )
        for i in sorted(names)
    )
    agent_idx = rng.choice(len(AGENTS), size=int(rng.integers(1, 3)), replace=False)
    human_idx = rng.choice(len(HUMANS), size=int(rng.integers(2, 5)), replace=False)
    return ProjectSpec(
        index=index,
        project_id=project_id_of(index),
        team=team,
        tier=tier,
        services=services,
        agents=tuple(AGENTS[int(i)] for i in sorted(agent_idx)),
        humans=tuple(HUMANS[int(i)] for i in sorted(human_idx)),
        deploys_per_day=_uniform(rng, profile.deploys_per_day),
        deploy_trouble_p=_uniform(rng, profile.deploy_trouble_p),
        recovery_hours=_uniform(rng, profile.recovery_hours),
        review_hours_human=_uniform(rng, profile.review_hours_human),
        tasks_per_day=_uniform(rng, profile.tasks_per_day),
        rfcs_per_day=_uniform(rng, profile.rfcs_per_day),
        ai_task_share=float(rng.uniform(0.6, 0.9)),
        test_suite_size=int(rng.integers(200, 3000)),
        coverage=float(rng.uniform(0.55, 0.92)),
    )
