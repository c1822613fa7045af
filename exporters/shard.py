"""The state of one exporter shard: rendered projects, the cached scrape body, self-metrics.

The consumer thread applies snapshots (rendering the project's lines there, outside the lock);
HTTP threads read the body, rebuilt by joining cached chunks only when something changed.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exporters.exposition import (
    RenderedProject,
    assemble,
    render_family,
    render_project,
    render_summary,
)
from exporters.records import Tombstone, Upsert
from exporters.series import DROP_SERVICE_CAP, DROP_UNKNOWN_FAMILY, Family, ServicePolicy
from exporters.snapshot import LabelPairs

log = logging.getLogger(__name__)

# Reasons listed at 0 from the start, so that rate() sees the first rejection.
KNOWN_REJECT_REASONS = (
    "bad_key",
    "key_mismatch",
    "undecodable",
    "unknown_schema",
    "invalid_field",
    "invalid",
    "duplicate_series",
)
DROP_REASONS = (DROP_SERVICE_CAP, DROP_UNKNOWN_FAMILY)
# Projects one shard serves at most: with about 330 series each (three services), 6.6M
# series per shard.
DEFAULT_MAX_PROJECTS = 20_000
PROJECT_CAP = "project_cap"
# zlib window bits for a gzip header and trailer around the deflate stream.
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def _f(name: str, help_text: str, kind: str = "gauge") -> Family:
    return Family(name, help_text, kind)


SHARD_INFO = _f("devmetrics_exporter_shard_info", "This shard's index and the shard count.")
CAUGHT_UP = _f(
    "devmetrics_exporter_caught_up", "1 once the shard has read its partitions to their end."
)
CONSUMER_LAG = _f(
    "devmetrics_exporter_consumer_lag", "State-topic records not yet read, per partition."
)
SNAPSHOTS = _f(
    "devmetrics_exporter_snapshots_applied_total", "Project snapshots applied.", "counter"
)
TOMBSTONES = _f(
    "devmetrics_exporter_tombstones_applied_total", "Project deletions applied.", "counter"
)
REJECTED = _f(
    "devmetrics_exporter_records_rejected_total",
    "State-topic records skipped because they could not be served, by reason.",
    "counter",
)
PROJECTS = _f("devmetrics_exporter_projects", "Projects this shard serves.")
SERIES = _f("devmetrics_exporter_series", "Project series this shard serves.")
DROPPED = _f(
    "devmetrics_exporter_series_dropped",
    "Series of the served snapshots not served (above the service cap, unknown family).",
)
CAPPED_PROJECTS = _f(
    "devmetrics_exporter_projects_capped",
    "Projects served with fewer services than they report (the per-project service cap).",
)
SCRAPE_SECONDS = _f(
    "devmetrics_exporter_scrape_duration_seconds", "Time to answer a scrape.", "summary"
)
SCRAPE_BYTES = _f(
    "devmetrics_exporter_scrape_size_bytes", "Bytes sent per scrape (after gzip).", "summary"
)
LAST_SCRAPE_SECONDS = _f(
    "devmetrics_exporter_last_scrape_duration_seconds", "Time the last scrape took."
)
LAST_BUILD_SECONDS = _f(
    "devmetrics_exporter_last_body_build_seconds",
    "Time the last scrape-body rebuild took (joining cached project chunks, and gzip).",
)
RENDER_SECONDS = _f(
    "devmetrics_exporter_snapshot_render_seconds",
    "Time to render a project's lines when its snapshot arrives.",
    "summary",
)


@dataclass(slots=True)
class _Body:
    """The projects' part of the scrape body; under gzip, a compressed head and its compressor.

    The head is flushed (Z_SYNC_FLUSH) but not finished: a scrape copies the compressor, adds
    the self-metrics and finishes, so the answer is one ordinary gzip stream.
    """

    version: int
    plain: bytes
    gzipped: bytes | None = None
    compressor: Any = None  # zlib's Compress object (no public type)


class ShardState:
    """Thread-safe store of the projects one shard serves, with the cached exposition."""

    def __init__(
        self,
        shard: int,
        shards: int,
        policy: ServicePolicy,
        *,
        gzip_level: int = 6,
        clock: Callable[[], float] = time.perf_counter,
        max_projects: int = DEFAULT_MAX_PROJECTS,
    ) -> None:
        if max_projects < 1:
            raise ValueError(f"max_projects must be >= 1, got {max_projects}")
        self.shard, self.shards, self.policy = shard, shards, policy
        self.max_projects = max_projects
        self._gzip_level = gzip_level
        self._clock = clock
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._projects: dict[str, RenderedProject] = {}
        self._version = 0
        self._body: _Body | None = None
        self._warned: set[str] = set()
        self._capped_projects = 0
        self._snapshots = 0
        self._tombstones = 0
        self._rejected: Counter[str] = Counter(dict.fromkeys(KNOWN_REJECT_REASONS, 0))
        self._series = 0
        self._dropped: Counter[str] = Counter(dict.fromkeys(DROP_REASONS, 0))
        self._render_sum = 0.0
        self._scrapes = 0
        self._scrape_seconds_sum = 0.0
        self._scrape_bytes_sum = 0
        self._last_scrape_seconds = 0.0
        self._last_build_seconds = 0.0
        self._lag: dict[int, int] = {}
        self._caught_up = False

    # --- writes, from the consumer thread ---

    def apply(self, item: Upsert | Tombstone) -> None:
        """Serve a project's new snapshot, or stop serving a deleted project."""
        if isinstance(item, Tombstone):
            with self._lock:
                self._tombstones += 1
                self._replace(item.project_id, None)
            return
        project_id = item.snapshot.project_id
        with self._lock:
            over_cap = project_id not in self._projects and len(self._projects) >= self.max_projects
            if over_cap:
                self._rejected[PROJECT_CAP] += 1
        if over_cap:
            log.warning(
                "project %r rejected: the shard serves its cap of %d projects",
                project_id,
                self.max_projects,
            )
            return
        started = self._clock()
        rendered = render_project(item.snapshot, self.policy)
        elapsed = self._clock() - started
        if rendered.dropped and rendered.project_id not in self._warned:
            self._warned.add(rendered.project_id)
            log.warning(
                "project %r: %s series not served: %s (the service cap is %d; logged once)",
                rendered.project_id,
                sum(rendered.dropped.values()),
                ", ".join(f"{n} by {reason}" for reason, n in sorted(rendered.dropped.items())),
                self.policy.max_services,
            )
        with self._lock:
            self._snapshots += 1
            self._render_sum += elapsed
            self._replace(rendered.project_id, rendered)

    def _replace(self, project_id: str, rendered: RenderedProject | None) -> None:
        old = self._projects.pop(project_id, None)
        if old is None and rendered is None:
            return
        if old is not None:
            self._series -= old.series
            self._dropped.subtract(old.dropped)
            self._capped_projects -= old.services_capped > 0
        if rendered is not None:
            self._projects[project_id] = rendered
            self._series += rendered.series
            self._dropped.update(rendered.dropped)
            self._capped_projects += rendered.services_capped > 0
        self._version += 1

    def reject(self, reason: str) -> None:
        """Count a record that could not be served."""
        with self._lock:
            self._rejected[reason] += 1

    def set_lag(self, lag: dict[int, int], caught_up: bool) -> None:
        """Record the consumer's lag per partition and whether it has read to the end once."""
        with self._lock:
            self._lag = dict(lag)
            self._caught_up = self._caught_up or caught_up

    # --- reads, from HTTP threads ---

    @property
    def caught_up(self) -> bool:
        with self._lock:
            return self._caught_up

    def projects(self) -> list[str]:
        """Ids of the projects served, sorted."""
        with self._lock:
            return sorted(self._projects)

    def scrape(self, accept_gzip: bool) -> tuple[bytes, str | None]:
        """The scrape body and its content encoding ("gzip" or None).

        The projects' part is cached (plain and gzipped) until a snapshot changes it; the
        small self-metrics part is rendered and compressed per scrape.
        """
        body = self._projects_body(accept_gzip)
        own = self.render_self_metrics().encode()
        if accept_gzip:
            assert body.gzipped is not None  # built by _projects_body when gzip is asked for
            tail = body.compressor.copy()
            return body.gzipped + tail.compress(own) + tail.flush(), "gzip"
        return body.plain + own, None

    def _projects_body(self, want_gzip: bool) -> _Body:
        with self._build_lock:
            with self._lock:
                body, version = self._body, self._version
                fresh = body is not None and body.version == version
                projects = [] if fresh else [self._projects[k] for k in sorted(self._projects)]
            if body is not None and fresh and (body.gzipped is not None or not want_gzip):
                return body
            started = self._clock()
            if body is None or not fresh:
                body = _Body(version, assemble(projects))
            if want_gzip:
                compressor = zlib.compressobj(self._gzip_level, zlib.DEFLATED, _GZIP_WBITS)
                body.gzipped = compressor.compress(body.plain) + compressor.flush(zlib.Z_SYNC_FLUSH)
                body.compressor = compressor
            self._body = body
            elapsed = self._clock() - started
            with self._lock:
                self._last_build_seconds = elapsed
            return body

    def observe_scrape(self, seconds: float, size: int) -> None:
        """Count one answered scrape of ``size`` bytes that took ``seconds``."""
        with self._lock:
            self._scrapes += 1
            self._scrape_seconds_sum += seconds
            self._scrape_bytes_sum += size
            self._last_scrape_seconds = seconds

    def render_self_metrics(self) -> str:
        """The shard's own metrics, in the text format."""
        with self._lock:
            groups: list[tuple[Family, list[tuple[LabelPairs, float]]]] = [
                (SHARD_INFO, [((("shard", str(self.shard)), ("shards", str(self.shards))), 1.0)]),
                (CAUGHT_UP, [((), float(self._caught_up))]),
                (
                    CONSUMER_LAG,
                    [((("partition", str(p)),), float(n)) for p, n in sorted(self._lag.items())],
                ),
                (SNAPSHOTS, [((), float(self._snapshots))]),
                (TOMBSTONES, [((), float(self._tombstones))]),
                (
                    REJECTED,
                    [((("reason", r),), float(n)) for r, n in sorted(self._rejected.items())],
                ),
                (PROJECTS, [((), float(len(self._projects)))]),
                (SERIES, [((), float(self._series))]),
                (DROPPED, [((("reason", r),), float(n)) for r, n in sorted(self._dropped.items())]),
                (CAPPED_PROJECTS, [((), float(self._capped_projects))]),
                (LAST_SCRAPE_SECONDS, [((), self._last_scrape_seconds)]),
                (LAST_BUILD_SECONDS, [((), self._last_build_seconds)]),
            ]
            summaries = [
                (SCRAPE_SECONDS, self._scrape_seconds_sum, self._scrapes),
                (SCRAPE_BYTES, float(self._scrape_bytes_sum), self._scrapes),
                (RENDER_SECONDS, self._render_sum, self._snapshots),
            ]
        text = [render_family(family, samples) for family, samples in groups]
        text.extend(render_summary(family, total, count) for family, total, count in summaries)
        return "".join(text)
