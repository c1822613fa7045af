"""`devmetrics receive`: webhooks of GitHub, GitLab, PagerDuty and CDEvents senders turned into
the project's events and published keyed by project id (docs/sources.md)."""

from producers.receiver.errors import Ignored, ReceiverError, Unauthorized, Unmappable
from producers.receiver.model import Mapped, Rules
from producers.receiver.service import ReceiverService, Response, Secrets
from producers.receiver.telemetry import ReceiverTelemetry

__all__ = [
    "Ignored",
    "Mapped",
    "ReceiverError",
    "ReceiverService",
    "ReceiverTelemetry",
    "Response",
    "Rules",
    "Secrets",
    "Unauthorized",
    "Unmappable",
]
