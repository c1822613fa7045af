"""Turns a state-topic record (key, value) into an upsert or a tombstone of one project."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from exporters.errors import RecordRejected
from exporters.snapshot import ProjectSnapshot, snapshot_from_record
from schemas.errors import CodecError

STATE_FAMILY = "state"


class _Decoded(Protocol):
    @property
    def record(self) -> dict[str, Any]: ...


class StateDecoder(Protocol):
    """The part of the codec the exporter uses (``schemas.codec.Codec``)."""

    def decode(self, data: bytes, expect_family: str | None = None) -> _Decoded: ...


@dataclass(frozen=True, slots=True)
class Upsert:
    """The latest snapshot of a project."""

    snapshot: ProjectSnapshot


@dataclass(frozen=True, slots=True)
class Tombstone:
    """The project no longer exists: its series go."""

    project_id: str


def read_record(key: bytes | None, value: bytes | None, codec: StateDecoder) -> Upsert | Tombstone:
    """Decode one record of the compacted state topic; RecordRejected says why it cannot be."""
    if not key:
        raise RecordRejected("bad_key", "record has no key (the key is the project id)")
    try:
        project_id = key.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordRejected("bad_key", f"key {key[:64]!r} is not UTF-8") from exc
    if value is None:
        return Tombstone(project_id)
    try:
        decoded = codec.decode(value, expect_family=STATE_FAMILY)
    except CodecError as exc:
        raise RecordRejected(exc.reason, f"project {project_id!r}: {exc.message}") from exc
    snapshot = snapshot_from_record(decoded.record)
    if snapshot.project_id != project_id:
        raise RecordRejected(
            "key_mismatch",
            f"key {project_id!r} holds the state of project {snapshot.project_id!r}",
        )
    return Upsert(snapshot)
