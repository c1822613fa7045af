"""The chaos suite's cluster: three KRaft nodes on loopback of its own (docs/processors.md,
"Faults"). The cases, their load and their checks: tests/chaos/test_faults.py and
tests/support/chaos.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.chaos import BROKERS, REPORT, Load, make_load

from core.settings import Settings
from devmetrics.stack import Stack
from devmetrics.stack.components import NODE_PORT_STRIDE
from devmetrics.stack.process import free_port, port_in_use


def _cluster_ports() -> dict[str, int]:
    """Client and controller ports of every node, all free (node i at base + 100·i)."""
    while True:
        kafka, controller = free_port(), free_port()
        wanted = [p + NODE_PORT_STRIDE * i for p in (kafka, controller) for i in range(BROKERS)]
        if len(set(wanted)) == len(wanted) and not any(port_in_use("127.0.0.1", p) for p in wanted):
            return {"kafka_port": kafka, "kafka_controller_port": controller}


@pytest.fixture(scope="session")
def cluster(
    test_stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Three KRaft nodes (combined controller and broker), replication 3, min in-sync 2."""
    stack_settings = test_stack_settings.stack.model_copy(
        update={
            "home": tmp_path_factory.mktemp("cluster"),
            "kafka_brokers": BROKERS,
            "kafka_heap": "512M",
            **_cluster_ports(),
        }
    )
    stack = Stack(test_stack_settings.model_copy(update={"stack": stack_settings}), only={"kafka"})
    stack.up()
    try:
        yield stack
    finally:
        stack.down()


@pytest.fixture
def load(cluster: Stack) -> Load:
    return make_load(cluster)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Each chaos case's fault and recovery, in the summary of every run that has them."""
    if REPORT:
        terminalreporter.section("chaos: faults and recoveries")
        for line in REPORT:
            terminalreporter.write_line(line)
