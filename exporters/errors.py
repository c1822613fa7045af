"""Errors of the exporter package, under one root."""

from __future__ import annotations


class ExporterError(Exception):
    """Root of the exporter's errors."""


class RecordRejected(ExporterError):
    """A state-topic record cannot be served; ``reason`` is the metric label explaining why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class SeriesPolicyError(ExporterError):
    """The series policy's options are unusable (a service cap below one)."""
