"""CDEvents in CloudEvents: the binding, validation against the specification's JSON schemas
(0.3, 0.4 and 0.5, from the CDEvents Go SDK), and the mapping of each supported type. The
events of real clients, the Java SDK (0.3) and the Go SDK (0.5), are sent in
tests/integration/test_receiver_kafka.py."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from support.receiver import RULES, cdevent_schemas

from producers.receiver import cdevents
from producers.receiver.errors import ReceiverError

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def schemas() -> cdevents.CDEventSchemas:
    return cdevent_schemas()


def _cdevent(
    kind: str, version: str, subject: dict[str, Any], custom: dict[str, Any]
) -> dict[str, Any]:
    return {
        "context": {
            "version": "0.3.0",
            "id": "d5eab6f9-b42c-4bfd-9f2c-463fe264f47b",
            "source": "/ci/pipeline",
            "type": f"dev.cdevents.{kind}.{version}",
            "timestamp": "2026-03-01T10:00:00Z",
        },
        "subject": subject,
        "customData": {"project": "shop", **custom},
        "customDataContentType": "application/json",
    }


DEPLOYED = _cdevent(
    "service.deployed",
    "0.1.1",
    {
        "id": "service/checkout",
        "source": "/ci/pipeline",
        "type": "service",
        "content": {"environment": {"id": "prod"}, "artifactId": "pkg:oci/checkout@sha256%3A0b1c"},
    },
    {"change_ids": ["c1", "c2"]},
)


def test_a_service_deployed_in_binary_mode_is_a_production_deployment(
    schemas: cdevents.CDEventSchemas,
) -> None:
    headers = {
        "ce-id": "1451ed6a",
        "ce-source": "/ci/pipeline",
        "ce-specversion": "0.3",
        "ce-type": DEPLOYED["context"]["type"],
        "content-type": "application/json",
    }
    received = cdevents.parse(headers, json.dumps(DEPLOYED).encode())
    assert received.delivery_id == "/ci/pipeline/1451ed6a"
    [mapped] = cdevents.map_event(received.cdevent, schemas, RULES)
    assert mapped.family == "deployment"
    f = mapped.fields
    assert (f["project_id"], f["deployment_id"], f["environment"]) == (
        "shop",
        DEPLOYED["context"]["id"],
        "production",
    )
    assert (f["status"], f["kind"], f["change_ids"]) == ("success", "planned", ["c1", "c2"])


def test_structured_mode_carries_the_same_event(schemas: cdevents.CDEventSchemas) -> None:
    envelope = {
        "specversion": "1.0",
        "id": "1451ed6a",
        "source": "/ci/pipeline",
        "type": DEPLOYED["context"]["type"],
        "datacontenttype": "application/json",
        "data": DEPLOYED,
    }
    received = cdevents.parse(
        {"Content-Type": "application/cloudevents+json"}, json.dumps(envelope).encode()
    )
    [mapped] = cdevents.map_event(received.cdevent, schemas, RULES)
    assert mapped.fields["deployment_id"] == DEPLOYED["context"]["id"]


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        (lambda e: e["subject"]["content"].pop("artifactId"), 400, "schema_invalid"),
        (lambda e: e["context"].update(version="0.9.0"), 400, "unsupported_spec_version"),
        (lambda e: e["context"].update(version="latest"), 400, "unsupported_spec_version"),
        # a 0.3 event claiming spec 0.5: its type and context do not fit the 0.5 schema
        (lambda e: e["context"].update(version="0.5.0"), 400, "schema_invalid"),
        (
            lambda e: e["context"].update(type="dev.cdevents.artifact.packaged.0.1.1"),
            202,
            "unused_event_type",
        ),
        (
            lambda e: e["context"].update(type="dev.cdevents.service.rolledback.0.1.1"),
            400,
            "rollback_without_target",
        ),
    ],
)
def test_refusals(schemas: cdevents.CDEventSchemas, change: Any, status: int, reason: str) -> None:
    event = copy.deepcopy(DEPLOYED)
    change(event)
    with pytest.raises(ReceiverError) as refused:
        cdevents.map_event(event, schemas, RULES)
    assert (refused.value.status, refused.value.reason) == (status, reason)


def test_a_cloudevent_whose_type_differs_from_its_cdevent_is_refused() -> None:
    headers = {
        "ce-id": "1",
        "ce-source": "/s",
        "ce-specversion": "1.0",
        "ce-type": "dev.cdevents.change.merged.0.1.2",
    }
    with pytest.raises(ReceiverError) as refused:
        cdevents.parse(
            headers | {"content-type": "application/json"}, json.dumps(DEPLOYED).encode()
        )
    assert refused.value.reason == "type_mismatch"


def test_a_body_that_is_no_cloudevent_is_refused() -> None:
    with pytest.raises(ReceiverError) as refused:
        cdevents.parse({"content-type": "application/cloudevents+json"}, b'{"hello": 1}')
    assert refused.value.reason == "not_a_cloudevent"


def _ticket(predicate: str, content: dict[str, Any], custom: dict[str, Any]) -> dict[str, Any]:
    """A CDEvents 0.5 ticket event (context.specversion, ticket event type 0.2.0)."""
    return {
        "context": {
            "specversion": "0.5.0",
            "id": f"ticket-{predicate}-1",
            "source": "/tracker",
            "type": f"dev.cdevents.ticket.{predicate}.0.2.0",
            "timestamp": "2026-03-01T10:00:00Z",
        },
        "subject": {
            "id": "task-42",
            "source": "/tracker",
            "content": {"uri": "https://tracker.example/task-42", **content},
        },
        "customData": {"project": "shop", **custom},
        "customDataContentType": "application/json",
    }


def test_ticket_events_of_spec_0_5_are_the_task_lifecycle(schemas: cdevents.CDEventSchemas) -> None:
    bot = {"creator": "copilot-swe-agent[bot]", "summary": "retry checkout"}
    created = _ticket("created", bot, {"rfc_id": "rfc-7"})
    started = _ticket("updated", {"updatedBy": "copilot-swe-agent[bot]"}, {"state": "started"})
    closed = _ticket(
        "closed",
        {"resolution": "completed", "updatedBy": "copilot-swe-agent[bot]"},
        {"tokens": 18250, "cost_usd": 0.42, "duration_seconds": 754.5, "attempt": 2},
    )
    [c], [s], [d] = (cdevents.map_event(e, schemas, RULES) for e in (created, started, closed))
    assert [(m.family, m.fields["type"]) for m in (c, s, d)] == [
        ("task", "created"),
        ("task", "started"),
        ("task", "completed"),
    ]
    assert c.fields["rfc_id"] == "rfc-7" and c.fields["tokens"] is None
    assert all(
        m.fields["task_id"] == "task-42" and m.fields["project_id"] == "shop" for m in (c, s, d)
    )
    assert all(m.fields["actor"]["kind"] == "ai_agent" for m in (c, s, d))
    assert (d.fields["tokens"], d.fields["cost_usd"], d.fields["duration_seconds"]) == (
        18250,
        0.42,
        754.5,
    )
    assert d.fields["attempt"] == 2 and d.fields["error"] is None
    assert d.fields["occurred_at"] == 1_772_359_200_000  # 2026-03-01T10:00:00Z


@pytest.mark.parametrize(
    ("event", "status", "reason"),
    [
        (_ticket("closed", {"resolution": "failed"}, {}), None, "failed"),
        (_ticket("closed", {"resolution": "duplicate"}, {}), 202, "unused_resolution"),
        (_ticket("updated", {}, {"state": "review"}), 202, "unused_update"),
        (_ticket("created", {"summary": "s"}, {}), 400, "schema_invalid"),  # no creator
        (
            _ticket("closed", {"resolution": "completed"}, {"tokens": "many"}),
            400,
            "malformed_payload",
        ),
    ],
)
def test_ticket_outcomes_and_refusals(
    schemas: cdevents.CDEventSchemas, event: dict[str, Any], status: int | None, reason: str
) -> None:
    if status is None:
        [mapped] = cdevents.map_event(event, schemas, RULES)
        assert (mapped.fields["type"], mapped.fields["error"]) == ("failed", reason)
        return
    with pytest.raises(ReceiverError) as refused:
        cdevents.map_event(event, schemas, RULES)
    assert (refused.value.status, refused.value.reason) == (status, reason)


def test_every_specification_version_of_the_go_sdk_is_loaded(
    schemas: cdevents.CDEventSchemas,
) -> None:
    assert schemas.versions == {"0.3": "0.3.0", "0.4": "0.4.1", "0.5": "0.5.1"}
