"""FoldWorker without Kafka: dead-letter reasons, idempotence, store writes, rebuild."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from core.processor_settings import ProcessorSettings
from processors.admission import AsOf, partition_for
from processors.aggregators import ProjectLedger, block_key, hour_of
from processors.aggregators.blocks import HourBlock
from processors.aggregators.metrics import snapshot
from processors.aggregators.rows import DeploymentRow
from processors.snapshots import SnapshotScheduler
from processors.telemetry import WorkerMetrics
from processors.worker import FoldWorker, Incoming, MemoryBlockStore
from schemas.codec import HEADER_SIZE, SCHEMA_DIR, Codec, strip_logical_types
from schemas.topics import Topics

pytestmark = pytest.mark.unit

Factory = Callable[..., dict[str, Any]]
T = 1_772_366_400_000  # 2026-03-01 12:00 UTC
H, D = 3_600_000, 86_400_000
PARTITIONS = 12
TOPICS = Topics("u")


def _worker(store: MemoryBlockStore | None = None, **conf: Any) -> FoldWorker:
    settings = ProcessorSettings(**conf)
    return FoldWorker(
        settings, TOPICS, PARTITIONS, Codec.default(), store or MemoryBlockStore(), AsOf(T)
    )


def _message(
    codec: Codec, family: str, record: dict[str, Any], offset: int = 0, **override: Any
) -> Incoming:
    project = record["project_id"]
    fields = {
        "topic": TOPICS.events(family),
        "partition": partition_for(project, PARTITIONS),
        "offset": offset,
        "key": project.encode(),
        "value": codec.encode(family, record),
        "timestamp_ms": T,
        **override,
    }
    return Incoming(**fields)


def _reasons(worker: FoldWorker, messages: list[Incoming]) -> list[str]:
    letters = worker.process(messages, T).dead_letters
    return [letter.reason for letter in letters]


def test_each_bad_kind_is_dead_lettered_with_its_coordinates(
    codec: Codec, make_event: Factory
) -> None:
    worker = _worker(max_projects=1)
    good = make_event("deployment", T - H)
    foreign = make_event("deployment", T - H, project="p2")
    messages = [
        _message(codec, "deployment", good, offset=0),
        _message(codec, "deployment", good, offset=1, value=b"\x00junk"),
        _message(codec, "deployment", good, offset=2, value=b"\xc3\x01" + bytes(8) + b"x"),
        _message(codec, "deployment", good, offset=3, topic=TOPICS.events("rfc")),
        _message(codec, "deployment", make_event("deployment", T - 31 * D), offset=4),
        _message(codec, "deployment", make_event("deployment", T + 5 * 60_000 + 1), offset=5),
        _message(codec, "deployment", good, offset=6, key=b"other"),
        _message(codec, "deployment", foreign, offset=7),
    ]
    letters = worker.process(messages, T).dead_letters
    assert [x.reason for x in letters] == [
        "undecodable",
        "unknown_schema",
        "unknown_schema",
        "too_old",
        "too_new",
        "misrouted",
        "project_cap",
    ]
    first = dict(letters[0].headers)
    assert first["dlq.topic"] == TOPICS.events("deployment").encode()
    assert first["dlq.offset"] == b"1"
    assert first["dlq.partition"] == str(partition_for("p1", PARTITIONS)).encode()
    assert first["dlq.error"].startswith(b"not an Avro")
    assert letters[0].value == b"\x00junk" and letters[0].key == b"p1"


def test_invalid_field_is_dead_lettered(codec: Codec, make_event: Factory) -> None:
    record = make_event("test", T - H, passed=1, flaky=1)
    header = codec.encode("test", record)[:HEADER_SIZE]
    schema = json.loads((SCHEMA_DIR / "test.avsc").read_text())
    body = io.BytesIO()
    # flaky > passed: well-formed Avro that the codec's validation refuses.
    fastavro.schemaless_writer(body, strip_logical_types(schema), {**record, "flaky": 5})
    message = _message(codec, "test", record, value=header + body.getvalue())
    assert _reasons(_worker(), [message]) == ["invalid_field"]


def test_edges_of_the_accepted_time_range(codec: Codec, make_event: Factory) -> None:
    worker = _worker(max_future_skew_s=60)
    oldest_ok = make_event("rfc", T - 31 * D + 1)
    newest_ok = make_event("rfc", T + 60_000)
    assert _reasons(worker, [_message(codec, "rfc", oldest_ok)]) == []
    assert _reasons(worker, [_message(codec, "rfc", newest_ok)]) == []
    assert _reasons(worker, [_message(codec, "rfc", make_event("rfc", T - 31 * D))]) == ["too_old"]


def test_duplicates_across_batches_change_nothing(codec: Codec, make_event: Factory) -> None:
    store = MemoryBlockStore()
    worker = _worker(store)
    events = [make_event("deployment", T - i * H, deployment_id=f"d{i}") for i in range(1, 4)]
    first = worker.process([_message(codec, "deployment", e) for e in events], T)
    again = worker.process([_message(codec, "deployment", e) for e in reversed(events)], T)
    assert (first.applied, first.duplicates) == (3, 0)
    assert (again.applied, again.duplicates, again.blocks_written) == (0, 3, 0)
    reference = ProjectLedger("p1")
    for e in events:
        reference.fold("deployment", e)
    assert snapshot(worker.projects["p1"].state, T) == reference.snapshot(T)


def test_a_batch_writes_only_the_blocks_it_touched(codec: Codec, make_event: Factory) -> None:
    store = MemoryBlockStore()
    worker = _worker(store)
    history = [make_event("rfc", T - i * H) for i in range(1, 200)]
    worker.process([_message(codec, "rfc", e) for e in history], T)
    assert len(store.data) == 199
    before = store.writes
    outcome = worker.process([_message(codec, "rfc", make_event("rfc", T - 1))], T)
    assert outcome.blocks_written == 1 and store.writes - before == 1
    assert block_key("p1", hour_of(T - 1)) in store.data


def test_rebuild_from_the_store_equals_the_live_state(codec: Codec, make_event: Factory) -> None:
    store = MemoryBlockStore()
    live = _worker(store)
    events = [
        make_event(
            "task", T - i * 7_000_000, project=f"p{i % 5}", type="completed", cost_usd=0.1 * i
        )
        for i in range(60)
    ]
    live.process([_message(codec, "task", e) for e in events], T)
    rebuilt = _worker(store)
    mine = {partition_for(f"p{i}", PARTITIONS) for i in range(3)}
    loaded = rebuilt.assign(mine, T)
    expected = {p for p in live.projects if partition_for(p, PARTITIONS) in mine}
    assert set(rebuilt.projects) == expected and loaded == len(expected)
    for project in expected:
        assert snapshot(rebuilt.projects[project].state, T) == snapshot(
            live.projects[project].state, T
        )
        assert rebuilt.projects[project].state.events_applied == (
            live.projects[project].state.events_applied
        )
    # Every loaded project is republished once, since a crash may have lost its last snapshot.
    assert sorted(rebuilt.scheduler.due(T)) == sorted(expected)


def test_snapshot_record_decodes_with_the_state_schema(codec: Codec, make_event: Factory) -> None:
    worker = _worker()
    worker.process([_message(codec, "rfc", make_event("rfc", T - H))], T + 5)
    (out,) = worker.publish_due(T + 10)
    record = codec.decode(out.value).record
    assert out.key == b"p1" and out.partition == partition_for("p1", PARTITIONS)
    assert (record["as_of"], record["computed_at"], record["events_applied"]) == (T, T + 10, 1)
    assert record["last_event_at"] == T - H
    names = {m["name"] for m in record["metrics"]}
    assert "devmetrics_rfc_submitted" in names and "devmetrics_dora_history_coverage_ratio" in names
    assert "devmetrics_dora_tier" not in names  # an hour of history: tiers withheld
    assert worker.publish_due(T + 20) == []  # nothing changed since


def test_scheduler_rate_limits_and_refreshes() -> None:
    s = SnapshotScheduler(min_interval_ms=5_000, refresh_ms=60_000, live=True)
    s.changed("a", arrived_ms=100)
    assert s.due(1_000) == ["a"]
    assert s.published("a", 1_000) == 100
    s.changed("a", arrived_ms=2_000)
    assert s.due(5_999) == []  # rate limit
    assert s.due(5_999, flush=True) == ["a"]
    assert s.due(6_000) == ["a"]
    s.published("a", 6_000)
    assert s.due(65_999) == []
    assert s.due(66_000) == ["a"]  # live refresh
    fixed = SnapshotScheduler(min_interval_ms=5_000, refresh_ms=60_000, live=False)
    fixed.changed("b", 0)
    fixed.published("b", 0)
    assert fixed.due(10**9) == []


def test_idle_lifts_the_rate_limit_but_keeps_the_refresh() -> None:
    s = SnapshotScheduler(min_interval_ms=5_000, refresh_ms=60_000, live=True)
    s.changed("a", arrived_ms=0)
    s.published("a", 1_000)
    s.changed("a", arrived_ms=1_500)
    assert s.due(2_000) == []  # events still arriving: the rate limit holds
    assert s.due(2_000, idle=True) == ["a"]  # none since the last tick: publish at once
    s.published("a", 2_000)
    assert s.due(3_000, idle=True) == []  # nothing changed
    assert s.due(62_000, idle=True) == ["a"]  # the live refresh still applies


def test_published_team_is_the_latest_and_survives_a_rebuild(
    codec: Codec, make_event: Factory
) -> None:
    store = MemoryBlockStore()
    live = _worker(store)
    events = [
        make_event("rfc", T - 3 * H, schema_version=2, team="alpha"),
        make_event("rfc", T - H, schema_version=2, team="beta"),
        make_event("rfc", T - H // 2, schema_version=2, team=None),
        make_event("rfc", T - 2 * H, schema_version=2, team="gamma"),
    ]
    live.process([_message(codec, "rfc", e) for e in events[:2]], T)
    live.process([_message(codec, "rfc", e) for e in events[2:]], T)
    (out,) = live.publish_due(T + 10, flush=True)
    assert codec.decode(out.value).record["team"] == "beta"
    rebuilt = _worker(store)
    rebuilt.assign({partition_for("p1", PARTITIONS)}, T)
    (again,) = rebuilt.publish_due(T + 20, flush=True)
    assert codec.decode(again.value).record["team"] == "beta"


def test_a_corrupt_stored_block_is_quarantined_and_the_worker_goes_on(
    codec: Codec, make_event: Factory, tmp_path: Path
) -> None:
    """A block whose bytes cannot be read is copied aside, counted and replaced by a fresh
    block; the batch folds, the other projects are untouched, and a rebuild from the store
    serves the project from what remains."""
    store = MemoryBlockStore()
    registry = CollectorRegistry()
    worker = _worker(store, data_dir=tmp_path)
    worker.metrics = WorkerMetrics(registry)
    garbage = b'{"v": 1, "rows": [["deployment", 1'
    broken = block_key("p1", hour_of(T - 1))
    store.data[broken] = garbage
    events = [
        make_event("deployment", T - 1, project="p1", deployment_id="d-new"),
        make_event("deployment", T - 2 * H, project="p1", deployment_id="d-old"),
        make_event("deployment", T - 1, project="p2", deployment_id="d-other"),
    ]
    outcome = worker.process([_message(codec, "deployment", e) for e in events], T)
    assert (outcome.applied, outcome.dead_letters) == (3, [])
    assert worker.quarantined == 1
    assert registry.get_sample_value("devmetrics_processor_blocks_quarantined_total") == 1
    (copy,) = (tmp_path / "quarantine").iterdir()
    assert copy.read_bytes() == garbage and copy.name.startswith("p1@")
    # The broken hour now holds only the new event, readable again.
    (row,) = HourBlock.from_bytes(store.data[broken]).rows
    assert isinstance(row, DeploymentRow) and row.deployment_id == "d-new"
    for project, deployments in (("p1", 2.0), ("p2", 1.0)):
        (day,) = [
            sample
            for sample in snapshot(worker.projects[project].state, T)
            if sample.name == "devmetrics_dora_deployments" and sample.labels["window"] == "1d"
        ]
        assert day.value == deployments
    # A stored block that is unreadable when the partitions are assigned: the project is
    # loaded from its other blocks, the bad one is set aside.
    store.data[block_key("p1", hour_of(T - 2 * H))] = b"\xff"
    rebuilt = _worker(store, data_dir=tmp_path)
    rebuilt.assign({partition_for("p1", PARTITIONS)}, T)
    assert rebuilt.quarantined == 1
    assert rebuilt.projects["p1"].state.events_applied == 1  # d-new; d-old's hour is lost


def test_scrapes_during_a_heavy_fold_never_fail(codec: Codec, make_event: Factory) -> None:
    """/metrics is collected in the HTTP server's thread while the event loop folds; the
    state gauges must never walk a dict the fold is changing. The thread switch interval is
    made tiny so that a scrape lands inside the fold's dict updates again and again."""
    registry = CollectorRegistry()
    worker = _worker()
    metrics = worker.metrics = WorkerMetrics(registry)
    metrics.attach_state(worker.sizes, dict)
    batches = [
        [
            _message(codec, "rfc", make_event("rfc", T - 1 - i, project=f"p{b}-{i}"), offset=i)
            for i in range(200)
        ]
        for b in range(15)
    ]
    failures: list[BaseException] = []
    scrapes = 0
    done = threading.Event()

    def scrape() -> None:
        nonlocal scrapes
        while not done.is_set():
            try:
                generate_latest(registry)
                scrapes += 1
            except BaseException as exc:  # a failed scrape is what this test looks for
                failures.append(exc)
                return

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    thread = threading.Thread(target=scrape)
    thread.start()
    try:
        for batch in batches:
            worker.process(batch, T)
            if len(worker.projects) % 1000 == 0:
                list(worker.publish_due(T, flush=True))
    finally:
        done.set()
        thread.join()
        sys.setswitchinterval(switch)
    assert failures == [] and scrapes > 0
    sizes = worker.sizes()
    assert sizes["projects"] == 3000
    assert sizes["state_rows"] == sum(p.state.events_applied for p in worker.projects.values())
    assert sizes["snapshots_pending"] == len(worker.scheduler.due(T, flush=True))
    assert registry.get_sample_value("devmetrics_processor_state_rows") == 3000


def test_assignment_in_steps_loads_what_assign_loads(codec: Codec, make_event: Factory) -> None:
    """A large table is loaded in steps (the app gives the event loop a turn between them);
    the projects appear together at the end, equal to a load in one go."""
    store = MemoryBlockStore()
    live = _worker(store)
    events = [make_event("rfc", T - i * H // 4, project=f"p{i % 7}") for i in range(400)]
    live.process([_message(codec, "rfc", e) for e in events], T)
    everything = set(range(PARTITIONS))
    stepped, whole = _worker(store), _worker(store)
    steps = stepped.assign_in_steps(everything, T, step_blocks=25)
    progress = []
    while True:
        try:
            progress.append(next(steps))
            assert stepped.projects == {}  # nothing half-loaded is visible between steps
        except StopIteration as done:
            loaded = done.value
            break
    assert progress == list(range(25, len(store.data) + 1, 25))
    assert loaded == whole.assign(everything, T) == 7
    for project in whole.projects:
        assert snapshot(stepped.projects[project].state, T) == snapshot(
            whole.projects[project].state, T
        )
    assert stepped.sizes() == whole.sizes()


def test_a_silent_project_is_swept_away_with_a_tombstone(codec: Codec, make_event: Factory) -> None:
    """Live mode: p1 reports once, p2 again 20 days later. 32 days after the first events
    p1 has nothing within the retention: the sweep deletes its blocks, drops it and returns
    its tombstone; p2 stays. The cap counts held projects, so p1's place is free again."""
    store = MemoryBlockStore()
    registry = CollectorRegistry()
    worker = FoldWorker(
        ProcessorSettings(max_projects=2),
        TOPICS,
        PARTITIONS,
        Codec.default(),
        store,
        AsOf(),  # live: T follows the wall clock given to each call
    )
    worker.metrics = WorkerMetrics(registry)
    first = [make_event("rfc", T - i * H, project=p) for p in ("p1", "p2") for i in range(1, 4)]
    worker.process([_message(codec, "rfc", e) for e in first], T)
    later = T + 20 * D
    worker.process([_message(codec, "rfc", make_event("rfc", later - H, project="p2"))], later)
    # At the cap, a third project is refused while p1 and p2 are both held.
    p3 = _message(codec, "rfc", make_event("rfc", later - H, project="p3"))
    assert [d.reason for d in worker.process([p3], later).dead_letters] == ["project_cap"]
    assert worker.sweep(later) == []  # p1's events are 20 days old: within the retention

    now = T + 32 * D
    (tombstone,) = worker.sweep(now)
    assert tombstone.key == b"p1"
    assert tombstone.partition == partition_for("p1", PARTITIONS)
    assert set(worker.projects) == {"p2"}
    assert not [k for k in store.data if k.startswith("p1@")]
    assert [k for k in store.data if k.startswith("p2@")]
    assert registry.get_sample_value("devmetrics_processor_projects_expired_total") == 1
    assert worker.sizes()["projects"] == 1
    assert worker.sizes()["state_rows"] == worker.projects["p2"].state.events_applied
    assert "p1" not in worker.scheduler.due(now, flush=True)
    # The place p1 held is free: p3 is accepted now.
    p3 = _message(codec, "rfc", make_event("rfc", now - H, project="p3"))
    assert worker.process([p3], now).dead_letters == []
    assert set(worker.projects) == {"p2", "p3"}
    # A rebuild from the store does not bring p1 back.
    rebuilt = _worker(store)
    rebuilt.assign(set(range(PARTITIONS)), T)
    assert "p1" not in rebuilt.projects


def test_a_project_found_expired_when_loading_is_swept_too(
    codec: Codec, make_event: Factory
) -> None:
    """A worker that starts long after a project's last event (it was down, or the partition
    moved) does not load the expired blocks: its next sweep deletes them and publishes the
    project's tombstone, and keeps the project that reported again."""
    store = MemoryBlockStore()
    before = _worker(store)
    events = [make_event("rfc", T - i * H, project=p) for p in ("p1", "p2") for i in range(1, 3)]
    before.process([_message(codec, "rfc", e) for e in events], T)
    later = T + 32 * D
    after = FoldWorker(ProcessorSettings(), TOPICS, PARTITIONS, Codec.default(), store, AsOf(later))
    assert after.assign(set(range(PARTITIONS)), later) == 0
    after.process([_message(codec, "rfc", make_event("rfc", later - H, project="p2"))], later)
    assert [t.key for t in after.sweep(later)] == [b"p1"]
    assert sorted(store.data) == [block_key("p2", hour_of(later - H))]
    assert after.sweep(later) == []


def _latency_good(
    worker: FoldWorker, codec: Codec, now_ms: int, due: bool = True
) -> tuple[float, list[str]]:
    """The latency SLO's good requests (5m) and the SLO names of the project's snapshot, as
    published when due (`due`: the project must be due, else it is computed anyway)."""
    (out,) = worker.publish_due(now_ms, flush=True) if due else [worker.snapshot("p1", now_ms)]
    record = codec.decode(out.value).record
    found = [
        m["value"]
        for m in record["metrics"]
        if m["name"] == "devmetrics_slo_requests_good"
        and m["labels"] == {"service": "api", "slo": "latency", "window": "5m"}
    ]
    return found[0], sorted({m["labels"].get("slo", "") for m in record["metrics"]} - {""})


def test_a_changed_slo_file_applies_at_the_next_snapshot_without_reading_events_again(
    codec: Codec, make_event: Factory, tmp_path: Path
) -> None:
    from core.slo_definitions import SloConfigError, load_slo_file
    from producers.simulator.truth import compute_metrics

    path = tmp_path / "slo.yaml"
    path.write_text("slos: []\n")
    worker = _worker(slo_file=path)
    events = [
        make_event(
            "sli",
            T - 60_000 * k,
            requests_total=100,
            requests_good=99,
            latency_buckets=[{"le": 0.3, "count": 50 + k}, {"le": 0.5, "count": 90 + k}],
        )
        for k in (1, 2)
    ]
    outcome = worker.process([_message(codec, "sli", e, offset=i) for i, e in enumerate(events)], T)
    assert outcome.applied == 2
    assert _latency_good(worker, codec, T + 10) == (103.0, ["availability", "latency"])
    assert worker.reload_slo_definitions(T + 20) is False  # unchanged file

    path.write_text(
        "slos:\n  - {name: latency, indicator: {kind: latency, threshold_s: 0.5}, "
        "objective: 0.95}\n  - {name: fast, indicator: {kind: latency, threshold_s: 0.3}, "
        "objective: 0.5}\n"
    )
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert worker.reload_slo_definitions(T + 30) is True
    good, slos = _latency_good(worker, codec, T + 40)
    assert (good, slos) == (183.0, ["availability", "fast", "latency"])
    truth = compute_metrics([("sli", e) for e in events], T, slos=load_slo_file(path))
    (expected,) = [
        s["value"]
        for s in truth
        if s["name"] == "devmetrics_slo_requests_good"
        and s["labels"] == {"service": "api", "slo": "latency", "window": "5m"}
    ]
    assert good == expected

    path.write_text("slos:\n  - {name: latency, objective: 2}\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    with pytest.raises(SloConfigError, match=r"slo.yaml:2: slos.0.indicator: Field required"):
        worker.reload_slo_definitions(T + 50)
    assert worker.publish_due(T + 60, flush=True) == []  # nothing changed
    assert _latency_good(worker, codec, T + 60, due=False)[0] == 183.0  # the ones in force


def _sli_events(make_event: Factory, start: int, n: int, project: str = "p1") -> list[Any]:
    """n SLI samples of one service 10 s apart from `start`, six latency bounds each."""
    buckets = [{"le": le, "count": 90 + i} for i, le in enumerate((0.05, 0.1, 0.3, 0.5, 1.0, 2.5))]
    return [
        make_event(
            "sli",
            start + i * 10_000,
            project=project,
            service="api",
            requests_total=100,
            requests_good=99,
            latency_buckets=buckets,
        )
        for i in range(n)
    ]


def _live(worker: FoldWorker, codec: Codec, events: list[Any], per_batch: int) -> int:
    """Feed events a few at a time, as live traffic arrives; returns the bytes written."""
    written = 0
    for at in range(0, len(events), per_batch):
        batch = [_message(codec, "sli", e) for e in events[at : at + per_batch]]
        outcome = worker.process(batch, T)
        assert outcome.applied == len(batch)
        written += outcome.bytes_written
    return written


def test_live_batches_store_deltas_and_rewrite_the_block_seldom(
    codec: Codec, make_event: Factory
) -> None:
    """An hour of 10 s samples arriving two at a time: whole-block writes cost the square of
    the hour, deltas about twice its size; both leave the same rows in the store."""
    events = _sli_events(make_event, T - H + 1, 360)
    whole_store, delta_store = MemoryBlockStore(), MemoryBlockStore()
    whole = _live(_worker(whole_store, block_deltas_max=0), codec, events, 2)
    deltas = _live(_worker(delta_store, block_deltas_max=64), codec, events, 2)
    final_block = len(whole_store.data[block_key("p1", hour_of(T - 1))])
    assert whole > 80 * final_block  # 180 batches rewrote the growing block, half of it on average
    assert deltas < 4 * final_block
    assert any("+" in key for key in delta_store.data)
    assert not any("+" in key for key in whole_store.data)
    rebuilt = {name: _worker(store) for name, store in (("w", whole_store), ("d", delta_store))}
    for worker in rebuilt.values():
        worker.assign(set(range(PARTITIONS)), T)
    assert snapshot(rebuilt["d"].projects["p1"].state, T) == snapshot(
        rebuilt["w"].projects["p1"].state, T
    )
    assert rebuilt["d"].projects["p1"].state.events_applied == 360


def test_a_block_evicted_from_the_cache_is_read_back_with_its_deltas(
    codec: Codec, make_event: Factory
) -> None:
    """A re-sent event whose hour left the cache is still recognised: the block is read
    again from its base and every delta after it."""
    store = MemoryBlockStore()
    worker = _worker(store, block_cache_size=1)
    events = _sli_events(make_event, T - H + 1, 20)
    _live(worker, codec, events, 1)
    assert sum("+" in key for key in store.data) > 1
    other = make_event("rfc", T - 5 * H)  # another hour pushes p1's current one out
    worker.process([_message(codec, "rfc", other)], T)
    again = worker.process([_message(codec, "sli", e) for e in events], T)
    assert (again.applied, again.duplicates) == (0, 20)
    later = _sli_events(make_event, T - H + 1 + 20 * 10_000, 1)
    assert worker.process([_message(codec, "sli", later[0])], T).applied == 1


def test_a_delta_the_base_already_holds_is_not_counted_twice(
    codec: Codec, make_event: Factory
) -> None:
    """A crash between writing a block whole and deleting the deltas it took in leaves those
    deltas stored: a rebuild skips them (they are at or below the base's `through`) and the
    next sweep deletes them."""
    store = MemoryBlockStore()
    worker = _worker(store, block_deltas_max=3)
    events = _sli_events(make_event, T - H + 1, 12)
    stale: dict[str, bytes] = {}
    for event in events:
        before = dict(store.data)
        worker.process([_message(codec, "sli", event)], T)
        stale.update({k: v for k, v in before.items() if "+" in k and k not in store.data})
    assert stale, "the block was never written whole after deltas"
    store.data.update(stale)  # as if the deletions never happened
    rebuilt = _worker(store)
    rebuilt.assign(set(range(PARTITIONS)), T)
    assert rebuilt.projects["p1"].state.events_applied == 12
    assert snapshot(rebuilt.projects["p1"].state, T) == snapshot(worker.projects["p1"].state, T)
    rebuilt.sweep(T)
    assert not set(stale) & set(store.data)


def test_an_expired_hour_goes_with_its_deltas(codec: Codec, make_event: Factory) -> None:
    store = MemoryBlockStore()
    worker = FoldWorker(ProcessorSettings(), TOPICS, PARTITIONS, Codec.default(), store, AsOf())
    events = _sli_events(make_event, T - H + 1, 6)
    for event in events:
        worker.process([_message(codec, "sli", event)], T)
    assert any("+" in key for key in store.data)
    (tombstone,) = worker.sweep(T + 32 * D)
    assert tombstone.key == b"p1" and store.data == {}
