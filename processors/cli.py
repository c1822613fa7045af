"""`devmetrics process`: run one processor worker (any number share the work by partition)."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import click

log = logging.getLogger(__name__)


def parse_as_of(value: str) -> int:
    """Epoch milliseconds of an ISO-8601 time with a zone (or Z), or of an integer in ms."""
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is neither ISO-8601 nor epoch ms") from exc
    if moment.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no time zone; add Z or +00:00")
    return int(moment.astimezone(UTC).timestamp() * 1000)


@click.command("process")
@click.option("--app-id", help="Consumer group shared by the workers of one pipeline.")
@click.option("--data-dir", type=click.Path(path_type=Path), help="This worker's table files.")
@click.option("--web-port", type=int, help="faust web port (0: off).")
@click.option("--metrics-port", type=int, help="Port of this worker's /metrics (0: off).")
@click.option("--store", type=click.Choice(["rocksdb", "memory"]), help="Table store.")
@click.option("--as-of", "as_of", help="Fixed as-of time T (ISO-8601 or epoch ms) for backfills.")
@click.option("--snapshot-interval", type=float, help="Min seconds between a project's snapshots.")
@click.option("--refresh", type=float, help="Seconds between refreshes of every project (live).")
@click.option(
    "--slo-file",
    type=click.Path(path_type=Path),
    help="SLO definitions (docs/slo-definitions.md), read again whenever the file changes.",
)
@click.pass_context
def process(
    ctx: click.Context,
    app_id: str | None,
    data_dir: Path | None,
    web_port: int | None,
    metrics_port: int | None,
    store: str | None,
    as_of: str | None,
    snapshot_interval: float | None,
    refresh: float | None,
    slo_file: Path | None,
) -> None:
    """Run a processor worker: events in, per-project state snapshots out."""
    import faust
    from aiokafka import codec as kafka_codecs

    from core.kafka import check_access, ensure_topics
    from core.processor_settings import processor_settings
    from core.slo_definitions import SloConfigError, load_slo_file
    from processors import local_store
    from processors.app import create_app
    from processors.telemetry import serve_metrics
    from schemas.topics import Topics

    settings = ctx.obj
    overrides = {
        "app_id": app_id,
        "web_port": web_port,
        "metrics_port": metrics_port,
        "store": store,
        "snapshot_min_interval_s": snapshot_interval,
        "snapshot_refresh_s": refresh,
        "slo_file": slo_file,
    }
    base = processor_settings(settings)
    conf = base.model_validate(
        {**base.model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
    )
    worker_name = f"worker-{conf.web_port or conf.metrics_port or os.getpid()}"
    conf = conf.model_copy(
        update={"data_dir": data_dir or conf.data_dir / conf.app_id / worker_name}
    )
    supported = {
        "none": True,
        "gzip": True,
        "lz4": kafka_codecs.has_lz4(),
        "zstd": kafka_codecs.has_zstd(),
        "snappy": kafka_codecs.has_snappy(),
    }
    if not supported[conf.producer_compression] or not kafka_codecs.has_zstd():
        raise click.ClickException(
            "the Kafka client lacks a compression codec (install cramjam): producers "
            "compress with zstd and the worker is set to "
            f"{conf.producer_compression!r}"
        )
    if conf.slo_file is not None:
        try:
            load_slo_file(conf.slo_file)
        except SloConfigError as exc:
            raise click.ClickException(f"SLO definitions unusable:\n{exc}") from exc
    as_of_ms = parse_as_of(as_of) if as_of else None
    local_store.claim(conf.data_dir)
    topics = Topics(settings.kafka.topic_prefix)
    check_access(settings.kafka, [*topics.all_events, topics.state, topics.deadletter])
    ensure_topics(settings.kafka)
    built = create_app(settings, as_of_ms=as_of_ms, processor=conf)
    if conf.metrics_port and settings.security.enabled:
        from core.security.errors import SecurityError
        from core.security.material import Material
        from core.security.metrics import serve_metrics_tls

        material = Material(settings.security.dir)
        try:
            material.check()
        except SecurityError as exc:
            raise click.ClickException(str(exc)) from exc
        serve_metrics_tls(built.registry, conf.metrics_host, conf.metrics_port, material)
    elif conf.metrics_port:
        serve_metrics(built.registry, conf.metrics_host, conf.metrics_port)
    log.info(
        "processor %s: app %s, data %s, as-of %s, metrics on %s",
        worker_name,
        conf.app_id,
        conf.data_dir,
        as_of or "wall clock (floored to the minute)",
        f"http://{conf.metrics_host}:{conf.metrics_port}/metrics" if conf.metrics_port else "off",
    )
    worker = faust.Worker(
        built.app,
        loglevel=settings.log_level,
        quiet=True,
        override_logging=False,
    )
    try:
        worker.execute_from_commandline()
    finally:  # faust has stopped its services and closed the table store
        local_store.release(conf.data_dir)
