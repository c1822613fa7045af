"""The event codec shared by producers and processors: Avro single-object encoding.

A message is ``C3 01`` + the 8-byte little-endian CRC-64-AVRO fingerprint of the writer
schema's parsing canonical form + the schemaless Avro body. A reader finds the writer schema
by its fingerprint among every schema it knows (current ones and older versions from
``schemas/history/`` or :meth:`Codec.register`) and resolves it to its own current schema, so
adding a field with a default works both ways. Timestamps are int epoch milliseconds (UTC) on
decode; encode takes int milliseconds or aware datetimes.
"""

from __future__ import annotations

import functools
import io
import json
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint as _fastavro_fingerprint
from fastavro.schema import to_parsing_canonical_form

from schemas.errors import CodecError, InvalidEvent, Undecodable, UnknownFamily, UnknownSchema
from schemas.onepass import DecodedCheck
from schemas.validation import (
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
    RecordValidator,
    from_millis,
    full_name,
    to_millis,
)

__all__ = [
    "HEADER_SIZE",
    "MAGIC",
    "MAX_TIMESTAMP_MS",
    "MIN_TIMESTAMP_MS",
    "SCHEMA_DIR",
    "Codec",
    "CodecError",
    "Decoded",
    "InvalidEvent",
    "Undecodable",
    "UnknownFamily",
    "UnknownSchema",
    "fingerprint_of",
    "from_millis",
    "strip_logical_types",
    "to_millis",
]

SCHEMA_DIR = Path(__file__).resolve().parent
MAGIC = b"\xc3\x01"
HEADER_SIZE = 10

# Library errors a corrupt body can raise while being read; all become Undecodable.
_READ_ERRORS = (
    EOFError,
    ValueError,
    IndexError,
    KeyError,
    TypeError,
    OverflowError,
    MemoryError,
    UnicodeDecodeError,
    struct.error,
    fastavro.read.SchemaResolutionError,
)


@dataclass(frozen=True)
class Decoded:
    """A decoded, validated record with the family and fingerprint of its writer schema."""

    family: str
    fingerprint: int
    record: dict[str, Any]


def fingerprint_of(schema: Mapping[str, Any]) -> int:
    """CRC-64-AVRO (Rabin) fingerprint of the schema's parsing canonical form, as an int."""
    hex_le = _fastavro_fingerprint(to_parsing_canonical_form(dict(schema)), "CRC-64-AVRO")
    return int.from_bytes(bytes.fromhex(hex_le), "little")


def strip_logical_types(schema: Any) -> Any:
    """A copy of the schema without logicalType annotations: same bytes, plain ints/strings."""
    if isinstance(schema, dict):
        return {k: strip_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [strip_logical_types(v) for v in schema]
    return schema


@dataclass(frozen=True)
class _Writer:
    """A schema version as written on the wire."""

    family: str
    fingerprint: int
    header: bytes
    plain: Any  # parsed, logical types stripped (fastavro's parsed form)
    fields: frozenset[str] = frozenset()
    """The names of the record's fields."""


class Codec:
    """Encodes, decodes and validates events of every family; build once, share freely."""

    def __init__(
        self,
        schemas: Mapping[str, Mapping[str, Any]],
        history: Iterable[tuple[str, Mapping[str, Any]]] = (),
    ) -> None:
        self._current: dict[str, _Writer] = {}
        self._writers: dict[int, _Writer] = {}
        self._validators: dict[str, RecordValidator] = {}
        self._schemas: dict[str, Mapping[str, Any]] = {}
        self._checks: dict[str, DecodedCheck] = {}
        """Per family, what a decoded record is checked for (`schemas.onepass`)."""
        self._full_names: dict[str, str] = {}
        for family, schema in schemas.items():
            writer = self._add(family, schema)
            self._current[family] = writer
            validator = self._validators[family] = RecordValidator(family, schema)
            self._schemas[family] = schema
            self._checks[family] = DecodedCheck(schema, validator)
            self._full_names[full_name(schema)] = family
        for family, schema in history:
            self.register(schema, family=family)

    @classmethod
    @functools.cache
    def default(cls) -> Codec:
        """The codec of the repository's schemas and their history, parsed once per process."""
        return cls.from_directory(SCHEMA_DIR)

    @classmethod
    def from_directory(cls, directory: Path) -> Codec:
        """Current schemas from ``<family>.avsc``; older ones from ``history/<family>.*.avsc``."""
        schemas = {path.stem: _load(path) for path in sorted(directory.glob("*.avsc"))}
        history_dir = directory / "history"
        history = [
            (path.name.split(".", 1)[0], _load(path)) for path in sorted(history_dir.glob("*.avsc"))
        ]
        return cls(schemas, history)

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(self._current)

    def fingerprint(self, family: str) -> int:
        """Fingerprint of the family's current schema."""
        return self._writer_of(family).fingerprint

    def register(self, schema: Mapping[str, Any], family: str | None = None) -> int:
        """Make another (older or newer) writer schema of a family decodable; returns its id."""
        if family is None:
            full = full_name(schema)
            if full not in self._full_names:
                raise UnknownFamily(f"schema {full!r} is not the record of any known family")
            family = self._full_names[full]
        if family not in self._current:
            raise UnknownFamily(f"unknown event family {family!r}")
        return self._add(family, schema).fingerprint

    def validate(self, family: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Raise InvalidEvent naming the field unless the record is acceptable.

        Returns the record with datetimes converted to epoch milliseconds (the same object
        when nothing needed converting).
        """
        validator = self._validators.get(family)
        if validator is None:
            raise self._unknown_family(family)
        return validator(record)

    def encode(self, family: str, event: Mapping[str, Any]) -> bytes:
        """Validate and encode one event with the family's current schema."""
        writer = self._writer_of(family)
        record = self.validate(family, event)
        out = io.BytesIO()
        out.write(writer.header)
        fastavro.schemaless_writer(out, writer.plain, record)
        return out.getvalue()

    def encode_own(self, family: str, record: Mapping[str, Any]) -> bytes:
        """Encode a record this program built itself, field types and all (a state snapshot,
        a simulated event): Avro writes the shape, and only what it cannot say is checked,
        the checks a decoded record gets (`RecordValidator.decoded`: finite numbers,
        timestamps and ids, limits, the family's rules), with `encode`'s errors. A record
        Avro cannot write goes through `encode`, which names the field. Records from outside
        (webhooks, the emit command) go through `encode`: Avro's writer converts what it can
        (a float to a long, anything to a boolean) where the full validation refuses."""
        writer = self._writer_of(family)
        if record.keys() - writer.fields:  # Avro's writer would drop an unknown field
            return self.encode(family, record)
        out = io.BytesIO()
        out.write(writer.header)
        try:
            fastavro.schemaless_writer(out, writer.plain, record)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError):
            return self.encode(family, record)
        self._checks[family](record if isinstance(record, dict) else dict(record))
        return out.getvalue()

    def decode(self, data: bytes, expect_family: str | None = None) -> Decoded:
        """Decode and validate one message; raises a CodecError subclass saying why not."""
        if len(data) < HEADER_SIZE or data[:2] != MAGIC:
            raise Undecodable("not an Avro single-object message (missing C3 01 marker)")
        fp = int.from_bytes(data[2:HEADER_SIZE], "little")
        writer = self._writers.get(fp)
        if writer is None:
            raise UnknownSchema(f"no schema with fingerprint {fp:016x} is registered", fp)
        if expect_family is not None and writer.family != expect_family:
            raise UnknownSchema(
                f"schema {fp:016x} is of family {writer.family!r}, expected {expect_family!r}",
                fp,
            )
        reader = self._current[writer.family]
        body = io.BytesIO(data)
        body.seek(HEADER_SIZE)
        try:
            record = fastavro.schemaless_reader(
                body, writer.plain, None if reader is writer else reader.plain
            )
        except _READ_ERRORS as exc:
            raise Undecodable(f"corrupt {writer.family} body: {exc!r}") from exc
        if body.tell() != len(data):
            raise Undecodable(f"{len(data) - body.tell()} trailing bytes after the record")
        if not isinstance(record, dict):
            raise Undecodable("body is not a record")
        # Avro has checked the shape against the reader schema: only what it cannot say is
        # checked again, in one pass (schemas.onepass), with the same errors as validate().
        self._checks[writer.family](record)
        return Decoded(writer.family, fp, record)

    def _add(self, family: str, schema: Mapping[str, Any]) -> _Writer:
        fp = fingerprint_of(schema)
        known = self._writers.get(fp)
        if known is not None:
            if known.family != family:
                raise ValueError(f"schema {fp:016x} registered for {known.family}, not {family}")
            return known
        try:
            plain = fastavro.parse_schema(strip_logical_types(dict(schema)), named_schemas={})
        except fastavro.schema.SchemaParseException as exc:
            raise ValueError(f"invalid {family} schema: {exc}") from exc
        names = frozenset(f["name"] for f in schema.get("fields", ()))
        writer = _Writer(family, fp, MAGIC + fp.to_bytes(8, "little"), plain, names)
        self._writers[fp] = writer
        return writer

    def _writer_of(self, family: str) -> _Writer:
        try:
            return self._current[family]
        except KeyError:
            raise self._unknown_family(family) from None

    def _unknown_family(self, family: str) -> UnknownFamily:
        return UnknownFamily(f"unknown event family {family!r}; known: {', '.join(self._current)}")


def _load(path: Path) -> dict[str, Any]:
    try:
        schema: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read schema {path}: {exc}") from exc
    return schema
