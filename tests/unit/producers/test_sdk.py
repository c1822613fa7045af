"""The agent SDK with a capturing publisher and the real codec."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from producers.sdk import DevMetricsClient
from schemas.codec import Codec, InvalidEvent

pytestmark = pytest.mark.unit

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
T0_MS = 1_714_564_800_000


class CapturingPublisher:
    """Keeps what a real publisher would have sent, as a consumer would decode it."""

    def __init__(self, fail: bool = False) -> None:
        self.codec = Codec.default()
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail

    def publish(self, family: str, event: Mapping[str, Any]) -> None:
        if self.fail:
            raise ConnectionError("broker gone")
        decoded = self.codec.decode(self.codec.encode(family, event))
        self.sent.append((decoded.family, decoded.record))


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def sink() -> CapturingPublisher:
    return CapturingPublisher()


@pytest.fixture
def client(sink: CapturingPublisher, clock: FakeClock) -> DevMetricsClient:
    ids = iter(f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 100))
    return DevMetricsClient(
        sink,
        "proj-42",
        "ai_agent",
        "builder",
        model="model-x",
        clock=clock,
        team="platform",
        new_id=lambda: next(ids),
    )


def envelope(n: int, occurred_at: int = T0_MS) -> dict[str, Any]:
    return {
        "event_id": f"00000000-0000-4000-8000-{n:012d}",
        "project_id": "proj-42",
        "team": "platform",
        "occurred_at": occurred_at,
        "source": "agent",
        "actor": {"kind": "ai_agent", "name": "builder", "model": "model-x"},
        "schema_version": 2,
    }


def test_each_method_emits_the_documented_record(
    client: DevMetricsClient, sink: CapturingPublisher
) -> None:
    earlier = T0 - timedelta(hours=2)
    ids = [
        client.rfc_submitted("rfc-1", title="Cache builds"),
        client.rfc_decided("rfc-1", "accepted"),
        client.task_created("task-1", rfc_id="rfc-1"),
        client.review_completed("rev-1", "c-1", "approved", iteration=2, findings_count=3),
        client.test_run(
            "run-1",
            passed=10,
            failed=1,
            skipped=2,
            flaky=1,
            duration_seconds=4.5,
            change_id="c-1",
            coverage_ratio=0.5,
        ),
        client.change_committed("c-1", commit_sha="abc", task_id="task-1", at=earlier),
        client.change_merged("c-1", committed_at=earlier),
        client.deployment_finished(
            "dep-2",
            environment="production",
            status="success",
            kind="rollback",
            change_ids=["c-1"],
            rolls_back_deployment_id="dep-1",
            remediates_incident_id="inc-1",
            started_at=earlier,
        ),
        client.incident_opened("inc-1", "sev1", caused_by_deployment_id="dep-1"),
        client.incident_resolved("inc-1", "sev1"),
        client.sli_sample(
            "api", requests_total=100, requests_good=99, latency_buckets=[(0.3, 95), (1.0, 100)]
        ),
    ]
    assert ids == [f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 12)]
    earlier_ms = T0_MS - 7_200_000
    assert sink.sent == [
        (
            "rfc",
            envelope(1)
            | {"type": "submitted", "rfc_id": "rfc-1", "decision": None, "title": "Cache builds"},
        ),
        (
            "rfc",
            envelope(2)
            | {"type": "decided", "rfc_id": "rfc-1", "decision": "accepted", "title": None},
        ),
        (
            "task",
            envelope(3)
            | {
                "type": "created",
                "task_id": "task-1",
                "rfc_id": "rfc-1",
                "attempt": 1,
                "tokens": None,
                "cost_usd": None,
                "duration_seconds": None,
                "error": None,
            },
        ),
        (
            "review",
            envelope(4)
            | {
                "type": "completed",
                "review_id": "rev-1",
                "change_id": "c-1",
                "iteration": 2,
                "outcome": "approved",
                "findings_count": 3,
            },
        ),
        (
            "test",
            envelope(5)
            | {
                "type": "run_completed",
                "run_id": "run-1",
                "change_id": "c-1",
                "passed": 10,
                "failed": 1,
                "skipped": 2,
                "flaky": 1,
                "duration_seconds": 4.5,
                "coverage_ratio": 0.5,
            },
        ),
        (
            "change",
            envelope(6, earlier_ms)
            | {
                "type": "committed",
                "change_id": "c-1",
                "committed_at": earlier_ms,
                "commit_sha": "abc",
                "task_id": "task-1",
                "rfc_id": None,
            },
        ),
        (
            "change",
            envelope(7)
            | {
                "type": "merged",
                "change_id": "c-1",
                "committed_at": earlier_ms,
                "commit_sha": None,
                "task_id": None,
                "rfc_id": None,
            },
        ),
        (
            "deployment",
            envelope(8)
            | {
                "type": "finished",
                "deployment_id": "dep-2",
                "environment": "production",
                "status": "success",
                "change_ids": ["c-1"],
                "kind": "rollback",
                "rolls_back_deployment_id": "dep-1",
                "remediates_incident_id": "inc-1",
                "started_at": earlier_ms,
            },
        ),
        (
            "incident",
            envelope(9)
            | {
                "type": "opened",
                "incident_id": "inc-1",
                "severity": "sev1",
                "caused_by_deployment_id": "dep-1",
                "title": None,
            },
        ),
        (
            "incident",
            envelope(10)
            | {
                "type": "resolved",
                "incident_id": "inc-1",
                "severity": "sev1",
                "caused_by_deployment_id": None,
                "title": None,
            },
        ),
        (
            "sli",
            envelope(11)
            | {
                "type": "window_sample",
                "service": "api",
                "interval_seconds": 10,
                "requests_total": 100,
                "requests_good": 99,
                "latency_buckets": [{"le": 0.3, "count": 95}, {"le": 1.0, "count": 100}],
            },
        ),
    ]


def task_record(n: int, at_ms: int, event_type: str, **fields: Any) -> dict[str, Any]:
    base = {
        "task_id": "task-7",
        "rfc_id": "rfc-1",
        "attempt": 2,
        "tokens": None,
        "cost_usd": None,
        "duration_seconds": None,
        "error": None,
    }
    return envelope(n, at_ms) | {"type": event_type} | base | fields


def test_task_context_times_and_reports_usage(
    client: DevMetricsClient, sink: CapturingPublisher, clock: FakeClock
) -> None:
    with client.task("task-7", rfc_id="rfc-1", attempt=2) as run:
        clock.advance(90.5)
        run.add_usage(tokens=1000, cost_usd=0.25)
        run.add_usage(tokens=500, cost_usd=0.5)
    assert (run.started_event_id, run.finished_event_id) == (
        "00000000-0000-4000-8000-000000000001",
        "00000000-0000-4000-8000-000000000002",
    )
    assert sink.sent == [
        ("task", task_record(1, T0_MS, "started")),
        (
            "task",
            task_record(
                2, T0_MS + 90_500, "completed", tokens=1500, cost_usd=0.75, duration_seconds=90.5
            ),
        ),
    ]


def test_task_context_reports_failure_and_reraises(
    client: DevMetricsClient, sink: CapturingPublisher, clock: FakeClock
) -> None:
    with (
        pytest.raises(RuntimeError, match="disk full"),
        client.task("task-7", rfc_id="rfc-1", attempt=2),
    ):
        clock.advance(3)
        raise RuntimeError("disk full")
    assert sink.sent[1] == (  # started, then failed
        "task",
        task_record(
            2, T0_MS + 3_000, "failed", duration_seconds=3.0, error="RuntimeError: disk full"
        ),
    )


def test_a_failure_that_cannot_be_reported_keeps_the_original_error(clock: FakeClock) -> None:
    sink = CapturingPublisher()
    client = DevMetricsClient(sink, "proj-42", "human", "ana", clock=clock)
    with pytest.raises(KeyError) as info, client.task("task-1"):
        sink.fail = True
        raise KeyError("missing")
    assert info.value.__notes__ == ["reporting task task-1 as failed failed too: broker gone"]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.rfc_decided("rfc-1", "maybe"), "decision"),
        (lambda c: c.rfc_submitted("rfc-1", at=datetime(2024, 5, 1)), "occurred_at"),  # noqa: DTZ001 - naive on purpose
        (lambda c: c.task_created(""), "task_id"),
        (lambda c: c.task_completed("t", tokens=-5), "tokens"),
        (lambda c: c.review_completed("r", "c", "lgtm"), "outcome"),
        (
            lambda c: c.test_run("r", passed=1, failed=0, duration_seconds=1, coverage_ratio=2.0),
            "coverage_ratio",
        ),
        (
            lambda c: c.deployment_finished(
                "d", environment="production", status="success", kind="rollback"
            ),
            "rolls_back_deployment_id",
        ),
        (lambda c: c.deployment_finished("d", environment="production", status="done"), "status"),
        (lambda c: c.incident_opened("i", "critical"), "severity"),
        (lambda c: c.sli_sample("api", requests_total=5, requests_good=6), "requests_good"),
        (lambda c: c.change_merged("c", committed_at=1_000), "committed_at"),
    ],
)
def test_bad_input_names_the_field_and_sends_nothing(
    client: DevMetricsClient, sink: CapturingPublisher, call, field: str
) -> None:
    with pytest.raises(InvalidEvent) as info:
        call(client)
    assert info.value.field == field
    assert sink.sent == []


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("", "human", "ana"), "project_id"),
        (("proj-1", "robot", "ana"), "actor.kind"),
        (("proj-1", "human", ""), "actor.name"),
    ],
)
def test_bad_identity_fails_at_construction(args: tuple[str, str, str], field: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        DevMetricsClient(CapturingPublisher(), *args)
    assert info.value.field == field


def test_bad_source_fails_at_construction() -> None:
    with pytest.raises(InvalidEvent) as info:
        DevMetricsClient(CapturingPublisher(), "proj-1", "human", "ana", source="cron")
    assert info.value.field == "source"


def test_add_usage_rejects_negative_values(client: DevMetricsClient) -> None:
    with client.task("task-1") as run:
        with pytest.raises(InvalidEvent) as info:
            run.add_usage(tokens=-1)
        assert info.value.field == "tokens"
        with pytest.raises(InvalidEvent) as info:
            run.add_usage(cost_usd=-0.5)
        assert info.value.field == "cost_usd"


def test_default_clock_is_aware_utc(sink: CapturingPublisher) -> None:
    client = DevMetricsClient(sink, "proj-1", "human", "ana")
    client.rfc_submitted("rfc-1")
    occurred = sink.sent[0][1]["occurred_at"]
    assert abs(occurred - datetime.now(UTC).timestamp() * 1000) < 60_000
