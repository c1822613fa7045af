"""The local real stack: Kafka (KRaft), Prometheus, Alertmanager and VictoriaMetrics on loopback."""

from devmetrics.stack.errors import StackError
from devmetrics.stack.launcher import ComponentStatus, Stack

__all__ = ["ComponentStatus", "Stack", "StackError"]
