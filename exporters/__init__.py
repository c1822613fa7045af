"""Exporter shards: serve every series of per-project state snapshots to Prometheus."""

from exporters.consumer import StateFollower, owned_partitions
from exporters.errors import ExporterError, RecordRejected, SeriesPolicyError
from exporters.exposition import CONTENT_TYPE, RenderedProject, assemble, render_project
from exporters.records import Tombstone, Upsert, read_record
from exporters.runner import ShardOptions, ShardRunner
from exporters.series import FAMILIES, Family, Selection, ServicePolicy, max_series
from exporters.shard import ShardState
from exporters.snapshot import ProjectSnapshot, snapshot_from_record

__all__ = [
    "CONTENT_TYPE",
    "FAMILIES",
    "ExporterError",
    "Family",
    "ProjectSnapshot",
    "RecordRejected",
    "RenderedProject",
    "Selection",
    "SeriesPolicyError",
    "ServicePolicy",
    "ShardOptions",
    "ShardRunner",
    "ShardState",
    "StateFollower",
    "Tombstone",
    "Upsert",
    "assemble",
    "max_series",
    "owned_partitions",
    "read_record",
    "render_project",
    "snapshot_from_record",
]
