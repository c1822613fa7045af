"""Signature and token checks of each source, and the shared helpers of the mappers."""

from __future__ import annotations

import uuid

import pytest
from support.receiver import SECRET, hub_signature, pagerduty_signature

from producers.receiver import verify
from producers.receiver.errors import Unauthorized, Unmappable
from producers.receiver.model import Rules, event_ids, linked_ids, millis

pytestmark = pytest.mark.unit
BODY = b'{"zen": "Design for failure."}'


def test_a_valid_github_signature_passes() -> None:
    verify.github(SECRET, BODY, hub_signature(BODY))


@pytest.mark.parametrize(
    ("secret", "header", "reason"),
    [
        (None, "sha256=00", "no_secret"),
        (SECRET, None, "missing_signature"),
        (SECRET, "sha1=abc", "missing_signature"),
        (SECRET, hub_signature(BODY, b"other"), "bad_signature"),
        (SECRET, hub_signature(BODY + b" "), "bad_signature"),
    ],
)
def test_github_refusals(secret: bytes | None, header: str | None, reason: str) -> None:
    with pytest.raises(Unauthorized) as refused:
        verify.github(secret, BODY, header)
    assert refused.value.reason == reason and refused.value.status == 401


def test_pagerduty_accepts_any_matching_signature_of_a_rotation() -> None:
    verify.pagerduty(SECRET, BODY, f"v1=deadbeef,{pagerduty_signature(BODY)}")
    with pytest.raises(Unauthorized):
        verify.pagerduty(SECRET, BODY, "v1=deadbeef,v0=" + pagerduty_signature(BODY)[3:])


def test_gitlab_and_bearer_tokens() -> None:
    verify.gitlab(b"tok", "tok")
    verify.bearer(b"tok", "Bearer tok")
    for check in (lambda: verify.gitlab(b"tok", "tak"), lambda: verify.bearer(b"tok", "tok")):
        with pytest.raises(Unauthorized):
            check()


def test_event_ids_are_deterministic_per_delivery_and_index() -> None:
    ids = event_ids("github", "72d3162e-cc78-11e3-81ab-4c9367dc0958", 3)
    assert ids == event_ids("github", "72d3162e-cc78-11e3-81ab-4c9367dc0958", 3)
    assert len(set(ids)) == 3 and all(uuid.UUID(i).version == 5 for i in ids)
    assert ids[0] not in event_ids("gitlab", "72d3162e-cc78-11e3-81ab-4c9367dc0958", 1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T12:00:00Z", 1714564800000),
        ("2024-05-01T14:00:00+02:00", 1714564800000),
        ("2024-05-01 12:00:00 UTC", 1714564800000),
        ("2024-05-01 14:00:00 +0200", 1714564800000),
        (1714564800, 1714564800000),
    ],
)
def test_times(value: object, expected: int) -> None:
    assert millis(value, "t") == expected


def test_bad_times_are_unmappable() -> None:
    with pytest.raises(Unmappable):
        millis("yesterday", "t")


@pytest.mark.parametrize(
    ("names", "text", "kind", "name"),
    [
        (("Copilot",), "", "ai_agent", "Copilot"),
        (("octocat", "198982749+Copilot@users.noreply.github.com"), "", "ai_agent", "Copilot"),
        (
            ("octocat",),
            "Fix\n\nCo-authored-by: Copilot <198982749+Copilot@users.noreply.github.com>",
            "ai_agent",
            "Copilot",
        ),
        (("octocat",), "Fix\n\nCo-authored-by: Mona <mona@example.com>", "human", "octocat"),
        ((None,), "", "human", "unknown"),
    ],
)
def test_ai_agents_are_known_by_account_or_co_author_trailer(
    names: tuple[str | None, ...], text: str, kind: str, name: str
) -> None:
    actor = Rules(ai_actors=frozenset({"copilot"})).actor(*names, text=text)
    assert (actor["kind"], actor["name"]) == (kind, name)


def test_linked_ids_follow_the_task_and_rfc_convention() -> None:
    assert linked_ids("Cache builds", None, "feature/task-12-cache") == {
        "task_id": "TASK-12",
        "rfc_id": None,
    }
    assert linked_ids("RFC-3: TASK-4") == {"task_id": "TASK-4", "rfc_id": "RFC-3"}
