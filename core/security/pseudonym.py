"""Keyed pseudonyms for the personal fields of events, applied before they reach Kafka.

A human actor's name becomes ``person-`` and the first 128 bits of HMAC-SHA256(key, name) in
hex: stable (the same person always gets the same pseudonym, so per-person figures still
work), not reversible without the key, and not guessable by hashing a list of names. Agent
names are product names, not people, and stay as they are.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.security.errors import SecurityError

PREFIX = "person-"
_PSEUDONYM = re.compile(r"^person-[0-9a-f]{32}$")
MIN_KEY_BYTES = 16


class Pseudonymizer:
    """Replaces the personal fields of an event with keyed pseudonyms."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise SecurityError(
                f"the pseudonym key has {len(key)} bytes; at least {MIN_KEY_BYTES} are needed"
            )
        self._key = key

    @classmethod
    def from_file(cls, path: Path) -> Pseudonymizer:
        """The key is the file's content (surrounding whitespace ignored)."""
        try:
            key = path.read_bytes().strip()
        except OSError as exc:
            raise SecurityError(f"cannot read the pseudonym key {path}: {exc.strerror}") from exc
        return cls(key)

    def pseudonym(self, identity: str) -> str:
        """The pseudonym of one identity; an existing pseudonym is returned unchanged."""
        if _PSEUDONYM.match(identity):
            return identity
        digest = hmac.new(self._key, identity.encode(), hashlib.sha256).hexdigest()
        return PREFIX + digest[:32]

    def __call__(self, event: Mapping[str, Any]) -> Mapping[str, Any]:
        """The event with a human actor's name pseudonymised (a copy; the input is untouched)."""
        actor = event.get("actor")
        if not isinstance(actor, Mapping) or actor.get("kind") != "human":
            return event
        name = actor.get("name")
        if not isinstance(name, str) or not name:
            return event  # the codec rejects it with a message naming the field
        return {**event, "actor": {**actor, "name": self.pseudonym(name)}}
