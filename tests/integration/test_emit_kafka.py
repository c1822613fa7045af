"""`devmetrics emit` against the real broker: the event lands on its topic, exactly."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from click.testing import CliRunner

from core.settings import KafkaSettings, Settings
from producers.cli import emit
from schemas.codec import Codec
from schemas.topics import Topics

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed"),
]


def test_emit_deployment_is_delivered_and_reads_back(kafka_settings: KafkaSettings) -> None:
    result = CliRunner().invoke(
        emit,
        [
            "deployment",
            "--project",
            "proj-ci",
            "--deployment-id",
            "dep-9",
            "--status",
            "success",
            "--environment",
            "production",
            "--kind",
            "hotfix",
            "--change-id",
            "c1",
            "--change-id",
            "c2",
            "--remediates",
            "inc-4",
            "--actor-name",
            "release-bot",
            "--at",
            "2024-05-01T14:00:00+02:00",
        ],
        obj=Settings(kafka=kafka_settings),
    )
    assert result.exit_code == 0, result.output
    event_id = result.output.strip().splitlines()[-1]

    raw = subprocess.run(
        [
            "kcat",
            "-C",
            "-b",
            kafka_settings.bootstrap,
            "-t",
            Topics(kafka_settings.topic_prefix).events("deployment"),
            "-c",
            "1",
            "-e",
            "-f",
            "%k %s",
        ],
        capture_output=True,
        timeout=30,
        check=True,
    ).stdout
    key, _, value = raw.partition(b" ")
    assert key == b"proj-ci"
    assert Codec.default().decode(value).record == {
        "event_id": event_id,
        "project_id": "proj-ci",
        "team": None,
        "occurred_at": 1_714_564_800_000,  # 2024-05-01T12:00:00Z
        "source": "ci",
        "actor": {"kind": "human", "name": "release-bot", "model": None},
        "schema_version": 2,
        "type": "finished",
        "deployment_id": "dep-9",
        "environment": "production",
        "status": "success",
        "change_ids": ["c1", "c2"],
        "kind": "hotfix",
        "rolls_back_deployment_id": None,
        "remediates_incident_id": "inc-4",
        "started_at": None,
    }
