"""Rows of one family packed in columns, with a per-project string table.

The figures that need individual events (quantiles, links between entities, earliest events)
keep them in `RowColumns`: one typed `array` per field instead of a tuple per row, and every
string (ids, kinds, actors, agent names) as a 32-bit index into the project's `StringTable`,
which holds each distinct string once. A task row costs 44 bytes this way against about 200
as a tuple of Python objects, and the state is a few large buffers instead of millions of
small objects, so memory freed by pruning goes back to the allocator whole.

Rows go in and come out as the row tuples of `rows.py`: the metric logic reads
`visible(cutoff, as_of)`, the rows of the window materialised for one snapshot (the last such
list is kept until `release`, so the figures of one snapshot that read the same family share
it).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

import numpy as np

from processors.aggregators.rows import (
    ChangeRow,
    DeploymentRow,
    IncidentRow,
    ReviewRow,
    RfcRow,
    Row,
    TaskRow,
    TestRunRow,
)

R = TypeVar("R", bound=Row)

# Field kinds: "t" the event time and "k" the 64-bit event key (both int64 bit patterns),
# "i" an int, "b" a bool, "f" a float, "f?" a float or None (NaN marks None: event values are
# finite, schemas/validation.py), "s" a string or None (table index, -1 for None), "ss" a tuple
# of strings (flat indices plus offsets).
_KINDS: dict[type[Any], tuple[str, ...]] = {
    RfcRow: ("t", "k", "s", "s", "s", "s"),
    TaskRow: ("t", "k", "s", "s", "s", "f?", "s", "s"),
    ReviewRow: ("t", "k", "s", "s", "s", "s", "i", "i", "s"),
    TestRunRow: ("t", "k", "s", "i", "i", "i", "f", "f?"),
    ChangeRow: ("t", "k", "s", "i", "s", "s", "s", "s", "s"),
    DeploymentRow: ("t", "k", "s", "b", "s", "ss", "s", "b"),
    IncidentRow: ("t", "k", "s", "s", "s"),
}
_TYPECODES = {"t": "q", "k": "Q", "i": "q", "b": "b", "f": "d", "f?": "d", "s": "i"}
_NONE = -1
_ANY = "surrogatepass"  # every str round-trips through the packed bytes, even a lone surrogate


class StringTable:
    """The distinct strings of one project, each held once and named by a small index.

    Held packed: the UTF-8 bytes of every string one after another and where each ends (about
    25 bytes a string of 21 characters, against about 110 as a `str` in a list and a dict).
    The index from string to number exists only while the project folds rows (`index`), and
    the strings as `str` only while a snapshot reads them (`strings`); `release` forgets both.
    """

    __slots__ = ("_blob", "_decoded", "_ends", "_index")

    def __init__(self) -> None:
        self._blob = bytearray()
        self._ends = array("I")
        self._index: dict[str, int] | None = None
        self._decoded: list[str] | None = None

    @property
    def strings(self) -> list[str]:
        """Every string, by index (decoded once until `release`)."""
        if self._decoded is None:
            blob, start = bytes(self._blob), 0
            decoded = []
            for end in self._ends:
                decoded.append(blob[start:end].decode("utf-8", _ANY))
                start = end
            self._decoded = decoded
        return self._decoded

    def index(self, value: str | None) -> int:
        if value is None:
            return _NONE
        known = self._index
        if known is None:
            known = self._index = {s: i for i, s in enumerate(self.strings)}
        at = known.get(value)
        if at is None:
            at = known[value] = len(self._ends)
            self._append(value)
            if self._decoded is not None:
                self._decoded.append(value)
        return at

    def _append(self, value: str) -> None:
        self._blob += value.encode("utf-8", _ANY)
        self._ends.append(len(self._blob))

    def __len__(self) -> int:
        return len(self._ends)

    def release(self) -> None:
        """Forget the index and the decoded strings: only the packed bytes stay held."""
        self._index = None
        self._decoded = None

    def compact(self, columns: list[RowColumns[Any]]) -> None:
        """Keep only the strings the columns still use (after pruning), renumbered."""
        used: set[int] = set()
        for rows in columns:
            used.update(rows.string_indices())
        if len(used) == len(self):
            return
        kept = sorted(used)
        remap = np.full(len(self) + 1, _NONE, dtype=np.int32)
        remap[np.array(kept, dtype=np.int64)] = np.arange(len(kept), dtype=np.int32)
        strings = [self.strings[i] for i in kept]
        self._blob = bytearray()
        self._ends = array("I")
        self.release()
        for value in strings:
            self._append(value)
        for rows in columns:
            rows.renumber(remap)


class RowColumns(Generic[R]):
    """The rows of one family of one project, a typed array per field."""

    __slots__ = ("_kinds", "_last", "_offsets", "cls", "columns", "table", "version")

    def __init__(self, cls: type[R], table: StringTable) -> None:
        self.cls = cls
        self.table = table
        self._kinds = _KINDS[cls]
        self.columns: list[array[Any]] = [
            array("i") if kind == "ss" else array(_TYPECODES[kind]) for kind in self._kinds
        ]
        # For "ss" fields: where each row's strings start in the flat column (n + 1 entries).
        self._offsets: list[array[int] | None] = [
            array("q", [0]) if kind == "ss" else None for kind in self._kinds
        ]
        self._last: tuple[tuple[int, int, int], list[R]] | None = None
        self.version = 0
        """Counts the changes of the rows held (appends and prunes that dropped any)."""

    def __len__(self) -> int:
        return len(self.columns[0])

    def append(self, row: R) -> None:
        table = self.table
        fields: tuple[Any, ...] = row
        for kind, column, offsets, value in zip(
            self._kinds, self.columns, self._offsets, fields, strict=True
        ):
            if kind == "s":
                column.append(table.index(value))
            elif kind == "f?":
                if value is None:
                    column.append(math.nan)
                elif math.isnan(value):
                    raise ValueError(f"{self.cls.__name__}: NaN is not a value a row can hold")
                else:
                    column.append(value)
            elif kind == "ss":
                column.extend(table.index(s) for s in value)
                assert offsets is not None
                offsets.append(len(column))
            else:
                column.append(value)
        self._last = None
        self.version += 1

    def times(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        return np.frombuffer(self.columns[0], dtype=np.int64)

    def next_change(self, as_of: int, lengths: tuple[int, ...]) -> int | None:
        """The first T after `as_of` at which a row enters or leaves a window: a row is in a
        window of length w at T when T - w < t <= T, so it enters at T = t and leaves at
        T = t + w. None when no row ever will (no rows, or all gone from every window)."""
        t = np.sort(self.times())
        best: int | None = None
        for length in lengths:
            # The first row still in (or not yet in) the window: t + length > as_of.
            at = int(np.searchsorted(t, as_of - length, side="right"))
            if at < len(t):
                candidate = int(t[at]) + length
                best = candidate if best is None else min(best, candidate)
        return best

    def _select(self, at: np.ndarray[Any, np.dtype[np.intp]]) -> list[R]:
        """The rows at the given positions, as row tuples."""
        strings = self.table.strings
        fields: list[list[Any]] = []
        for kind, column, offsets in zip(self._kinds, self.columns, self._offsets, strict=True):
            if kind == "ss":
                assert offsets is not None
                flat = [strings[i] for i in column]
                ends = offsets.tolist()
                fields.append([tuple(flat[ends[i] : ends[i + 1]]) for i in at.tolist()])
                continue
            values = np.frombuffer(column, dtype=column.typecode).take(at).tolist()
            if kind == "s":
                fields.append([None if i == _NONE else strings[i] for i in values])
            elif kind == "f?":
                fields.append([None if v != v else v for v in values])
            elif kind == "b":
                fields.append([bool(v) for v in values])
            else:
                fields.append(values)
        make: Any = self.cls._make
        return [make(values) for values in zip(*fields, strict=True)]

    def visible(self, cutoff: int, as_of: int) -> list[R]:
        """The rows with cutoff < t <= as_of; the list is kept until `release` or a change."""
        stamp = (cutoff, as_of, len(self))
        if self._last is not None and self._last[0] == stamp:
            return self._last[1]
        t = self.times()
        rows = self._select(np.flatnonzero((t > cutoff) & (t <= as_of)))
        self._last = (stamp, rows)
        return rows

    def release(self) -> None:
        """Forget the rows materialised for the last snapshot."""
        self._last = None

    def __iter__(self) -> Iterator[R]:
        return iter(self._select(np.arange(len(self))))

    def prune(self, cutoff: int) -> int:
        """Drop the rows with t <= cutoff; returns how many went."""
        t = self.times()
        if not len(t) or t.min() > cutoff:
            return 0
        keep = np.flatnonzero(t > cutoff)
        dropped = len(t) - len(keep)
        for index, (kind, column, offsets) in enumerate(
            zip(self._kinds, self.columns, self._offsets, strict=True)
        ):
            if kind == "ss":
                assert offsets is not None
                ends = np.frombuffer(offsets, dtype=np.int64)
                flat = np.frombuffer(column, dtype=np.int32)
                pieces = [flat[ends[i] : ends[i + 1]] for i in keep.tolist()]
                lengths = [len(p) for p in pieces]
                joined = np.concatenate(pieces) if pieces else np.empty(0, dtype=np.int32)
                self.columns[index] = array("i", joined.astype(np.int32).tobytes())
                self._offsets[index] = array(
                    "q", np.cumsum([0, *lengths]).astype(np.int64).tobytes()
                )
                continue
            kept = np.frombuffer(column, dtype=column.typecode).take(keep)
            self.columns[index] = array(column.typecode, kept.tobytes())
        self._last = None
        self.version += 1
        return dropped

    def string_indices(self) -> set[int]:
        used: set[int] = set()
        for kind, column in zip(self._kinds, self.columns, strict=True):
            if kind in ("s", "ss"):
                used.update(np.unique(np.frombuffer(column, dtype=np.int32)).tolist())
        used.discard(_NONE)
        return used

    def renumber(self, remap: np.ndarray[Any, np.dtype[np.int32]]) -> None:
        """Map every string index through `remap` (index -1, None, stays -1)."""
        for index, (kind, column) in enumerate(zip(self._kinds, self.columns, strict=True)):
            if kind in ("s", "ss") and len(column):
                own = np.frombuffer(column, dtype=np.int32)
                self.columns[index] = array("i", remap[own].astype(np.int32).tobytes())
        self._last = None
