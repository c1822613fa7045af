"""ShardState: snapshots in, tombstones, rejections, cached bodies, gzip, self-metrics."""

from __future__ import annotations

import shutil
import subprocess
import zlib
from itertools import count

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.snapshots import example_record, sample

from exporters.errors import RecordRejected
from exporters.records import Tombstone, Upsert, read_record
from exporters.series import ServicePolicy, max_series
from exporters.shard import ShardState
from exporters.snapshot import snapshot_from_record
from schemas.codec import Codec

pytestmark = pytest.mark.unit


def _values(body: bytes) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def _state() -> ShardState:
    ticks = count()
    return ShardState(0, 2, ServicePolicy(), clock=lambda: next(ticks) * 0.5)


def _upsert(project_id: str, **kwargs) -> Upsert:
    return Upsert(snapshot_from_record(example_record(project_id, **kwargs)))


def test_tombstone_removes_every_series_of_the_project() -> None:
    state = _state()
    state.apply(_upsert("keep"))
    state.apply(_upsert("drop"))
    before, _ = state.scrape(accept_gzip=False)
    assert b'project="drop"' in before
    state.apply(Tombstone("drop"))
    body, _ = state.scrape(accept_gzip=False)
    assert b'project="drop"' not in body
    values = _values(body)
    assert values[("devmetrics_exporter_projects", frozenset())] == 1
    assert values[("devmetrics_exporter_series", frozenset())] == max_series(1)
    assert values[("devmetrics_exporter_tombstones_applied_total", frozenset())] == 1
    assert values[("devmetrics_exporter_snapshots_applied_total", frozenset())] == 2
    assert state.projects() == ["keep"]


def test_a_newer_snapshot_replaces_the_old_one() -> None:
    record = example_record("p")
    state = _state()
    state.apply(Upsert(snapshot_from_record(record)))
    record["metrics"] = [sample("devmetrics_dora_deployments", 7, window="1d")]
    state.apply(Upsert(snapshot_from_record(record)))
    values = _values(state.scrape(accept_gzip=False)[0])
    assert (
        values[("devmetrics_dora_deployments", frozenset({("project", "p"), ("window", "1d")}))]
        == 7
    )
    assert (
        "devmetrics_dora_deployments",
        frozenset({("project", "p"), ("window", "7d")}),
    ) not in values
    assert values[("devmetrics_exporter_series", frozenset())] == 6


def test_unchanged_projects_are_served_from_cache() -> None:
    state = _state()
    state.apply(_upsert("a"))
    first = state._projects_body(want_gzip=True)
    assert state._projects_body(want_gzip=True) is first  # same bytes objects, nothing rebuilt
    state.apply(_upsert("b"))
    second = state._projects_body(want_gzip=False)
    assert second is not first and second.gzipped is None
    assert state._projects["a"].parts[0] in second.plain


def test_gzip_body_decompresses_to_the_plain_body() -> None:
    state = _state()
    for i in range(3):
        state.apply(_upsert(f"p{i}"))
    plain, plain_encoding = state.scrape(accept_gzip=False)
    zipped, encoding = state.scrape(accept_gzip=True)
    assert (plain_encoding, encoding) == (None, "gzip")
    stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
    unzipped = stream.decompress(zipped)
    assert stream.eof and stream.unused_data == b""  # one whole gzip stream, nothing after
    assert b"devmetrics_exporter_shard_info{" in unzipped
    projects_part = plain.split(b"# HELP devmetrics_exporter_shard_info")[0]
    assert unzipped.startswith(projects_part)
    assert len(zipped) < len(plain) / 5


def test_corrupt_records_are_rejected_with_a_reason_and_counted() -> None:
    codec = Codec.default()
    good = codec.encode("state", example_record("p"))
    cases = {
        "undecodable": (b"p", b"\x00garbage"),
        "bad_key": (b"\xff\xfe", good),
        "key_mismatch": (b"other", good),
    }
    state = _state()
    for expected, (key, value) in cases.items():
        with pytest.raises(RecordRejected) as caught:
            read_record(key, value, codec)
        assert caught.value.reason == expected
        state.reject(caught.value.reason)
    truncated = good[: len(good) // 2]
    with pytest.raises(RecordRejected) as caught:
        read_record(b"p", truncated, codec)
    assert caught.value.reason == "undecodable"
    assert isinstance(read_record(b"p", None, codec), Tombstone)
    upsert = read_record(b"p", good, codec)
    assert isinstance(upsert, Upsert) and upsert.snapshot.project_id == "p"
    values = _values(state.scrape(accept_gzip=False)[0])
    rejected = {
        dict(labels)["reason"]: v
        for (name, labels), v in values.items()
        if name == "devmetrics_exporter_records_rejected_total"
    }
    assert rejected["undecodable"] == 1 and rejected["bad_key"] == 1
    assert rejected["key_mismatch"] == 1 and rejected["invalid"] == 0


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r["metrics"].append(dict(r["metrics"][0])), "duplicate_series"),
        (lambda r: r["metrics"].append(sample("devmetrics_x", 1, project="p")), "invalid"),
        (lambda r: r["metrics"].append(sample("bad name", 1)), "invalid"),
        (lambda r: r.update(as_of="yesterday"), "invalid"),
    ],
)
def test_unservable_snapshots_are_refused(mutate, reason: str) -> None:
    record = example_record("p")
    mutate(record)
    with pytest.raises(RecordRejected) as caught:
        snapshot_from_record(record)
    assert caught.value.reason == reason


def test_self_metrics_report_scrapes_and_build_time() -> None:
    state = _state()
    state.apply(_upsert("p"))
    state.scrape(accept_gzip=False)
    state.observe_scrape(0.25, 1000)
    state.observe_scrape(0.75, 3000)
    state.set_lag({0: 5, 2: 0}, caught_up=True)
    values = _values(state.scrape(accept_gzip=False)[0])
    assert values[("devmetrics_exporter_scrape_duration_seconds_sum", frozenset())] == 1.0
    assert values[("devmetrics_exporter_scrape_duration_seconds_count", frozenset())] == 2
    assert values[("devmetrics_exporter_scrape_size_bytes_sum", frozenset())] == 4000
    assert values[("devmetrics_exporter_last_scrape_duration_seconds", frozenset())] == 0.75
    assert values[("devmetrics_exporter_last_body_build_seconds", frozenset())] == 0.5
    assert values[("devmetrics_exporter_snapshot_render_seconds_sum", frozenset())] == 0.5
    assert values[("devmetrics_exporter_consumer_lag", frozenset({("partition", "0")}))] == 5
    assert values[("devmetrics_exporter_caught_up", frozenset())] == 1
    assert (
        values[("devmetrics_exporter_shard_info", frozenset({("shard", "0"), ("shards", "2")}))]
        == 1
    )


def test_promtool_accepts_a_realistic_shard_body(tmp_path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed")
    state = _state()
    for i in range(20):
        state.apply(_upsert(f'proj-{i}"\\', services=("api", "web", "db")[: 1 + i % 3]))
    state.apply(Tombstone('proj-3"\\'))
    body, _ = state.scrape(accept_gzip=False)
    done = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    assert done.stderr.decode().strip() == ""
