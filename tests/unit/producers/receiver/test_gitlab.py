"""GitLab mapping, on payloads written from the examples of GitLab's webhook documentation
(docs.gitlab.com, "Webhook events"): push, merge request, deployment, pipeline, incident."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from support.receiver import RULES
from support.webhook_payloads import DEPLOYMENT, INCIDENT, MERGE_REQUEST, PIPELINE, PUSH

from producers.receiver import gitlab
from producers.receiver.errors import ReceiverError
from producers.receiver.model import event_ids
from schemas.codec import Codec

pytestmark = pytest.mark.unit
CODEC = Codec.default()


def _mapped(name: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    mapped = gitlab.map_event(name, payload, RULES)
    ids = event_ids("gitlab", "d", len(mapped))
    return [
        CODEC.validate(m.family, {"event_id": i, **m.fields})
        for i, m in zip(ids, mapped, strict=True)
    ]


def test_a_push_is_one_committed_change_per_commit() -> None:
    first, second = _mapped("Push Hook", PUSH)
    assert first["change_id"] == "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327"
    assert first["committed_at"] == 1323692851000  # 2011-12-12T12:27:31Z
    assert first["task_id"] == "TASK-17" and first["project_id"] == "mike/diaspora"
    assert second["task_id"] == "TASK-17"  # named by the branch
    assert second["actor"] == {"kind": "human", "name": "GitLab dev user", "model": None}


def test_a_merged_merge_request_is_a_merged_change() -> None:
    [event] = _mapped("Merge Request Hook", MERGE_REQUEST)
    assert (event["type"], event["change_id"]) == (
        "merged",
        "7b0a4e7d8f2c3b1a6e5d4c3b2a1f0e9d8c7b6a5f",
    )
    assert event["rfc_id"] == "RFC-3"
    assert event["committed_at"] == 1386091414000  # created_at


def test_an_approval_is_a_completed_review() -> None:
    payload = copy.deepcopy(MERGE_REQUEST)
    payload["object_attributes"]["action"] = "approved"
    [event] = _mapped("Merge Request Hook", payload)
    assert (event["type"], event["outcome"], event["review_id"]) == (
        "completed",
        "approved",
        "mike/diaspora!1/root",
    )


def test_a_successful_deployment_to_a_production_tier_is_a_production_deployment() -> None:
    [event] = _mapped("Deployment Hook", DEPLOYMENT)
    assert event["environment"] == "production" and event["status"] == "success"
    assert event["deployment_id"] == "15"
    assert event["change_ids"] == ["279484c09fbe69ededfced8c1bb6e6d24616b468"]
    assert event["occurred_at"] == 1619639400000  # 2021-04-28T19:50:00Z


def test_an_incident_opens_and_closes_naming_its_deployment() -> None:
    [opened] = _mapped("Issue Hook", INCIDENT)
    assert (opened["type"], opened["severity"], opened["caused_by_deployment_id"]) == (
        "opened",
        "sev2",
        "15",
    )
    closing = copy.deepcopy(INCIDENT)
    closing["object_attributes"] |= {"action": "close", "closed_at": "2021-04-28T21:10:00Z"}
    [resolved] = _mapped("Issue Hook", closing)
    assert resolved["type"] == "resolved" and resolved["incident_id"] == "mike/diaspora#23"
    assert resolved["occurred_at"] - opened["occurred_at"] == 3_600_000


@pytest.mark.parametrize(
    ("name", "payload", "status", "reason"),
    [
        ("Pipeline Hook", PIPELINE, 202, "no_test_counts"),
        ("Tag Push Hook", PUSH, 202, "unused_event_type"),
        ("Deployment Hook", DEPLOYMENT | {"status": "running"}, 202, "deployment_not_finished"),
        (
            "Issue Hook",
            INCIDENT | {"object_attributes": INCIDENT["object_attributes"] | {"type": "Issue"}},
            202,
            "not_an_incident",
        ),
        ("Push Hook", PUSH | {"commits": []}, 202, "no_commits"),
        ("Push Hook", {k: v for k, v in PUSH.items() if k != "project"}, 400, "no_project"),
    ],
)
def test_refusals(name: str, payload: dict[str, Any], status: int, reason: str) -> None:
    with pytest.raises(ReceiverError) as refused:
        gitlab.map_event(name, payload, RULES)
    assert (refused.value.status, refused.value.reason) == (status, reason)
