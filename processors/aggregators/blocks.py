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
from typing import Any, NamedTuple

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
_SEQ_SEPARATOR = "+"


class BlockFormatError(ValueError):
    """A stored block cannot be read (corrupt bytes or an unknown format version)."""


def hour_of(t: int) -> int:
    """The UTC hour index (hours since the epoch) of an epoch-ms time."""
    return t // HOUR_MS


def block_key(project_id: str, hour: int, seq: int = 0) -> str:
    """Table key of a project's hour block (`seq` 0), or of its delta number `seq`."""
    key = f"{project_id}{_KEY_SEPARATOR}{hour}"
    return key if seq == 0 else f"{key}{_SEQ_SEPARATOR}{seq}"


def parse_segment_key(key: str) -> tuple[str, int, int]:
    """(project id, hour, seq) of a block key (seq 0) or a delta key; project ids may
    themselves contain the separators."""
    project_id, sep, rest = key.rpartition(_KEY_SEPARATOR)
    hour, plus, seq = rest.partition(_SEQ_SEPARATOR)
    if not sep or not hour.lstrip("-").isdigit() or (plus and not seq.isdigit()):
        raise BlockFormatError(f"{key!r} is not a block key (<project>@<hour>[+<seq>])")
    return project_id, int(hour), int(seq) if plus else 0


def parse_block_key(key: str) -> tuple[str, int]:
    """(project id, hour) of a block or delta key."""
    project_id, hour, _ = parse_segment_key(key)
    return project_id, hour


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
    the rows array), plus their event keys (ascending, 8 bytes each); rows added since it was
    last written wait in `_fresh`. Held in the worker's block cache, a block costs the bytes
    of its stored form. `rows` decodes them all.

    **Stored as a base and deltas.** `write` persists the fresh rows either as a delta (key
    `<project>@<hour>+<seq>`, only those rows: what a live batch adds to the current hour) or
    as the whole block at the base key, which records in `through` the last delta it includes.
    Deltas are written while there are fewer than `deltas_max` of them and their bytes stay
    under the base's; then the base is written whole and the deltas it now holds are deleted.
    So a row is written about twice on average instead of once per batch that touches its
    hour (an hour of 10 s SLI samples is over 100 KB). Reading, a delta at or below the base's
    `through` is already in the base (one a crash left between the base and the deletions)
    and is skipped.
    """

    __slots__ = (
        "_encoded",
        "_fresh",
        "_keys",
        "base_size",
        "delta_size",
        "last",
        "team",
        "through",
    )

    def __init__(self, rows: Iterable[Row] = (), team: TeamMark | None = None) -> None:
        self._encoded = b""
        self._fresh: list[Row] = []
        self._keys = array("Q")
        """The event keys held, ascending: 8 bytes a key, where a set costs about 90."""
        self.team = team
        self.through = 0
        """The last delta the stored base includes."""
        self.last = 0
        """The last delta stored (`through` when none is stored beyond the base)."""
        self.base_size = 0
        """Bytes of the stored base; 0 when the hour has none yet."""
        self.delta_size = 0
        """Bytes of the stored deltas beyond `through`."""
        for row in rows:
            self.add(row)

    def add(self, row: Row, team: TeamMark | None = None) -> bool:
        """Add the row (and its event's team) unless its key is already in; True when added."""
        keys, key = self._keys, row.key
        if keys and key > keys[-1]:
            keys.append(key)
        else:
            at = bisect_left(keys, key)
            if at < len(keys) and keys[at] == key:
                return False
            keys.insert(at, key)
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

    def _flush(self) -> bytes:
        """Encode the fresh rows into the held bytes; returns their encoding (items)."""
        if not self._fresh:
            return b""
        fresh = _dumps([row_to_json(row) for row in self._fresh])[1:-1]
        self._encoded = self._encoded + b"," + fresh if self._encoded else fresh
        self._fresh = []
        return fresh

    def _body(self, items: bytes, through: int = 0) -> bytes:
        team = b"" if self.team is None else b',"team":' + _dumps(list(self.team))
        mark = b',"through":%d' % through if through else b""
        return b'{"v":%d,"rows":[%s]%s%s}' % (BLOCK_FORMAT, items, team, mark)

    def to_bytes(self) -> bytes:
        """Compact JSON: {"v": format, "rows": [[family, t, key, ...], ...], "team": mark,
        "through": seq}. "team" ([t, key, team]) is left out when no event of the block
        stated one, "through" when the base includes no delta."""
        self._flush()
        return self._body(self._encoded, self.through)

    def write(self, deltas_max: int) -> list[tuple[int, bytes | None]]:
        """What to store for the rows added since the last write: (seq, bytes) puts and
        (seq, None) deletions, in order; seq 0 is the base. `deltas_max` 0 writes the whole
        block every time."""
        if not self._fresh:
            return []
        if (
            deltas_max > 0
            and self.base_size
            and self.last - self.through < deltas_max
            and self.delta_size < self.base_size
        ):
            data = self._body(self._flush())
            self.last += 1
            self.delta_size += len(data)
            return [(self.last, data)]
        included = range(self.through + 1, self.last + 1)
        self.through = self.last
        data = self.to_bytes()
        self.base_size, self.delta_size = len(data), 0
        return [(0, data), *((seq, None) for seq in included)]

    def add_delta(self, seq: int, data: bytes) -> None:
        """Take in a stored delta read after this block's base (a block loaded from the store)."""
        rows, team, _, _ = _parse(data)
        held = set(self._keys)
        fresh = [row for row in rows if row.key not in held]
        if fresh:
            self._keys = array("Q", sorted(held.union(row.key for row in fresh)))
            items = _dumps([row_to_json(row) for row in fresh])[1:-1]
            self._encoded = self._encoded + b"," + items if self._encoded else items
        self.team = latest_team(self.team, team)
        self.last = max(self.last, seq)
        self.delta_size += len(data)

    @staticmethod
    def read(data: bytes) -> StoredBlock:
        """The rows, team and `through` of a stored block or delta (any readable format),
        checked."""
        rows, team, _, through = _parse(data)
        return StoredBlock(rows, team, through)

    @classmethod
    def from_bytes(cls, data: bytes) -> HourBlock:
        rows, team, items, through = _parse(data)
        block = cls(team=team)
        block._keys = array("Q", sorted({row.key for row in rows}))
        if items is not None:  # the current format: its rows are kept as they were stored
            block._encoded = _dumps(items)[1:-1]
        else:
            block._encoded = _dumps([row_to_json(row) for row in rows])[1:-1]
        block.through = block.last = through
        block.base_size = len(data)
        return block


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


class StoredBlock(NamedTuple):
    rows: list[Row]
    team: TeamMark | None
    through: int
    """The last delta a base includes (0 for a delta, or a base that includes none)."""


def _parse(data: bytes) -> tuple[list[Row], TeamMark | None, list[Any] | None, int]:
    """Rows, team, (for a block of the current format) the stored row items, and `through`."""
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
        through = int(body.get("through", 0))
        if len({row.key for row in rows}) != len(rows):  # an event once: the first copy
            first: dict[int, Row] = {}
            for row in rows:
                first.setdefault(row.key, row)
            return list(first.values()), mark, None, through
        return rows, mark, items if body["v"] == BLOCK_FORMAT else None, through
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        if isinstance(exc, BlockFormatError):
            raise
        raise BlockFormatError(f"unreadable hour block: {exc}") from exc
