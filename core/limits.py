"""Limits on hostile input: events too large, strings too long or unprintable where they become
label values, numbers no real project produces. The processor decodes through `GuardedCodec`,
so whatever breaks a limit is dead-lettered with the field named, like any invalid event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.codec import Codec, Decoded
from schemas.errors import CodecError, InvalidEvent
from schemas.onepass import DecodedCheck, FieldLimits
from schemas.validation import MAX_LABEL_LENGTH

__all__ = ["MAX_LABEL_LENGTH", "GuardedCodec", "InputLimits", "Oversized"]

# Fields whose values become Prometheus label values or state keys downstream (the project id
# and the team are checked with the same bound by the envelope rules of schemas.validation).
LABEL_FIELDS = frozenset({"service", "environment", "name", "model"})
# Free text: longer, but still bounded.
TEXT_FIELDS = frozenset({"title", "error"})
# The largest value of a count or duration a real project reports; beyond is a bug or an attack.
FIELD_MAXIMA: Mapping[str, float] = {
    "attempt": 1_000,
    "iteration": 1_000,
    "tokens": 1e10,
    "cost_usd": 1e6,
    "duration_seconds": 366 * 86_400,
    "interval_seconds": 86_400,
    "findings_count": 1e5,
    "passed": 1e7,
    "failed": 1e7,
    "skipped": 1e7,
    "flaky": 1e7,
    "requests_total": 1e12,
    "requests_good": 1e12,
    "count": 1e12,
}


class Oversized(CodecError):
    """The message is larger than any event the pipeline accepts."""

    reason = "oversized"


@dataclass(frozen=True)
class InputLimits:
    """The bounds an event must respect on top of its schema."""

    max_event_bytes: int = 65_536
    max_label_length: int = MAX_LABEL_LENGTH
    max_text_length: int = 4_096
    max_string_length: int = 256
    max_array_items: int = 1_000
    maxima: Mapping[str, float] = field(default_factory=lambda: dict(FIELD_MAXIMA))

    def field_limits(self) -> FieldLimits:
        """These bounds as the one-pass check of a decoded record compiles them."""
        return FieldLimits(
            label_fields=LABEL_FIELDS,
            text_fields=TEXT_FIELDS,
            max_label_length=self.max_label_length,
            max_text_length=self.max_text_length,
            max_string_length=self.max_string_length,
            max_array_items=self.max_array_items,
            maxima=self.maxima,
        )

    def check_size(self, data: bytes) -> None:
        if len(data) > self.max_event_bytes:
            raise Oversized(f"{len(data)} bytes; events are at most {self.max_event_bytes}")

    def check(self, record: Mapping[str, Any], path: str = "") -> None:
        """Raise InvalidEvent naming the first field that breaks a limit."""
        for name, value in record.items():
            where = f"{path}{name}"
            if isinstance(value, str):
                self._check_string(name, where, value)
            elif isinstance(value, bool) or value is None:
                continue
            elif isinstance(value, int | float):
                limit = self.maxima.get(name)
                if limit is not None and value > limit:
                    raise InvalidEvent(where, f"{value} exceeds the plausible maximum {limit:g}")
            elif isinstance(value, Mapping):
                self.check(value, f"{where}.")
            elif isinstance(value, list):
                if len(value) > self.max_array_items:
                    raise InvalidEvent(where, f"more than {self.max_array_items} items")
                for i, item in enumerate(value):
                    if isinstance(item, Mapping):
                        self.check(item, f"{where}[{i}].")
                    elif isinstance(item, str):
                        self._check_string(name, f"{where}[{i}]", item)

    def _check_string(self, name: str, where: str, value: str) -> None:
        if name in LABEL_FIELDS:
            if len(value) > self.max_label_length:
                raise InvalidEvent(where, f"longer than {self.max_label_length} characters")
            if not value.isprintable():
                raise InvalidEvent(where, f"{value[:40]!r} holds control characters")
            return
        limit = self.max_text_length if name in TEXT_FIELDS else self.max_string_length
        if len(value) > limit:
            raise InvalidEvent(where, f"longer than {limit} characters")


class GuardedCodec(Codec):
    """A codec whose `decode` also enforces `InputLimits` (size before, fields after decoding).

    The field limits join the decoded record's one pass (`schemas.onepass`); when it fails,
    the generic checks run in their order (the schema's, the envelope, the family's rules,
    then the limits), so the first broken rule is the one named, as before. State snapshots
    are the processors' own output: no input limits.
    """

    def __init__(self, inner: Codec, limits: InputLimits | None = None) -> None:
        # Share the inner codec's parsed schemas instead of parsing them again.
        self.__dict__.update(vars(inner))
        self.limits = limits or InputLimits()
        field_limits = self.limits.field_limits()
        self._checks = {
            family: check
            if family == "state"
            else DecodedCheck(
                self._schemas[family], self._validators[family], field_limits, self.limits.check
            )
            for family, check in inner._checks.items()
        }

    def decode(self, data: bytes, expect_family: str | None = None) -> Decoded:
        self.limits.check_size(data)
        return super().decode(data, expect_family)
