"""The worker's logic, free of faust: decode, admit, de-duplicate, fold, store, snapshot.

The faust app (processors/app.py) feeds batches of consumed messages to `FoldWorker.process`
and publishes what `FoldWorker.publish_due` returns; storage goes through a `BlockStore`
(a faust table in the app, a dict in tests). Each batch writes only the hour blocks it
touched, so the changelog carries O(touched blocks) per batch, never a project's history.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter, OrderedDict
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from core.processor_settings import ProcessorSettings
from core.slo_definitions import SloFile
from processors.admission import Admission, AsOf, partition_for
from processors.aggregators.blocks import (
    BlockFormatError,
    HourBlock,
    HourSet,
    StoredBlock,
    block_key,
    parse_segment_key,
)
from processors.aggregators.ledger import expired_hours
from processors.aggregators.metrics import Figures
from processors.aggregators.rows import FAMILY_OF_ROW, Row, TeamMark, team_mark, to_row
from processors.aggregators.samples import HOUR_MS
from processors.aggregators.state import ProjectState
from processors.deadletter import DeadLetter, dead_letter
from processors.errors import Rejected
from processors.snapshots import STATE_FAMILY, SnapshotScheduler, state_record
from processors.telemetry import WorkerMetrics
from schemas.codec import Codec, CodecError
from schemas.topics import Topics

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Incoming:
    """One consumed message with its Kafka coordinates (built per message: slots, not frozen)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    origin: Any = None
    """The transport's own event object; table writes of its project are routed by it."""


@dataclass(frozen=True)
class Outgoing:
    """A message to produce: a state snapshot."""

    key: bytes
    value: bytes
    partition: int


@dataclass(frozen=True)
class Tombstone:
    """A state-topic record without a value: the project is gone (the retention sweep
    removed it), and the exporter shards drop its series."""

    key: bytes
    partition: int


class BlockStore(Protocol):
    """Where hour blocks live; `via` is the `Incoming.origin` of an event of the same project."""

    def get(self, key: str, via: Any) -> bytes | None: ...

    def put(self, key: str, value: bytes, via: Any) -> None: ...

    def delete(self, key: str, via: Any) -> None: ...

    def delete_in(self, key: str, partition: int) -> None:
        """Delete a block outside any batch (the retention sweep), routed by partition."""
        ...

    def items(self) -> Iterable[tuple[str, bytes]]: ...


class MemoryBlockStore:
    """A dict as block store: for tests and in-memory runs."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.writes = 0

    def get(self, key: str, via: Any) -> bytes | None:
        return self.data.get(key)

    def put(self, key: str, value: bytes, via: Any) -> None:
        self.data[key] = value
        self.writes += 1

    def delete(self, key: str, via: Any) -> None:
        self.data.pop(key, None)
        self.writes += 1

    def delete_in(self, key: str, partition: int) -> None:
        self.delete(key, None)

    def items(self) -> Iterable[tuple[str, bytes]]:
        return list(self.data.items())


@dataclass
class _Project:
    state: ProjectState
    partition: int
    hours: HourSet = field(default_factory=HourSet)
    via: Any = None
    deltas: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Per hour with deltas stored beyond its base: (the base's `through`, the last delta)."""

    def segment_keys(self, hour: int) -> list[str]:
        """The keys of everything stored for one hour: its base and its deltas."""
        through, last = self.deltas.get(hour, (0, 0))
        project_id = self.state.project_id
        return [block_key(project_id, hour, seq) for seq in (0, *range(through + 1, last + 1))]


@dataclass
class BatchOutcome:
    dead_letters: list[DeadLetter] = field(default_factory=list)
    applied: int = 0
    duplicates: int = 0
    blocks_written: int = 0
    bytes_written: int = 0


class FoldWorker:
    """All projects of the partitions assigned to one worker."""

    def __init__(
        self,
        settings: ProcessorSettings,
        topics: Topics,
        partitions: int,
        codec: Codec,
        store: BlockStore,
        as_of: AsOf,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.topics = topics
        self.partitions = partitions
        self.codec = codec
        self.store = store
        self.as_of = as_of
        self.metrics = metrics
        self.admission = Admission(
            partitions=partitions,
            max_future_skew_ms=int(settings.max_future_skew_s * 1000),
            max_projects=settings.max_projects,
            as_of=as_of,
        )
        self.scheduler = SnapshotScheduler(
            min_interval_ms=int(settings.snapshot_min_interval_s * 1000),
            refresh_ms=int(settings.snapshot_refresh_s * 1000),
            live=as_of.live,
        )
        self.slo_file = SloFile(settings.slo_file)
        self.figures = Figures(self.slo_file.definitions, settings.agent_top_n)
        """The metric logic (`initialize / agg / result`) this worker drives."""
        self.projects: dict[str, _Project] = {}
        self._blocks: OrderedDict[str, HourBlock] = OrderedDict()
        self.consumed_offsets: dict[tuple[str, int], int] = {}
        self.quarantined = 0  # unreadable stored blocks set aside (`_quarantine`)
        self.expired = 0  # projects removed by the retention sweep (`sweep`)
        # Expired blocks found while loading partitions, per project: the sweep deletes them.
        self._expired_blocks: dict[str, list[tuple[str, int]]] = {}
        # Kept as the state changes, so that `sizes` (read by the scrape thread) never walks
        # a dict the event loop may be changing.
        self._rows_held = 0
        self._families: dict[str, str] = {}

    # -- folding -------------------------------------------------------------------------

    def process(self, batch: list[Incoming], now_ms: int) -> BatchOutcome:
        """Fold a batch; refused messages come back as dead letters, nothing is raised.

        Per-event work is only decoding, admission and folding; offsets, metrics and block
        writes are accounted once per batch.
        """
        outcome = BatchOutcome()
        by_project: dict[str, list[tuple[Row, Incoming, TeamMark | None]]] = {}
        consumed: Counter[str] = Counter()
        offsets = self.consumed_offsets
        new_projects = 0  # projects of this batch not yet held
        for message in batch:
            consumed[message.topic] += 1
            tp = (message.topic, message.partition)
            if message.offset > offsets.get(tp, -1):
                offsets[tp] = message.offset
            try:
                project_id, row, team = self._admit(message, now_ms, by_project, new_projects)
            except (CodecError, Rejected) as exc:
                outcome.dead_letters.append(self._dead_letter(message, exc))
                continue
            items = by_project.get(project_id)
            if items is None:
                items = by_project[project_id] = []
                new_projects += project_id not in self.projects
            items.append((row, message, team))
        applied: Counter[str] = Counter()
        duplicates: Counter[str] = Counter()
        for project_id, items in by_project.items():
            self._fold_project(project_id, items, now_ms, outcome, applied, duplicates)
        outcome.applied = sum(applied.values())
        outcome.duplicates = sum(duplicates.values())
        if self.metrics:
            for topic, n in consumed.items():
                self.metrics.consumed.labels(topic).inc(n)
            for family, n in applied.items():
                self.metrics.applied.labels(family).inc(n)
            for family, n in duplicates.items():
                self.metrics.duplicates.labels(family).inc(n)
        return outcome

    def _dead_letter(self, message: Incoming, exc: CodecError | Rejected) -> DeadLetter:
        if self.metrics:
            self.metrics.rejected.labels(message.topic, exc.reason).inc()
        return dead_letter(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            reason=exc.reason,
            error=str(exc),
            original_headers=message.headers,
        )

    def _family_of(self, topic: str) -> str:
        family = self._families.get(topic)
        if family is None:
            try:
                family = self._families[topic] = self.topics.family_of(topic)
            except ValueError as exc:
                raise Rejected("unknown_family", str(exc)) from exc
        return family

    def _admit(
        self, message: Incoming, now_ms: int, batch_projects: dict[str, Any], new_projects: int
    ) -> tuple[str, Row, TeamMark | None]:
        family = self._family_of(message.topic)
        if message.value is None:
            raise Rejected("undecodable", "message has no value")
        record = self.codec.decode(message.value, expect_family=family).record
        project_id = record["project_id"]
        known = project_id in self.projects or project_id in batch_projects
        held = len(self.projects) + new_projects
        self.admission.check(record, message.key, message.partition, now_ms, known, held)
        row = to_row(family, record)
        return project_id, row, team_mark(row, record)

    def _project(self, project_id: str, partition: int) -> _Project:
        project = self.projects.get(project_id)
        if project is None:
            project = self.projects[project_id] = _Project(
                self.figures.initialize(project_id), partition
            )
        return project

    def _fold_project(
        self,
        project_id: str,
        items: list[tuple[Row, Incoming, TeamMark | None]],
        now_ms: int,
        outcome: BatchOutcome,
        applied: Counter[str],
        duplicates: Counter[str],
    ) -> None:
        """Fold one project's rows of a batch; each touched hour block is written once."""
        project = self._project(project_id, items[0][1].partition)
        rows_before = project.state.events_applied
        via = project.via = items[-1][1].origin
        changed: dict[int, HourBlock] = {}
        earliest_arrival = min(message.timestamp_ms for _, message, _ in items)
        agg, state = self.figures.agg, project.state
        for row, _message, team in items:
            hour = row.t // HOUR_MS
            block = changed.get(hour) or self._block(project, hour, via)
            if block.add(row, team):
                agg(state, row, team)
                project.hours.add(hour)
                changed[hour] = block
                applied[FAMILY_OF_ROW[type(row)]] += 1
            else:
                duplicates[FAMILY_OF_ROW[type(row)]] += 1
        for hour, block in changed.items():
            for seq, data in block.write(self.settings.block_deltas_max):
                key = block_key(project_id, hour, seq)
                if data is None:
                    self.store.delete(key, via)
                    continue
                self.store.put(key, data, via)
                outcome.blocks_written += 1
                outcome.bytes_written += len(data)
            if block.last > block.through:
                project.deltas[hour] = (block.through, block.last)
            else:
                project.deltas.pop(hour, None)
        self._prune_blocks(project, self.as_of.at(now_ms))
        self._rows_held += project.state.events_applied - rows_before
        if changed:
            self.scheduler.changed(project_id, earliest_arrival)

    def _block(self, project: _Project, hour: int, via: Any) -> HourBlock:
        key = block_key(project.state.project_id, hour)
        block = self._blocks.get(key)
        if block is not None:
            self._blocks.move_to_end(key)
            return block
        data = self.store.get(key, via)
        block = HourBlock() if data is None else self._read_block(key, data)
        through, last = project.deltas.get(hour, (0, 0))
        for seq in range(max(through, block.through) + 1, last + 1):
            delta_key = block_key(project.state.project_id, hour, seq)
            delta = self.store.get(delta_key, via)
            if delta is None:
                continue
            try:
                block.add_delta(seq, delta)
            except BlockFormatError as exc:
                self._quarantine(delta_key, delta, exc)
        block.last = max(block.last, last)
        self._blocks[key] = block
        while len(self._blocks) > self.settings.block_cache_size:
            self._blocks.popitem(last=False)
        return block

    def _read_block(self, key: str, data: bytes) -> HourBlock:
        """A stored block; an unreadable one is quarantined and its hour starts afresh, so a
        corrupt block costs the rows it held, never the worker (no crash loop)."""
        try:
            return HourBlock.from_bytes(data)
        except BlockFormatError as exc:
            self._quarantine(key, data, exc)
            return HourBlock()

    def _quarantine(self, key: str, data: bytes, exc: BlockFormatError) -> None:
        """Copy an unreadable block to `<data_dir>/quarantine/`, log it and count it."""
        folder = self.settings.data_dir / "quarantine"
        path = folder / f"{re.sub(r'[^A-Za-z0-9_.@-]', '_', key)}.{time.time_ns()}.block"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            kept = f"copied to {path}"
        except OSError as write_error:
            kept = f"not copied ({write_error})"
        log.error(
            "stored block %r is unreadable (%s): quarantined, %s; its project is served "
            "from its other blocks and the rows of this hour are missing from its figures",
            key,
            exc,
            kept,
        )
        self.quarantined += 1
        if self.metrics:
            self.metrics.quarantined.inc()

    def _prune_blocks(self, project: _Project, as_of: int) -> None:
        """Delete the project's stored blocks that left the retention, and its old state rows.

        Runs inside a batch, where the project's partition is known to the store; a project
        that stops reporting is removed whole by the retention sweep (`sweep`) once its last
        block has left the retention.
        """
        for hour in project.hours.leading(lambda hour: bool(expired_hours([hour], as_of))):
            for key in project.segment_keys(hour):
                self.store.delete(key, project.via)
            self._blocks.pop(block_key(project.state.project_id, hour), None)
            project.deltas.pop(hour, None)
            project.hours.discard(hour)
        project.state.prune(as_of)

    # -- lifecycle -----------------------------------------------------------------------

    def sweep(self, now_ms: int) -> list[Tombstone]:
        """The retention sweep: every held project with no event within the retention (all
        its hour blocks expired) is removed, its blocks deleted from the store, and a
        tombstone for the state topic returned, so that the exporter shards drop its series.
        The project cap counts the projects held, so a removed project frees its place.

        Projects that still report keep only their blocks within the retention: those are
        pruned as their own batches arrive (`_prune_blocks`)."""
        as_of = self.as_of.at(now_ms)
        tombstones: list[Tombstone] = []
        # Blocks that had expired when their partition was loaded (a worker that was down, or
        # a partition that moved): deleted now; a project left with nothing is gone.
        found, self._expired_blocks = self._expired_blocks, {}
        for project_id, blocks in found.items():
            for key, partition in blocks:
                self.store.delete_in(key, partition)
            if project_id not in self.projects:
                tombstones.append(Tombstone(project_id.encode(), blocks[0][1]))
        for project_id, project in list(self.projects.items()):
            if not project.hours or not expired_hours([project.hours.last()], as_of):
                continue
            for hour in list(project.hours):
                for key in project.segment_keys(hour):
                    self.store.delete_in(key, project.partition)
            self._drop(project_id)
            tombstones.append(Tombstone(project_id.encode(), project.partition))
        if tombstones:
            self.expired += len(tombstones)
            if self.metrics:
                self.metrics.expired.inc(len(tombstones))
            log.info(
                "retention sweep: %d project(s) without an event since T - 31d removed, "
                "tombstones published (%s%s)",
                len(tombstones),
                ", ".join(t.key.decode() for t in tombstones[:5]),
                ", ..." if len(tombstones) > 5 else "",
            )
        return tombstones

    # -- assignment ----------------------------------------------------------------------

    def assign(self, partitions: set[int], now_ms: int) -> int:
        """Keep the projects of `partitions`, drop the others, load the new ones from the store.

        Returns how many projects were loaded. Projects already held stay as they are: this
        worker wrote every block of them, so memory and store agree.
        """
        steps = self.assign_in_steps(partitions, now_ms)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                loaded: int = done.value
                return loaded

    def assign_in_steps(
        self, partitions: set[int], now_ms: int, step_blocks: int = 2000
    ) -> Generator[int, None, int]:
        """`assign`, pausing after every `step_blocks` stored blocks read (it yields how many
        it has read), so that the app's event loop can serve timers, scrapes and heartbeats
        between steps while a large table is loaded. The loaded projects become visible
        together at the end; returns how many were loaded."""
        for project_id in [p for p, v in self.projects.items() if v.partition not in partitions]:
            self._drop(project_id)
        loaded: dict[str, _Project] = {}
        # Deltas are applied once every base is read: a delta the base of its hour already
        # includes (`through`: a crash between writing the base and deleting the deltas) is
        # skipped, and deleted by the next sweep.
        deltas: list[tuple[str, int, int, str, bytes, int]] = []
        included: dict[tuple[str, int], int] = {}
        for read, (key, data) in enumerate(self.store.items(), start=1):
            if read % step_blocks == 0:
                yield read
            try:
                project_id, hour, seq = parse_segment_key(key)
            except BlockFormatError as exc:
                self._quarantine(key, data, exc)
                continue
            if project_id in self.projects:
                continue
            partition = partition_for(project_id, self.partitions)
            if partition not in partitions:
                continue
            if expired_hours([hour], self.as_of.at(now_ms)):
                # Left for the next retention sweep to delete (not while recovering); a
                # project with nothing else stored gets its tombstone then.
                self._expired_blocks.setdefault(project_id, []).append((key, partition))
                continue
            if seq:
                deltas.append((project_id, hour, seq, key, data, partition))
                continue
            stored = self._load_segment(loaded, project_id, hour, partition, key, data)
            if stored is not None and stored.through:
                included[project_id, hour] = stored.through
        for project_id, hour, seq, key, data, partition in deltas:
            through = included.get((project_id, hour), 0)
            if seq <= through:
                self._expired_blocks.setdefault(project_id, []).append((key, partition))
                continue
            if self._load_segment(loaded, project_id, hour, partition, key, data) is not None:
                last = loaded[project_id].deltas.get(hour, (through, through))[1]
                loaded[project_id].deltas[hour] = (through, max(last, seq))
        self.projects.update(loaded)
        self._rows_held += sum(p.state.events_applied for p in loaded.values())
        for project_id in loaded:
            # Whatever was published before a crash may predate the last applied events.
            self.scheduler.changed(project_id, now_ms)
        return len(loaded)

    def _load_segment(
        self,
        loaded: dict[str, _Project],
        project_id: str,
        hour: int,
        partition: int,
        key: str,
        data: bytes,
    ) -> StoredBlock | None:
        """Fold a stored base or delta into its project being loaded (None: quarantined)."""
        try:
            stored = HourBlock.read(data)
        except BlockFormatError as exc:
            self._quarantine(key, data, exc)
            return None
        project = loaded.get(project_id)
        if project is None:
            project = loaded[project_id] = _Project(self.figures.initialize(project_id), partition)
        for row in stored.rows:
            self.figures.agg(project.state, row)
        project.state.note_team(stored.team)
        project.hours.add(hour)
        return stored

    def revoke(self, partitions: set[int]) -> None:
        self._expired_blocks = {
            p: [b for b in blocks if b[1] not in partitions]
            for p, blocks in self._expired_blocks.items()
            if any(b[1] not in partitions for b in blocks)
        }
        for project_id in [p for p, v in self.projects.items() if v.partition in partitions]:
            self._drop(project_id)

    def _drop(self, project_id: str) -> None:
        dropped = self.projects.pop(project_id, None)
        if dropped is not None:
            self._rows_held -= dropped.state.events_applied
        self.scheduler.forget(project_id)
        prefix = block_key(project_id, 0)[:-1]
        for key in [k for k in self._blocks if k.startswith(prefix)]:
            del self._blocks[key]

    # -- snapshots -----------------------------------------------------------------------

    def reload_slo_definitions(self, now_ms: int) -> bool:
        """Apply the SLO definitions file again if it changed: every project's next snapshot
        computes its SLOs under the new definitions, from the state it holds (the latency
        buckets are kept, so nothing is re-read). Raises `SloConfigError` for an unusable
        file, keeping the definitions in force."""
        if not self.slo_file.reload():
            return False
        definitions = self.slo_file.definitions
        self.figures = replace(self.figures, slo=definitions)
        for project_id, project in self.projects.items():
            project.state.slo = definitions
            self.scheduler.changed(project_id, now_ms)
        return True

    def publish_due(
        self,
        now_ms: int,
        flush: bool = False,
        budget_s: float | None = None,
        idle: bool = False,
    ) -> list[Outgoing]:
        """Snapshots due now (all changed ones with `flush`), within a CPU budget per call.

        `idle`: no events arrived since the last call, so changed projects need not wait out
        the rate limit (`SnapshotScheduler.due`).
        """
        out: list[Outgoing] = []
        started = time.perf_counter()
        for project_id in self.scheduler.due(now_ms, flush, idle):
            if budget_s is not None and time.perf_counter() - started > budget_s:
                break
            out.append(self.snapshot(project_id, now_ms))
        return out

    def snapshot(self, project_id: str, now_ms: int) -> Outgoing:
        """Compute, encode and account one project's snapshot as of T."""
        project = self.projects[project_id]
        as_of = self.as_of.at(now_ms)
        started = time.perf_counter()
        project.state.prune(as_of)
        kept_before = project.state.kept_hits
        samples = self.figures.result(project.state, as_of)
        record = state_record(
            project_id,
            as_of,
            now_ms,
            project.state.last_event_at,
            project.state.events_applied,
            samples,
            project.state.team,
        )
        value = self.codec.encode_own(STATE_FAMILY, record)
        pending_since = self.scheduler.published(project_id, now_ms)
        if self.metrics:
            self.metrics.snapshot_cost.observe(time.perf_counter() - started)
            self.metrics.snapshots.inc()
            self.metrics.groups_kept.inc(project.state.kept_hits - kept_before)
            if pending_since is not None:
                self.metrics.freshness.observe(max(0, now_ms - pending_since) / 1000)
        return Outgoing(project_id.encode(), value, project.partition)

    # -- introspection -------------------------------------------------------------------

    def sizes(self) -> dict[str, float]:
        """State sizes for the scrape thread: counters and lengths only, so a scrape during a
        fold never iterates a dict the event loop is changing."""
        return {
            "projects": len(self.projects),
            "state_rows": self._rows_held,
            "block_cache_blocks": len(self._blocks),
            "snapshots_pending": self.scheduler.pending,
        }
