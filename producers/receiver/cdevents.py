"""CDEvents carried as CloudEvents (HTTP binary or structured mode) to events.

The CloudEvents binding is the `cloudevents` package's; the CDEvent in its data is validated
against the JSON schemas of its CDEvents specification version (0.3, 0.4 and 0.5: those the
CDEvents Go SDK ships, written into the stack cache by infra/setup.sh), then mapped by type.
Fields the specification has no place for (a project, shipped change ids, links between
deployments and incidents, test counts, task costs) come from the CDEvent's `customData`
object. docs/sources.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from cloudevents.core.exceptions import BaseCloudEventException
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from producers.receiver.errors import Ignored, Unmappable
from producers.receiver.github import deployment_fields
from producers.receiver.model import Mapped, Rules, event, millis, require

SOURCE = "cdevents"
# dev.cdevents.<subject>.<predicate>.<semver of the event type>
CDEVENT_TYPE = re.compile(r"^dev\.cdevents\.([a-z]+)\.([a-z]+)\.\d+\.\d+\.\d+(?:-[\w.]+)?$")
# The specification's version: `context.version` up to 0.3, `context.specversion` from 0.4.
SPEC_VERSION = re.compile(r"^(\d+)\.(\d+)\.\d+$")
# (subject, predicate) -> (family, type); ticket events exist from specification 0.4 on.
SUPPORTED = {
    ("change", "merged"): ("change", "merged"),
    ("change", "reviewed"): ("review", "completed"),
    ("service", "deployed"): ("deployment", "finished"),
    ("service", "upgraded"): ("deployment", "finished"),
    ("service", "rolledback"): ("deployment", "finished"),
    ("incident", "detected"): ("incident", "opened"),
    ("incident", "reported"): ("incident", "opened"),
    ("incident", "resolved"): ("incident", "resolved"),
    ("testsuiterun", "finished"): ("test", "run_completed"),
    ("ticket", "created"): ("task", "created"),
    ("ticket", "updated"): ("task", "started"),
    ("ticket", "closed"): ("task", "completed"),
}
# ticket.closed `resolution` -> task event type; other resolutions are not task outcomes.
TICKET_RESOLUTIONS = {"completed": "completed", "done": "completed", "failed": "failed"}


class CDEventSchemas:
    """The JSON schema validators of each specification version (major.minor), read once.

    A directory holds `<spec version>/<name>.json` per schema (infra/cdevents/schemas writes
    it from the Go SDK). An event of spec 0.5.0 is checked against the newest 0.5 patch
    there: patch releases of the specification do not change what an event may hold.
    """

    def __init__(self, schemas: Mapping[str, Mapping[str, dict[str, Any]]]) -> None:
        self.versions: dict[str, str] = {}  # "0.5" -> "0.5.1"
        self._validators: dict[tuple[str, str], Draft202012Validator] = {}
        for version in sorted(schemas, key=_semver):
            resources = [
                (s["$id"], Resource.from_contents(s))
                for s in schemas[version].values()
                if "$id" in s
            ]
            registry: Registry[Any] = Registry().with_resources(resources)
            minor = ".".join(version.split(".")[:2])
            self.versions[minor] = version
            for name, schema in schemas[version].items():
                if name.endswith("-event"):
                    subject, predicate = name.removesuffix("-event").split("-", 1)
                    self._validators[(minor, f"{subject}{predicate.replace('-', '')}")] = (
                        Draft202012Validator(schema, registry=registry)
                    )

    @classmethod
    def from_dir(cls, root: Path) -> CDEventSchemas:
        schemas = {
            version.name: {f.stem: json.loads(f.read_text()) for f in version.glob("*.json")}
            for version in sorted(root.glob("*.*.*"))
            if version.is_dir()
        }
        if not any(schemas.values()):
            raise FileNotFoundError(f"no CDEvents schemas under {root}; run infra/setup.sh")
        return cls(schemas)

    def validate(self, spec: str, subject: str, predicate: str, cdevent: Any) -> None:
        minor = ".".join(spec.split(".")[:2])
        if minor not in self.versions:
            raise Unmappable(
                "unsupported_spec_version",
                f"CDEvents {spec!r}; this receiver validates "
                + ", ".join(sorted(self.versions.values(), key=_semver)),
            )
        validator = self._validators.get((minor, f"{subject}{predicate}"))
        if validator is None:
            raise Ignored("unused_event_type", f"no {spec} schema for {subject}.{predicate}")
        error = next(iter(validator.iter_errors(cdevent)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            raise Unmappable("schema_invalid", f"{where}: {error.message}"[:500])


def _semver(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass(frozen=True)
class Received:
    """A parsed CloudEvent: its delivery id (source/id) and the CDEvent it carries."""

    delivery_id: str
    cdevent: dict[str, Any]


def parse(headers: Mapping[str, str], body: bytes) -> Received:
    """The CloudEvent of an HTTP request, binary (ce-* headers) or structured mode."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        cloud = from_http_event(HTTPMessage(headers=lowered, body=body))
    except (BaseCloudEventException, ValueError, TypeError, KeyError) as exc:
        raise Unmappable("not_a_cloudevent", str(exc)[:300]) from exc
    data = cloud.get_data()
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise Unmappable("malformed_payload", "the CloudEvent data is not JSON") from exc
    if not isinstance(data, dict):
        raise Unmappable("malformed_payload", "the CloudEvent data is not a CDEvent object")
    context_type = (data.get("context") or {}).get("type")
    if context_type != cloud.get_type():
        raise Unmappable(
            "type_mismatch", f"CloudEvent type {cloud.get_type()!r} != CDEvent {context_type!r}"
        )
    return Received(f"{cloud.get_source()}/{cloud.get_id()}", data)


def map_event(cdevent: dict[str, Any], schemas: CDEventSchemas, rules: Rules) -> list[Mapped]:
    context = require(cdevent, "context")
    parsed = CDEVENT_TYPE.match(str(require(context, "type")))
    if parsed is None:
        raise Ignored("unused_event_type", f"{context['type']!r} is no CDEvents type")
    subject_type, predicate = parsed.group(1), parsed.group(2)
    target = SUPPORTED.get((subject_type, predicate))
    if target is None:
        raise Ignored("unused_event_type", f"CDEvents {subject_type}.{predicate} is not used")
    spec = str(context.get("specversion") or context.get("version") or "")
    if SPEC_VERSION.match(spec) is None:
        raise Unmappable("unsupported_spec_version", f"CDEvents version {spec!r} is no x.y.z")
    schemas.validate(spec, subject_type, predicate, cdevent)
    custom = cdevent.get("customData")
    custom = custom if isinstance(custom, dict) else {}
    subject = require(cdevent, "subject")
    content = subject.get("content") or {}
    family, kind = target
    if family == "task":
        kind = _task_type(predicate, content, custom)
    actor = custom.get("actor")
    if not isinstance(actor, dict):
        who = content.get("updatedBy") or content.get("creator") if family == "task" else None
        actor = rules.actor(str(who or context["source"]))
    fields = _FIELDS[family](predicate, context, subject, content, custom, rules)
    return [
        event(
            family,
            kind,
            project_id=rules.project(custom.get("project") or context["source"]),
            occurred_at=millis(context["timestamp"], "context.timestamp"),
            actor={"kind": "human", "model": None} | actor,
            **fields,
        )
    ]


def _change(
    predicate: str, context: Any, subject: Any, content: Any, custom: Any, rules: Rules
) -> dict[str, Any]:
    change_id = str(subject["id"])
    return {
        "change_id": change_id,
        "committed_at": millis(
            custom.get("committed_at") or context["timestamp"], "customData.committed_at"
        ),
        "commit_sha": custom.get("commit_sha"),
        "task_id": custom.get("task_id"),
        "rfc_id": custom.get("rfc_id"),
    }


def _review(
    predicate: str, context: Any, subject: Any, content: Any, custom: Any, rules: Rules
) -> dict[str, Any]:
    outcome = custom.get("outcome")
    if outcome not in ("approved", "changes_requested"):
        raise Unmappable("missing_field", "customData.outcome (approved or changes_requested)")
    return {
        "review_id": str(custom.get("review_id") or context["id"]),
        "change_id": str(subject["id"]),
        "iteration": int(custom.get("iteration") or 1),
        "outcome": outcome,
        "findings_count": int(custom.get("findings_count") or 0),
    }


def _deployment(
    predicate: str, context: Any, subject: Any, content: Any, custom: Any, rules: Rules
) -> dict[str, Any]:
    extra = dict(custom)
    if predicate == "rolledback":
        extra["kind"] = "rollback"
    return {
        "deployment_id": str(custom.get("deployment_id") or context["id"]),
        "environment": rules.environment(require(content, "environment", "id")),
        "status": "success",
        "started_at": None,
        **deployment_fields(extra, []),
    }


def _incident(
    predicate: str, context: Any, subject: Any, content: Any, custom: Any, rules: Rules
) -> dict[str, Any]:
    return {
        "incident_id": str(subject["id"]),
        "severity": str(custom.get("severity") or "sev3"),
        "caused_by_deployment_id": custom.get("caused_by_deployment_id"),
        "title": (content.get("description") or None),
    }


def _test(
    predicate: str, context: Any, subject: Any, content: Any, custom: Any, rules: Rules
) -> dict[str, Any]:
    counts = {k: custom.get(k) for k in ("passed", "failed", "skipped", "flaky")}
    if counts["passed"] is None or counts["failed"] is None:
        raise Ignored("no_test_counts", "customData names no passed and failed counts")
    return {
        "run_id": str(subject["id"]),
        "change_id": custom.get("change_id"),
        "duration_seconds": float(custom.get("duration_seconds") or 0.0),
        "coverage_ratio": custom.get("coverage_ratio"),
        **{k: int(v or 0) for k, v in counts.items()},
    }


def _task_type(predicate: str, content: Any, custom: Any) -> str:
    """ticket.created -> created; ticket.updated -> started (only when customData.state says
    so); ticket.closed -> completed or failed by its resolution."""
    if predicate == "created":
        return "created"
    if predicate == "updated":
        if custom.get("state") != "started":
            raise Ignored("unused_update", "a ticket update whose customData.state is not started")
        return "started"
    resolution = str(content.get("resolution") or "").lower()
    if resolution not in TICKET_RESOLUTIONS:
        raise Ignored("unused_resolution", f"ticket closed as {resolution!r} is no task outcome")
    return TICKET_RESOLUTIONS[resolution]


def _task(
    predicate: str, context: Any, subject: Any, content: Any, custom: Any, rules: Rules
) -> dict[str, Any]:
    closed = predicate == "closed"
    failed = closed and TICKET_RESOLUTIONS.get(str(content.get("resolution")).lower()) == "failed"
    return {
        "task_id": str(subject["id"]),
        "rfc_id": custom.get("rfc_id"),
        "attempt": int(custom.get("attempt") or 1),
        "tokens": _number(custom, "tokens", int) if closed else None,
        "cost_usd": _number(custom, "cost_usd", float) if closed else None,
        "duration_seconds": _number(custom, "duration_seconds", float) if closed else None,
        "error": str(custom.get("error") or content.get("resolution")) if failed else None,
    }


def _number(custom: Any, key: str, kind: type[int] | type[float]) -> int | float | None:
    value = custom.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unmappable("malformed_payload", f"customData.{key} is not a number")
    return kind(value)


_FIELDS = {
    "task": _task,
    "change": _change,
    "review": _review,
    "deployment": _deployment,
    "incident": _incident,
    "test": _test,
}
