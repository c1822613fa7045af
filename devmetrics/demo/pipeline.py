"""The demo's pipeline processes: processor workers, exporter shards and the webhook receiver,
started as a user would start them (`devmetrics process`, `export`, `receive`), each with its
role's Kafka credentials when the stack is secured, on the default ports or free ones."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings
from devmetrics.stack import Stack
from devmetrics.stack.process import free_port

PROCESSOR_PORT = 9300
"""Worker i serves /metrics on PROCESSOR_PORT + i when that port is free."""
EXPORTER_PORT = 9400
"""Shard i serves /metrics on EXPORTER_PORT + i when that port is free."""


def process_env(stack: Stack, role: str) -> dict[str, str]:
    """A pipeline process's Kafka identity: this stack's brokers, and its role's credentials
    when the stack is secured."""
    env = {"DEVMETRICS_KAFKA__BOOTSTRAP": stack.kafka_settings.bootstrap}
    settings: Settings = stack.settings
    if settings.security.enabled:
        from core.security.material import Material, role_env

        env |= role_env(Material(settings.security.dir), role)
    return env


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class Pipeline:
    """What the demo started: the ports of the workers' and shards' /metrics, the receiver's."""

    processor_ports: list[int]
    exporter_ports: list[int]
    receiver_port: int


class PipelineStarter:
    """Starts the demo's processes; a process already running (an earlier demo) is kept, with
    the port it was given then (remembered in the stack's run folder)."""

    def __init__(self, stack: Stack, echo: Callable[[str], None]) -> None:
        self.stack = stack
        self.echo = echo
        self.host = stack.settings.stack.host
        self.ports_file = stack.settings.stack.home / "run" / "demo-ports.json"
        try:
            self.ports: dict[str, int] = json.loads(self.ports_file.read_text())
        except (OSError, ValueError):
            self.ports = {}
        self.names: list[str] = []

    def start(self, name: str, args: list[str], role: str) -> bool:
        """Start `devmetrics ARGS` as `name`; False when it was already running."""
        proc = self.stack.pipeline_process(name)
        self.names.append(name)
        if proc.running():
            self.echo(f"{name}: already running")
            return False
        env = process_env(self.stack, role)
        proc.start([sys.executable, "-m", "devmetrics", *args], env=env)
        self.echo(f"{name}: started (log {proc.log_file})")
        return True

    def exited(self) -> list[str]:
        """What each of the demo's processes that stopped since it started said last."""
        procs = [self.stack.pipeline_process(name) for name in self.names]
        return [
            f"{p.name} exited; its log ends:\n{p.log_tail()}" for p in procs if p.exited_early()
        ]

    def port(self, name: str, default: int) -> int:
        """The port of `name`: the one it runs on, else `default` when free, else a free one."""
        if self.stack.pipeline_process(name).running() and name in self.ports:
            return self.ports[name]
        port = default
        if not _port_free(self.host, default):
            port = free_port(self.host)
            self.echo(f"{name}: port {default} is taken, using {port}")
        self.ports[name] = port
        self.ports_file.parent.mkdir(parents=True, exist_ok=True)
        self.ports_file.write_text(json.dumps(self.ports))
        return port

    def pipeline(self, workers: int, shards: int, targets: Path) -> Pipeline:
        """Workers, shards and the receiver, registered with Prometheus through file_sd."""
        home = self.stack.settings.stack.home
        processor_ports = []
        for i in range(workers):
            name = f"processor-{i}"
            port = self.port(name, PROCESSOR_PORT + i)
            processor_ports.append(port)
            data = str(home / name)
            self.start(
                name,
                ["process", "--data-dir", data, "--metrics-port", str(port), "--web-port", "0"],
                role="processor",
            )
        (targets / "processors-demo.json").write_text(
            json.dumps([{"targets": [f"{self.host}:{p}" for p in processor_ports]}])
        )
        exporter_ports = []
        for i in range(shards):
            name = f"exporter-{i}"
            port = self.port(name, EXPORTER_PORT + i)
            exporter_ports.append(port)
            sd_file = str(targets / f"exporters-{i}.json")
            export = ["export", "--shard", str(i), "--shards", str(shards), "--port", str(port)]
            self.start(name, [*export, "--sd-file", sd_file], role="exporter")
        receiver_port = self.port("receiver", self.stack.settings.receiver.port)
        receiver = ["receive", "--port", str(receiver_port)]
        self.start(
            "receiver", [*receiver, "--sd-file", str(targets / "receivers-0.json")], "producer"
        )
        return Pipeline(processor_ports, exporter_ports, receiver_port)
