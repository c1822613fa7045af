"""devmetrics: live DORA, SLO/SLI and development-process metrics for AI-assisted projects.

This package is the composition root: settings, the command line and the local stack
launcher. The pipeline itself lives in `producers`, `processors`, `exporters` and `schemas`.
"""

__version__ = "0.1.0"
