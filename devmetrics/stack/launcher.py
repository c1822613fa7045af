"""`Stack`: brings the local components up (idempotently), reports their health, stops them."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.kafka import ensure_topics
from core.security import material_of
from core.settings import KafkaSettings, Settings
from devmetrics.stack.components import (
    Component,
    Kafka,
    Prometheus,
    components_of,
    replication_of,
)
from devmetrics.stack.errors import StackError
from devmetrics.stack.process import ManagedProcess, port_in_use

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
ENDPOINTS = "endpoints.json"


def _recorded(settings: Settings, kind: str) -> int:
    """How many components of `kind` (kafka, prometheus) the last `up` in this stack home
    started (0 if unknown)."""
    try:
        endpoints = json.loads((settings.stack.home / ENDPOINTS).read_text())
    except (OSError, ValueError):
        return 0
    if not isinstance(endpoints, dict):
        return 0
    return sum(1 for name in endpoints if name == kind or name.startswith(f"{kind}-"))


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    endpoint: str
    pid: int | None
    healthy: bool

    @property
    def state(self) -> str:
        if self.healthy:
            return "healthy"
        return "unhealthy" if self.pid is not None else "down"


class Stack:
    def __init__(
        self, settings: Settings, progress: Progress | None = None, only: set[str] | None = None
    ) -> None:
        """`only` limits the stack to the named kinds of component (tests start what they need).

        The Kafka nodes and Prometheus servers are those of the settings, or as many as the
        last `up` started here if that was more (so that `status` and `down` see every one).
        """
        counts = {
            "kafka_brokers": max(settings.stack.kafka_brokers, _recorded(settings, "kafka")),
            "prometheus_servers": max(
                settings.stack.prometheus_servers, _recorded(settings, "prometheus")
            ),
        }
        if counts != {k: getattr(settings.stack, k) for k in counts}:
            stack = settings.stack.model_copy(update=counts)
            settings = settings.model_copy(update={"stack": stack})
        self.settings = settings
        self.components: list[Component] = [
            c for c in components_of(settings) if only is None or type(c).name in only
        ]
        self._progress = progress or (lambda msg: log.info("%s", msg))

    def component(self, name: str) -> Component:
        for comp in self.components:
            if comp.name == name:
                return comp
        raise KeyError(name)

    @property
    def kafka_settings(self) -> KafkaSettings:
        """Kafka client settings pointing at this stack's broker (as its admin when secured)."""
        return self.kafka_settings_for("admin")

    def kafka_settings_for(self, role: str) -> KafkaSettings:
        """Client settings of one role (admin, producer, processor, exporter) on this broker.

        Without the security switch every role is the same plaintext client.
        """
        nodes = [c.endpoint.address for c in self.components if isinstance(c, Kafka)]
        replicas, _ = replication_of(self.settings.stack.kafka_brokers)
        plain = self.settings.kafka.model_copy(
            update={"bootstrap": ",".join(nodes), "replication_factor": replicas}
        )
        material = material_of(self.settings)
        if material is None:
            return plain
        from core.kafka_security import role_settings

        return role_settings(plain, material, role)

    def up(self) -> list[ComponentStatus]:
        """Start whatever is not running and wait until every part is healthy."""
        started_at = time.monotonic()
        # The Kafka nodes elect a controller among themselves: all start before any is awaited.
        nodes = [c for c in self.components if isinstance(c, Kafka)]
        for node in [n for n in nodes if self._launch(n)]:
            self._await(node)
        for comp in self.components:
            if not isinstance(comp, Kafka) and self._launch(comp):
                self._await(comp)
        if any(c.name == "kafka" for c in self.components):
            ensure_topics(self.kafka_settings)
            self._progress(f"topics ready ({self.settings.kafka.partitions} partitions each)")
            if material_of(self.settings) is not None:
                from core.kafka_security import acl_bindings, apply_acls

                count = apply_acls(
                    self.kafka_settings,
                    acl_bindings(self.settings.kafka.topic_prefix, self.settings.processor.app_id),
                )
                self._progress(f"ACLs of the producer, processor and exporter roles ({count})")
        self._write_endpoints()
        self._progress(f"stack up in {time.monotonic() - started_at:.1f} s")
        return self.status()

    def _launch(self, comp: Component) -> bool:
        """Start `comp` unless it runs healthy already; True when it must be awaited."""
        comp.started_at = time.monotonic()
        if comp.process.running():
            if comp.healthy():
                self._progress(f"{comp.name}: already running at {comp.endpoint.address}")
                return False
            self._progress(f"{comp.name}: running, waiting until healthy")
            return True
        for what, port in comp.ports().items():
            if port_in_use(self.settings.stack.host, port):
                raise StackError(
                    f"{what} {port} on {self.settings.stack.host} is already "
                    f"in use by another process; free it or set a different "
                    f"port in the stack settings"
                )
        self._progress(f"{comp.name}: preparing")
        comp.prepare()
        comp.process.start(comp.argv(), env=comp.env(), cwd=comp.home)
        self._progress(f"{comp.name}: started, waiting until healthy")
        return True

    def _await(self, comp: Component) -> None:
        self._wait_healthy(comp)
        self._progress(
            f"{comp.name}: healthy at {comp.endpoint.address} "
            f"({time.monotonic() - comp.started_at:.1f} s)"
        )

    def _wait_healthy(self, comp: Component) -> None:
        deadline = time.monotonic() + self.settings.stack.health_timeout_s
        while time.monotonic() < deadline:
            if comp.healthy():
                return
            if not comp.process.running():
                raise StackError(
                    f"{comp.name} exited during start-up; last lines of "
                    f"{comp.process.log_file}:\n{comp.process.log_tail()}"
                )
            time.sleep(0.5)
        raise StackError(
            f"{comp.name} did not become healthy within "
            f"{self.settings.stack.health_timeout_s:.0f} s; last lines of "
            f"{comp.process.log_file}:\n{comp.process.log_tail()}"
        )

    def _write_endpoints(self) -> None:
        endpoints = {c.name: c.endpoint.address for c in self.components}
        self.settings.stack.home.mkdir(parents=True, exist_ok=True)
        (self.settings.stack.home / ENDPOINTS).write_text(json.dumps(endpoints, indent=2))

    def prometheus_servers(self) -> list[Prometheus]:
        """The stack's Prometheus servers, the first one first."""
        return [c for c in self.components if isinstance(c, Prometheus)]

    def status(self) -> list[ComponentStatus]:
        out = []
        for comp in self.components:
            pid = comp.process.pid()
            out.append(
                ComponentStatus(
                    comp.name, comp.endpoint.address, pid, pid is not None and comp.healthy()
                )
            )
        return out

    def pipeline_process(self, name: str) -> ManagedProcess:
        """A process started beside the components (processor, shard, simulator), by name."""
        home = self.settings.stack.home
        return ManagedProcess(name, home / "run", home / "logs" / f"{name}.log")

    def pipeline_processes(self) -> list[ManagedProcess]:
        """The pipeline processes that have a pid file here."""
        names = {c.name for c in self.components}
        run = self.settings.stack.home / "run"
        return [
            self.pipeline_process(p.stem) for p in sorted(run.glob("*.pid")) if p.stem not in names
        ]

    def down(self) -> list[str]:
        """Stop what `up` and the demo started, pipeline first; return the names stopped."""
        stopped = []
        for proc in self.pipeline_processes():
            if proc.stop():
                stopped.append(proc.name)
                self._progress(f"{proc.name}: stopped")
        for comp in reversed(self.components):
            if comp.process.stop():
                stopped.append(comp.name)
                self._progress(f"{comp.name}: stopped")
        return stopped

    def purge(self) -> list[Path]:
        """Delete what the stack wrote under its home (broker data, stores, logs), keeping the
        security folder when it lies inside; call after `down`. Returns what was removed."""
        home = self.settings.stack.home
        keep = self.settings.security.dir.resolve()
        removed = []
        for child in sorted(home.iterdir()) if home.is_dir() else []:
            if child.resolve() == keep or keep.is_relative_to(child.resolve()):
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
            removed.append(child)
        self._progress(f"purged {len(removed)} entries of {home} (kept {keep})")
        return removed
