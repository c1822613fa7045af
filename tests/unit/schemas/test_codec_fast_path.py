"""Decoding checks only what Avro cannot guarantee (RecordValidator.decoded), and gives the
same verdict, with the same field and words, as the full validation of the decoded record.

Every record here is written by a writer that skipped every check (fastavro's schemaless
writer on the stripped schema), as a foreign producer could; the record decoded from it is
then judged both ways.
"""

from __future__ import annotations

import copy
import io
import math
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_codec import INVALID, schema_json

from schemas.codec import Codec, InvalidEvent, strip_logical_types
from schemas.examples import example_event
from schemas.topics import FAMILIES
from schemas.validation import to_millis

pytestmark = pytest.mark.unit

ALL_FAMILIES = [*FAMILIES, "state"]


def _raw(codec: Codec, family: str, record: dict[str, Any]) -> bytes | None:
    """The single-object bytes of ``record`` written without any check, or None when Avro
    cannot carry it at all (a wrong type, an unknown enum symbol, a missing or an unknown
    field)."""
    schema = fastavro.parse_schema(strip_logical_types(schema_json(family)), named_schemas={})
    if set(record) - {f["name"] for f in schema_json(family)["fields"]}:
        return None  # the writer drops an unknown field: the wire never carries it
    if not fastavro.validation.validate(record, schema, raise_errors=False):
        return None
    body = io.BytesIO()
    try:
        fastavro.schemaless_writer(body, schema, record)
    except (TypeError, ValueError, KeyError, OverflowError):
        return None
    return b"\xc3\x01" + codec.fingerprint(family).to_bytes(8, "little") + body.getvalue()


def _verdict(check: Any, record: Any) -> tuple[str, str] | None:
    try:
        check(record)
    except InvalidEvent as exc:
        return exc.field, str(exc)
    return None


def _both(codec: Codec, family: str, data: bytes) -> tuple[Any, Any]:
    """(the decode's verdict, the full validation's verdict on the decoded record)."""
    schema = fastavro.parse_schema(strip_logical_types(schema_json(family)), named_schemas={})
    body = io.BytesIO(data[10:])
    decoded = fastavro.schemaless_reader(body, schema, None)
    full = _verdict(lambda r: codec.validate(family, copy.deepcopy(r)), decoded)
    fast = _verdict(codec.decode, data)
    return fast, full


def _wire(event: dict[str, Any]) -> dict[str, Any]:
    """Aware datetimes as epoch milliseconds, the form a foreign writer puts on the wire."""
    out: dict[str, Any] = {}
    for key, value in event.items():
        if hasattr(value, "tzinfo"):
            out[key] = to_millis(value)
        elif isinstance(value, dict):
            out[key] = _wire(value)
        else:
            out[key] = value
    return out


def _carried(case: tuple[str, Any, str]) -> bytes | None:
    family, mutate, _field = case
    event = example_event(family)
    mutate(event)
    return _raw(Codec.default(), family, _wire(event))


# The refusals of test_codec.INVALID that a record on the wire can carry: the rest are
# refused by the shape (Avro) before any check.
CARRIED = [case for case in INVALID if _carried(case) is not None]


def test_most_refusals_are_carried_on_the_wire() -> None:
    assert len(CARRIED) >= 35, len(CARRIED)


@pytest.mark.parametrize(("family", "mutate", "field"), CARRIED)
def test_every_refusal_on_the_wire_is_refused_the_same_way(
    codec: Codec, family: str, mutate: Any, field: str
) -> None:
    data = _carried((family, mutate, field))
    assert data is not None
    fast, full = _both(codec, family, data)
    assert fast == full
    assert fast is not None and fast[0] == field


STRINGS = st.sampled_from(
    ["", " ", "x", "not-a-uuid", "0" * 129, "p\n1", "8c1f3a52-7a57-4b8e-b1c4-1b1f2d3e4f50"]
)
FLOATS = st.sampled_from([0.0, -1.0, 0.5, 1.5, math.nan, math.inf, -math.inf, 1e300])
INTS = st.sampled_from([0, -1, 1, 7, 2**31 - 1, 946_684_800_000, 4_102_444_800_000, 1_714_521_600])


def _mutations(record: dict[str, Any], draw: Any) -> dict[str, Any]:
    out = copy.deepcopy(record)
    for key, value in out.items():
        if not draw(st.booleans()):
            continue
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, str):
            out[key] = draw(STRINGS)
        elif isinstance(value, float):
            out[key] = draw(FLOATS)
        elif isinstance(value, int):
            out[key] = draw(INTS)
        elif isinstance(value, dict):
            out[key] = _mutations(value, draw)
        elif isinstance(value, list):
            out[key] = [_mutations(v, draw) if isinstance(v, dict) else v for v in value]
    return out


@settings(max_examples=400, deadline=None)
@given(family=st.sampled_from(ALL_FAMILIES), data=st.data())
def test_decoded_records_get_the_full_validation_verdict(family: str, data: Any) -> None:
    codec = Codec.default()
    record = _mutations(_wire(example_event(family)), data.draw)
    raw = _raw(codec, family, record)
    if raw is None:
        return
    fast, full = _both(codec, family, raw)
    assert fast == full, record


# Encoding records this program built (Codec.encode_own): Avro writes the shape, only what it
# cannot say is checked. For every record whose values have the schema's types (what Avro's
# own validation accepts: the records the simulator and the worker build), the verdict, the
# field, the words and the bytes are those of the full validation (Codec.encode).


def _typed(family: str, record: dict[str, Any]) -> bool:
    schema = fastavro.parse_schema(strip_logical_types(schema_json(family)), named_schemas={})
    return bool(fastavro.validation.validate(record, schema, raise_errors=False))


def _encoded(encode: Any, family: str, record: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "ok", encode(family, copy.deepcopy(record))
    except InvalidEvent as exc:
        return "refused", (exc.field, str(exc))


@settings(max_examples=400, deadline=None)
@given(family=st.sampled_from(ALL_FAMILIES), data=st.data())
def test_own_records_get_the_full_validation_verdict_and_bytes(family: str, data: Any) -> None:
    codec = Codec.default()
    record = _mutations(_wire(example_event(family)), data.draw)
    if not _typed(family, record):
        return
    assert _encoded(codec.encode_own, family, record) == _encoded(codec.encode, family, record)


@pytest.mark.parametrize(("family", "mutate", "field"), INVALID)
def test_every_refusal_of_a_typed_record_is_the_same(
    codec: Codec, family: str, mutate: Any, field: str
) -> None:
    """test_codec's refusals: those of records with the schema's types are refused by
    `encode_own` with the same field and words; the others (a value of another type, an
    unknown field) are refused too, by the full validation it falls back to, or written the
    way Avro converts them, which is why outside input never takes this path."""
    event = _wire(example_event(family))
    mutate(event)
    own, full = _encoded(codec.encode_own, family, event), _encoded(codec.encode, family, event)
    assert full[0] == "refused"
    if _typed(family, event):
        assert own == full


def test_a_snapshot_and_simulated_events_encode_the_same_both_ways(codec: Codec) -> None:
    from producers.simulator.generator import SimConfig, generate_project, project_spec

    day = 86_400_000
    config = SimConfig(seed=3, start_ms=1_772_366_400_000 - 7 * day, end_ms=1_772_366_400_000)
    events = generate_project(project_spec(3, 1), config)
    assert {family for family, _ in events} >= {"sli", "deployment", "change", "task"}
    for family, record in events:
        assert codec.encode_own(family, record) == codec.encode(family, record)
    state = _wire(example_event("state"))
    assert codec.encode_own("state", state) == codec.encode("state", state)
