"""Prometheus file_sd target files that pipeline processes write for themselves."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_target_file(path: Path, address: str, labels: dict[str, str] | None = None) -> None:
    """Write a file_sd target file atomically, so Prometheus never reads half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps([{"targets": [address], "labels": labels or {}}]) + "\n")
    os.replace(tmp, path)
