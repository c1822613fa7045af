"""Errors of the processors; every one names what is wrong."""

from __future__ import annotations


class ProcessorError(Exception):
    """Root of the processors' errors."""


class Rejected(ProcessorError):
    """An event the state must not take; `reason` is the dead-letter and metric code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
