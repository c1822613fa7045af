"""Fixtures of the codec tests."""

from __future__ import annotations

import pytest

from schemas.codec import Codec


@pytest.fixture(scope="session")
def codec() -> Codec:
    return Codec.default()
