"""Hostile input through the processor's decoder and the exporter's rendering: nothing crashes,
everything refused is a dead letter with its reason, and the exposition stays well-formed
(parsed back exactly, and accepted by `promtool check metrics`)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from core.limits import GuardedCodec, InputLimits
from core.processor_settings import ProcessorSettings
from exporters.records import Upsert, read_record
from exporters.series import ServicePolicy
from exporters.shard import ShardState
from processors.admission import AsOf, partition_for
from processors.worker import FoldWorker, Incoming, MemoryBlockStore
from schemas.codec import Codec
from schemas.errors import CodecError
from schemas.topics import Topics

pytestmark = pytest.mark.unit

T = 1_772_366_400_000  # 2026-03-01 12:00 UTC
PARTITIONS = 4
TOPICS = Topics("fz")
CODEC = Codec.default()
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _worker() -> FoldWorker:
    return FoldWorker(
        ProcessorSettings(snapshot_min_interval_s=0),
        TOPICS,
        PARTITIONS,
        GuardedCodec(CODEC),
        MemoryBlockStore(),
        AsOf(T),
    )


def _sli(project: str, service: str, person: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "project_id": project,
        "occurred_at": T - 60_000,
        "source": "agent",
        "actor": {"kind": "human", "name": person, "model": None},
        "type": "window_sample",
        "service": service,
        "interval_seconds": 10,
        "requests_total": 10,
        "requests_good": 9,
    }


def _message(project: str, value: bytes, offset: int = 0, family: str = "sli") -> Incoming:
    return Incoming(
        topic=TOPICS.events(family),
        partition=partition_for(project, PARTITIONS),
        offset=offset,
        key=project.encode(),
        value=value,
        timestamp_ms=T,
    )


def _accounted(worker: FoldWorker, batch: list[Incoming]) -> list[str]:
    """Process a batch; every message must be applied, a duplicate, or a dead letter."""
    outcome = worker.process(batch, T)
    assert outcome.applied + outcome.duplicates + len(outcome.dead_letters) == len(batch)
    for letter in outcome.dead_letters:
        headers = dict(letter.headers)
        assert headers["dlq.reason"].decode() == letter.reason
        assert headers["dlq.topic"].decode() == batch[0].topic
    return [letter.reason for letter in outcome.dead_letters]


@FUZZ
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=20))
def test_random_bytes_are_dead_lettered(values: list[bytes]) -> None:
    batch = [_message("p1", v, offset=i) for i, v in enumerate(values)]
    assert set(_accounted(_worker(), batch)) <= {"undecodable", "unknown_schema"}


@FUZZ
@given(st.data())
def test_corrupted_events_are_applied_or_dead_lettered(data: st.DataObject) -> None:
    good = CODEC.encode("sli", _sli("p1", "api", "ana"))
    position = data.draw(st.integers(0, len(good) - 1))
    replacement = data.draw(st.binary(min_size=0, max_size=8))
    corrupted = good[:position] + replacement + good[position + 1 :]
    _accounted(_worker(), [_message("p1", corrupted)])


def test_oversized_and_absurd_events_are_dead_lettered_with_the_field_named() -> None:
    worker = _worker()
    huge = _sli("p1", "api", "ana") | {"service": "s" * 100_000}
    absurd = _sli("p1", "api", "ana") | {"requests_total": 10**15, "requests_good": 1}
    control = _sli("p1", "api\x00\x1b[2J", "ana")
    oversized = CODEC.encode("sli", huge)
    batch = [
        _message("p1", oversized, 0),
        _message("p1", CODEC.encode("sli", absurd), 1),
        _message("p1", CODEC.encode("sli", control), 2),
    ]
    outcome = worker.process(batch, T)
    assert [(x.reason, dict(x.headers)["dlq.error"].decode()) for x in outcome.dead_letters] == [
        ("oversized", f"{len(oversized)} bytes; events are at most 65536"),
        ("invalid_field", "requests_total: 1000000000000000 exceeds the plausible maximum 1e+12"),
        ("invalid_field", "service: 'api\\x00\\x1b[2J' holds control characters"),
    ]


def test_limits_leave_ordinary_events_alone() -> None:
    InputLimits().check(_sli("project-1", "checkout-api", "ana@example.org"))


# Any text, and text made of the characters that matter to the exposition format.
_hostile = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=140),
    st.text(alphabet=st.sampled_from('a0"\\{}=,# \n\tü☃'), min_size=1, max_size=40),
)


def _promtool_accepts(body: bytes) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed")
    result = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, check=False
    )
    # Exit 1 with only lint remarks is fine; 3 (or a parse error) means malformed exposition.
    assert result.returncode in (0, 1), result.stderr.decode()
    assert b"error while linting" not in result.stderr, result.stderr.decode()


@FUZZ
@given(field=st.sampled_from(["project", "service", "person"]), hostile=_hostile)
def test_hostile_label_values_never_break_the_exposition(field: str, hostile: str) -> None:
    names = {"project": "p1", "service": "api", "person": "ana"} | {field: hostile}
    project, service, person = names["project"], names["service"], names["person"]
    try:
        value = CODEC.encode("sli", _sli(project, service, person))
    except CodecError:
        return  # the producer refuses it already
    worker = _worker()
    reasons = _accounted(worker, [_message(project, value)])
    if reasons:
        assert reasons == ["invalid_field"]
        return
    shard = ShardState(0, 1, ServicePolicy())
    for out in worker.publish_due(T, flush=True):
        item = read_record(out.key, out.value, CODEC)
        assert isinstance(item, Upsert)
        shard.apply(item)
    body, _ = shard.scrape(accept_gzip=False)
    samples = [s for f in text_string_to_metric_families(body.decode()) for s in f.samples]
    requests = [s for s in samples if s.name == "devmetrics_slo_requests"]
    assert {(s.labels["project"], s.labels["service"]) for s in requests} == {(project, service)}
    _promtool_accepts(body)


def test_a_shard_serves_at_most_its_cap_of_projects() -> None:
    shard = ShardState(0, 1, ServicePolicy(), max_projects=2)
    worker = _worker()
    batch = [
        _message(p, CODEC.encode("sli", _sli(p, "api", "ana")), i)
        for i, p in enumerate(["a", "b", "c"])
    ]
    worker.process(batch, T)
    for out in worker.publish_due(T, flush=True):
        item = read_record(out.key, out.value, CODEC)
        assert isinstance(item, Upsert)
        shard.apply(item)
    assert len(shard.projects()) == 2
    assert 'devmetrics_exporter_records_rejected_total{reason="project_cap"} 1' in (
        shard.render_self_metrics()
    )
