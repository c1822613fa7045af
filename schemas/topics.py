"""Topic names of the pipeline.

Every event family has its own topic; all event topics and the state topic have the same
partition count and are keyed by project id with the murmur2 partitioner (the Java client's
default, which aiokafka and faust share; confluent-kafka is told to use it too), so all events
and the state of one project live in the same partition number everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

FAMILIES: tuple[str, ...] = (
    "rfc",
    "task",
    "review",
    "test",
    "change",
    "deployment",
    "incident",
    "sli",
)

# librdkafka's name for the Java-compatible partitioner.
CONFLUENT_PARTITIONER = "murmur2_random"


@dataclass(frozen=True)
class Topics:
    prefix: str = "devmetrics"

    def events(self, family: str) -> str:
        if family not in FAMILIES:
            raise ValueError(f"unknown event family {family!r}; known: {', '.join(FAMILIES)}")
        return f"{self.prefix}.events.{family}"

    @property
    def all_events(self) -> list[str]:
        return [self.events(f) for f in FAMILIES]

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}.deadletter"

    @property
    def state(self) -> str:
        return f"{self.prefix}.state"

    def family_of(self, topic: str) -> str:
        head = f"{self.prefix}.events."
        if not topic.startswith(head) or topic[len(head) :] not in FAMILIES:
            raise ValueError(f"{topic!r} is not an event topic")
        return topic[len(head) :]
