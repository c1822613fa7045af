"""The shard's HTTP endpoint and partition ownership, without a broker."""

from __future__ import annotations

import gzip
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from support.snapshots import example_record

from exporters.consumer import owned_partitions
from exporters.exposition import CONTENT_TYPE
from exporters.records import Upsert
from exporters.series import ServicePolicy
from exporters.server import accepts_gzip, make_server
from exporters.shard import ShardState
from exporters.snapshot import snapshot_from_record

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("deflate, gzip;q=1.0, *;q=0.5", True),
        ("GZIP", True),
        ("gzip;q=0", False),
        ("gzip; q=0.0", False),
        ("identity", False),
        (None, False),
        ("gzip;q=bogus", False),
    ],
)
def test_accepts_gzip(header: str | None, expected: bool) -> None:
    assert accepts_gzip(header) is expected


@pytest.mark.parametrize(
    ("partitions", "shard", "shards", "owned"),
    [(12, 0, 1, list(range(12))), (12, 1, 3, [1, 4, 7, 10]), (12, 3, 4, [3, 7, 11]), (2, 2, 3, [])],
)
def test_owned_partitions(partitions: int, shard: int, shards: int, owned: list[int]) -> None:
    assert owned_partitions(partitions, shard, shards) == owned


def test_owned_partitions_refuses_a_shard_outside_the_count() -> None:
    with pytest.raises(ValueError, match=r"shard must be in 0\.\.2, got 3"):
        owned_partitions(12, 3, 3)


@pytest.fixture
def served() -> Iterator[tuple[ShardState, str]]:
    state = ShardState(0, 1, ServicePolicy())
    server = make_server(state, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_metrics_plain_and_gzip_and_readiness(served: tuple[ShardState, str]) -> None:
    state, base = served
    assert _get(f"{base}/ready")[0] == 503
    state.apply(Upsert(snapshot_from_record(example_record("p"))))
    state.set_lag({0: 0}, caught_up=True)
    assert _get(f"{base}/ready")[0] == 200

    status, headers, plain = _get(f"{base}/metrics")
    assert status == 200
    assert headers["Content-Type"] == CONTENT_TYPE
    assert "Content-Encoding" not in headers
    assert plain.startswith(b"# HELP devmetrics_project_info ")

    status, headers, zipped = _get(f"{base}/metrics", **{"Accept-Encoding": "gzip"})
    assert (status, headers["Content-Encoding"]) == (200, "gzip")
    assert int(headers["Content-Length"]) == len(zipped)
    unzipped = gzip.decompress(zipped)
    cut = b"# HELP devmetrics_exporter_shard_info"
    assert unzipped.split(cut)[0] == plain.split(cut)[0]

    assert _get(f"{base}/nothing")[0] == 404
