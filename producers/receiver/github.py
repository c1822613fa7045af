"""GitHub webhooks (`X-GitHub-Event`) to events: a pure function of the event name and payload.

push -> change committed per distinct commit; pull_request closed+merged -> change merged,
review_requested -> review requested; pull_request_review submitted -> review completed;
deployment_status (final states) -> deployment finished; check_run completed with test counts
in its output -> test run completed; issues carrying an incident label -> incident
opened/resolved. Everything else is Ignored with a reason. Mapping in docs/sources.md.
"""

from __future__ import annotations

import json
import re
from typing import Any

from producers.receiver.errors import Ignored, Unmappable
from producers.receiver.model import (
    DEPLOYMENT_REF,
    FINDINGS,
    SEVERITY,
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

SOURCE = "github"
EVENTS = (
    "push",
    "pull_request",
    "pull_request_review",
    "deployment_status",
    "workflow_run",
    "check_run",
    "issues",
)
FINAL_DEPLOYMENT_STATES = {"success": "success", "failure": "failure", "error": "failure"}
REVIEW_OUTCOMES = {"approved": "approved", "changes_requested": "changes_requested"}
# "12 passed, 1 failed, 3 skipped" (pytest, JUnit reporters and most summaries) in a check
# run's output; counts the output does not name are 0.
TEST_COUNT = re.compile(r"(\d+)\s+(passed|failed|skipped|flaky)\b", re.IGNORECASE)


def map_event(name: str, payload: Any, rules: Rules) -> list[Mapped]:
    if not isinstance(payload, dict):
        raise Unmappable("malformed_payload", "the body is not a JSON object")
    mapper = _MAPPERS.get(name)
    if mapper is None:
        raise Ignored("unused_event_type", f"GitHub event {name!r} is not used")
    project = rules.project(get(payload, "repository", "full_name"))
    return mapper(payload, project, rules)


def _login(user: Any) -> str | None:
    login = get(user, "login")
    return login if isinstance(login, str) else None


def _push(payload: dict[str, Any], project: str, rules: Rules) -> list[Mapped]:
    if payload.get("deleted"):
        raise Ignored("branch_deleted", "a deleted ref carries no commits")
    commits = [c for c in payload.get("commits") or [] if isinstance(c, dict)]
    commits = [c for c in commits if c.get("distinct", True)]
    if not commits:
        raise Ignored("no_commits", "the push carries no new commits")
    ref = str(payload.get("ref") or "")
    return [committed(commit, project, rules, ref) for commit in commits]


def _pull_request(payload: dict[str, Any], project: str, rules: Rules) -> list[Mapped]:
    action = payload.get("action")
    pr = require(payload, "pull_request")
    texts = (pr.get("title"), pr.get("body"), get(pr, "head", "ref"))
    if action == "review_requested":
        reviewer = _login(payload.get("requested_reviewer"))
        if reviewer is None:
            raise Ignored("team_review_requested", "a team, not a reviewer, was requested")
        return [
            event(
                "review",
                "requested",
                project_id=project,
                occurred_at=millis(require(pr, "updated_at"), "pull_request.updated_at"),
                actor=rules.actor(reviewer),
                review_id=_review_id(project, pr, reviewer),
                change_id=_change_of(project, pr),
                iteration=1,
            )
        ]
    if action != "closed":
        raise Ignored("unused_action", f"pull_request {action!r} is not used")
    if not pr.get("merged"):
        raise Ignored("closed_unmerged", "the pull request was closed without merging")
    sha = pr.get("merge_commit_sha") or require(pr, "head", "sha")
    return [
        event(
            "change",
            "merged",
            project_id=project,
            occurred_at=millis(require(pr, "merged_at"), "pull_request.merged_at"),
            actor=rules.actor(_login(pr.get("user")), text=str(pr.get("body") or "")),
            change_id=sha,
            # The payload does not carry commit times: the opening of the pull request is the
            # earliest time it knows of (a pushed commit's own event is earlier, and wins).
            committed_at=millis(require(pr, "created_at"), "pull_request.created_at"),
            commit_sha=sha,
            **linked_ids(*texts),
        )
    ]


def _review_id(project: str, pr: dict[str, Any], reviewer: str) -> str:
    return f"{_change_of(project, pr)}/{reviewer}"


def _change_of(project: str, pr: dict[str, Any]) -> str:
    return f"{project}#{require(pr, 'number')}"


def _pull_request_review(payload: dict[str, Any], project: str, rules: Rules) -> list[Mapped]:
    if payload.get("action") != "submitted":
        raise Ignored("unused_action", f"pull_request_review {payload.get('action')!r}")
    review = require(payload, "review")
    state = str(review.get("state") or "").lower()
    outcome = REVIEW_OUTCOMES.get(state)
    if outcome is None:
        raise Ignored("review_without_outcome", f"a {state!r} review neither approves nor asks")
    pr = require(payload, "pull_request")
    reviewer = _login(review.get("user")) or "unknown"
    body = str(review.get("body") or "")
    findings = first_match(FINDINGS, [body])
    return [
        event(
            "review",
            "completed",
            project_id=project,
            occurred_at=millis(require(review, "submitted_at"), "review.submitted_at"),
            actor=rules.actor(reviewer, text=body),
            review_id=_review_id(project, pr, reviewer),
            change_id=_change_of(project, pr),
            iteration=1,
            outcome=outcome,
            findings_count=int(findings) if findings else 0,
        )
    ]


def _deployment_payload(deployment: dict[str, Any]) -> dict[str, Any]:
    """The deployment's free-form `payload` (an object, or a JSON string of one)."""
    raw = deployment.get("payload")
    if isinstance(raw, str) and raw.strip():
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise Unmappable("malformed_payload", "deployment.payload is not JSON") from exc
    return raw if isinstance(raw, dict) else {}


def deployment_fields(extra: dict[str, Any], change_ids: list[str]) -> dict[str, Any]:
    """kind, links and shipped changes from a deployment's custom data (docs/sources.md)."""
    kind = extra.get("kind") or "planned"
    if kind not in ("planned", "hotfix", "rollback"):
        raise Unmappable("invalid_field", f"deployment kind {kind!r}")
    listed = extra.get("change_ids") or []
    if not isinstance(listed, list):
        raise Unmappable("invalid_field", "change_ids must be a list")
    rolls_back = extra.get("rolls_back_deployment_id")
    if kind == "rollback" and not rolls_back:
        raise Unmappable("rollback_without_target", "a rollback names no rolls_back_deployment_id")
    return {
        "kind": kind,
        "change_ids": list(dict.fromkeys([*change_ids, *(str(c) for c in listed)])),
        "rolls_back_deployment_id": str(rolls_back) if rolls_back else None,
        "remediates_incident_id": (
            str(extra["remediates_incident_id"]) if extra.get("remediates_incident_id") else None
        ),
    }


def _deployment_status(payload: dict[str, Any], project: str, rules: Rules) -> list[Mapped]:
    status = require(payload, "deployment_status")
    state = str(status.get("state") or "")
    final = FINAL_DEPLOYMENT_STATES.get(state)
    if final is None:
        raise Ignored("deployment_not_finished", f"deployment state {state!r} is not final")
    deployment = require(payload, "deployment")
    extra = _deployment_payload(deployment)
    return [
        event(
            "deployment",
            "finished",
            project_id=project,
            occurred_at=millis(require(status, "created_at"), "deployment_status.created_at"),
            actor=rules.actor(_login(status.get("creator")) or _login(deployment.get("creator"))),
            deployment_id=str(require(deployment, "id")),
            environment=rules.environment(
                status.get("environment") or deployment.get("environment")
            ),
            status=final,
            started_at=millis(require(deployment, "created_at"), "deployment.created_at"),
            **deployment_fields(extra, [str(require(deployment, "sha"))]),
        )
    ]


def test_counts(*texts: str | None) -> dict[str, int] | None:
    """passed/failed/skipped/flaky named in a summary, or None when it names none."""
    counts: dict[str, int] = {}
    for text in texts:
        for number, what in TEST_COUNT.findall(text or ""):
            counts.setdefault(what.lower(), int(number))
    if not counts:
        return None
    return {k: counts.get(k, 0) for k in ("passed", "failed", "skipped", "flaky")}


def _check_run(payload: dict[str, Any], project: str, rules: Rules) -> list[Mapped]:
    if payload.get("action") != "completed":
        raise Ignored("unused_action", f"check_run {payload.get('action')!r}")
    run = require(payload, "check_run")
    output = run.get("output") or {}
    counts = test_counts(output.get("title"), output.get("summary"), output.get("text"))
    if counts is None:
        raise Ignored("no_test_counts", "the check run's output names no test counts")
    started = millis(require(run, "started_at"), "check_run.started_at")
    completed = millis(require(run, "completed_at"), "check_run.completed_at")
    return [
        event(
            "test",
            "run_completed",
            project_id=project,
            occurred_at=completed,
            actor=rules.actor(_login(payload.get("sender")), get(run, "app", "slug")),
            run_id=str(require(run, "id")),
            change_id=run.get("head_sha"),
            duration_seconds=max(completed - started, 0) / 1000,
            coverage_ratio=None,
            **counts,
        )
    ]


def _workflow_run(payload: dict[str, Any], project: str, rules: Rules) -> list[Mapped]:
    raise Ignored("no_test_counts", "a workflow run carries no test counts; its check runs do")


def _labels(issue: dict[str, Any]) -> list[str]:
    return [str(label.get("name") or "") for label in issue.get("labels") or [] if label]


def _issues(payload: dict[str, Any], project: str, rules: Rules) -> list[Mapped]:
    issue = require(payload, "issue")
    labels = _labels(issue)
    if not {label.lower() for label in labels} & rules.incident_labels:
        raise Ignored("not_an_incident", "the issue carries no incident label")
    action = payload.get("action")
    added = str(get(payload, "label", "name") or "").lower()
    if action == "opened" or (action == "labeled" and added in rules.incident_labels):
        kind, at = "opened", millis(require(issue, "created_at"), "issue.created_at")
    elif action == "closed":
        kind, at = "resolved", millis(require(issue, "closed_at"), "issue.closed_at")
    else:
        raise Ignored("unused_action", f"issues {action!r}")
    body = str(issue.get("body") or "")
    severity = first_match(SEVERITY, [*labels, body]) or "sev3"
    return [
        event(
            "incident",
            kind,
            project_id=project,
            occurred_at=at,
            actor=rules.actor(_login(payload.get("sender"))),
            incident_id=f"{project}#{require(issue, 'number')}",
            severity=severity.lower(),
            caused_by_deployment_id=first_match(DEPLOYMENT_REF, [*labels, body]),
            title=str(issue.get("title") or "")[:500] or None,
        )
    ]


_MAPPERS = {
    "push": _push,
    "pull_request": _pull_request,
    "pull_request_review": _pull_request_review,
    "deployment_status": _deployment_status,
    "workflow_run": _workflow_run,
    "check_run": _check_run,
    "issues": _issues,
}
