"""The receiver's request handling, apart from HTTP plumbing: authenticate, parse, map,
validate, publish with every delivery acknowledged, or refuse with a counted reason and, when
authentic, dead-letter the body."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from confluent_kafka import KafkaError, Message

from producers.receiver import cdevents, github, gitlab, pagerduty, verify
from producers.receiver.errors import Ignored, ReceiverError, Unmappable
from producers.receiver.model import Mapped, Rules, event_ids
from producers.receiver.telemetry import ReceiverTelemetry
from schemas.codec import Codec, CodecError
from schemas.topics import Topics

log = logging.getLogger(__name__)

ROUTES = {
    "/webhooks/github": "github",
    "/webhooks/gitlab": "gitlab",
    "/webhooks/pagerduty": "pagerduty",
    "/webhooks/cdevents": "cdevents",
}
MAX_ERROR_CHARS = 1000


class Sink(Protocol):
    """What the service publishes through (a `producers.Publisher`)."""

    @property
    def codec(self) -> Codec: ...

    @property
    def topics(self) -> Topics: ...

    def publish(
        self, family: str, event: Mapping[str, Any], *, on_delivery: Any = None
    ) -> None: ...

    def publish_raw(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Any = None,
        *,
        on_delivery: Any = None,
    ) -> None: ...

    def poll(self, timeout_s: float = 0.0) -> int: ...


@dataclass(frozen=True)
class Secrets:
    """Each source's secret bytes, read from the files the settings name (None: refuse all)."""

    github: bytes | None = None
    gitlab: bytes | None = None
    pagerduty: bytes | None = None
    cdevents: bytes | None = None

    @classmethod
    def from_files(cls, receiver: Any) -> Secrets:
        def read(path: Path | None) -> bytes | None:
            if path is None:
                return None
            try:
                return path.read_bytes().strip() or None
            except OSError as exc:
                raise FileNotFoundError(f"webhook secret file {path}: {exc.strerror}") from exc

        return cls(
            github=read(receiver.github_secret_file),
            gitlab=read(receiver.gitlab_token_file),
            pagerduty=read(receiver.pagerduty_secret_file),
            cdevents=read(receiver.cdevents_token_file),
        )


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, Any]


@dataclass
class _Deliveries:
    """Counts down the delivery reports of one request's messages."""

    pending: int
    errors: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.pending == 0:
            self.done.set()

    def report(self, err: KafkaError | None, msg: Message) -> None:
        with self.lock:
            if err is not None:
                self.errors.append(f"{msg.topic()}: {err.str()}")
            self.pending -= 1
            if self.pending <= 0:
                self.done.set()


class ReceiverService:
    """Turns one webhook request into published events, or a refusal with a reason."""

    def __init__(
        self,
        sink: Sink,
        rules: Rules,
        secrets: Secrets,
        telemetry: ReceiverTelemetry,
        *,
        schemas: cdevents.CDEventSchemas | None = None,
        publish_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._sink = sink
        self._codec = sink.codec
        self._rules = rules
        self._secrets = secrets
        self._schemas = schemas
        self.telemetry = telemetry
        self._timeout = publish_timeout_s
        self._clock = clock
        # Publisher counters are plain ints: one thread produces or polls at a time.
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="receiver-poll", daemon=True)
        self._poller.start()

    def close(self) -> None:
        self._stop.set()
        self._poller.join(5)

    def _poll(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                served = self._sink.poll(0)
            if not served:
                time.sleep(0.001)

    # --- one request ----------------------------------------------------------------------

    def handle(self, source: str, headers: Mapping[str, str], body: bytes) -> Response:
        started = self._clock()
        authentic = False
        delivery = ""
        try:
            self._authenticate(source, headers, body)
            authentic = True
            delivery, mapped = self._map(source, headers, body)
            response = self._publish(source, delivery, mapped)
        except Ignored as exc:
            self.telemetry.ignored.labels(source, exc.reason).inc()
            response = Response(
                202, {"status": "ignored", "reason": exc.reason, "detail": exc.detail}
            )
        except ReceiverError as exc:
            self.telemetry.rejected.labels(source, exc.reason).inc()
            status = exc.status
            kept = not (authentic and isinstance(exc, Unmappable)) or self._dead_letter(
                source, headers, body, delivery, exc
            )
            if not kept:
                status = ReceiverUnavailable.status  # not kept: the sender should retry
            response = Response(
                status, {"status": "rejected", "reason": exc.reason, "detail": exc.detail}
            )
        self.telemetry.requests.labels(source, str(response.status)).inc()
        self.telemetry.request_seconds.labels(source).observe(self._clock() - started)
        return response

    def _authenticate(self, source: str, headers: Mapping[str, str], body: bytes) -> None:
        s = self._secrets
        if source == "github":
            verify.github(s.github, body, headers.get("x-hub-signature-256"))
        elif source == "gitlab":
            verify.gitlab(s.gitlab, headers.get("x-gitlab-token"))
        elif source == "pagerduty":
            verify.pagerduty(s.pagerduty, body, headers.get("x-pagerduty-signature"))
        else:
            verify.bearer(s.cdevents, headers.get("authorization"))

    def _map(
        self, source: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[str, list[Mapped]]:
        if source == "cdevents":
            if self._schemas is None:
                raise Unmappable("no_schemas", "the CDEvents schemas are not loaded")
            received = cdevents.parse(headers, body)
            return received.delivery_id, cdevents.map_event(
                received.cdevent, self._schemas, self._rules
            )
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise Unmappable("malformed_json", str(exc)[:200]) from exc
        if source == "github":
            delivery = headers.get("x-github-delivery")
        elif source == "gitlab":
            delivery = headers.get("idempotency-key") or headers.get("x-gitlab-event-uuid")
        else:
            delivery = pagerduty.delivery_id(payload)
        if not delivery:
            raise Unmappable("missing_delivery_id", "the request names no delivery id")
        if source == "github":
            return delivery, github.map_event(
                headers.get("x-github-event", ""), payload, self._rules
            )
        if source == "gitlab":
            return delivery, gitlab.map_event(
                headers.get("x-gitlab-event", ""), payload, self._rules
            )
        return delivery, pagerduty.map_event(payload, self._rules)

    def _publish(self, source: str, delivery: str, mapped: list[Mapped]) -> Response:
        events = []
        for event_id, item in zip(event_ids(source, delivery, len(mapped)), mapped, strict=True):
            record = {"event_id": event_id, **item.fields}
            try:
                events.append((item, self._codec.validate(item.family, record)))
            except CodecError as exc:
                raise Unmappable("invalid_event", f"{item.family}.{item.type}: {exc}") from exc
        deliveries = _Deliveries(len(events))
        started = self._clock()
        with self._lock:
            for item, record in events:
                self._sink.publish(item.family, record, on_delivery=deliveries.report)
        self._await(deliveries)
        self.telemetry.publish_seconds.observe(self._clock() - started)
        for item, _ in events:
            self.telemetry.events.labels(source, item.family, item.type).inc()
        return Response(
            200,
            {"status": "published", "event_ids": [r["event_id"] for _, r in events]},
        )

    def _await(self, deliveries: _Deliveries) -> None:
        if not deliveries.done.wait(self._timeout):
            raise ReceiverUnavailable("publish_timeout", f"{deliveries.pending} not acknowledged")
        if deliveries.errors:
            raise ReceiverUnavailable("publish_failed", "; ".join(deliveries.errors[:3]))

    def _dead_letter(
        self,
        source: str,
        headers: Mapping[str, str],
        body: bytes,
        delivery: str,
        exc: ReceiverError,
    ) -> bool:
        """Keep an authentic webhook that could not be mapped; False when the broker did not
        acknowledge it (the request is then answered 503, so nothing is lost silently)."""
        event_type = (
            headers.get("x-github-event")
            or headers.get("x-gitlab-event")
            or headers.get("ce-type")
            or ""
        )
        delivery = delivery or _header_delivery(source, headers)
        letter_headers = [
            ("dlq.reason", exc.reason.encode()),
            ("dlq.topic", f"webhook:{source}".encode()),
            ("dlq.error", str(exc)[:MAX_ERROR_CHARS].encode("utf-8", "replace")),
            ("dlq.delivery_id", delivery.encode()),
            ("dlq.event_type", event_type.encode()),
        ]
        deliveries = _Deliveries(1)
        with self._lock:
            self._sink.publish_raw(
                self._sink.topics.deadletter,
                source.encode(),
                body,
                letter_headers,
                on_delivery=deliveries.report,
            )
        try:
            self._await(deliveries)
        except ReceiverError as failed:
            log.error("dead letter of a %s webhook not delivered: %s", source, failed)
            self.telemetry.rejected.labels(source, "dead_letter_failed").inc()
            return False
        self.telemetry.dead_letters.labels(source, exc.reason).inc()
        return True


def _header_delivery(source: str, headers: Mapping[str, str]) -> str:
    """The delivery id a request's headers name, for a payload refused before it was read
    (PagerDuty names it only in the body; a structured CloudEvent only in its envelope)."""
    if source == "github":
        return headers.get("x-github-delivery", "")
    if source == "gitlab":
        return headers.get("idempotency-key") or headers.get("x-gitlab-event-uuid") or ""
    if source == "cdevents" and headers.get("ce-id"):
        return f"{headers.get('ce-source', '')}/{headers['ce-id']}"
    return ""


class ReceiverUnavailable(ReceiverError):
    """The broker did not acknowledge in time: 503, so the sender retries (same ids)."""

    status = 503
