"""GitLab webhooks (`X-Gitlab-Event`) to events: a pure function of the event name and payload.

Push Hook -> change committed per commit; Merge Request Hook merge -> change merged,
approved -> review completed; Deployment Hook (final states) -> deployment finished; Issue
Hook of an incident (type Incident or an incident label) open/close -> incident
opened/resolved. Pipeline Hooks carry no test counts and are Ignored. docs/sources.md.
"""

from __future__ import annotations

from typing import Any

from producers.receiver.errors import Ignored, Unmappable
from producers.receiver.github import deployment_fields
from producers.receiver.model import (
    DEPLOYMENT_REF,
    Mapped,
    Rules,
    committed,
    event,
    first_match,
    get,
    linked_ids,
    millis,
    require,
)

SOURCE = "gitlab"
FINAL_DEPLOYMENT_STATES = {"success": "success", "failed": "failure"}
SEVERITIES = {"critical": "sev1", "high": "sev2", "medium": "sev3", "low": "sev4"}


def map_event(name: str, payload: Any, rules: Rules) -> list[Mapped]:
    if not isinstance(payload, dict):
        raise Unmappable("malformed_payload", "the body is not a JSON object")
    mapper = _MAPPERS.get(name)
    if mapper is None:
        raise Ignored("unused_event_type", f"GitLab event {name!r} is not used")
    project = rules.project(get(payload, "project", "path_with_namespace"))
    return mapper(payload, project, rules)


def _user(payload: dict[str, Any]) -> tuple[str | None, ...]:
    user = payload.get("user") or {}
    return (
        user.get("username") or payload.get("user_username"),
        user.get("name") or payload.get("user_name"),
    )


def _push(payload: dict[str, Any], project: str, rules: Rules) -> list[Mapped]:
    commits = [c for c in payload.get("commits") or [] if isinstance(c, dict)]
    if not commits:
        raise Ignored("no_commits", "the push carries no commits")
    ref = str(payload.get("ref") or "")
    return [committed(commit, project, rules, ref) for commit in commits]


def _merge_request(payload: dict[str, Any], project: str, rules: Rules) -> list[Mapped]:
    mr = require(payload, "object_attributes")
    action = mr.get("action")
    change = f"{project}!{require(mr, 'iid')}"
    if action == "approved":
        reviewer = _user(payload)[0] or "unknown"
        return [
            event(
                "review",
                "completed",
                project_id=project,
                occurred_at=millis(require(mr, "updated_at"), "object_attributes.updated_at"),
                actor=rules.actor(*_user(payload)),
                review_id=f"{change}/{reviewer}",
                change_id=change,
                iteration=1,
                outcome="approved",
                findings_count=0,
            )
        ]
    if action != "merge":
        raise Ignored("unused_action", f"merge request {action!r} is not used")
    sha = mr.get("merge_commit_sha") or require(mr, "last_commit", "id")
    return [
        event(
            "change",
            "merged",
            project_id=project,
            occurred_at=millis(
                mr.get("merged_at") or require(mr, "updated_at"), "object_attributes.updated_at"
            ),
            actor=rules.actor(*_user(payload), text=str(mr.get("description") or "")),
            change_id=sha,
            # As for GitHub: the opening of the merge request is the earliest time known.
            committed_at=millis(require(mr, "created_at"), "object_attributes.created_at"),
            commit_sha=sha,
            **linked_ids(mr.get("title"), mr.get("description"), mr.get("source_branch")),
        )
    ]


def _deployment(payload: dict[str, Any], project: str, rules: Rules) -> list[Mapped]:
    status = str(payload.get("status") or "")
    final = FINAL_DEPLOYMENT_STATES.get(status)
    if final is None:
        raise Ignored("deployment_not_finished", f"deployment status {status!r} is not final")
    environment = require(payload, "environment")
    if payload.get("environment_tier") == "production":
        environment = "production"
    commit_url = str(payload.get("commit_url") or "")
    sha = commit_url.rsplit("/", 1)[-1] if "/commit/" in commit_url else payload.get("short_sha")
    return [
        event(
            "deployment",
            "finished",
            project_id=project,
            occurred_at=millis(require(payload, "status_changed_at"), "status_changed_at"),
            actor=rules.actor(*_user(payload)),
            deployment_id=str(require(payload, "deployment_id")),
            environment=rules.environment(environment),
            status=final,
            started_at=None,
            **deployment_fields({}, [str(sha)] if sha else []),
        )
    ]


def _pipeline(payload: dict[str, Any], project: str, rules: Rules) -> list[Mapped]:
    raise Ignored("no_test_counts", "a pipeline hook carries no test counts")


def _issue(payload: dict[str, Any], project: str, rules: Rules) -> list[Mapped]:
    issue = require(payload, "object_attributes")
    labels = [
        str(label.get("title") or "")
        for label in payload.get("labels") or issue.get("labels") or []
        if isinstance(label, dict)
    ]
    is_incident = str(issue.get("type") or issue.get("issue_type") or "").lower() == "incident"
    if not is_incident and not {label.lower() for label in labels} & rules.incident_labels:
        raise Ignored("not_an_incident", "the issue is no incident and has no incident label")
    action = issue.get("action")
    if action == "open":
        kind, at = "opened", millis(require(issue, "created_at"), "object_attributes.created_at")
    elif action == "close":
        closed = issue.get("closed_at") or require(issue, "updated_at")
        kind, at = "resolved", millis(closed, "object_attributes.closed_at")
    else:
        raise Ignored("unused_action", f"issue {action!r} is not used")
    description = str(issue.get("description") or "")
    return [
        event(
            "incident",
            kind,
            project_id=project,
            occurred_at=at,
            actor=rules.actor(*_user(payload)),
            incident_id=f"{project}#{require(issue, 'iid')}",
            severity=SEVERITIES.get(str(issue.get("severity") or "").lower(), "sev3"),
            caused_by_deployment_id=first_match(DEPLOYMENT_REF, [*labels, description]),
            title=str(issue.get("title") or "")[:500] or None,
        )
    ]


_MAPPERS = {
    "Push Hook": _push,
    "Merge Request Hook": _merge_request,
    "Deployment Hook": _deployment,
    "Pipeline Hook": _pipeline,
    "Issue Hook": _issue,
}
