"""One pass over a decoded record for everything Avro cannot say about it.

A record Avro decoded with its family's reader schema has its shape guaranteed. What is left
(`RecordValidator.decoded`: UUIDs, the timestamp range, finite numbers, non-empty required
strings, the envelope; then the input limits of the processors: label lengths and printable
labels, string lengths, array sizes, plausible maxima) used to take two generic walks of the
record, closures and `isinstance` per value: about 20 us of the 90 an SLI event cost the
worker. Here each family's schema is compiled once into straight-line Python (generated
source, `exec`) that reads every field once and answers only "all good?".

The predicate is a fast path, not a second definition of the rules: when it says no, or on
anything it does not know, the record goes through the generic checks, which raise the same
error, field and dead-letter reason as before. It only ever accepts a subset of what those
accept (a UUID must be in canonical form to pass here; `uuid.UUID` accepts more and decides
the rest), so a record it passes is one they pass. The family's semantic rules (flaky <=
passed, cumulative buckets) run after it as they did after the generic checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.validation import (
    _INFINITY_ALLOWED,
    MAX_LABEL_LENGTH,
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
    RecordValidator,
    full_name,
)

Predicate = Callable[[Mapping[str, Any]], bool]

_CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
).fullmatch


@dataclass(frozen=True)
class FieldLimits:
    """Bounds on field values by field name (core.limits.InputLimits states them)."""

    label_fields: frozenset[str] = frozenset()
    text_fields: frozenset[str] = frozenset()
    max_label_length: int = MAX_LABEL_LENGTH
    max_text_length: int = 4_096
    max_string_length: int = 256
    max_array_items: int = 1_000
    maxima: Mapping[str, float] = field(default_factory=dict)

    def string_ok(self, name: str, value: str) -> bool:
        if name in self.label_fields:
            return len(value) <= self.max_label_length and value.isprintable()
        limit = self.max_text_length if name in self.text_fields else self.max_string_length
        return len(value) <= limit


class Unsupported(Exception):
    """A schema construct the generator does not compile (maps): the generic checks run."""


class _Source:
    """The generated function's lines, with fresh variable names."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names = 0

    def var(self) -> str:
        self.names += 1
        return f"v{self.names}"

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)


def compile_predicate(
    schema: Mapping[str, Any], limits: FieldLimits | None, enveloped: bool
) -> Predicate | None:
    """The family's one-pass predicate, or None when its schema has a construct not compiled
    here (the generic checks then run alone)."""
    out = _Source()
    out.emit(1, "r = record")
    try:
        _record(out, dict(schema), "r", 1, limits, {}, "")
    except Unsupported:
        return None
    if enveloped:
        out.emit(1, "p = r['project_id']")
        out.emit(1, f"if len(p) > {MAX_LABEL_LENGTH} or not p.isprintable() or p.strip() != p:")
        out.emit(2, "return False")
        out.emit(1, "t = r['team']")
        out.emit(
            1,
            f"if t is not None and (not t or len(t) > {MAX_LABEL_LENGTH} or not t.isprintable()):",
        )
        out.emit(2, "return False")
    out.emit(1, "return True")
    source = "def predicate(record):\n" + "\n".join(out.lines) + "\n"
    namespace: dict[str, Any] = {"_uuid": _CANONICAL_UUID}
    exec(compile(source, f"<one-pass {full_name(schema)}>", "exec"), namespace)
    generated: Predicate = namespace["predicate"]

    def predicate(record: Mapping[str, Any]) -> bool:
        try:
            return generated(record)
        except Exception:  # anything unexpected: the generic checks decide, and explain
            return False

    predicate.source = source  # type: ignore[attr-defined]
    return predicate


def _record(
    out: _Source,
    schema: dict[str, Any],
    var: str,
    depth: int,
    limits: FieldLimits | None,
    named: dict[str, dict[str, Any]],
    namespace: str,
) -> None:
    full = full_name(schema, namespace)
    named[full] = schema
    inner_ns = full.rpartition(".")[0]
    for f in schema["fields"]:
        value = out.var()
        out.emit(depth, f"{value} = {var}[{f['name']!r}]")
        read = len(out.lines)
        if "default" not in f and f["type"] == "string":
            out.emit(depth, f"if not {value}:")
            out.emit(depth + 1, "return False")
        _value(out, f["type"], value, f["name"], depth, limits, named, inner_ns)
        if len(out.lines) == read:  # nothing to check: not even read
            out.lines.pop()


def _value(
    out: _Source,
    schema: Any,
    var: str,
    name: str,
    depth: int,
    limits: FieldLimits | None,
    named: dict[str, dict[str, Any]],
    namespace: str,
) -> None:
    """The checks of one value `var` of type `schema`, held by the field `name`."""
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        if len(branches) != 1:
            raise Unsupported("a union of more than null and one type")
        if "null" not in schema:
            _value(out, branches[0], var, name, depth, limits, named, namespace)
            return
        out.emit(depth, f"if {var} is not None:")
        _block(
            out, lambda: _value(out, branches[0], var, name, depth + 1, limits, named, namespace)
        )
        return
    if isinstance(schema, str):
        if schema in ("string", "bytes", "boolean", "null", "int", "long", "float", "double"):
            schema = {"type": schema}
        else:
            full = schema if "." in schema else f"{namespace}.{schema}"
            known = named.get(full) or named.get(schema)
            if known is None:
                raise Unsupported(f"unknown named type {schema}")
            schema = known
    kind = schema["type"]
    logical = schema.get("logicalType")
    if logical == "timestamp-millis":
        out.emit(depth, f"if not {MIN_TIMESTAMP_MS} <= {var} < {MAX_TIMESTAMP_MS}:")
        out.emit(depth + 1, "return False")
    elif logical == "uuid":
        out.emit(depth, f"if _uuid({var}) is None:")
        out.emit(depth + 1, "return False")
    if kind == "string":
        if limits is not None:
            _string_limit(out, var, name, depth, limits)
    elif kind == "enum":
        named[full_name(schema, namespace)] = schema
        if limits is not None and not all(limits.string_ok(name, s) for s in schema["symbols"]):
            _string_limit(out, var, name, depth, limits)
    elif kind in ("float", "double"):
        finite = "0.0 * {0} == 0.0" if name not in _INFINITY_ALLOWED else "{0} == {0}"
        out.emit(depth, f"if not ({finite.format(var)}):")
        out.emit(depth + 1, "return False")
        _maximum(out, var, name, depth, limits)
    elif kind in ("int", "long"):
        _maximum(out, var, name, depth, limits)
    elif kind == "array":
        if limits is not None:
            out.emit(depth, f"if len({var}) > {limits.max_array_items}:")
            out.emit(depth + 1, "return False")
        item = out.var()
        out.emit(depth, f"for {item} in {var}:")
        _block(
            out,
            lambda: _value(out, schema["items"], item, name, depth + 1, limits, named, namespace),
        )
    elif kind == "record":
        _record(out, schema, var, depth, limits, named, namespace)
    elif kind in ("boolean", "null", "bytes"):
        pass
    else:
        raise Unsupported(f"{kind} values")


def _block(out: _Source, body: Callable[[], None]) -> None:
    """The body of the `if` or `for` line just emitted; both go when the body is empty."""
    start = len(out.lines)
    body()
    if len(out.lines) == start:
        out.lines.pop()


def _string_limit(out: _Source, var: str, name: str, depth: int, limits: FieldLimits) -> None:
    if name in limits.label_fields:
        out.emit(depth, f"if len({var}) > {limits.max_label_length} or not {var}.isprintable():")
    else:
        limit = limits.max_text_length if name in limits.text_fields else limits.max_string_length
        out.emit(depth, f"if len({var}) > {limit}:")
    out.emit(depth + 1, "return False")


def _maximum(out: _Source, var: str, name: str, depth: int, limits: FieldLimits | None) -> None:
    if limits is None or name not in limits.maxima:
        return
    out.emit(depth, f"if {var} > {float(limits.maxima[name])!r}:")
    out.emit(depth + 1, "return False")


class DecodedCheck:
    """Everything a decoded record of one family is checked for, fast path first.

    The generic checks are the family's `RecordValidator.decoded` (which ends with the
    family's rules) and `check_limits`, the generic walk of the input limits, if any; the
    predicate stands in front of both and, when it passes, only the rules are left to run.
    """

    def __init__(
        self,
        schema: Mapping[str, Any],
        validator: RecordValidator,
        limits: FieldLimits | None = None,
        check_limits: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        self.predicate = compile_predicate(schema, limits, validator.enveloped)
        self._decoded = validator.decoded
        self._rules = validator.rules
        self._check_limits = check_limits

    def __call__(self, record: dict[str, Any]) -> None:
        """Raise InvalidEvent naming the field, as the generic checks do."""
        if self.predicate is not None and self.predicate(record):
            self._rules(record)
            return
        self._decoded(record)
        if self._check_limits is not None:
            self._check_limits(record)
