"""Pure metric logic: events in, per-project state and samples out; no Kafka, clock or I/O."""

from processors.aggregators.blocks import HourBlock, block_key, hour_of, parse_block_key
from processors.aggregators.ledger import ProjectLedger, expired_hours
from processors.aggregators.rows import Row, event_key, to_row
from processors.aggregators.samples import (
    RETENTION_MS,
    WINDOWS_MS,
    Sample,
    nearest_rank,
)
from processors.aggregators.state import ProjectState

__all__ = [
    "RETENTION_MS",
    "WINDOWS_MS",
    "HourBlock",
    "ProjectLedger",
    "ProjectState",
    "Row",
    "Sample",
    "block_key",
    "event_key",
    "expired_hours",
    "hour_of",
    "nearest_rank",
    "parse_block_key",
    "to_row",
]
