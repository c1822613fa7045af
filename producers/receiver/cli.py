"""`devmetrics receive`: the webhook receiver. Wires settings and options; holds no logic."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from core.settings import Settings
from core.targets import write_target_file

if TYPE_CHECKING:
    from producers.receiver.cdevents import CDEventSchemas

log = logging.getLogger(__name__)
# The receiver answers a webhook only once the broker acknowledged its events: a short linger
# keeps that wait (and the sender's) small; batches still form under load.
PRODUCER_OVERRIDES = {"linger.ms": 5}


def default_schemas_dir(settings: Settings) -> Path:
    """The CDEvents schemas infra/setup.sh wrote from the CDEvents Go SDK into the stack cache."""
    return settings.stack.cache / "cdevents" / "schemas"


@click.command("receive")
@click.option("--host", default=None, help="Address to listen on [default: settings].")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="[default: 9500]")
@click.option(
    "--sd-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a Prometheus file_sd target file for this receiver (removed on exit).",
)
@click.pass_obj
def receive(settings: Settings, host: str | None, port: int | None, sd_file: Path | None) -> None:
    """Receive GitHub, GitLab, PagerDuty and CDEvents webhooks and publish them as events."""
    from core.kafka import check_access
    from producers.publisher import Publisher
    from producers.receiver.model import Rules
    from producers.receiver.server import make_server
    from producers.receiver.service import ReceiverService, Secrets
    from producers.receiver.telemetry import ReceiverTelemetry
    from schemas.topics import Topics

    config = settings.receiver
    try:
        secrets = Secrets.from_files(config)
        schemas = _cdevent_schemas(settings)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    topics = Topics(settings.kafka.topic_prefix)
    check_access(settings.kafka, [*topics.all_events, topics.deadletter])
    publisher = Publisher(
        settings.kafka, client_id="devmetrics-receiver", overrides=PRODUCER_OVERRIDES
    )
    service = ReceiverService(
        publisher,
        Rules.from_settings(config),
        secrets,
        ReceiverTelemetry(),
        schemas=schemas,
        publish_timeout_s=config.publish_timeout_s,
    )
    server = make_server(
        service,
        host or config.host,
        config.port if port is None else port,
        max_body_bytes=config.max_body_bytes,
        **_secured(settings),
    )
    address = "{}:{}".format(*server.server_address[:2])
    if sd_file is not None:
        write_target_file(sd_file, address)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    log.info("receiver listens on %s (POST /webhooks/github|gitlab|pagerduty|cdevents)", address)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        service.close()
        if sd_file is not None:
            sd_file.unlink(missing_ok=True)
        publisher.flush()


def _cdevent_schemas(settings: Settings) -> CDEventSchemas | None:
    """The CDEvents schemas to validate against. A folder named in the settings must hold them;
    without one, the default cache folder is used when infra/setup.sh filled it, and otherwise
    the receiver still serves GitHub, GitLab and PagerDuty while it refuses CDEvents (with the
    reason `no_schemas`, dead-lettered), saying so at start."""
    from producers.receiver.cdevents import CDEventSchemas

    configured = settings.receiver.cdevents_schemas_dir
    folder = configured or default_schemas_dir(settings)
    if configured is None and not folder.is_dir():
        log.warning(
            "no CDEvents schemas under %s: CDEvents webhooks are refused (reason no_schemas) "
            "until they are there; `bash infra/setup.sh` in a checkout writes them, or set "
            "DEVMETRICS_RECEIVER__CDEVENTS_SCHEMAS_DIR",
            folder,
        )
        return None
    schemas = CDEventSchemas.from_dir(folder)
    log.info("CDEvents validated against specification %s", ", ".join(schemas.versions.values()))
    return schemas


def _secured(settings: Settings) -> dict[str, Any]:
    """Under the security switch: HTTPS, and basic auth on /metrics (webhooks carry their own
    signatures). The receiver shows the exporter certificate: both are HTTP services on the
    same hosts that Prometheus scrapes with basic auth."""
    from core.security import BasicAuth, SecurityError, material_of, server_context
    from core.security.web import WEB_USERS

    material = material_of(settings)
    if material is None:
        return {}
    try:
        return {
            "tls": server_context(material.cert("exporter"), material.key("exporter")),
            "metrics_auth": BasicAuth.from_passwords(
                {u: material.secret("http", u) for u in WEB_USERS}
            ),
        }
    except SecurityError as exc:
        raise click.ClickException(str(exc)) from exc
