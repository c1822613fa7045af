"""The agent SDK: one method per event, validated by the shared codec before anything is sent.

    client = DevMetricsClient(publisher, "proj-42", "ai_agent", "builder", model="model-x")
    with client.task("task-7", rfc_id="rfc-1") as run:
        ...
        run.add_usage(tokens=1200, cost_usd=0.03)

Every method returns the event id. Time comes from the injected clock (aware UTC datetimes),
unless an explicit ``at`` is given.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from schemas.codec import Codec, InvalidEvent

Clock = Callable[[], datetime]
Timestamp = datetime | int
"""An aware datetime or epoch milliseconds."""

MAX_ERROR_LENGTH = 2_000


def system_clock() -> datetime:
    """The wall clock, aware UTC: the default for live producers."""
    return datetime.now(UTC)


def new_event_id() -> str:
    return str(uuid.uuid4())


class EventSink(Protocol):
    """Where the SDK sends validated events: a Publisher, or a test double."""

    @property
    def codec(self) -> Codec: ...

    def publish(self, family: str, event: Mapping[str, Any]) -> None: ...


@dataclass
class TaskRun:
    """A task attempt in progress: collects the usage reported by its completed/failed event."""

    task_id: str
    rfc_id: str | None
    attempt: int
    started_at: datetime
    tokens: int | None = None
    cost_usd: float | None = None
    started_event_id: str | None = None
    finished_event_id: str | None = None

    def add_usage(self, tokens: int = 0, cost_usd: float = 0.0) -> None:
        """Add model tokens and cost spent by this attempt (called any number of times)."""
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
            raise InvalidEvent("tokens", f"must be a non-negative integer, got {tokens!r}")
        if isinstance(cost_usd, bool) or not isinstance(cost_usd, int | float) or cost_usd < 0:
            raise InvalidEvent("cost_usd", f"must be a non-negative number, got {cost_usd!r}")
        self.tokens = (self.tokens or 0) + tokens
        self.cost_usd = (self.cost_usd or 0.0) + cost_usd


class DevMetricsClient:
    """Emits the events of one project and actor; shares the publisher's codec."""

    def __init__(
        self,
        publisher: EventSink,
        project_id: str,
        actor_kind: str,
        actor_name: str,
        model: str | None = None,
        source: str = "agent",
        clock: Clock | None = None,
        *,
        team: str | None = None,
        new_id: Callable[[], str] = new_event_id,
    ) -> None:
        self._publisher = publisher
        self._team = team
        self._codec = publisher.codec
        self._clock = clock or system_clock
        self._new_id = new_id
        self._project_id = project_id
        self._source = source
        self._actor = {"kind": actor_kind, "name": actor_name, "model": model}
        # Fail at construction, not at the first event, on a bad project id, actor or source.
        self._codec.validate(
            "rfc",
            self._envelope(946_684_800_000, "00000000-0000-0000-0000-000000000000")
            | {"type": "submitted", "rfc_id": "probe"},
        )

    @property
    def project_id(self) -> str:
        return self._project_id

    # --- rfc -----------------------------------------------------------------------------

    def rfc_submitted(
        self, rfc_id: str, *, title: str | None = None, at: Timestamp | None = None
    ) -> str:
        return self._emit("rfc", "submitted", at, rfc_id=rfc_id, title=title)

    def rfc_review_started(self, rfc_id: str, *, at: Timestamp | None = None) -> str:
        return self._emit("rfc", "review_started", at, rfc_id=rfc_id)

    def rfc_decided(self, rfc_id: str, decision: str, *, at: Timestamp | None = None) -> str:
        """decision: accepted, rejected or changes_requested."""
        return self._emit("rfc", "decided", at, rfc_id=rfc_id, decision=decision)

    def rfc_implemented(self, rfc_id: str, *, at: Timestamp | None = None) -> str:
        return self._emit("rfc", "implemented", at, rfc_id=rfc_id)

    # --- task ----------------------------------------------------------------------------

    def task_created(
        self, task_id: str, *, rfc_id: str | None = None, at: Timestamp | None = None
    ) -> str:
        return self._emit("task", "created", at, task_id=task_id, rfc_id=rfc_id)

    def task_started(
        self,
        task_id: str,
        *,
        rfc_id: str | None = None,
        attempt: int = 1,
        at: Timestamp | None = None,
    ) -> str:
        return self._emit("task", "started", at, task_id=task_id, rfc_id=rfc_id, attempt=attempt)

    def task_completed(
        self,
        task_id: str,
        *,
        rfc_id: str | None = None,
        attempt: int = 1,
        tokens: int | None = None,
        cost_usd: float | None = None,
        duration_seconds: float | None = None,
        at: Timestamp | None = None,
    ) -> str:
        return self._emit(
            "task",
            "completed",
            at,
            task_id=task_id,
            rfc_id=rfc_id,
            attempt=attempt,
            tokens=tokens,
            cost_usd=cost_usd,
            duration_seconds=duration_seconds,
        )

    def task_failed(
        self,
        task_id: str,
        error: str,
        *,
        rfc_id: str | None = None,
        attempt: int = 1,
        tokens: int | None = None,
        cost_usd: float | None = None,
        duration_seconds: float | None = None,
        at: Timestamp | None = None,
    ) -> str:
        return self._emit(
            "task",
            "failed",
            at,
            task_id=task_id,
            rfc_id=rfc_id,
            attempt=attempt,
            tokens=tokens,
            cost_usd=cost_usd,
            duration_seconds=duration_seconds,
            error=error[:MAX_ERROR_LENGTH],
        )

    @contextmanager
    def task(self, task_id: str, rfc_id: str | None = None, attempt: int = 1) -> Iterator[TaskRun]:
        """Emit started now, then completed on normal exit or failed (and re-raise) on error."""
        run = TaskRun(task_id, rfc_id, attempt, self._now())
        run.started_event_id = self.task_started(
            task_id, rfc_id=rfc_id, attempt=attempt, at=run.started_at
        )
        try:
            yield run
        except BaseException as exc:
            self._finish(run, exc)
            raise
        self._finish(run, None)

    def _finish(self, run: TaskRun, exc: BaseException | None) -> None:
        end = self._now()
        fields: dict[str, Any] = {
            "task_id": run.task_id,
            "rfc_id": run.rfc_id,
            "attempt": run.attempt,
            "tokens": run.tokens,
            "cost_usd": run.cost_usd,
            "duration_seconds": max((end - run.started_at).total_seconds(), 0.0),
        }
        if exc is None:
            run.finished_event_id = self._emit("task", "completed", end, **fields)
            return
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
        try:
            run.finished_event_id = self._emit("task", "failed", end, error=error, **fields)
        except Exception as report_error:
            exc.add_note(f"reporting task {run.task_id} as failed failed too: {report_error}")

    # --- review --------------------------------------------------------------------------

    def review_requested(
        self, review_id: str, change_id: str, *, iteration: int = 1, at: Timestamp | None = None
    ) -> str:
        return self._emit(
            "review", "requested", at, review_id=review_id, change_id=change_id, iteration=iteration
        )

    def review_completed(
        self,
        review_id: str,
        change_id: str,
        outcome: str,
        *,
        iteration: int = 1,
        findings_count: int = 0,
        at: Timestamp | None = None,
    ) -> str:
        """outcome: approved or changes_requested; the client's actor is the reviewer."""
        return self._emit(
            "review",
            "completed",
            at,
            review_id=review_id,
            change_id=change_id,
            iteration=iteration,
            outcome=outcome,
            findings_count=findings_count,
        )

    # --- test ----------------------------------------------------------------------------

    def test_run(
        self,
        run_id: str,
        *,
        passed: int,
        failed: int,
        duration_seconds: float,
        skipped: int = 0,
        flaky: int = 0,
        change_id: str | None = None,
        coverage_ratio: float | None = None,
        at: Timestamp | None = None,
    ) -> str:
        """A completed test-suite run; flaky tests are counted in passed too."""
        return self._emit(
            "test",
            "run_completed",
            at,
            run_id=run_id,
            change_id=change_id,
            passed=passed,
            failed=failed,
            skipped=skipped,
            flaky=flaky,
            duration_seconds=duration_seconds,
            coverage_ratio=coverage_ratio,
        )

    # --- change --------------------------------------------------------------------------

    def change_committed(
        self,
        change_id: str,
        *,
        commit_sha: str | None = None,
        task_id: str | None = None,
        rfc_id: str | None = None,
        at: Timestamp | None = None,
    ) -> str:
        """The commit time is the event time."""
        when = self._now() if at is None else at
        return self._emit(
            "change",
            "committed",
            when,
            change_id=change_id,
            committed_at=when,
            commit_sha=commit_sha,
            task_id=task_id,
            rfc_id=rfc_id,
        )

    def change_merged(
        self,
        change_id: str,
        *,
        committed_at: Timestamp,
        commit_sha: str | None = None,
        task_id: str | None = None,
        rfc_id: str | None = None,
        at: Timestamp | None = None,
    ) -> str:
        return self._emit(
            "change",
            "merged",
            at,
            change_id=change_id,
            committed_at=committed_at,
            commit_sha=commit_sha,
            task_id=task_id,
            rfc_id=rfc_id,
        )

    # --- deployment and incident ---------------------------------------------------------

    def deployment_finished(
        self,
        deployment_id: str,
        *,
        environment: str,
        status: str,
        kind: str = "planned",
        change_ids: Iterable[str] = (),
        rolls_back_deployment_id: str | None = None,
        remediates_incident_id: str | None = None,
        started_at: Timestamp | None = None,
        at: Timestamp | None = None,
    ) -> str:
        """status: success or failure; kind: planned, hotfix or rollback."""
        return self._emit(
            "deployment",
            "finished",
            at,
            deployment_id=deployment_id,
            environment=environment,
            status=status,
            kind=kind,
            change_ids=list(change_ids),
            rolls_back_deployment_id=rolls_back_deployment_id,
            remediates_incident_id=remediates_incident_id,
            started_at=started_at,
        )

    def incident_opened(
        self,
        incident_id: str,
        severity: str,
        *,
        caused_by_deployment_id: str | None = None,
        title: str | None = None,
        at: Timestamp | None = None,
    ) -> str:
        """severity: sev1 .. sev4."""
        return self._emit(
            "incident",
            "opened",
            at,
            incident_id=incident_id,
            severity=severity,
            caused_by_deployment_id=caused_by_deployment_id,
            title=title,
        )

    def incident_resolved(
        self,
        incident_id: str,
        severity: str,
        *,
        caused_by_deployment_id: str | None = None,
        title: str | None = None,
        at: Timestamp | None = None,
    ) -> str:
        return self._emit(
            "incident",
            "resolved",
            at,
            incident_id=incident_id,
            severity=severity,
            caused_by_deployment_id=caused_by_deployment_id,
            title=title,
        )

    # --- sli -----------------------------------------------------------------------------

    def sli_sample(
        self,
        service: str,
        *,
        requests_total: int,
        requests_good: int,
        interval_seconds: int = 10,
        latency_buckets: Sequence[tuple[float, int]] = (),
        at: Timestamp | None = None,
    ) -> str:
        """Counts of one interval ending at ``at``; buckets are (le seconds, cumulative count)."""
        return self._emit(
            "sli",
            "window_sample",
            at,
            service=service,
            interval_seconds=interval_seconds,
            requests_total=requests_total,
            requests_good=requests_good,
            latency_buckets=[{"le": le, "count": n} for le, n in latency_buckets],
        )

    # --- plumbing ------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self._clock()

    def _envelope(self, at: Timestamp, event_id: str) -> dict[str, Any]:
        return {
            "event_id": event_id,
            "project_id": self._project_id,
            "team": self._team,
            "occurred_at": at,
            "source": self._source,
            "actor": dict(self._actor),
        }

    def _emit(self, family: str, event_type: str, at: Timestamp | None, **fields: Any) -> str:
        event_id = self._new_id()
        event = self._envelope(self._now() if at is None else at, event_id)
        event |= {"type": event_type, **fields}
        # Validate here too: a test double or another sink must never see a bad event.
        self._publisher.publish(family, self._codec.validate(family, event))
        return event_id
