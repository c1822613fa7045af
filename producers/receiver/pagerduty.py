"""PagerDuty v3 webhooks to events: incident.triggered -> incident opened, incident.resolved
-> incident resolved; other event types are Ignored. The causing deployment is named in the
incident title as `deployment:<id>` (by id, never by time). docs/sources.md.
"""

from __future__ import annotations

from typing import Any

from producers.receiver.errors import Ignored, Unmappable
from producers.receiver.model import (
    DEPLOYMENT_REF,
    Mapped,
    Rules,
    event,
    first_match,
    millis,
    require,
)

SOURCE = "pagerduty"
KINDS = {"incident.triggered": "opened", "incident.resolved": "resolved"}
PRIORITIES = {"P1": "sev1", "P2": "sev2", "P3": "sev3", "P4": "sev4", "P5": "sev4"}
URGENCIES = {"high": "sev2", "low": "sev3"}


def delivery_id(payload: Any) -> str | None:
    """The outbound event's id: PagerDuty's redeliveries repeat it."""
    value = payload.get("event", {}).get("id") if isinstance(payload, dict) else None
    return str(value) if value else None


def map_event(payload: Any, rules: Rules) -> list[Mapped]:
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), dict):
        raise Unmappable("malformed_payload", "the body holds no `event` object")
    outbound = payload["event"]
    kind = KINDS.get(str(outbound.get("event_type")))
    if kind is None:
        raise Ignored("unused_event_type", f"PagerDuty {outbound.get('event_type')!r}")
    incident = require(outbound, "data")
    service = incident.get("service") or {}
    project = rules.project(
        rules.project_aliases.get(str(service.get("id"))) or service.get("summary")
    )
    priority = str((incident.get("priority") or {}).get("summary") or "")
    severity = PRIORITIES.get(priority) or URGENCIES.get(str(incident.get("urgency")), "sev3")
    agent = outbound.get("agent") or {}
    title = str(incident.get("title") or "")
    return [
        event(
            "incident",
            kind,
            project_id=project,
            occurred_at=millis(require(outbound, "occurred_at"), "event.occurred_at"),
            actor=rules.actor(agent.get("summary") or "pagerduty"),
            incident_id=str(require(incident, "id")),
            severity=severity,
            caused_by_deployment_id=first_match(DEPLOYMENT_REF, [title]),
            title=title[:500] or None,
        )
    ]
