"""Why a webhook was not turned into events: each carries the short reason that is counted,
returned and written to the dead-letter headers."""

from __future__ import annotations


class ReceiverError(Exception):
    """A request the receiver did not turn into events."""

    status = 400

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class Unauthorized(ReceiverError):
    """No, or a wrong, signature or token: 401, nothing published, nothing dead-lettered."""

    status = 401


class Unmappable(ReceiverError):
    """An authentic payload that is malformed or cannot become events: 400 and dead-lettered."""

    status = 400


class Ignored(ReceiverError):
    """An authentic event of a kind the metrics do not use: 202, nothing published."""

    status = 202


class TooLarge(ReceiverError):
    """The body exceeds the configured bound: 413, not read further."""

    status = 413
