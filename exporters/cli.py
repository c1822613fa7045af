"""`devmetrics export`: one exporter shard. Wires settings and options; holds no logic."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import click

from core.settings import Settings
from exporters.errors import ExporterError
from exporters.runner import DEFAULT_PORT, ShardOptions, ShardRunner
from exporters.series import DEFAULT_MAX_SERVICES, ServicePolicy
from exporters.shard import DEFAULT_MAX_PROJECTS


@click.command("export")
@click.option(
    "--shard",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="This shard's index: it serves state partitions p with p % shards == shard.",
)
@click.option(
    "--shards",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many shards share the state topic.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help=f"Port to listen on [default: {DEFAULT_PORT} + shard].",
)
@click.option(
    "--max-services",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_SERVICES,
    show_default=True,
    help="Services per project whose SLOs are served (the busiest); above it an alert names "
    "the project.",
)
@click.option(
    "--max-projects",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_PROJECTS,
    show_default=True,
    help="Projects this shard serves at most (a cardinality cap).",
)
@click.option("--gzip-level", type=click.IntRange(1, 9), default=6, show_default=True)
@click.option(
    "--sd-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a Prometheus file_sd target file for this shard (removed on exit).",
)
@click.pass_obj
def export(
    settings: Settings,
    shard: int,
    shards: int,
    host: str,
    port: int | None,
    max_services: int,
    max_projects: int,
    gzip_level: int,
    sd_file: Path | None,
) -> None:
    """Serve the projects of this shard's state partitions on /metrics."""
    from core.kafka import check_access
    from schemas.codec import Codec
    from schemas.topics import Topics

    try:
        options = ShardOptions(
            shard=shard,
            shards=shards,
            host=host,
            port=DEFAULT_PORT + shard if port is None else port,
            policy=ServicePolicy(max_services=max_services),
            gzip_level=gzip_level,
            sd_file=sd_file,
            max_projects=max_projects,
            **_secured(settings),
        )
    except (ValueError, ExporterError) as exc:
        raise click.UsageError(str(exc)) from exc
    check_access(settings.kafka, [Topics(settings.kafka.topic_prefix).state])
    runner = ShardRunner(settings.kafka, options, Codec.default())
    signal.signal(signal.SIGTERM, lambda *_: runner.request_stop())
    runner.start()
    try:
        runner.wait()
    except KeyboardInterrupt:
        pass
    except ExporterError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        runner.stop()


def _secured(settings: Settings) -> dict[str, Any]:
    """Under the security switch: HTTPS with the exporter certificate, and basic auth."""
    from core.security import BasicAuth, SecurityError, material_of, server_context
    from core.security.web import WEB_USERS

    material = material_of(settings)
    if material is None:
        return {}
    try:
        return {
            "tls": server_context(material.cert("exporter"), material.key("exporter")),
            "auth": BasicAuth.from_passwords({u: material.secret("http", u) for u in WEB_USERS}),
        }
    except SecurityError as exc:
        raise click.ClickException(str(exc)) from exc
