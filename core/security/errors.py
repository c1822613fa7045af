"""Errors of the security package, under one root."""

from __future__ import annotations


class SecurityError(Exception):
    """Security material is missing, unreadable or inconsistent; the message names what."""
