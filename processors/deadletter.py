"""Dead-letter messages: the original key and value with headers saying why and from where."""

from __future__ import annotations

from dataclasses import dataclass

# Kept short enough for a header, long enough to name the field and the value.
MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class DeadLetter:
    """One refused message, ready to be produced to the dead-letter topic."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    reason: str
    topic: str


def dead_letter(
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    reason: str,
    error: str,
    original_headers: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
) -> DeadLetter:
    """The dead letter of a refused message (its own headers are kept, ours come first)."""
    headers = [
        ("dlq.reason", reason.encode()),
        ("dlq.topic", topic.encode()),
        ("dlq.partition", str(partition).encode()),
        ("dlq.offset", str(offset).encode()),
        ("dlq.error", error[:MAX_ERROR_CHARS].encode("utf-8", "replace")),
    ]
    headers += [(k, v) for k, v in original_headers if not k.startswith("dlq.")]
    return DeadLetter(key, value, headers, reason, topic)
