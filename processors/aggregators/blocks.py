"""Hour blocks: the stored unit of state, one per (project, UTC hour of occurred_at).

A block holds the rows of the events of one project whose event time falls in one hour,
de-duplicated by event key. Blocks are small (an hour of one project), so a batch rewrites
only the blocks it touched; a re-sent event carries the same `occurred_at`, lands in the
same block and is recognised there. A block also keeps the winning team mark of its events
(`latest_team`), so a project's team is rebuilt from its blocks like the rest of its state;
blocks written without one read as having none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from processors.aggregators.rows import (
    Row,
    TeamMark,
    latest_team,
    row_from_json,
    row_to_json,
)
from processors.aggregators.samples import HOUR_MS

BLOCK_FORMAT = 3
"""Format 2 added trailing row fields, format 3 every latency bucket of an SLI row
(docs/processors.md, "Stored state"); formats 1 and 2 read."""
READABLE_FORMATS = (1, 2, 3)
_KEY_SEPARATOR = "@"


class BlockFormatError(ValueError):
    """A stored block cannot be read (corrupt bytes or an unknown format version)."""


def hour_of(t: int) -> int:
    """The UTC hour index (hours since the epoch) of an epoch-ms time."""
    return t // HOUR_MS


def block_key(project_id: str, hour: int) -> str:
    """Table key of a project's hour block."""
    return f"{project_id}{_KEY_SEPARATOR}{hour}"


def parse_block_key(key: str) -> tuple[str, int]:
    """(project id, hour) of a block key; project ids may themselves contain the separator."""
    project_id, sep, hour = key.rpartition(_KEY_SEPARATOR)
    if not sep or not hour.lstrip("-").isdigit():
        raise BlockFormatError(f"{key!r} is not a block key (<project>@<hour>)")
    return project_id, int(hour)


class HourBlock:
    """The de-duplicated rows of one project's hour, and the team its events state."""

    __slots__ = ("_keys", "rows", "team")

    def __init__(self, rows: Iterable[Row] = (), team: TeamMark | None = None) -> None:
        self.rows: list[Row] = []
        self._keys: set[int] = set()
        self.team = team
        for row in rows:
            self.add(row)

    def add(self, row: Row, team: TeamMark | None = None) -> bool:
        """Add the row (and its event's team) unless its key is already in; True when added."""
        if row.key in self._keys:
            return False
        self._keys.add(row.key)
        self.rows.append(row)
        if team is not None:
            self.team = latest_team(self.team, team)
        return True

    def __len__(self) -> int:
        return len(self.rows)

    def to_bytes(self) -> bytes:
        """Compact JSON: {"v": format, "rows": [[family, t, key, ...], ...], "team": mark}.

        "team" ([t, key, team]) is left out when no event of the block stated one.
        """
        body: dict[str, Any] = {"v": BLOCK_FORMAT, "rows": [row_to_json(row) for row in self.rows]}
        if self.team is not None:
            body["team"] = list(self.team)
        return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> HourBlock:
        try:
            body = json.loads(data)
            if body["v"] not in READABLE_FORMATS:
                raise BlockFormatError(
                    f"block format {body['v']!r}, expected one of {READABLE_FORMATS}"
                )
            team = body.get("team")
            return cls(
                (row_from_json(item) for item in body["rows"]),
                None if team is None else TeamMark(int(team[0]), int(team[1]), str(team[2])),
            )
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            if isinstance(exc, BlockFormatError):
                raise
            raise BlockFormatError(f"unreadable hour block: {exc}") from exc
