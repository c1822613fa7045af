"""Dashboards to JSON: panel ids, the SDK's canonical encoding, and writing or checking files.

The committed JSON is a fixed point of the SDK's models: decoding it with
``Dashboard.from_json`` and encoding it again gives the same text, so a key the models do
not know (a typo, a field of another Grafana version) cannot survive generation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import dashboard as dm

from core.paths import infra_dir
from dashboards import ai, dora, health, project, slo, top

OUTPUT_DIR = infra_dir("grafana", "dashboards")
# File name -> builder, in the order the docs present them.
BUILDERS: dict[str, Callable[[], db.Dashboard]] = {
    "health.json": health.build,
    "dora.json": dora.build,
    "slo.json": slo.build,
    "project.json": project.build,
    "top.json": top.build,
    "ai.json": ai.build,
}


def _number_panels(model: dm.Dashboard) -> None:
    """Give every panel and row a stable id (1, 2, ...) in layout order."""
    for i, panel in enumerate(model.panels or [], start=1):
        panel.id_val = i


def encode(model: Any) -> str:
    """The SDK's JSON of a model, keys sorted, two-space indent, trailing newline."""
    return json.dumps(model, cls=JSONEncoder, sort_keys=True, indent=2) + "\n"


def canonical(text: str) -> str:
    """Decode dashboard JSON with the SDK's models and encode it again."""
    register_default_plugins()
    return encode(dm.Dashboard.from_json(json.loads(text)))


def render(builder: Callable[[], db.Dashboard]) -> str:
    """One dashboard's committed JSON text."""
    model = builder().build()
    _number_panels(model)
    return canonical(encode(model))


def render_all() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {name: render(builder) for name, builder in BUILDERS.items()}


def write_all(directory: Path = OUTPUT_DIR) -> list[Path]:
    """Write every dashboard into ``directory``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all().items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written


def stale_files(directory: Path = OUTPUT_DIR) -> list[str]:
    """Names of dashboards whose file differs from what the code generates (or is missing)."""
    stale = []
    for name, text in render_all().items():
        path = directory / name
        if not path.is_file() or path.read_text() != text:
            stale.append(name)
    return stale
