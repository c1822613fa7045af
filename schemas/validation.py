"""Validation of event records: the schema's shape plus the rules the metrics rely on.

A validator is compiled once per schema into nested checker closures; checking returns the
record with aware datetimes converted to epoch milliseconds, so encoders need no second pass.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.errors import InvalidEvent

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# The accepted event-time range: anything outside is a producer bug (seconds vs millis, a
# zeroed clock) that would poison windows, so it is rejected rather than stored.
MIN_TIMESTAMP_MS = (datetime(2000, 1, 1, tzinfo=UTC) - EPOCH) // _MS
MAX_TIMESTAMP_MS = (datetime(2100, 1, 1, tzinfo=UTC) - EPOCH) // _MS
MAX_LABEL_LENGTH = 128
"""Longest value of a field that becomes a Prometheus label value or a state key: the project
id, the team, services, environments, names. The one bound: the input limits
(core.limits) and the exporter's check of state records use it too."""
# Fields every event family carries (the state snapshot does not).
ENVELOPE_FIELDS = frozenset({"event_id", "project_id", "occurred_at", "source", "actor"})
# Fields where +/-inf is meaningful: the open-ended latency bucket.
_INFINITY_ALLOWED = frozenset({"le"})
_INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


def to_millis(value: datetime) -> int:
    """Epoch milliseconds of an aware datetime (floored, as Avro writers do)."""
    return (value - EPOCH) // _MS


def from_millis(ms: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds."""
    return EPOCH + timedelta(milliseconds=ms)


Checker = Callable[[Any], Any]
"""Checks a value and returns it, converted where needed (datetime -> millis).

A checker raises InvalidEvent with the field path relative to itself ("" for the value
itself); each enclosing record or array prefixes its part on the way out, so the happy path
never builds path strings.
"""


def _fail(message: str) -> InvalidEvent:
    return InvalidEvent("", message)


def _within(exc: InvalidEvent, part: str) -> InvalidEvent:
    """The error re-addressed from inside ``part`` (a field name or ``[index]``)."""
    if not exc.field:
        field = part
    elif exc.field.startswith("["):
        field = part + exc.field
    else:
        field = f"{part}.{exc.field}"
    return InvalidEvent(field, exc.detail)


def _check_string(value: Any) -> Any:
    if not isinstance(value, str):
        raise _fail(f"expected a string, got {type(value).__name__}")
    return value


def _check_uuid(value: Any) -> Any:
    if not isinstance(value, str):
        raise _fail(f"expected a UUID string, got {type(value).__name__}")
    try:
        uuid.UUID(value)
    except ValueError as exc:
        raise _fail(f"{value!r} is not a UUID") from exc
    return value


def _check_bool(value: Any) -> Any:
    if not isinstance(value, bool):
        raise _fail(f"expected a boolean, got {type(value).__name__}")
    return value


def _integer_checker(avro_type: str) -> Checker:
    low, high = _INT_RANGE[avro_type]

    def check(value: Any) -> Any:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _fail(f"expected an integer, got {type(value).__name__}")
        if not low <= value <= high:
            raise _fail(f"{value} does not fit an Avro {avro_type}")
        return value

    return check


def _float_checker(allow_infinity: bool) -> Checker:
    def check(value: Any) -> Any:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _fail(f"expected a number, got {type(value).__name__}")
        if math.isnan(value) or (math.isinf(value) and not allow_infinity):
            raise _fail(f"{value} is not a finite number")
        return value

    return check


def _check_timestamp(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise _fail("naive datetime; give an aware datetime (e.g. tzinfo=UTC)")
        value = to_millis(value)
    elif not isinstance(value, int) or isinstance(value, bool):
        raise _fail(f"expected epoch milliseconds or an aware datetime, got {type(value).__name__}")
    if not MIN_TIMESTAMP_MS <= value < MAX_TIMESTAMP_MS:
        raise _fail(f"{value} ms is outside the accepted range 2000-01-01 .. 2100-01-01")
    return value


def _enum_checker(symbols: list[str]) -> Checker:
    known = frozenset(symbols)

    def check(value: Any) -> Any:
        if value not in known:
            raise _fail(f"{value!r} is not one of {', '.join(symbols)}")
        return value

    return check


def _nullable(inner: Checker) -> Checker:
    def check(value: Any) -> Any:
        return None if value is None else inner(value)

    return check


def _array_checker(items: Checker) -> Checker:
    def check(value: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise _fail(f"expected a list, got {type(value).__name__}")
        out = []
        for i, item in enumerate(value):
            try:
                out.append(items(item))
            except InvalidEvent as exc:
                raise _within(exc, f"[{i}]") from None
        return value if all(a is b for a, b in zip(out, value, strict=True)) else out

    return check


def _map_checker(values: Checker) -> Checker:
    def check(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _fail(f"expected a mapping, got {type(value).__name__}")
        for key, item in value.items():
            if not isinstance(key, str):
                raise _fail(f"map key {key!r} is not a string")
            try:
                values(item)
            except InvalidEvent as exc:
                raise _within(exc, key) from None
        return value

    return check


@dataclass(frozen=True)
class _Field:
    name: str
    check: Checker
    required: bool  # no default in the schema
    non_empty: bool  # a required plain string: an empty one is never meaningful


def _record_checker(fields: list[_Field], record_name: str) -> Checker:
    known = frozenset(f.name for f in fields)

    def check(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _fail(f"expected a mapping, got {type(value).__name__}")
        unknown = value.keys() - known
        if unknown:
            name = sorted(unknown)[0]
            raise InvalidEvent(name, f"unknown field (not in {record_name})")
        changed: dict[str, Any] | None = None
        for field in fields:
            if field.name not in value:
                if field.required:
                    raise InvalidEvent(field.name, "required field is missing")
                continue
            raw = value[field.name]
            try:
                checked = field.check(raw)
            except InvalidEvent as exc:
                raise _within(exc, field.name) from None
            if field.non_empty and not checked:
                raise InvalidEvent(field.name, "must not be empty")
            if checked is not raw:
                if changed is None:
                    changed = dict(value)
                changed[field.name] = checked
        return value if changed is None else changed

    return check


def _compile(schema: Any, named: dict[str, Checker], namespace: str, path: str) -> Checker:
    """Builds the checker of one (sub)schema; ``named`` resolves references to named types."""
    if isinstance(schema, str):
        if schema in ("string", "bytes"):
            return _check_string if schema == "string" else _check_bytes
        if schema in _INT_RANGE:
            return _integer_checker(schema)
        if schema in ("float", "double"):
            return _float_checker(allow_infinity=path.rpartition(".")[2] in _INFINITY_ALLOWED)
        if schema == "boolean":
            return _check_bool
        if schema == "null":
            return _check_null
        full = schema if "." in schema else f"{namespace}.{schema}"
        return named[full] if full in named else named[schema]
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        if len(branches) != 1 or len(schema) > 2:
            raise ValueError(f"{path}: only [null, T] unions are supported by the validator")
        inner = _compile(branches[0], named, namespace, path)
        return _nullable(inner) if "null" in schema else inner
    kind = schema["type"]
    logical = schema.get("logicalType")
    if logical == "timestamp-millis":
        return _check_timestamp
    if logical == "uuid":
        return _check_uuid
    if kind == "enum":
        checker = _enum_checker(schema["symbols"])
        named[full_name(schema, namespace)] = checker
        return checker
    if kind == "array":
        return _array_checker(_compile(schema["items"], named, namespace, path))
    if kind == "map":
        return _map_checker(_compile(schema["values"], named, namespace, path))
    if kind == "record":
        full = full_name(schema, namespace)
        inner_ns = full.rpartition(".")[0]
        fields = [
            _Field(
                name=f["name"],
                check=_compile(f["type"], named, inner_ns, f"{path}.{f['name']}"),
                required="default" not in f,
                non_empty="default" not in f and f["type"] == "string",
            )
            for f in schema["fields"]
        ]
        checker = _record_checker(fields, full)
        named[full] = checker
        return checker
    return _compile(kind, named, namespace, path)


def _compile_decoded(
    schema: Any, named: dict[str, Checker | None], namespace: str, path: str
) -> Checker | None:
    """The checker of what Avro decoding cannot guarantee, None where it guarantees all.

    A record decoded with the family's reader schema already has every field, of its type,
    int and long in range, enum symbols known and no unknown field. What is left is what
    the schema cannot say: UUID strings, the accepted timestamp range, finite numbers,
    non-empty required strings. The checkers are those of `_compile`, so a record refused
    here is refused with the same field and words.
    """
    if isinstance(schema, str):
        if schema in ("float", "double"):
            return _float_checker(allow_infinity=path.rpartition(".")[2] in _INFINITY_ALLOWED)
        if schema in ("string", "bytes", "boolean", "null") or schema in _INT_RANGE:
            return None
        full = schema if "." in schema else f"{namespace}.{schema}"
        return named[full] if full in named else named.get(schema)
    if isinstance(schema, list):
        inner = _compile_decoded(next(b for b in schema if b != "null"), named, namespace, path)
        return None if inner is None else _nullable(inner) if "null" in schema else inner
    kind = schema["type"]
    logical = schema.get("logicalType")
    if logical == "timestamp-millis":
        return _check_timestamp
    if logical == "uuid":
        return _check_uuid
    if kind == "enum":
        named[full_name(schema, namespace)] = None
        return None
    if kind in ("array", "map"):
        inner = _compile_decoded(
            schema["items" if kind == "array" else "values"], named, namespace, path
        )
        if inner is None:
            return None
        return _array_checker(inner) if kind == "array" else _map_checker(inner)
    if kind == "record":
        full = full_name(schema, namespace)
        inner_ns = full.rpartition(".")[0]
        fields = []
        for f in schema["fields"]:
            check = _compile_decoded(f["type"], named, inner_ns, f"{path}.{f['name']}")
            non_empty = "default" not in f and f["type"] == "string"
            if check is not None or non_empty:
                fields.append(_Field(f["name"], check or _same, True, non_empty))
        checker = _decoded_record_checker(fields) if fields else None
        named[full] = checker
        return checker
    return _compile_decoded(kind, named, namespace, path)


def _same(value: Any) -> Any:
    return value


def _decoded_record_checker(fields: list[_Field]) -> Checker:
    """A decoded record's remaining checks, field by field; the record is returned as it is
    (decoded timestamps are already epoch milliseconds)."""

    def check(value: Any) -> Any:
        for field in fields:
            raw = value[field.name]
            try:
                field.check(raw)
            except InvalidEvent as exc:
                raise _within(exc, field.name) from None
            if field.non_empty and not raw:
                raise InvalidEvent(field.name, "must not be empty")
        return value

    return check


def _check_bytes(value: Any) -> Any:
    if not isinstance(value, bytes):
        raise _fail(f"expected bytes, got {type(value).__name__}")
    return value


def _check_null(value: Any) -> Any:
    if value is not None:
        raise _fail("expected null")
    return value


def full_name(schema: Mapping[str, Any], namespace: str = "") -> str:
    """The full name of a named Avro type, as the specification resolves it."""
    name = str(schema["name"])
    if "." in name:
        return name
    ns = schema.get("namespace", namespace)
    return f"{ns}.{name}" if ns else name


# --- semantic rules per family (pure; records carry int millisecond timestamps) -----------


def _non_negative(record: Mapping[str, Any], *names: str) -> None:
    for name in names:
        value = record.get(name)
        if value is not None and value < 0:
            raise InvalidEvent(name, f"must not be negative, got {value}")


def _at_least_one(record: Mapping[str, Any], *names: str) -> None:
    for name in names:
        value = record.get(name)
        if value is not None and value < 1:
            raise InvalidEvent(name, f"must be at least 1, got {value}")


def _require(record: Mapping[str, Any], name: str, when: str) -> None:
    if not record.get(name):
        raise InvalidEvent(name, f"required on {when}")


def _check_envelope(record: Mapping[str, Any]) -> None:
    project_id = record["project_id"]
    if len(project_id) > MAX_LABEL_LENGTH:
        raise InvalidEvent("project_id", f"longer than {MAX_LABEL_LENGTH} characters")
    if not project_id.isprintable() or project_id.strip() != project_id:
        raise InvalidEvent("project_id", f"{project_id!r} has unprintable or edge whitespace")
    team = record.get("team")
    if team is not None and (not team or len(team) > MAX_LABEL_LENGTH or not team.isprintable()):
        raise InvalidEvent("team", f"{team!r} must be 1 to {MAX_LABEL_LENGTH} printable characters")


def _rules_rfc(record: Mapping[str, Any]) -> None:
    if record["type"] == "decided":
        _require(record, "decision", "rfc decided events")


def _rules_task(record: Mapping[str, Any]) -> None:
    _at_least_one(record, "attempt")
    _non_negative(record, "tokens", "cost_usd", "duration_seconds")


def _rules_review(record: Mapping[str, Any]) -> None:
    if record["type"] == "completed":
        _require(record, "outcome", "review completed events")
    _at_least_one(record, "iteration")
    _non_negative(record, "findings_count")


def _rules_test(record: Mapping[str, Any]) -> None:
    _non_negative(record, "passed", "failed", "skipped", "flaky", "duration_seconds")
    if record["flaky"] > record["passed"]:
        raise InvalidEvent("flaky", "flaky tests are counted in passed, so flaky <= passed")
    coverage = record.get("coverage_ratio")
    if coverage is not None and not 0.0 <= coverage <= 1.0:
        raise InvalidEvent("coverage_ratio", f"must be in [0, 1], got {coverage}")


def _rules_deployment(record: Mapping[str, Any]) -> None:
    if record["kind"] == "rollback":
        _require(record, "rolls_back_deployment_id", "rollback deployments")
    for i, change_id in enumerate(record.get("change_ids", ())):
        if not change_id:
            raise InvalidEvent(f"change_ids[{i}]", "must not be empty")


def _no_rules(record: Mapping[str, Any]) -> None:
    """Families whose schema already says everything (change, incident)."""


def _rules_sli(record: Mapping[str, Any]) -> None:
    total, good = record["requests_total"], record["requests_good"]
    _non_negative(record, "requests_total", "requests_good")
    if record["interval_seconds"] <= 0:
        raise InvalidEvent("interval_seconds", "must be positive")
    if good > total:
        raise InvalidEvent("requests_good", f"{good} exceeds requests_total {total}")
    previous_le, previous_count = -math.inf, 0
    for i, bucket in enumerate(record.get("latency_buckets", ())):
        le, count = bucket["le"], bucket["count"]
        if le < 0:
            raise InvalidEvent(f"latency_buckets[{i}].le", f"must not be negative, got {le}")
        if le <= previous_le:
            raise InvalidEvent(f"latency_buckets[{i}].le", "bucket bounds must increase")
        if count < previous_count:
            raise InvalidEvent(f"latency_buckets[{i}].count", "counts are cumulative")
        if count > total:
            raise InvalidEvent(
                f"latency_buckets[{i}].count", f"{count} exceeds requests_total {total}"
            )
        previous_le, previous_count = le, count


def _rules_state(record: Mapping[str, Any]) -> None:
    _non_negative(record, "events_applied")


_FAMILY_RULES: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "rfc": _rules_rfc,
    "task": _rules_task,
    "review": _rules_review,
    "test": _rules_test,
    "change": _no_rules,
    "deployment": _rules_deployment,
    "incident": _no_rules,
    "sli": _rules_sli,
    "state": _rules_state,
}


class RecordValidator:
    """Validates records of one family: schema shape, envelope and the family's rules."""

    def __init__(self, family: str, schema: Mapping[str, Any]) -> None:
        self._check = _compile(dict(schema), {}, "", "")
        self._check_decoded = _compile_decoded(dict(schema), {}, "", "")
        self.rules = _FAMILY_RULES.get(family, _no_rules)
        """The family's semantic rules alone (raise InvalidEvent)."""
        self.enveloped = {f["name"] for f in schema["fields"]} >= ENVELOPE_FIELDS

    def __call__(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Raise InvalidEvent naming the field, else return the record in wire form."""
        try:
            checked: dict[str, Any] = self._check(record)
        except InvalidEvent as exc:
            raise exc if exc.field else InvalidEvent("event", exc.detail) from None
        if self.enveloped:
            _check_envelope(checked)
        self.rules(checked)
        return checked

    def decoded(self, record: dict[str, Any]) -> dict[str, Any]:
        """The same verdict as calling the validator, for a record Avro decoded with this
        family's schema: the checks of the shape that decoding guarantees are skipped."""
        if self._check_decoded is not None:
            try:
                self._check_decoded(record)
            except InvalidEvent as exc:
                raise exc if exc.field else InvalidEvent("event", exc.detail) from None
        if self.enveloped:
            _check_envelope(record)
        self.rules(record)
        return record
