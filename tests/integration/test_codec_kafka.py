"""Messages on a real topic, read raw by kcat: key is the project id, value single-object Avro."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from core.settings import KafkaSettings
from producers.publisher import Publisher
from schemas.codec import Codec
from schemas.examples import example_event
from schemas.topics import FAMILIES

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed"),
]


def kcat_one(bootstrap: str, topic: str) -> bytes:
    """The first message of the topic as kcat prints it: key, a space, the raw value."""
    result = subprocess.run(
        ["kcat", "-C", "-b", bootstrap, "-t", topic, "-c", "1", "-e", "-f", "%k %s"],
        capture_output=True,
        timeout=30,
        check=True,
    )
    return result.stdout


def test_kcat_sees_project_key_and_single_object_values(kafka_settings: KafkaSettings) -> None:
    codec = Codec.default()
    events = {family: example_event(family, project_id=f"proj-{family}") for family in FAMILIES}
    with Publisher(kafka_settings, codec) as publisher:
        for family, event in events.items():
            publisher.publish(family, event)

    for family, event in events.items():
        raw = kcat_one(kafka_settings.bootstrap, publisher.topics.events(family))
        key, _, value = raw.partition(b" ")
        assert key == f"proj-{family}".encode()
        assert value[:2] == b"\xc3\x01"
        assert value[2:10] == codec.fingerprint(family).to_bytes(8, "little")
        assert codec.decode(value).record == event
