"""Processor settings: the `processor` section of the one settings object
(`core.settings.Settings.processor`, env `DEVMETRICS_PROCESSOR__...`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from core.catalogue import AGENT_TOP_N
from core.paths import data_home


class ProcessorSettings(BaseModel):
    """How a processor worker consumes, stores, publishes and reports."""

    app_id: str = "devmetrics-processor"
    """Kafka consumer group and table-changelog prefix; workers sharing the work share it."""
    data_dir: Path = data_home() / "processor"
    store: Literal["rocksdb", "memory"] = "rocksdb"
    web_port: int = Field(default=6066, ge=0, le=65535)
    """faust's own web server (worker discovery, table views); 0 turns it off."""
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    """Where the worker serves /metrics; 0 turns it off."""
    metrics_host: str = "127.0.0.1"
    batch_max: int = Field(default=5000, ge=1)
    """Most messages handed to the worker at once (one fetch); a batch writes a block once."""
    snapshot_min_interval_s: float = Field(default=5.0, ge=0)
    """A changed project is republished at most this often."""
    snapshot_refresh_s: float = Field(default=60.0, gt=0)
    """In live mode every project is republished this often, since windows slide with time."""
    max_future_skew_s: float = Field(default=300.0, ge=0)
    """Events later than T plus this are rejected as too new."""
    max_projects: int = Field(default=20_000, ge=1)
    """Distinct projects one worker accepts; events of further projects are dead-lettered."""
    sweep_interval_s: float = Field(default=300.0, gt=0)
    """How often the retention sweep removes projects with no event within 31 days (their
    state deleted, a tombstone published to the state topic)."""
    block_deltas_max: int = Field(default=64, ge=0)
    """An hour block's rows added by later batches are stored as deltas (only those rows) up
    to this many, and while their bytes stay under the block's, before the block is written
    whole again; 0 writes every touched block whole (docs/processors.md, "Stored state")."""
    block_cache_size: int = Field(default=4096, ge=1)
    """Decoded hour blocks kept in memory between batches (the current hour of busy projects)."""
    producer_linger_ms: int = Field(default=5, ge=0)
    """Short: every batch waits for its changelog records to be acknowledged."""
    producer_compression: Literal["none", "gzip", "lz4", "zstd", "snappy"] = "zstd"
    producer_max_batch_bytes: int = Field(default=1_048_576, ge=16_384)
    agent_top_n: int = Field(default=AGENT_TOP_N, ge=1, le=50)
    """The busiest agents of a project that keep their name as the `agent` label; the others
    are counted as `other` (docs/metrics.md, "Per agent"). Each adds 10 series a project."""
    slo_file: Path | None = None
    """SLO definitions (docs/slo-definitions.md); None: the built-in SLOs of every service. An
    unusable file stops start-up; the worker reads it again whenever it changes."""

    @model_validator(mode="after")
    def _distinct_ports(self) -> ProcessorSettings:
        if self.web_port and self.web_port == self.metrics_port:
            raise ValueError(f"web_port and metrics_port are both {self.web_port}")
        return self


def processor_settings(settings: Any) -> ProcessorSettings:
    """The `processor` section of the settings object, or the defaults when it has none."""
    section = getattr(settings, "processor", None)
    if section is None:
        return ProcessorSettings()
    if isinstance(section, ProcessorSettings):
        return section
    return ProcessorSettings.model_validate(section, from_attributes=True)
