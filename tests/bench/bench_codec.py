"""Codec throughput, side by side in one run, for a deployment and an sli event:

- encode: validate and write (the producer side);
- decode, raw: fastavro's reader alone, the floor any decoder pays;
- decode, full validation: the reader, then every check of the schema's shape and the
  family's rules (the decode path before the fast path, kept as the baseline);
- decode, fast path: `Codec.decode`, which checks only what Avro cannot guarantee.

Run with ``pytest tests/bench/bench_codec.py -m bench -s`` or ``python tests/bench/bench_codec.py``.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import fastavro
import pytest

from schemas.codec import HEADER_SIZE, Codec
from schemas.examples import example_event

pytestmark = pytest.mark.bench

ROUNDS = 20_000


def _rate(fn: Callable[[], object], rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return rounds / (time.perf_counter() - start)


def measure(family: str, rounds: int = ROUNDS) -> dict[str, float]:
    """Operations per second of each path."""
    codec = Codec.default()
    event = example_event(family)
    data = codec.encode(family, event)
    writer = codec._writer_of(family)

    def raw() -> dict[str, object]:
        body = io.BytesIO(data)
        body.seek(HEADER_SIZE)
        record = fastavro.schemaless_reader(body, writer.plain, None)
        assert isinstance(record, dict)
        return record

    return {
        "encode": _rate(lambda: codec.encode(family, event), rounds),
        "decode raw": _rate(raw, rounds),
        "decode full validation": _rate(lambda: codec.validate(family, raw()), rounds),
        "decode fast path": _rate(lambda: codec.decode(data), rounds),
    }


def report(family: str) -> dict[str, float]:
    rates = measure(family)
    print(f"\n{family}:")
    for name, rate in rates.items():
        print(f"  {name:<24} {rate:>10,.0f}/s   {1e6 / rate:6.1f} us")
    fast, full, raw = (
        rates[k] for k in ("decode fast path", "decode full validation", "decode raw")
    )
    print(f"  fast path / full validation: {fast / full:.2f}x;  fast path / raw: {fast / raw:.2f}")
    return rates


@pytest.mark.parametrize("family", ["deployment", "sli"])
def test_codec_throughput(family: str) -> None:
    rates = report(family)
    assert rates["decode fast path"] > 0


if __name__ == "__main__":
    for name in ("deployment", "sli"):
        report(name)
