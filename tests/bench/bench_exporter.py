"""Scrape cost of exporter shards versus prometheus_client's generate_latest on the same state.

Run on demand: pytest -m bench -s tests/bench/bench_exporter.py
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from support.snapshots import example_record

from exporters.exposition import render_project
from exporters.records import Upsert
from exporters.series import FAMILIES, ServicePolicy
from exporters.shard import ShardState
from exporters.snapshot import ProjectSnapshot, snapshot_from_record

pytestmark = pytest.mark.bench


def _best(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


class SnapshotCollector:
    """The prometheus_client way: fresh families built from the snapshots at every scrape."""

    def __init__(self, snapshots: list[ProjectSnapshot], policy: ServicePolicy) -> None:
        self._snapshots, self._policy = snapshots, policy

    def collect(self) -> Iterator[Metric]:
        families = [Metric(f.name.removesuffix("_total"), f.help, f.kind) for f in FAMILIES]
        info, as_of, computed, last_event, events = families[:5]
        for snapshot in self._snapshots:
            project = {"project": snapshot.project_id}
            team = {"team": snapshot.team} if snapshot.team else {}
            info.add_sample(info.name, {**project, **team}, 1.0)
            as_of.add_sample(as_of.name, project, snapshot.as_of_ms / 1000)
            computed.add_sample(computed.name, project, snapshot.computed_at_ms / 1000)
            if snapshot.last_event_at_ms is not None:
                last_event.add_sample(last_event.name, project, snapshot.last_event_at_ms / 1000)
            events.add_sample(events.name + "_total", project, float(snapshot.events_applied))
            for sample in self._policy.select(snapshot).samples:
                family = families[sample.family]
                family.add_sample(family.name, {**project, **dict(sample.labels)}, sample.value)
        yield from (family for family in families if family.samples)


def _shard(snapshots: list[ProjectSnapshot], shard: int = 0, shards: int = 1) -> ShardState:
    state = ShardState(shard, shards, ServicePolicy(), gzip_level=6)
    for snapshot in snapshots:
        state.apply(Upsert(snapshot))
    return state


def _snapshots(n: int, offset: int = 0) -> list[ProjectSnapshot]:
    return [snapshot_from_record(example_record(f"project-{offset + i:05d}")) for i in range(n)]


def test_one_shard_of_1000_projects() -> None:
    snapshots = _snapshots(1000)
    state = _shard(snapshots)

    def cold_plain() -> None:
        state.apply(Upsert(snapshots[0]))  # one project changed: body rebuilt from the cache
        state.scrape(accept_gzip=False)

    def cold_gzip() -> None:
        state.apply(Upsert(snapshots[0]))
        state.scrape(accept_gzip=True)

    plain, _ = state.scrape(accept_gzip=False)
    zipped, _ = state.scrape(accept_gzip=True)
    cached = _best(lambda: state.scrape(accept_gzip=True), repeat=5)
    rebuilt_plain = _best(cold_plain)
    rebuilt_gzip = _best(cold_gzip)
    render_one = _best(lambda: render_project(snapshots[1], ServicePolicy()), repeat=50)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshots, ServicePolicy()))
    reference = generate_latest(registry)
    client = _best(lambda: generate_latest(registry))
    series = plain.count(b"\n") - plain.count(b"\n#")
    print(
        f"\n1000 projects, {series} series in one shard:"
        f"\n  body {len(plain) / 1e6:.2f} MB plain, {len(zipped) / 1e6:.2f} MB gzip"
        f"\n  scrape, nothing changed (cached gzip): {cached * 1e3:.2f} ms"
        f"\n  scrape after a change, plain: {rebuilt_plain * 1e3:.1f} ms;"
        f" gzip: {rebuilt_gzip * 1e3:.1f} ms"
        f"\n  render one project's snapshot: {render_one * 1e6:.0f} us"
        f"\n  prometheus_client generate_latest (custom collector): {client * 1e3:.0f} ms,"
        f" {len(reference) / 1e6:.2f} MB"
        f"\n  ratio generate_latest / shard: {client / rebuilt_plain:.0f}x after a change,"
        f" {client / cached:.0f}x cached"
    )
    assert len(gzip.decompress(zipped)) > len(plain) - 5000
    assert rebuilt_plain < client


def test_10000_projects_over_four_shards() -> None:
    shards = 4
    snapshots = _snapshots(10_000)
    by_shard: list[list[ProjectSnapshot]] = [[] for _ in range(shards)]
    for i, snapshot in enumerate(snapshots):
        by_shard[i % shards].append(snapshot)  # stands for p % shards over 12 partitions
    states = [_shard(part, i, shards) for i, part in enumerate(by_shard)]
    lines = []
    for state, part in zip(states, by_shard, strict=True):

        def changed(state: ShardState = state, part: list[ProjectSnapshot] = part) -> None:
            state.apply(Upsert(part[0]))
            state.scrape(accept_gzip=True)

        def cached(state: ShardState = state) -> None:
            state.scrape(accept_gzip=True)

        body, _ = state.scrape(accept_gzip=True)
        lines.append(
            f"  shard {state.shard}: {len(part)} projects, gzip body {len(body) / 1e6:.2f} MB, "
            f"scrape after a change {_best(changed, repeat=2) * 1e3:.0f} ms, cached "
            f"{_best(cached) * 1e3:.2f} ms"
        )
    print("\n10000 projects over 4 shards:\n" + "\n".join(lines))
