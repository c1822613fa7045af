"""The processor's decode checks a record in one compiled pass (schemas.onepass) and falls back
to the generic checks only when that pass fails: the verdict, the field and the words must be
those of the generic sequence (the decoded-record checks, the envelope and the family's rules,
then the input limits), for records at and past every limit, in every family."""

from __future__ import annotations

import copy
import io
import math
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.limits import FIELD_MAXIMA, GuardedCodec, InputLimits
from schemas.codec import Codec, strip_logical_types
from schemas.errors import CodecError, InvalidEvent
from schemas.examples import example_event
from schemas.topics import FAMILIES
from schemas.validation import to_millis

pytestmark = pytest.mark.unit

CODEC = Codec.default()
LIMITS = InputLimits()
GUARDED = GuardedCodec(CODEC, LIMITS)

# Values at and just past the bounds the one pass compiles.
STRINGS = st.sampled_from(
    [
        "",
        " ",
        "x",
        " edge",
        "tab\there",
        "p\n1",
        "é" * 128,
        "a" * 128,
        "a" * 129,
        "a" * 256,
        "a" * 257,
        "a" * 4096,
        "a" * 4097,
        "8c1f3a52-7a57-4b8e-b1c4-1b1f2d3e4f50",
        "8C1F3A52-7A57-4B8E-B1C4-1B1F2D3E4F50",
        "{8c1f3a52-7a57-4b8e-b1c4-1b1f2d3e4f50}",
        "urn:uuid:8c1f3a52-7a57-4b8e-b1c4-1b1f2d3e4f50",
        "8c1f3a527a574b8eb1c41b1f2d3e4f50",
        "8c1f3a52-7a57-4b8e-b1c4-1b1f2d3e4f5",
    ]
)
MAXIMA = sorted({float(v) for v in FIELD_MAXIMA.values()})
FLOATS = st.sampled_from(
    [0.0, -0.0, -1.0, 0.5, math.nan, math.inf, -math.inf, 1e300]
    + [m for v in MAXIMA for m in (v, math.nextafter(v, math.inf))]
)
INTS = st.sampled_from(
    [0, -1, 1, 946_684_799_999, 946_684_800_000, 4_102_444_799_999, 4_102_444_800_000]
    + [m for v in MAXIMA if v < 2**62 for m in (int(v), int(v) + 1)]
)


def _wire(event: dict[str, Any]) -> dict[str, Any]:
    return {
        k: to_millis(v) if hasattr(v, "tzinfo") else _wire(v) if isinstance(v, dict) else v
        for k, v in event.items()
    }


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The paths of every scalar (and every array) in a record."""
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [path, *(leaf for i, v in enumerate(value) for leaf in _leaves(v, (*path, i)))]
    return [] if isinstance(value, bool) or value is None else [path]


def _mutated(record: dict[str, Any], draw: Any) -> dict[str, Any]:
    """The record with one or two of its values replaced by values at or past a bound (one
    at a time, so that a bound is not hidden behind another field's error)."""
    out = copy.deepcopy(record)
    for path in draw(st.lists(st.sampled_from(_leaves(out)), min_size=1, max_size=2)):
        parent = out
        for key in path[:-1]:
            parent = parent[key]
        value = parent[path[-1]]
        if isinstance(value, str):
            parent[path[-1]] = draw(STRINGS)
        elif isinstance(value, float):
            parent[path[-1]] = draw(FLOATS)
        elif isinstance(value, int):
            parent[path[-1]] = draw(INTS)
        elif isinstance(value, list) and value:
            parent[path[-1]] = value * (LIMITS.max_array_items // len(value) + 1)
    return out


def _wire_bytes(family: str, record: dict[str, Any]) -> bytes | None:
    schema = fastavro.parse_schema(strip_logical_types(CODEC._schemas[family]), named_schemas={})
    if not fastavro.validation.validate(record, schema, raise_errors=False):
        return None
    body = io.BytesIO()
    fastavro.schemaless_writer(body, schema, record)
    return b"\xc3\x01" + CODEC.fingerprint(family).to_bytes(8, "little") + body.getvalue()


def _verdict(check: Any) -> tuple[str, str, str] | None:
    try:
        check()
    except CodecError as exc:
        return exc.reason, getattr(exc, "field", ""), str(exc)
    return None


def _generic(family: str, record: dict[str, Any]) -> None:
    """The checks as they ran before the one pass: decoded, envelope, rules; then limits."""
    CODEC._validators[family].decoded(record)
    LIMITS.check(record)


@settings(max_examples=600, deadline=None)
@given(family=st.sampled_from(FAMILIES), data=st.data())
def test_the_one_pass_gives_the_generic_verdict(family: str, data: Any) -> None:
    record = _mutated(_wire(example_event(family)), data.draw)
    raw = _wire_bytes(family, record)
    if raw is None or len(raw) > LIMITS.max_event_bytes:
        return
    decoded = fastavro.schemaless_reader(
        io.BytesIO(raw[10:]),
        fastavro.parse_schema(strip_logical_types(CODEC._schemas[family]), named_schemas={}),
        None,
    )
    assert isinstance(decoded, dict)
    assert _verdict(lambda: GUARDED.decode(raw, family)) == _verdict(
        lambda: _generic(family, decoded)
    ), record


@pytest.mark.parametrize("family", FAMILIES)
def test_the_examples_pass_the_one_pass_itself(family: str) -> None:
    """The fast path is taken for valid events (else it would only add work)."""
    record = _wire(example_event(family))
    check = GUARDED._checks[family]
    assert check.predicate is not None and check.predicate(record)


@pytest.mark.parametrize(
    ("family", "path", "value", "field"),
    [
        ("sli", ("service",), "s" * 129, "service"),
        ("sli", ("service",), "bad\x00label", "service"),
        ("sli", ("requests_total",), 10**12 + 1, "requests_total"),
        ("sli", ("actor", "name"), "n" * 129, "actor.name"),
        ("rfc", ("title",), "t" * 4097, "title"),
        ("task", ("error",), "e" * 4097, "error"),
        ("task", ("cost_usd",), math.inf, "cost_usd"),
        ("task", ("event_id",), "8c1f3a52-7a57-4b8e-b1c4-1b1f2d3e4f5", "event_id"),
        ("deployment", ("occurred_at",), 4_102_444_800_000, "occurred_at"),
        ("deployment", ("project_id",), " p", "project_id"),
    ],
)
def test_each_bound_is_refused_with_its_field(
    family: str, path: tuple[str, ...], value: Any, field: str
) -> None:
    record = _wire(example_event(family))
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    check = GUARDED._checks[family]
    assert check.predicate is not None and not check.predicate(record)
    with pytest.raises(InvalidEvent) as caught:
        check(record)
    assert caught.value.field == field


def test_a_uuid_in_another_accepted_form_passes_through_the_generic_check() -> None:
    record = _wire(example_event("task"))
    record["event_id"] = "{8c1f3a52-7a57-4b8e-b1c4-1b1f2d3e4f50}"
    check = GUARDED._checks["task"]
    assert check.predicate is not None and not check.predicate(record)
    check(record)  # uuid.UUID accepts braces: so does the decode, as before
