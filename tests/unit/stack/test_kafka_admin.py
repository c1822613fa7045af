"""Topic creation by clients whose ACLs hide or forbid topics (a secured stack's roles)."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

import core.kafka as kafka_admin
from core.settings import KafkaSettings

pytestmark = pytest.mark.unit


class _Metadata:
    def __init__(self, topics: set[str]) -> None:
        self.topics = dict.fromkeys(topics)


def _admin_raising(code: int, visible: set[str]) -> type:
    class FakeAdmin:
        def __init__(self, _config: dict[str, Any]) -> None:
            pass

        def list_topics(self, timeout: float) -> _Metadata:
            return _Metadata(visible)

        def create_topics(self, specs: list[Any], operation_timeout: float) -> dict[str, Future]:
            futures = {}
            for spec in specs:
                future: Future = Future()
                future.set_exception(KafkaException(KafkaError(code)))
                futures[spec.topic] = future
            return futures

    return FakeAdmin


def test_topics_a_role_may_not_create_are_left_to_the_operator(monkeypatch) -> None:
    fake = _admin_raising(KafkaError.TOPIC_AUTHORIZATION_FAILED, {"devmetrics.events.rfc"})
    monkeypatch.setattr(kafka_admin, "AdminClient", fake)
    assert kafka_admin.ensure_topics(KafkaSettings()) == []


def test_other_creation_errors_are_raised(monkeypatch) -> None:
    monkeypatch.setattr(
        kafka_admin, "AdminClient", _admin_raising(KafkaError.INVALID_REPLICATION_FACTOR, set())
    )
    with pytest.raises(KafkaException):
        kafka_admin.ensure_topics(KafkaSettings())
