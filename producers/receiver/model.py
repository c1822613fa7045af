"""What the source mappers share: the rules from the settings, the mapped event, and small
pure helpers (times, actors, linked ids). Mappers are pure: payload in, events out."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from producers.receiver.errors import Unmappable

# Event ids of one delivery are uuid5(namespace, "<source>/<delivery id>/<index>"): a
# redelivery (same delivery id) yields the same ids, so the processors count it once.
EVENT_ID_NAMESPACE = uuid.UUID("5d1e0c3a-8f0e-4b55-9a47-7f1d35c0a6b2")

TASK_ID = re.compile(r"\b(TASK-\d+)\b", re.IGNORECASE)
RFC_ID = re.compile(r"\b(RFC-\d+)\b", re.IGNORECASE)
DEPLOYMENT_REF = re.compile(r"\bdeployment[:=]\s*([A-Za-z0-9._/-]+)", re.IGNORECASE)
SEVERITY = re.compile(r"\b(?:severity[:=]\s*)?(sev[1-4])\b", re.IGNORECASE)
CO_AUTHOR = re.compile(r"^co-authored-by:\s*(.*?)\s*(?:<([^>]*)>)?\s*$", re.IGNORECASE | re.M)
FINDINGS = re.compile(r"^findings:\s*(\d+)\s*$", re.IGNORECASE | re.M)


@dataclass(frozen=True)
class Rules:
    """How payloads map, from `settings.receiver` (docs/sources.md)."""

    ai_actors: frozenset[str] = frozenset()
    project_aliases: Mapping[str, str] = field(default_factory=dict)
    incident_labels: frozenset[str] = frozenset({"incident"})
    production_environments: frozenset[str] = frozenset({"production", "prod"})

    @classmethod
    def from_settings(cls, receiver: Any) -> Rules:
        return cls(
            ai_actors=frozenset(a.lower() for a in receiver.ai_actors),
            project_aliases=dict(receiver.project_aliases),
            incident_labels=frozenset(label.lower() for label in receiver.incident_labels),
            production_environments=frozenset(e.lower() for e in receiver.production_environments),
        )

    def project(self, name: Any) -> str:
        if not isinstance(name, str) or not name.strip():
            raise Unmappable("no_project", "the payload names no repository, project or service")
        return self.project_aliases.get(name, name)

    def environment(self, name: Any) -> str:
        """The environment name, with the configured production names as `production`."""
        if not isinstance(name, str) or not name:
            raise Unmappable("missing_field", "no environment")
        return "production" if name.lower() in self.production_environments else name

    def is_agent(self, *names: str | None) -> str | None:
        """The first of `names` (login, display name or e-mail) that is a known AI agent."""
        for name in names:
            if not name:
                continue
            candidates = {name.lower()}
            if "@" in name:
                local = name.split("@", 1)[0].lower()
                candidates |= {local, local.split("+", 1)[-1]}
            if candidates & self.ai_actors:
                return name.split("@", 1)[0].split("+", 1)[-1]
        return None

    def actor(self, *names: str | None, text: str = "") -> dict[str, Any]:
        """An AI agent when a name or a Co-authored-by trailer of `text` is one, else human."""
        agent = self.is_agent(*names)
        if agent is None:
            for co_name, co_email in CO_AUTHOR.findall(text or ""):
                agent = self.is_agent(co_name, co_email) and (co_name or co_email)
                if agent:
                    break
        if agent:
            return {"kind": "ai_agent", "name": agent, "model": None}
        human = next((n for n in names if n), "unknown")
        return {"kind": "human", "name": human, "model": None}


@dataclass(frozen=True)
class Mapped:
    """One event of a family, without envelope ids (the service assigns them)."""

    family: str
    fields: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.fields["type"])


def event(
    family: str,
    event_type: str,
    *,
    project_id: str,
    occurred_at: int,
    actor: Mapping[str, Any],
    **fields: Any,
) -> Mapped:
    return Mapped(
        family,
        {
            "project_id": project_id,
            "occurred_at": occurred_at,
            "source": "webhook",
            "actor": dict(actor),
            "type": event_type,
            **fields,
        },
    )


def committed(commit: Mapping[str, Any], project: str, rules: Rules, ref: str) -> Mapped:
    """A pushed commit (GitHub's and GitLab's push payloads share this shape) as a change
    committed at its own timestamp, its task and RFC named by its message or the ref."""
    sha = require(commit, "id")
    at = millis(require(commit, "timestamp"), "commits[].timestamp")
    message = str(commit.get("message") or "")
    author = commit.get("author") or {}
    return event(
        "change",
        "committed",
        project_id=project,
        occurred_at=at,
        actor=rules.actor(
            author.get("username"), author.get("name"), author.get("email"), text=message
        ),
        change_id=sha,
        committed_at=at,
        commit_sha=sha,
        **linked_ids(message, ref),
    )


def event_ids(source: str, delivery_id: str, count: int) -> list[str]:
    return [
        str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{source}/{delivery_id}/{i}")) for i in range(count)
    ]


_GITLAB_TIME = re.compile(r"^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.\d+)? (UTC|[+-]\d{4})$")


def millis(value: Any, what: str) -> int:
    """Epoch milliseconds of an ISO 8601 time (also GitLab's `2024-05-01 12:00:00 UTC`)."""
    if isinstance(value, bool) or value is None:
        raise Unmappable("missing_field", f"no {what}")
    if isinstance(value, int | float):
        # GitHub's push repository times are epoch seconds.
        return int(value * 1000)
    text = str(value).strip()
    match = _GITLAB_TIME.match(text)
    if match:
        zone = "+0000" if match.group(3) == "UTC" else match.group(3)
        text = f"{match.group(1)}T{match.group(2)}{zone}"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Unmappable("bad_time", f"{what} {value!r} is not an ISO 8601 time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def first_match(pattern: re.Pattern[str], texts: Iterable[str | None]) -> str | None:
    for text in texts:
        if text:
            found = pattern.search(text)
            if found:
                return found.group(1)
    return None


def linked_ids(*texts: str | None) -> dict[str, str | None]:
    """task_id and rfc_id named by the TASK-<n> / RFC-<n> convention in titles, bodies, branches."""
    task = first_match(TASK_ID, texts)
    rfc = first_match(RFC_ID, texts)
    return {"task_id": task.upper() if task else None, "rfc_id": rfc.upper() if rfc else None}


def require(mapping: Any, *path: str) -> Any:
    """mapping[path[0]][path[1]]...; a missing or null step is an Unmappable naming the path."""
    value = mapping
    for i, key in enumerate(path):
        if not isinstance(value, Mapping) or value.get(key) is None:
            raise Unmappable("missing_field", ".".join(path[: i + 1]))
        value = value[key]
    return value


def get(mapping: Any, *path: str) -> Any:
    """Like `require`, but None for a missing step."""
    value = mapping
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value
