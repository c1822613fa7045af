"""Exporter shards: serve per-project state snapshots to Prometheus within a series budget."""

from exporters.budget import FAMILIES, BudgetPolicy, Family, Selection
from exporters.consumer import StateFollower, owned_partitions
from exporters.errors import BudgetError, ExporterError, RecordRejected
from exporters.exposition import CONTENT_TYPE, RenderedProject, assemble, render_project
from exporters.records import Tombstone, Upsert, read_record
from exporters.runner import ShardOptions, ShardRunner
from exporters.shard import ShardState
from exporters.snapshot import ProjectSnapshot, snapshot_from_record

__all__ = [
    "CONTENT_TYPE",
    "FAMILIES",
    "BudgetError",
    "BudgetPolicy",
    "ExporterError",
    "Family",
    "ProjectSnapshot",
    "RecordRejected",
    "RenderedProject",
    "Selection",
    "ShardOptions",
    "ShardRunner",
    "ShardState",
    "StateFollower",
    "Tombstone",
    "Upsert",
    "assemble",
    "owned_partitions",
    "read_record",
    "render_project",
    "snapshot_from_record",
]
