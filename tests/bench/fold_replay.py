"""A processor worker's fold in a process of its own, fed encoded messages on stdin.

The memory benchmark (bench_processor.py) generates and encodes the simulator's events in
the parent and streams them here, so that this process's RSS is the worker's alone: its
imports, its state and its block cache, without the generator's objects. Each message is a
header (`<BHHI`: topic index, partition, key length, value length), the key and the value;
the topics are given as arguments. The projects each batch changed are published after it,
as a worker does while it folds; the RSS is taken after the last of them. Prints one JSON
line of figures when stdin ends.
"""

from __future__ import annotations

import gc
import json
import struct
import sys
import time
from pathlib import Path

from core.processor_settings import ProcessorSettings
from processors.admission import AsOf
from processors.worker import FoldWorker, Incoming
from schemas.codec import Codec
from schemas.topics import FAMILIES, Topics

HEADER = struct.Struct("<BHHI")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class SizedStore:
    """Keeps each block's size only: the worker's store is RocksDB, on disk, so the RSS of
    this process is the worker's memory; the table's bytes are reported apart."""

    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}
        self.writes = 0
        self.bytes_written = 0

    def get(self, key: str, via: object) -> bytes | None:
        return None  # a project's hours arrive together, so its blocks stay in the cache

    def put(self, key: str, value: bytes, via: object) -> None:
        self.sizes[key] = len(value)
        self.writes += 1
        self.bytes_written += len(value)

    def delete(self, key: str, via: object) -> None:
        self.sizes.pop(key, None)

    def delete_in(self, key: str, partition: int) -> None:
        self.delete(key, None)

    def items(self) -> list[tuple[str, bytes]]:
        return []


def main(as_of: int, partitions: int, prefix: str) -> None:
    topics = Topics(prefix)
    names = [topics.events(family) for family in FAMILIES]
    store = SizedStore()
    worker = FoldWorker(
        ProcessorSettings(), topics, partitions, Codec.default(), store, AsOf(as_of)
    )
    gc.collect()
    before = rss_mb()
    source = sys.stdin.buffer
    batch: list[Incoming] = []
    fold_s = snapshot_s = 0.0
    events = snapshots = 0

    def fold() -> None:
        nonlocal fold_s, snapshot_s, snapshots
        started = time.process_time()
        outcome = worker.process(batch, as_of)
        fold_s += time.process_time() - started
        if outcome.dead_letters:
            raise SystemExit(f"dead letter: {outcome.dead_letters[0]}")
        batch.clear()
        # The projects this batch changed are published, as a worker does while it folds
        # (every few seconds; here after every batch, which is more often).
        started = time.process_time()
        snapshots += len(worker.publish_due(as_of, flush=True))
        snapshot_s += time.process_time() - started

    while header := source.read(HEADER.size):
        topic, partition, key_len, value_len = HEADER.unpack(header)
        key = source.read(key_len)
        value = source.read(value_len)
        batch.append(Incoming(names[topic], partition, 0, key, value, as_of))
        events += 1
        if len(batch) >= worker.settings.batch_max:
            fold()
    if batch:
        fold()
    gc.collect()
    after = rss_mb()
    # The table lives in RocksDB, on disk: what this process spends on keeping its sizes is
    # the benchmark's, not the worker's, and is taken out of the state's figure.
    bookkeeping = (
        sys.getsizeof(store.sizes) + sum(sys.getsizeof(k) + 32 for k in store.sizes)
    ) / 2**20
    rows = worker.sizes()["state_rows"]
    # Every project once more, all groups computed afresh: the cost of a full snapshot.
    for state in (project.state for project in worker.projects.values()):
        state.kept.clear()
    started = time.process_time()
    projects = len([worker.snapshot(project_id, as_of) for project_id in list(worker.projects)])
    full_snapshot_s = time.process_time() - started
    print(
        json.dumps(
            {
                "events": events,
                "rows": rows,
                "projects": projects,
                "baseline_rss_mb": round(before, 1),
                "process_rss_mb": round(after - bookkeeping, 1),
                "state_rss_mb": round(after - before - bookkeeping, 1),
                "bench_store_bookkeeping_mb": round(bookkeeping, 1),
                "table_blocks": len(store.sizes),
                "table_mb": round(sum(store.sizes.values()) / 2**20, 1),
                "block_writes": store.writes,
                "fold_cpu_s": round(fold_s, 1),
                "snapshots_while_folding": snapshots,
                "snapshot_cpu_s_while_folding": round(snapshot_s, 1),
                "snapshot_ms_per_project": round(full_snapshot_s / max(1, projects) * 1000, 2),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
