"""Grafana dashboards as code: built with grafana-foundation-sdk, committed as JSON; and the
figures' PromQL (`dashboards.queries`), which `devmetrics report` reads too.

Regenerate with ``python -m dashboards``; see docs/dashboards.md.
"""
