"""Event schemas, topic names and the codec shared by producers and processors.

The codec names are re-exported lazily so that importing ``schemas.topics`` (as the admin
commands do) does not pull in fastavro.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from schemas.topics import FAMILIES, Topics

if TYPE_CHECKING:
    from schemas.codec import (
        Codec,
        CodecError,
        Decoded,
        InvalidEvent,
        Undecodable,
        UnknownFamily,
        UnknownSchema,
    )

_CODEC_NAMES = frozenset(
    {
        "Codec",
        "CodecError",
        "Decoded",
        "InvalidEvent",
        "Undecodable",
        "UnknownFamily",
        "UnknownSchema",
    }
)

__all__ = [
    "FAMILIES",
    "Codec",
    "CodecError",
    "Decoded",
    "InvalidEvent",
    "Topics",
    "Undecodable",
    "UnknownFamily",
    "UnknownSchema",
]


def __getattr__(name: str) -> Any:
    if name in _CODEC_NAMES:
        return getattr(importlib.import_module("schemas.codec"), name)
    raise AttributeError(f"module 'schemas' has no attribute {name!r}")
