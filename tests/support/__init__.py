"""Helpers shared by the test tiers (`from support.pipeline import ...`)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The checkout the tests run from (infra/, docs/, schemas/ as files)."""
