"""Faults survived on a three-node cluster: nothing is lost and nothing is counted twice.

Each case publishes its load from a background thread while processor workers fold it, injects
its fault once a fifth of the load is folded (and not all of it: asserted), undoes the fault,
and then requires produced = acknowledged, every project's state equal to the simulator's truth,
and no dead letter. The printed line of each case gives the events in flight at the fault and
the time from the fault to the exact state.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.alerts import AlertReceiver
from support.chaos import (
    Load,
    assert_state_equals_truth,
    busiest_leader,
    dead_letters,
    make_load,
    record,
    signal_node,
    wait_midway,
    worker,
)
from support.pipeline import (
    SEED,
    StateReader,
    Subprocess,
    families,
    holdings,
    kafka_env,
    mismatches,
    prometheus_query,
    wait_for,
)

from devmetrics.stack import Stack
from devmetrics.stack.process import free_port
from producers.simulator import project_spec

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(1200)]

CATCH_UP_S = 900
# Longer than the brokers' session timeout (broker.session.timeout.ms, 9 s): the controller
# fences the stalled node and moves its leaderships.
STALL_S = 15
# The page route's group_wait (10 s) and group_interval (1 m), with a margin: a page the
# restarted Alertmanager were to send again would have reached the webhook by then.
PAGE_REGROUP_S = 90


def _finish(load: Load, reader: StateReader, survivor: Subprocess) -> float:
    load.join()
    reader.wait_until_applied(load.expected, survivor, timeout_s=CATCH_UP_S)
    recovered = time.monotonic()
    assert_state_equals_truth(reader, load)
    assert dead_letters(load.kafka) == 0
    return recovered


def _last_assignment(proc: Subprocess) -> list[int]:
    """The partitions a worker was last assigned, from its log."""
    found = re.findall(r"partitions \[([\d, ]*)\] assigned", proc.log_file.read_text())
    assert found, "the worker logged no assignment"
    return [int(p) for p in found[-1].split(",") if p.strip()]


def test_the_partition_leader_broker_killed_mid_backfill(
    cluster: Stack, load: Load, tmp_path: Path
) -> None:
    reader = StateReader(load.kafka)
    proc = worker(load, tmp_path, "w")
    try:
        load.start()
        fault = wait_midway(reader, load, "leader broker SIGKILL")
        node = busiest_leader(cluster, load)
        signal_node(node, signal.SIGKILL)
        time.sleep(10)  # production and processing go on without it
        assert not node.process.running()
        cluster.up()  # the node comes back with its data and catches up
        record(fault.report(_finish(load, reader, proc)) + f" (killed {node.name})")
    finally:
        reader.close()
        proc.stop()


def test_a_broker_stalled_past_its_session_timeout(
    cluster: Stack, load: Load, tmp_path: Path
) -> None:
    reader = StateReader(load.kafka)
    proc = worker(load, tmp_path, "w")
    try:
        load.start()
        fault = wait_midway(reader, load, f"broker SIGSTOP {STALL_S} s")
        node = busiest_leader(cluster, load)
        signal_node(node, signal.SIGSTOP)
        try:
            time.sleep(STALL_S)
        finally:
            signal_node(node, signal.SIGCONT)
        record(fault.report(_finish(load, reader, proc)) + f" (stalled {node.name})")
    finally:
        reader.close()
        proc.stop()


@pytest.mark.parametrize("keep_data", [True, False], ids=["with-its-data", "without-its-data"])
def test_a_worker_killed_mid_backfill_and_restarted(
    cluster: Stack, load: Load, tmp_path: Path, keep_data: bool
) -> None:
    reader = StateReader(load.kafka)
    procs = [worker(load, tmp_path, "w")]
    try:
        load.start()
        how = "with" if keep_data else "without"
        fault = wait_midway(reader, load, f"worker SIGKILL, restarted {how} its data")
        procs[0].proc.send_signal(signal.SIGKILL)
        procs[0].proc.wait(30)
        if not keep_data:
            shutil.rmtree(tmp_path / "w")  # the table is rebuilt from its changelog
        procs.append(worker(load, tmp_path, "w"))
        record(fault.report(_finish(load, reader, procs[-1])))
        if keep_data:
            # Killed, it left no clean-stop mark: its local store was not trusted.
            assert "the last run did not stop cleanly" in procs[-1].log_file.read_text()
    finally:
        reader.close()
        for proc in procs:
            proc.stop()


def test_one_of_two_workers_killed_the_other_takes_its_partitions(
    cluster: Stack, load: Load, tmp_path: Path
) -> None:
    reader = StateReader(load.kafka)
    first, second = worker(load, tmp_path, "w1"), worker(load, tmp_path, "w2")
    try:
        load.start()
        fault = wait_midway(reader, load, "one of two workers SIGKILL")
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(30)
        record(fault.report(_finish(load, reader, second)))
        assert _last_assignment(second) == list(range(load.kafka.partitions))
    finally:
        reader.close()
        for proc in (first, second):
            proc.stop()


def _shard(load: Load, workdir: Path, index: int, port: int, shards: int = 2) -> Subprocess:
    args = ["export", "--shard", str(index), "--shards", str(shards), "--port", str(port)]
    return Subprocess(args, kafka_env(load.kafka), workdir / f"exporter-{index}.log")


def _up(url: str, address: str) -> float | None:
    result = prometheus_query(url, f'up{{instance="{address}"}}')
    return float(result[0]["value"][1]) if result else None


def test_an_exporter_shard_killed_and_restarted_prometheus_recovers_the_same_values(
    cluster: Stack, load: Load, tmp_path: Path, private_monitoring_stack: Any
) -> None:
    reader = StateReader(load.kafka)
    ports = [free_port(), free_port()]
    procs = [worker(load, tmp_path, "w"), *(_shard(load, tmp_path, i, ports[i]) for i in (0, 1))]
    monitoring = private_monitoring_stack
    urls = monitoring.prometheus_urls  # shard i is scraped by server i
    for i, port in enumerate(ports):
        name = f"{load.kafka.topic_prefix}-{i}"
        monitoring.add_targets("exporters", name, [f"127.0.0.1:{port}"], shard=i)
    address = f"127.0.0.1:{ports[0]}"
    try:
        load.start()
        wait_for(lambda: _up(urls[0], address) == 1.0, 120, what="shard 0 scraped")
        fault = wait_midway(reader, load, "exporter shard SIGKILL")
        procs[1].proc.send_signal(signal.SIGKILL)  # shard 0
        procs[1].proc.wait(30)
        wait_for(lambda: _up(urls[0], address) == 0.0, 60, what="Prometheus to see shard 0 down")
        procs.append(_shard(load, tmp_path, 0, ports[0]))
        _finish(load, reader, procs[0])
        snapshots = dict(reader.latest)
        names = families(load.truth)

        def exact() -> bool:
            held = {pid: got for url in urls for pid, got in holdings(url, names).items()}
            return not mismatches(load.truth, snapshots, load.as_of_ms, held)

        wait_for(exact, 240, 5, what="Prometheus to hold the truth of every project")
        record(fault.report(time.monotonic()))
    finally:
        for i in (0, 1):
            name = f"{load.kafka.topic_prefix}-{i}"
            (monitoring.targets_dir / f"exporters-{name}.json").unlink(missing_ok=True)
        reader.close()
        for proc in procs:
            proc.stop()


def _millis(stamp: str) -> int:
    """An RFC 3339 time (webhook and API write different precisions) in milliseconds."""
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    seconds = datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp()
    return int(seconds) * 1000 + int((fraction + "000")[:3])


def _pages(receiver: AlertReceiver) -> dict[tuple[str, str, str], set[int]]:
    """Each page alert delivered to the webhook, by (project, service, slo): its start times
    (one firing episode has one, however many notifications carry it)."""
    out: dict[tuple[str, str, str], set[int]] = {}
    for alert in receiver.firing():
        labels = alert["labels"]
        if labels.get("alertname") == "DevmetricsSLOErrorBudgetBurn" and (
            labels.get("severity") == "page"
        ):
            key = (labels["project"], labels["service"], labels["slo"])
            out.setdefault(key, set()).add(_millis(alert["startsAt"]))
    return out


def test_prometheus_and_alertmanager_restarted_pages_fire_again_and_once(
    cluster: Stack, tmp_path: Path, private_monitoring_stack: Any
) -> None:
    load = make_load(cluster, error_spikes=1)
    monitoring = private_monitoring_stack
    assert monitoring.stack is not None
    receiver = AlertReceiver(monitoring.alert_webhook_url)
    reader = StateReader(load.kafka)
    port = free_port()
    procs = [worker(load, tmp_path, "w"), _shard(load, tmp_path, 0, port, shards=1)]
    target = f"{load.kafka.topic_prefix}-alerts"
    monitoring.add_targets("exporters", target, [f"127.0.0.1:{port}"])
    spiked = project_spec(SEED, 1).project_id
    try:
        # The error spike first, until it pages; then the rest of the load, restarting both
        # while it is folded.
        load.start([spiked])
        load.join()
        reader.wait_until_applied({spiked: load.expected[spiked]}, procs[0], CATCH_UP_S)
        wait_for(lambda: _pages(receiver), 240, 3, what="the error spike's page at the webhook")
        before = _pages(receiver)
        assert {pid for pid, _, _ in before} == {spiked}
        load.start()
        fault = wait_midway(reader, load, "Prometheus and Alertmanager restart", fraction=0.3)
        # A restart of both, as an upgrade does it: Alertmanager keeps its notification log
        # and silences in its data folder, Prometheus restores its alerts' active time.
        restarted = time.monotonic()
        restarted_ms = time.time() * 1000
        for name in ("alertmanager", "prometheus"):
            component = monitoring.stack.component(name)
            assert component.process.stop()
            assert not component.process.running()
        receiver.alerts.clear()
        monitoring.stack.up()

        def active() -> dict[tuple[str, str, str], int]:
            url = f"{monitoring.alertmanager_url}/api/v2/alerts?active=true&silenced=false"
            with urllib.request.urlopen(url, timeout=10) as resp:
                alerts = json.load(resp)
            return {
                (a["labels"]["project"], a["labels"]["service"], a["labels"]["slo"]): _millis(
                    a["startsAt"]
                )
                for a in alerts
                if a["labels"].get("alertname") == "DevmetricsSLOErrorBudgetBurn"
                and a["labels"].get("severity") == "page"
            }

        wait_for(lambda: set(active()) == set(before), 300, 3, what="the page active again")
        again = time.monotonic() - restarted
        seen_ms = time.time() * 1000
        record(
            fault.report(_finish(load, reader, procs[0]))
            + f"; the page active again in {again:.1f} s"
        )
        # The page rules have no `for` clause, so the restarted Prometheus fires the alert at
        # its first evaluation, and Alertmanager (which keeps no alerts across a restart) takes
        # it with that start: the same alert, fired again between the restart and now.
        for key, start in active().items():
            assert min(before[key]) < restarted_ms <= start <= seen_ms, (key, before, start)
        # And no second page for it: Alertmanager's notification log survived its restart, so
        # the regrouped alert is known as notified (the page route waits 10 s, regroups each 1m).
        time.sleep(PAGE_REGROUP_S)
        assert _pages(receiver) == {}, receiver.firing()
    finally:
        (monitoring.targets_dir / f"exporters-{target}.json").unlink(missing_ok=True)
        receiver.close()
        reader.close()
        for proc in procs:
            proc.stop()
