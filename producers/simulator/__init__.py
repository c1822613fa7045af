"""The project simulator: a deterministic event generator, its scenarios and its truth."""

from producers.simulator.generator import Event, SimConfig, generate, generate_project, project_spec
from producers.simulator.model import ProjectSpec, ServiceSpec
from producers.simulator.scenarios import (
    SCENARIOS,
    ScenarioError,
    ScenarioRequest,
    ScenarioSpan,
    default_requests,
    load_scenario_file,
    parse_scenario,
    resolve_requests,
)
from producers.simulator.truth import TruthFile, compute_metrics, metric_value

__all__ = [
    "SCENARIOS",
    "Event",
    "ProjectSpec",
    "ScenarioError",
    "ScenarioRequest",
    "ScenarioSpan",
    "ServiceSpec",
    "SimConfig",
    "TruthFile",
    "compute_metrics",
    "default_requests",
    "generate",
    "generate_project",
    "load_scenario_file",
    "metric_value",
    "parse_scenario",
    "project_spec",
    "resolve_requests",
]
