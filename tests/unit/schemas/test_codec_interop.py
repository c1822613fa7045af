"""The Apache Avro library (the interop reference) reads and writes what the codec does."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import avro.io
import avro.schema
import pytest

from schemas.codec import HEADER_SIZE, SCHEMA_DIR, Codec
from schemas.examples import example_event
from schemas.topics import FAMILIES

pytestmark = pytest.mark.unit

ALL_FAMILIES = [*FAMILIES, "state"]
# The timestamp-millis fields of the samples, listed by hand from the .avsc files.
TIMESTAMP_FIELDS = (
    "occurred_at",
    "committed_at",
    "started_at",
    "as_of",
    "computed_at",
    "last_event_at",
)


def with_datetimes(event: dict[str, Any]) -> dict[str, Any]:
    """The event as Apache Avro represents it: timestamp-millis as aware UTC datetimes."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return {
        name: epoch + timedelta(milliseconds=value)
        if name in TIMESTAMP_FIELDS and value is not None
        else value
        for name, value in event.items()
    }


def apache_schema(family: str) -> avro.schema.Schema:
    return avro.schema.parse((SCHEMA_DIR / f"{family}.avsc").read_text())


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_apache_avro_decodes_every_family(codec: Codec, family: str) -> None:
    data = codec.encode(family, example_event(family))
    reader = avro.io.DatumReader(apache_schema(family))
    record = reader.read(avro.io.BinaryDecoder(io.BytesIO(data[HEADER_SIZE:])))
    assert record == with_datetimes(example_event(family))
    assert record["occurred_at" if family != "state" else "as_of"].tzinfo is not None


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_apache_avro_writes_identical_bodies(codec: Codec, family: str) -> None:
    out = io.BytesIO()
    avro.io.DatumWriter(apache_schema(family)).write(
        with_datetimes(example_event(family)), avro.io.BinaryEncoder(out)
    )
    assert codec.encode(family, example_event(family))[HEADER_SIZE:] == out.getvalue()


def test_codec_decodes_what_apache_avro_wrote(codec: Codec) -> None:
    out = io.BytesIO()
    avro.io.DatumWriter(apache_schema("deployment")).write(
        with_datetimes(example_event("deployment")), avro.io.BinaryEncoder(out)
    )
    header = b"\xc3\x01" + codec.fingerprint("deployment").to_bytes(8, "little")
    assert codec.decode(header + out.getvalue()).record == example_event("deployment")
