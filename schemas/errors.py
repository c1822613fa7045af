"""Why the codec refused bytes or an event; ``reason`` is the dead-letter and metric code."""

from __future__ import annotations


class CodecError(Exception):
    """Why bytes or an event were refused; ``reason`` is a short machine code for metrics."""

    reason = "undecodable"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Undecodable(CodecError):
    """The bytes are not a single-object encoded Avro record of a schema we know the shape of."""

    reason = "undecodable"


class UnknownSchema(CodecError):
    """The writer schema's fingerprint is not registered (or belongs to another family)."""

    reason = "unknown_schema"

    def __init__(self, message: str, fingerprint: int) -> None:
        super().__init__(message)
        self.fingerprint = fingerprint


class InvalidEvent(CodecError):
    """A field is missing or has a value the pipeline cannot accept; ``field`` is its path."""

    reason = "invalid_field"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.detail = message


class UnknownFamily(CodecError):
    """The event family has no schema."""

    reason = "unknown_family"
