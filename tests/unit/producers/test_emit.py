"""`devmetrics emit` rejections: exit 2 naming the option, nothing sent; no broker: 1."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from core.kafka import KafkaAccessError
from core.settings import KafkaSettings, Settings
from producers.cli import emit

pytestmark = pytest.mark.unit

# Nothing listens on port 1: anything that tried to send would fail, not succeed silently.
UNREACHABLE = Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:1", topic_prefix="unit"))
DEPLOY = ["deployment", "--project", "P", "--deployment-id", "D", "--environment", "production"]


def run(*args: str):
    return CliRunner().invoke(emit, list(args), obj=UNREACHABLE)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["build", "--project", "P"],
            "unknown event family 'build'; `emit` sends one of: change, deployment, incident, "
            "test-run",
        ),
        (
            [*DEPLOY, "--status", "ok"],
            "Invalid value for '--status': status: 'ok' is not one of success, failure",
        ),
        (
            [*DEPLOY, "--status", "success", "--kind", "canary"],
            "Invalid value for '--kind': kind: 'canary' is not one of planned, hotfix, rollback",
        ),
        (
            [*DEPLOY, "--status", "success", "--kind", "rollback"],
            "Invalid value for '--rolls-back': rolls_back_deployment_id: required on rollback "
            "deployments",
        ),
        (
            [*DEPLOY, "--status", "success", "--change-id", ""],
            "Invalid value for '--change-id': change_ids[0]: must not be empty",
        ),
        (
            [*DEPLOY, "--status", "success", "--at", "2024-05-01T12:00:00"],
            "Invalid value for '--at': '2024-05-01T12:00:00' has no UTC offset",
        ),
        (
            [*DEPLOY, "--status", "success", "--at", "yesterday"],
            "Invalid value for '--at': 'yesterday' is not an ISO 8601 time",
        ),
        (
            [*DEPLOY, "--status", "success", "--at", "1999-12-31T23:59:59Z"],
            "Invalid value for '--at': occurred_at: 946684799000 ms is outside the accepted range",
        ),
        (
            [*DEPLOY, "--status", "success", "--actor-kind", "robot"],
            "Invalid value for '--actor-kind': actor.kind: 'robot' is not one of ai_agent, human",
        ),
        (
            [
                "deployment",
                "--project",
                "",
                "--deployment-id",
                "D",
                "--environment",
                "production",
                "--status",
                "success",
            ],
            "Invalid value for '--project': project_id: must not be empty",
        ),
        (
            ["incident", "opened", "--project", "P", "--incident-id", "I", "--severity", "high"],
            "Invalid value for '--severity': severity: 'high' is not one of sev1, sev2, sev3, sev4",
        ),
        (
            ["incident", "closed", "--project", "P", "--incident-id", "I", "--severity", "sev1"],
            "Invalid value for '{opened|resolved}': 'closed' is not one of 'opened', 'resolved'",
        ),
        (
            ["change", "merged", "--project", "P", "--change-id", "c1"],
            "Invalid value for '--committed-at': required for merged events",
        ),
        (
            [
                "test-run",
                "--project",
                "P",
                "--run-id",
                "r",
                "--passed",
                "5",
                "--failed",
                "0",
                "--duration-seconds",
                "3",
                "--coverage-ratio",
                "1.5",
            ],
            "Invalid value for '--coverage-ratio': coverage_ratio: must be in [0, 1], got 1.5",
        ),
        (
            [
                "test-run",
                "--project",
                "P",
                "--run-id",
                "r",
                "--passed",
                "5",
                "--failed",
                "-1",
                "--duration-seconds",
                "3",
            ],
            "Invalid value for '--failed': failed: must not be negative, got -1",
        ),
        (["deployment", "--project", "P"], "Missing option '--deployment-id'"),
    ],
)
def test_rejections_exit_2_naming_the_option(args: list[str], expected: str) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "not delivered" not in result.output


def test_an_unreachable_broker_stops_it_before_sending_naming_the_servers() -> None:
    result = run(*DEPLOY, "--status", "success", "--timeout", "0.5")
    assert result.exit_code == 1
    # `devmetrics` prints this one line and exits 1 (tests/integration/test_entry_points.py).
    assert isinstance(result.exception, KafkaAccessError)
    assert str(result.exception).startswith("no Kafka broker answers at 127.0.0.1:1 ")
