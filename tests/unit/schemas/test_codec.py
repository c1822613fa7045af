"""The codec: wire format, timestamps, validation, errors and schema evolution."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import avro.schema
import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import (
    SCHEMA_DIR,
    Codec,
    CodecError,
    Decoded,
    InvalidEvent,
    Undecodable,
    UnknownFamily,
    UnknownSchema,
    strip_logical_types,
)
from schemas.examples import EXAMPLES, T0, example_event
from schemas.topics import FAMILIES

pytestmark = pytest.mark.unit

ALL_FAMILIES = [*FAMILIES, "state"]


def rabin(data: bytes) -> int:
    """CRC-64-AVRO written from the Avro specification, independent of the codec."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def schema_json(family: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / f"{family}.avsc").read_text())


def test_rabin_matches_the_specification_vectors() -> None:
    assert rabin(b'"null"') == 7195948357588979594
    assert rabin(b'"int"') == 8247732601305521295


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_fingerprint_is_rabin_of_the_parsing_canonical_form(codec: Codec, family: str) -> None:
    # The Apache library keeps logicalType wrappers in its canonical form (against the
    # specification), so it is given the schema with them stripped.
    canonical = avro.schema.parse(json.dumps(strip_logical_types(schema_json(family))))
    assert codec.fingerprint(family) == rabin(canonical.canonical_form.encode())


def test_families_are_the_schema_files(codec: Codec) -> None:
    assert sorted(codec.families) == sorted(ALL_FAMILIES)


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_round_trip_every_family(codec: Codec, family: str) -> None:
    event = example_event(family)
    data = codec.encode(family, event)
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == codec.fingerprint(family).to_bytes(8, "little")
    decoded = codec.decode(data)
    assert decoded == Decoded(family, codec.fingerprint(family), event)


def test_missing_optional_fields_decode_as_their_defaults(codec: Codec) -> None:
    event = example_event("deployment", kind="planned")
    for name in (
        "change_ids",
        "rolls_back_deployment_id",
        "remediates_incident_id",
        "started_at",
        "schema_version",
        "team",
    ):
        del event[name]
    event["actor"] = {"kind": "human", "name": "ci"}
    record = codec.decode(codec.encode("deployment", event)).record
    assert record["change_ids"] == []
    assert record["rolls_back_deployment_id"] is None
    assert record["started_at"] is None
    assert record["schema_version"] == 2
    assert record["team"] is None
    assert record["actor"] == {"kind": "human", "name": "ci", "model": None}


def test_aware_datetimes_become_epoch_millis(codec: Codec) -> None:
    plus_two = timezone(timedelta(hours=2))
    event = example_event(
        "change",
        occurred_at=datetime(2024, 5, 1, 2, 0, 0, 1_999, tzinfo=plus_two),  # T0 + 1.999 ms
        committed_at=datetime(2024, 4, 30, 23, 0, tzinfo=UTC),
    )
    record = codec.decode(codec.encode("change", event)).record
    assert record["occurred_at"] == T0 + 1
    assert record["committed_at"] == T0 - 3_600_000
    assert isinstance(event["occurred_at"], datetime), "the caller's event is not modified"


def test_datetime_and_millis_encode_to_identical_bytes(codec: Codec) -> None:
    as_millis = codec.encode("incident", example_event("incident", occurred_at=T0))
    as_datetime = codec.encode(
        "incident", example_event("incident", occurred_at=datetime(2024, 5, 1, tzinfo=UTC))
    )
    assert as_millis == as_datetime


def test_naive_datetime_is_rejected_naming_the_field(codec: Codec) -> None:
    event = example_event("change", committed_at=datetime(2024, 5, 1))  # noqa: DTZ001 - the point of the test
    with pytest.raises(InvalidEvent) as info:
        codec.encode("change", event)
    assert info.value.field == "committed_at"
    assert info.value.reason == "invalid_field"
    assert "naive" in str(info.value)


def _drop(name: str):
    def mutate(event: dict[str, Any]) -> None:
        del event[name]

    return mutate


def _set(path: str, value: Any):
    def mutate(event: dict[str, Any]) -> None:
        target = event
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


INVALID = [
    ("rfc", _set("event_id", "not-a-uuid"), "event_id"),
    ("rfc", _set("event_id", 12), "event_id"),
    ("rfc", _set("project_id", ""), "project_id"),
    ("rfc", _set("project_id", "p" * 129), "project_id"),
    ("rfc", _set("project_id", "p\n1"), "project_id"),
    ("rfc", _set("project_id", " p1"), "project_id"),
    ("rfc", _drop("project_id"), "project_id"),
    ("rfc", _set("source", "cron"), "source"),
    ("rfc", _set("actor.kind", "robot"), "actor.kind"),
    ("rfc", _set("actor.name", ""), "actor.name"),
    ("rfc", _set("actor", "builder"), "actor"),
    ("rfc", _set("occurred_at", 1_714_521_600), "occurred_at"),  # seconds, not millis
    ("rfc", _set("occurred_at", 4_102_444_800_000), "occurred_at"),  # 2100-01-01
    ("rfc", _set("occurred_at", "2024-05-01"), "occurred_at"),
    ("rfc", _set("occurred_at", True), "occurred_at"),
    ("rfc", _set("decision", None), "decision"),
    ("rfc", _set("decision", "maybe"), "decision"),
    ("rfc", _set("type", "closed"), "type"),
    ("rfc", _set("rfc_id", ""), "rfc_id"),
    ("rfc", _set("reviewer", "x"), "reviewer"),  # unknown field: a typo must not vanish
    ("task", _set("tokens", -1), "tokens"),
    ("task", _set("cost_usd", -0.01), "cost_usd"),
    ("task", _set("cost_usd", float("nan")), "cost_usd"),
    ("task", _set("cost_usd", float("inf")), "cost_usd"),
    ("task", _set("duration_seconds", -2.0), "duration_seconds"),
    ("task", _set("attempt", 0), "attempt"),
    ("task", _set("attempt", 2**31), "attempt"),
    ("task", _set("tokens", 1.5), "tokens"),
    ("review", _set("outcome", None), "outcome"),
    ("review", _set("findings_count", -1), "findings_count"),
    ("review", _set("iteration", 0), "iteration"),
    ("test", _set("passed", -1), "passed"),
    ("test", _set("failed", -1), "failed"),
    ("test", _set("skipped", -1), "skipped"),
    ("test", _set("flaky", 121), "flaky"),
    ("test", _set("coverage_ratio", 1.01), "coverage_ratio"),
    ("test", _set("coverage_ratio", -0.1), "coverage_ratio"),
    ("test", _set("duration_seconds", -1.0), "duration_seconds"),
    ("change", _drop("committed_at"), "committed_at"),
    ("deployment", _drop("deployment_id"), "deployment_id"),
    ("deployment", _set("environment", ""), "environment"),
    ("deployment", _drop("status"), "status"),
    ("deployment", _set("status", "ok"), "status"),
    ("deployment", _drop("kind"), "kind"),
    ("deployment", _set("rolls_back_deployment_id", None), "rolls_back_deployment_id"),
    ("deployment", _set("change_ids", "c-8"), "change_ids"),
    ("deployment", _set("change_ids", ["c-8", 9]), "change_ids[1]"),
    ("deployment", _set("change_ids", ["c-8", ""]), "change_ids[1]"),
    ("deployment", _set("started_at", 5), "started_at"),
    ("incident", _set("incident_id", ""), "incident_id"),
    ("incident", _set("severity", "sev0"), "severity"),
    ("sli", _set("requests_good", 1001), "requests_good"),
    ("sli", _set("requests_total", -1), "requests_total"),
    ("sli", _set("interval_seconds", 0), "interval_seconds"),
    ("sli", _set("latency_buckets.1.le", 0.1), "latency_buckets[1].le"),
    ("sli", _set("latency_buckets.0.le", -0.1), "latency_buckets[0].le"),
    ("sli", _set("latency_buckets.1.count", 600), "latency_buckets[1].count"),
    ("sli", _set("latency_buckets.2.count", 1001), "latency_buckets[2].count"),
    ("sli", _set("latency_buckets.0.count", -1), "latency_buckets[0].count"),
    ("sli", _set("latency_buckets.0.le", float("nan")), "latency_buckets[0].le"),
    ("state", _set("events_applied", -1), "events_applied"),
    ("state", _set("metrics.0.labels", {"window": 1}), "metrics[0].labels.window"),
]


@pytest.mark.parametrize(("family", "mutate", "field"), INVALID)
def test_invalid_events_name_the_field(codec: Codec, family: str, mutate, field: str) -> None:
    event = example_event(family)
    mutate(event)
    with pytest.raises(InvalidEvent) as info:
        codec.encode(family, event)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_valid_edge_values_are_accepted(codec: Codec) -> None:
    edges = [
        ("rfc", example_event("rfc", occurred_at=946_684_800_000, type="submitted", decision=None)),
        ("rfc", example_event("rfc", occurred_at=4_102_444_799_999, project_id="p" * 128)),
        ("test", example_event("test", coverage_ratio=1.0, flaky=120)),
        ("test", example_event("test", coverage_ratio=0.0, passed=0, failed=0, skipped=0, flaky=0)),
        ("sli", example_event("sli", requests_total=0, requests_good=0, latency_buckets=[])),
        ("deployment", example_event("deployment", kind="planned", rolls_back_deployment_id=None)),
        ("review", example_event("review", type="requested", outcome=None)),
    ]
    for family, event in edges:
        assert codec.decode(codec.encode(family, event)).record == event


def test_unknown_family(codec: Codec) -> None:
    with pytest.raises(UnknownFamily) as info:
        codec.encode("build", example_event("rfc"))
    assert info.value.reason == "unknown_family"
    assert "'build'" in str(info.value)
    with pytest.raises(UnknownFamily):
        codec.fingerprint("build")
    with pytest.raises(UnknownFamily):
        codec.validate("build", {})


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc3\x01",
        b"\xc3\x01\x00\x00\x00",
        b"\x00" * 20,
        b"\xc3\x02" + b"\x00" * 20,
        b'{"project_id": "p1"}',
    ],
)
def test_not_single_object_encoding_is_undecodable(codec: Codec, data: bytes) -> None:
    with pytest.raises(Undecodable) as info:
        codec.decode(data)
    assert info.value.reason == "undecodable"


def test_unknown_fingerprint(codec: Codec) -> None:
    data = b"\xc3\x01" + (0x0123456789ABCDEF).to_bytes(8, "little") + b"\x00"
    with pytest.raises(UnknownSchema) as info:
        codec.decode(data)
    assert info.value.reason == "unknown_schema"
    assert info.value.fingerprint == 0x0123456789ABCDEF
    assert "0123456789abcdef" in str(info.value)


def test_expected_family_mismatch_is_unknown_schema(codec: Codec) -> None:
    data = codec.encode("rfc", example_event("rfc"))
    assert codec.decode(data, expect_family="rfc").family == "rfc"
    with pytest.raises(UnknownSchema):
        codec.decode(data, expect_family="task")


def test_trailing_bytes_are_undecodable(codec: Codec) -> None:
    data = codec.encode("incident", example_event("incident"))
    with pytest.raises(Undecodable, match="1 trailing bytes"):
        codec.decode(data + b"\x00")


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_every_truncation_is_a_codec_error(codec: Codec, family: str) -> None:
    data = codec.encode(family, example_event(family))
    for end in range(len(data)):
        with pytest.raises(CodecError):
            codec.decode(data[:end])


def test_decode_validates_the_record(codec: Codec) -> None:
    # An sli sample whose good count exceeds its total, written by a writer that skipped checks.
    bad = example_event("sli", requests_good=2000)
    body = io.BytesIO()
    fastavro.schemaless_writer(body, strip_logical_types(schema_json("sli")), bad)
    data = b"\xc3\x01" + codec.fingerprint("sli").to_bytes(8, "little") + body.getvalue()
    with pytest.raises(InvalidEvent) as info:
        codec.decode(data)
    assert info.value.field == "requests_good"


@settings(max_examples=300, deadline=None)
@given(family=st.sampled_from(ALL_FAMILIES), tail=st.binary(max_size=200))
def test_garbage_bodies_only_raise_codec_errors(family: str, tail: bytes) -> None:
    codec = Codec.default()
    data = b"\xc3\x01" + codec.fingerprint(family).to_bytes(8, "little") + tail
    try:
        decoded = codec.decode(data)
    except CodecError:
        return
    assert decoded.family == family


@settings(max_examples=200, deadline=None)
@given(
    family=st.sampled_from(ALL_FAMILIES),
    position=st.integers(min_value=0, max_value=500),
    byte=st.integers(min_value=0, max_value=255),
)
def test_flipped_bytes_only_raise_codec_errors(family: str, position: int, byte: int) -> None:
    codec = Codec.default()
    data = bytearray(codec.encode(family, example_event(family)))
    data[10 + position % (len(data) - 10)] = byte
    with contextlib.suppress(CodecError):
        codec.decode(bytes(data))


# --- schema evolution: a field added with a default reads both ways ----------------------

V1 = schema_json("deployment")
V2 = copy.deepcopy(V1)
V2["fields"].append({"name": "region", "type": ["null", "string"], "default": None})
V2["fields"].append({"name": "replicas", "type": "int", "default": 1})


def test_new_reader_reads_old_data_with_defaults_filled() -> None:
    old_writer = Codec({"deployment": V1})
    new_reader = Codec({"deployment": V2}, history=[("deployment", V1)])
    event = example_event("deployment")
    decoded = new_reader.decode(old_writer.encode("deployment", event))
    assert decoded.family == "deployment"
    assert decoded.fingerprint == old_writer.fingerprint("deployment")
    assert decoded.record == event | {"region": None, "replicas": 1}


def test_old_reader_reads_new_data_ignoring_the_added_fields() -> None:
    new_writer = Codec({"deployment": V2})
    old_reader = Codec({"deployment": V1})
    event = example_event("deployment") | {"region": "eu-west-1", "replicas": 3}
    data = new_writer.encode("deployment", event)
    with pytest.raises(UnknownSchema):
        old_reader.decode(data)  # a reader must be given the writer schema to resolve it
    assert old_reader.register(V2) == new_writer.fingerprint("deployment")
    decoded = old_reader.decode(data)
    assert decoded.record == example_event("deployment")
    assert decoded.fingerprint == new_writer.fingerprint("deployment")


def test_history_directory_is_loaded(tmp_path: Path) -> None:
    (tmp_path / "history").mkdir()
    (tmp_path / "deployment.avsc").write_text(json.dumps(V2))
    (tmp_path / "history" / "deployment.v1.avsc").write_text(json.dumps(V1))
    codec = Codec.from_directory(tmp_path)
    assert codec.families == ("deployment",)
    old = Codec({"deployment": V1}).encode("deployment", example_event("deployment"))
    assert codec.decode(old).record["replicas"] == 1


def test_register_rejects_schemas_of_no_known_family(codec: Codec) -> None:
    stranger = {"type": "record", "name": "Build", "namespace": "ci", "fields": []}
    with pytest.raises(UnknownFamily):
        codec.register(stranger)


def test_default_codec_is_built_once() -> None:
    assert Codec.default() is Codec.default()


def test_sample_table_covers_every_event_family() -> None:
    assert sorted(EXAMPLES) == sorted(FAMILIES)


def test_version_1_events_without_team_still_decode(codec: Codec) -> None:
    """Messages written before `team` existed (schemas/history) read with team None."""
    import json

    from support import REPO_ROOT

    from schemas.codec import Codec as CodecClass

    old_schema = json.loads((REPO_ROOT / "schemas/history/deployment.v1.avsc").read_text())
    writer = CodecClass({"deployment": old_schema})
    event = example_event("deployment", kind="planned")
    del event["team"]
    event["schema_version"] = 1
    record = codec.decode(writer.encode("deployment", event)).record
    assert record["team"] is None
    assert record["deployment_id"] == event["deployment_id"]
    assert codec.decode(writer.encode("deployment", event)).fingerprint != codec.fingerprint(
        "deployment"
    )


@pytest.mark.parametrize("team", ["", "x" * 129, "bad\nteam"])
def test_a_bad_team_is_named(codec: Codec, team: str) -> None:
    event = example_event("deployment", kind="planned")
    event["team"] = team
    with pytest.raises(InvalidEvent) as info:
        codec.encode("deployment", event)
    assert info.value.field == "team"
