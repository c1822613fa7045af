"""The whole pipeline on the real stack, once per session (see support/pipeline.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from support.pipeline import (
    E2E_AGENT_TOP_N,
    MINUTE_MS,
    PROJECTS,
    PipelineRun,
    StateReader,
    Subprocess,
    kafka_env,
    prometheus_query,
    run_backfill,
    start_worker,
    wait_for,
    write_slo_file,
)

from core.kafka import ensure_topics
from core.settings import KafkaSettings
from devmetrics.stack.process import free_port


@pytest.fixture(scope="session")
def pipeline(
    kafka_bootstrap: str,
    monitoring_stack: Any,
    alert_receiver: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PipelineRun]:
    workdir = tmp_path_factory.mktemp("pipeline")
    kafka = KafkaSettings(
        bootstrap=kafka_bootstrap, topic_prefix=f"e2e{uuid.uuid4().hex[:8]}", partitions=12
    )
    ensure_topics(kafka)
    as_of_ms = (int(time.time() * 1000) // MINUTE_MS) * MINUTE_MS
    worker = start_worker(
        kafka,
        as_of_ms,
        workdir,
        "worker",
        agent_top_n=E2E_AGENT_TOP_N,
        slo_file=write_slo_file(workdir),
    )
    monitoring_stack.add_targets(
        "processors", kafka.topic_prefix, [f"127.0.0.1:{worker.metrics_port}"]
    )
    shards: list[Subprocess] = []
    reader = StateReader(kafka)
    try:
        backfill = run_backfill(kafka, as_of_ms)
        expected = {p: t["events"] for p, t in backfill.truth.items()}
        reader.wait_until_applied(expected, worker, timeout_s=2400)

        ports = [free_port(), free_port()]
        for i, port in enumerate(ports):
            sd = monitoring_stack.targets_dir / f"exporters-{kafka.topic_prefix}-{i}.json"
            shards.append(
                Subprocess(
                    [
                        "export",
                        "--shard",
                        str(i),
                        "--shards",
                        "2",
                        "--port",
                        str(port),
                        "--sd-file",
                        str(sd),
                    ],
                    kafka_env(kafka),
                    workdir / f"exporter-{i}.log",
                )
            )
        total = "count(count by (project) (devmetrics_state_as_of_timestamp_seconds))"

        def seen() -> float:
            return sum(
                float(r[0]["value"][1]) if (r := prometheus_query(url, total)) else 0.0
                for url in monitoring_stack.prometheus_urls
            )

        wait_for(
            lambda: seen() >= PROJECTS,
            300,
            what=f"the Prometheus servers to see {PROJECTS} projects",
        )
        yield PipelineRun(
            backfill,
            kafka,
            dict(reader.latest),
            monitoring_stack.prometheus_urls,
            monitoring_stack.victoriametrics_url,
            monitoring_stack.alertmanager_url,
            [f"http://127.0.0.1:{p}" for p in ports],
        )
    finally:
        reader.close()
        for proc in [*shards, worker]:
            proc.stop()
