"""Runs one exporter shard: the state-topic follower and the HTTP server, in threads."""

from __future__ import annotations

import logging
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

from core.kafka import client_config
from core.settings import KafkaSettings
from core.targets import write_target_file
from exporters.consumer import StateFollower, owned_partitions
from exporters.errors import ExporterError
from exporters.records import StateDecoder
from exporters.series import ServicePolicy
from exporters.server import Authenticator, make_server
from exporters.shard import DEFAULT_MAX_PROJECTS, ShardState
from schemas.topics import Topics

log = logging.getLogger(__name__)

DEFAULT_PORT = 9400


@dataclass(frozen=True)
class ShardOptions:
    """How one shard runs: its index, where it listens, its service cap."""

    shard: int = 0
    shards: int = 1
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    policy: ServicePolicy = field(default_factory=ServicePolicy)
    gzip_level: int = 6
    sd_file: Path | None = None
    """Where to write a Prometheus file_sd target file naming this shard (removed on stop)."""
    max_projects: int = DEFAULT_MAX_PROJECTS
    """Projects this shard serves at most; snapshots of further projects are rejected."""
    tls: ssl.SSLContext | None = None
    """Serve HTTPS with this context (the security switch)."""
    auth: Authenticator | None = None
    """Require HTTP authentication (the security switch)."""

    def __post_init__(self) -> None:
        owned_partitions(0, self.shard, self.shards)  # validates shard and shards
        if not 1 <= self.gzip_level <= 9:
            raise ValueError(f"gzip level must be in 1..9, got {self.gzip_level}")


class ShardRunner:
    """One shard: start(), then wait() or stop(); usable in-process (tests, benchmarks)."""

    def __init__(self, kafka: KafkaSettings, options: ShardOptions, codec: StateDecoder) -> None:
        self.options = options
        self.state = ShardState(
            options.shard,
            options.shards,
            options.policy,
            gzip_level=options.gzip_level,
            max_projects=options.max_projects,
        )
        self._follower = StateFollower(
            client_config(kafka),
            Topics(kafka.topic_prefix).state,
            options.shard,
            options.shards,
            self.state,
            codec,
        )
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._server = make_server(
            self.state, options.host, options.port, tls=options.tls, auth=options.auth
        )
        self._threads = [
            threading.Thread(target=self._follow, name=f"exporter-{options.shard}-kafka"),
            threading.Thread(
                target=self._server.serve_forever, name=f"exporter-{options.shard}-http"
            ),
        ]

    @property
    def address(self) -> str:
        """host:port the shard listens on (the real port when 0 was asked for)."""
        return f"{self.options.host}:{self._server.server_port}"

    def start(self) -> None:
        for thread in self._threads:
            thread.start()
        if self.options.sd_file is not None:
            # The ``shard`` label is how several Prometheus servers split the shards
            # (each keeps the shard numbers of its own, docs/alerting.md).
            write_target_file(
                self.options.sd_file, self.address, {"shard": str(self.options.shard)}
            )
        log.info(
            "shard %d/%d serves %s://%s/metrics",
            self.options.shard,
            self.options.shards,
            "https" if self.options.tls else "http",
            self.address,
        )

    def _follow(self) -> None:
        try:
            self._follower.run(self._stop)
        except BaseException as exc:
            self._error = exc
            raise
        finally:
            self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the shard stops (or ``timeout`` passes: then False); re-raise its failure."""
        stopped = self._stop.wait(timeout)
        if self._error is not None:
            raise ExporterError(
                f"shard {self.options.shard} stopped: {self._error}"
            ) from self._error
        return stopped

    def request_stop(self) -> None:
        """Ask the shard to stop (safe from a signal handler); wait() then returns."""
        self._stop.set()

    def stop(self) -> None:
        """Stop following, stop serving, remove the target file; idempotent."""
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(timeout=10)
        if self.options.sd_file is not None:
            self.options.sd_file.unlink(missing_ok=True)
