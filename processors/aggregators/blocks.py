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
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from itertools import takewhile
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


class HourSet:
    """The hours a project has blocks of: a sorted array (8 bytes an hour, where a set of ints
    costs about 60). Hours mostly arrive in order, so adding is an append or a no-op."""

    __slots__ = ("_hours",)

    def __init__(self, hours: Iterable[int] = ()) -> None:
        self._hours = array("q", sorted(set(hours)))

    def add(self, hour: int) -> None:
        hours = self._hours
        if not hours or hour > hours[-1]:
            hours.append(hour)
            return
        at = bisect_left(hours, hour)
        if hours[at] != hour:
            hours.insert(at, hour)

    def discard(self, hour: int) -> None:
        at = bisect_left(self._hours, hour)
        if at < len(self._hours) and self._hours[at] == hour:
            del self._hours[at]

    def last(self) -> int:
        return self._hours[-1]

    def __contains__(self, hour: object) -> bool:
        if not isinstance(hour, int):
            return False
        at = bisect_left(self._hours, hour)
        return at < len(self._hours) and self._hours[at] == hour

    def leading(self, keep: Callable[[int], bool]) -> list[int]:
        """The hours from the first on for which `keep` holds (it stops at the first not)."""
        return list(takewhile(keep, self._hours))

    def __iter__(self) -> Iterator[int]:
        return iter(self._hours)

    def __len__(self) -> int:
        return len(self._hours)


class HourBlock:
    """The de-duplicated rows of one project's hour, and the team its events state.

    A block keeps its rows encoded, as the JSON they are stored in (`_encoded`, the items of
    the rows array), plus the set of their event keys; rows added since it was last written
    wait in `_fresh` and are encoded together when it is written. Held in the worker's block
    cache, a block costs the bytes of its stored form, and writing it again after new rows
    encodes only those. `rows` decodes them all.
    """

    __slots__ = ("_encoded", "_fresh", "_keys", "team")

    def __init__(self, rows: Iterable[Row] = (), team: TeamMark | None = None) -> None:
        self._encoded = b""
        self._fresh: list[Row] = []
        self._keys: set[int] = set()
        self.team = team
        for row in rows:
            self.add(row)

    def add(self, row: Row, team: TeamMark | None = None) -> bool:
        """Add the row (and its event's team) unless its key is already in; True when added."""
        if row.key in self._keys:
            return False
        self._keys.add(row.key)
        self._fresh.append(row)
        if team is not None:
            self.team = latest_team(self.team, team)
        return True

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def rows(self) -> list[Row]:
        stored = [row_from_json(item) for item in json.loads(b"[" + self._encoded + b"]")]
        return stored + self._fresh

    def to_bytes(self) -> bytes:
        """Compact JSON: {"v": format, "rows": [[family, t, key, ...], ...], "team": mark}.

        "team" ([t, key, team]) is left out when no event of the block stated one.
        """
        if self._fresh:
            fresh = _dumps([row_to_json(row) for row in self._fresh])[1:-1]
            self._encoded = self._encoded + b"," + fresh if self._encoded else fresh
            self._fresh = []
        team = b"" if self.team is None else b',"team":' + _dumps(list(self.team))
        return b'{"v":%d,"rows":[%s]%s}' % (BLOCK_FORMAT, self._encoded, team)

    @staticmethod
    def read(data: bytes) -> tuple[list[Row], TeamMark | None]:
        """The rows and team of a stored block (any readable format), checked."""
        rows, team, _ = _parse(data)
        return rows, team

    @classmethod
    def from_bytes(cls, data: bytes) -> HourBlock:
        rows, team, items = _parse(data)
        block = cls(team=team)
        block._keys = {row.key for row in rows}
        if items is not None:  # the current format: its rows are kept as they were stored
            block._encoded = _dumps(items)[1:-1]
        else:
            block._fresh = rows
        return block


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def _parse(data: bytes) -> tuple[list[Row], TeamMark | None, list[Any] | None]:
    """Rows, team and (for a block of the current format) the stored row items of a block."""
    try:
        body = json.loads(data)
        if body["v"] not in READABLE_FORMATS:
            raise BlockFormatError(
                f"block format {body['v']!r}, expected one of {READABLE_FORMATS}"
            )
        items = body["rows"]
        rows = [row_from_json(item) for item in items]
        team = body.get("team")
        mark = None if team is None else TeamMark(int(team[0]), int(team[1]), str(team[2]))
        if len({row.key for row in rows}) != len(rows):  # an event once: the first copy
            first: dict[int, Row] = {}
            for row in rows:
                first.setdefault(row.key, row)
            return list(first.values()), mark, None
        return rows, mark, items if body["v"] == BLOCK_FORMAT else None
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        if isinstance(exc, BlockFormatError):
            raise
        raise BlockFormatError(f"unreadable hour block: {exc}") from exc
