"""Grafana dashboards as code: built with grafana-foundation-sdk, committed as JSON.

Regenerate with ``python -m dashboards``; see docs/dashboards.md.
"""

from dashboards.render import BUILDERS, OUTPUT_DIR, render_all, stale_files, write_all

__all__ = ["BUILDERS", "OUTPUT_DIR", "render_all", "stale_files", "write_all"]
