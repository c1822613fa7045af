"""Where devmetrics finds the files it ships and keeps the files it makes.

Shipped files (the Kafka runtime pom, the Prometheus and Alertmanager configurations and rules,
the Grafana provisioning) are package data of `infra`, found through importlib.resources, so
they resolve the same from a source checkout and from an installed wheel.

The files devmetrics makes (the local stack's data, the security material, the processor's
store) go under `data_home()`, the downloads (Kafka jars, Maven's repository) under
`cache_home()`. Run from a source checkout these are the checkout's ignored `.stack/` and
`.cache/`, as the README describes; installed from a wheel they follow the XDG base
directories (`$XDG_DATA_HOME/devmetrics`, default `~/.local/share/devmetrics`, and
`$XDG_CACHE_HOME/devmetrics`, default `~/.cache/devmetrics`). Settings override both
(`stack.home`, `stack.cache`, `security.dir`, `processor.data_dir`).
"""

from __future__ import annotations

import os
from importlib.resources import as_file, files
from pathlib import Path

_PACKAGES_ROOT = Path(__file__).resolve().parent.parent


def checkout_root() -> Path | None:
    """The source checkout this code runs from, or None when it is an installed package."""
    pyproject = _PACKAGES_ROOT / "pyproject.toml"
    try:
        if 'name = "devmetrics"' in pyproject.read_text():
            return _PACKAGES_ROOT
    except OSError:
        pass
    return None


def data_home() -> Path:
    """Root of what devmetrics writes: the checkout's `.stack`, else the XDG data folder."""
    root = checkout_root()
    if root is not None:
        return root / ".stack"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "devmetrics"


def cache_home() -> Path:
    """Root of what devmetrics downloads: the checkout's `.cache`, else the XDG cache folder."""
    root = checkout_root()
    if root is not None:
        return root / ".cache"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "devmetrics"


def infra_dir(*parts: str) -> Path:
    """A shipped folder or file of `infra/` (package data), e.g. `infra_dir("prometheus")`.

    The package is installed as files (a wheel or an editable install, never a zip), so the
    resource is a real path on disk; `as_file` returns it without copying.
    """
    resource = files("infra").joinpath(*parts)
    with as_file(resource) as path:
        return Path(path)
