"""Codec throughput: encode and decode records per second for a deployment and an sli event.

Run with ``pytest tests/bench/bench_codec.py -m bench -s`` or ``python tests/bench/bench_codec.py``.
"""

from __future__ import annotations

import time

import pytest

from schemas.codec import Codec
from schemas.examples import example_event

pytestmark = pytest.mark.bench

ROUNDS = 20_000


def measure(family: str, rounds: int = ROUNDS) -> tuple[float, float]:
    """(encodes per second, decodes per second), each including validation."""
    codec = Codec.default()
    event = example_event(family)
    start = time.perf_counter()
    for _ in range(rounds):
        data = codec.encode(family, event)
    encoded = time.perf_counter()
    for _ in range(rounds):
        codec.decode(data)
    decoded = time.perf_counter()
    return rounds / (encoded - start), rounds / (decoded - encoded)


@pytest.mark.parametrize("family", ["deployment", "sli"])
def test_codec_throughput(family: str) -> None:
    encode_rate, decode_rate = measure(family)
    print(f"\n{family}: encode {encode_rate:,.0f}/s, decode {decode_rate:,.0f}/s")
    assert encode_rate > 5_000 and decode_rate > 5_000  # an order of magnitude of headroom


if __name__ == "__main__":
    for name in ("deployment", "sli"):
        enc, dec = measure(name)
        print(f"{name}: encode {enc:,.0f}/s, decode {dec:,.0f}/s")
