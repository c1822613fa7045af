"""GitHub mapping, on the real community corpus (@octokit/webhooks-examples) and on variants of
its payloads that exercise each mapped case."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from support.receiver import RULES, github_examples

from producers.receiver import github
from producers.receiver.errors import Ignored, ReceiverError
from producers.receiver.model import event_ids
from schemas.codec import Codec

pytestmark = pytest.mark.unit
CODEC = Codec.default()

# Why a corpus example of a supported event type may be refused: every other refusal fails.
ACCEPTED_REFUSALS = {
    "push": {"branch_deleted", "no_commits"},
    "pull_request": {"unused_action", "closed_unmerged", "team_review_requested"},
    "pull_request_review": {"unused_action", "review_without_outcome"},
    "deployment_status": {"deployment_not_finished"},
    "workflow_run": {"no_test_counts"},
    "check_run": {"unused_action", "no_test_counts"},
    "issues": {"not_an_incident", "unused_action"},
}


def _validated(name: str, payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    mapped = github.map_event(name, payload, RULES)
    ids = event_ids("github", "delivery", len(mapped))
    return [
        (m.family, CODEC.validate(m.family, {"event_id": i, **m.fields}))
        for i, m in zip(ids, mapped, strict=True)
    ]


def _corpus() -> list[tuple[str, int, dict[str, Any]]]:
    examples = github_examples()
    return [(name, i, ex) for name in github.EVENTS for i, ex in enumerate(examples[name])]


def test_the_corpus_holds_every_supported_event_type() -> None:
    examples = github_examples()
    assert all(examples.get(name) for name in github.EVENTS)


@pytest.mark.parametrize(("name", "index", "payload"), _corpus(), ids=lambda v: str(v)[:20])
def test_every_corpus_example_maps_to_valid_events_or_is_refused_with_a_stated_reason(
    name: str, index: int, payload: dict[str, Any]
) -> None:
    try:
        events = _validated(name, payload)
    except ReceiverError as exc:
        assert isinstance(exc, Ignored), exc
        assert exc.reason in ACCEPTED_REFUSALS[name], (name, payload.get("action"), exc)
        return
    assert events
    repo = payload["repository"]["full_name"]
    for family, event in events:
        assert event["project_id"] == repo and event["source"] == "webhook"
        _check_fields(name, payload, family, event)


def _check_fields(name: str, payload: dict[str, Any], family: str, event: dict[str, Any]) -> None:
    if name == "push":
        commit = next(c for c in payload["commits"] if c["id"] == event["change_id"])
        assert (family, event["type"], event["commit_sha"]) == ("change", "committed", commit["id"])
        assert event["committed_at"] == event["occurred_at"]
    elif name == "deployment_status":
        deployment = payload["deployment"]
        assert family == "deployment"
        assert event["deployment_id"] == str(deployment["id"])
        assert event["change_ids"] == [deployment["sha"]]
        assert event["status"] == "success" and event["kind"] == "planned"
        assert event["environment"] == "production"
    elif name == "pull_request":
        assert (family, event["type"]) == ("review", "requested")
        assert event["review_id"].endswith("/" + payload["requested_reviewer"]["login"])
    else:
        raise AssertionError(f"unexpected mapping of {name}: {event}")


def _example(name: str, pick: Any) -> dict[str, Any]:
    return copy.deepcopy(next(ex for ex in github_examples()[name] if pick(ex)))


def test_a_merged_pull_request_is_a_merged_change_with_its_linked_task_and_rfc() -> None:
    payload = _example("pull_request", lambda e: e["action"] == "closed")
    pr = payload["pull_request"]
    pr |= {
        "merged": True,
        "merged_at": "2026-03-02T10:00:00Z",
        "created_at": "2026-03-01T09:00:00Z",
    }
    pr["title"] = "Cache builds (TASK-42)"
    pr["body"] = (
        "Implements rfc-7.\n\nCo-authored-by: Copilot <198982749+Copilot@users.noreply.github.com>"
    )
    [(family, event)] = _validated("pull_request", payload)
    assert (family, event["type"]) == ("change", "merged")
    assert event["change_id"] == pr["merge_commit_sha"]
    assert (event["task_id"], event["rfc_id"]) == ("TASK-42", "RFC-7")
    assert event["committed_at"] == 1772355600000  # 2026-03-01T09:00:00Z
    assert event["occurred_at"] == 1772445600000
    assert event["actor"] == {"kind": "ai_agent", "name": "Copilot", "model": None}


def test_an_approving_review_with_findings_is_a_completed_review() -> None:
    payload = _example("pull_request_review", lambda e: e["action"] == "submitted")
    payload["review"] |= {"state": "approved", "body": "Looks right.\nFindings: 3"}
    payload["review"]["user"]["login"] = "copilot-swe-agent[bot]"
    [(family, event)] = _validated("pull_request_review", payload)
    assert (family, event["type"], event["outcome"]) == ("review", "completed", "approved")
    assert event["findings_count"] == 3
    assert event["actor"]["kind"] == "ai_agent"
    repo, number = payload["repository"]["full_name"], payload["pull_request"]["number"]
    assert event["review_id"] == f"{repo}#{number}/copilot-swe-agent[bot]"


def test_a_rollback_deployment_names_what_it_rolls_back_in_its_payload() -> None:
    payload = _example("deployment_status", lambda e: e["deployment_status"]["state"] == "success")
    payload["deployment"]["payload"] = {
        "kind": "rollback",
        "rolls_back_deployment_id": "145988700",
        "remediates_incident_id": "INC-9",
    }
    [(_, event)] = _validated("deployment_status", payload)
    assert event["kind"] == "rollback"
    assert event["rolls_back_deployment_id"] == "145988700"
    assert event["remediates_incident_id"] == "INC-9"


def test_a_rollback_without_its_target_is_unmappable() -> None:
    payload = _example("deployment_status", lambda e: e["deployment_status"]["state"] == "success")
    payload["deployment"]["payload"] = '{"kind": "rollback"}'
    with pytest.raises(ReceiverError) as refused:
        github.map_event("deployment_status", payload, RULES)
    assert (refused.value.status, refused.value.reason) == (400, "rollback_without_target")


def test_a_failed_deployment_status_is_a_failed_deployment() -> None:
    payload = _example("deployment_status", lambda e: e["deployment_status"]["state"] == "success")
    payload["deployment_status"]["state"] = "error"
    [(_, event)] = _validated("deployment_status", payload)
    assert event["status"] == "failure"


def test_an_issue_labelled_incident_opens_and_closes_an_incident_naming_its_deployment() -> None:
    payload = _example("issues", lambda e: e["action"] == "opened")
    issue = payload["issue"]
    issue["labels"] = [{"name": "incident"}, {"name": "sev2"}, {"name": "deployment:145988746"}]
    [(_, opened)] = _validated("issues", payload)
    assert (opened["type"], opened["severity"]) == ("opened", "sev2")
    assert opened["caused_by_deployment_id"] == "145988746"
    payload |= {"action": "closed"}
    issue["closed_at"] = "2026-03-02T11:00:00Z"
    issue["labels"] = [{"name": "incident"}]
    issue["body"] = "Caused by deployment: 145988746"
    [(_, resolved)] = _validated("issues", payload)
    assert resolved["type"] == "resolved" and resolved["incident_id"] == opened["incident_id"]
    assert resolved["caused_by_deployment_id"] == "145988746"
    assert resolved["severity"] == "sev3"


def test_a_completed_check_run_with_counts_in_its_output_is_a_test_run() -> None:
    payload = _example("check_run", lambda e: e["action"] == "completed")
    payload["check_run"]["output"]["summary"] = "118 passed, 2 failed, 5 skipped in 93.1s"
    [(family, event)] = _validated("check_run", payload)
    assert family == "test"
    assert (event["passed"], event["failed"], event["skipped"], event["flaky"]) == (118, 2, 5, 0)
    assert event["change_id"] == payload["check_run"]["head_sha"]


@pytest.mark.parametrize(
    ("name", "payload", "reason"),
    [
        ("ping", {"zen": "hi", "repository": {"full_name": "o/r"}}, "unused_event_type"),
        ("push", [], "malformed_payload"),
        ("push", {"commits": [{"id": "a", "timestamp": "x"}]}, "no_project"),
        (
            "push",
            {"repository": {"full_name": "o/r"}, "commits": [{"id": "a", "timestamp": "soon"}]},
            "bad_time",
        ),
        ("push", {"repository": {"full_name": "o/r"}, "commits": [{"id": "a"}]}, "missing_field"),
    ],
)
def test_refusals_name_their_reason(name: str, payload: Any, reason: str) -> None:
    with pytest.raises(ReceiverError) as refused:
        github.map_event(name, payload, RULES)
    assert refused.value.reason == reason
