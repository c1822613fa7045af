"""PagerDuty v3 mapping, on the payload of PagerDuty's webhook documentation (developer docs,
"Webhooks v3 Overview": the incident event data)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from support.receiver import RULES
from support.webhook_payloads import TRIGGERED

from producers.receiver import pagerduty
from producers.receiver.errors import ReceiverError
from producers.receiver.model import Rules
from schemas.codec import Codec

pytestmark = pytest.mark.unit
CODEC = Codec.default()


def _mapped(payload: dict[str, Any], rules: Rules = RULES) -> dict[str, Any]:
    [mapped] = pagerduty.map_event(payload, rules)
    return CODEC.validate(
        "incident", {"event_id": "00000000-0000-4000-8000-000000000000", **mapped.fields}
    )


def test_a_triggered_incident_opens_one_naming_its_deployment() -> None:
    event = _mapped(TRIGGERED)
    assert (event["type"], event["incident_id"], event["severity"]) == ("opened", "PGR0VU2", "sev1")
    assert event["caused_by_deployment_id"] == "145988746"
    assert event["project_id"] == "API Service"
    assert event["occurred_at"] == 1601664322169
    assert pagerduty.delivery_id(TRIGGERED) == "5ac64822-4adc-4fda-ade0-410becf0de4f"


def test_a_resolved_incident_resolves_it_and_the_service_id_may_name_the_project() -> None:
    payload = copy.deepcopy(TRIGGERED)
    payload["event"]["event_type"] = "incident.resolved"
    payload["event"]["data"] |= {"priority": None, "urgency": "low"}
    event = _mapped(payload, Rules(project_aliases={"PF9KMXH": "checkout"}))
    assert (event["type"], event["severity"], event["project_id"]) == (
        "resolved",
        "sev3",
        "checkout",
    )


@pytest.mark.parametrize(
    ("payload", "status", "reason"),
    [
        (
            {"event": {**TRIGGERED["event"], "event_type": "incident.acknowledged"}},
            202,
            "unused_event_type",
        ),
        (
            {"event": {**TRIGGERED["event"], "event_type": "service.updated"}},
            202,
            "unused_event_type",
        ),
        ({"messages": []}, 400, "malformed_payload"),
        ({"event": {**TRIGGERED["event"], "data": None}}, 400, "missing_field"),
    ],
)
def test_refusals(payload: dict[str, Any], status: int, reason: str) -> None:
    with pytest.raises(ReceiverError) as refused:
        pagerduty.map_event(payload, RULES)
    assert (refused.value.status, refused.value.reason) == (status, reason)
