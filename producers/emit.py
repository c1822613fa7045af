"""Building, validating and sending the one event of `devmetrics emit` (producers.cli).

The event is built with the SDK into a sink that keeps it, so that an invalid field is named
(as its command-line option) before any Kafka connection opens.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import click

from core.kafka import check_access
from core.settings import Settings, load_settings
from producers.publisher import Publisher, PublisherError
from producers.sdk import DevMetricsClient
from schemas.codec import Codec, InvalidEvent
from schemas.topics import Topics

# Event fields whose option is not simply --field-name.
_OPTION_OF_FIELD = {
    "occurred_at": "--at",
    "project_id": "--project",
    "actor.kind": "--actor-kind",
    "actor.name": "--actor-name",
    "source": "--source",
    "change_ids": "--change-id",
    "rolls_back_deployment_id": "--rolls-back",
    "remediates_incident_id": "--remediates",
    "caused_by_deployment_id": "--caused-by",
}


class AwareDateTime(click.ParamType):
    """An ISO 8601 time with a UTC offset (``Z`` or ``+02:00``); naive times are refused."""

    name = "iso8601"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            parsed = value
        else:
            try:
                parsed = datetime.fromisoformat(str(value))
            except ValueError:
                self.fail(f"{value!r} is not an ISO 8601 time", param, ctx)
        if parsed.tzinfo is None:
            self.fail(f"{value!r} has no UTC offset; add one, e.g. {value}+00:00", param, ctx)
        return parsed


AWARE_DATETIME = AwareDateTime()


class _CollectOne:
    """An event sink that keeps the validated event instead of sending it."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self.event: tuple[str, dict[str, Any]] | None = None

    def publish(self, family: str, event: Mapping[str, Any]) -> None:
        self.event = (family, dict(event))


def common_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options every emit subcommand shares: who, when, where."""
    options = [
        click.option("--project", "project_id", required=True, help="Project id (the key)."),
        click.option("--team", default=None, help="Team that owns the project (descriptive)."),
        click.option("--actor-kind", default="human", show_default=True, help="ai_agent or human."),
        click.option(
            "--actor-name", default="ci", show_default=True, help="Agent name or person/CI user."
        ),
        click.option("--model", default=None, help="Model name where an AI agent acted."),
        click.option(
            "--source", default="ci", show_default=True, help="simulator, agent, ci or webhook."
        ),
        click.option(
            "--at",
            "at",
            type=AWARE_DATETIME,
            default=None,
            help="Event time, ISO 8601 with offset; default now.",
        ),
        click.option(
            "--timeout",
            "timeout_s",
            type=click.FloatRange(min=0.1),
            default=30.0,
            show_default=True,
            help="Seconds to wait for the broker's ack.",
        ),
    ]
    return functools.reduce(lambda cmd, option: option(cmd), reversed(options), command)


def send(
    ctx: click.Context,
    common: dict[str, Any],
    build: Callable[[DevMetricsClient, datetime | None], str],
) -> None:
    """Validate the event, then publish it and wait for the ack; print its id."""
    settings: Settings = ctx.obj if isinstance(ctx.obj, Settings) else load_settings()
    codec = Codec.default()
    sink = _CollectOne(codec)
    try:
        client = DevMetricsClient(
            sink,
            common["project_id"],
            common["actor_kind"],
            common["actor_name"],
            model=common["model"],
            source=common["source"],
            team=common["team"],
        )
        event_id = build(client, common["at"])
    except InvalidEvent as exc:
        raise click.BadParameter(
            str(exc), ctx=ctx, param_hint=f"'{option_for(exc.field)}'"
        ) from exc
    if sink.event is None:
        raise RuntimeError(f"building the event sent nothing (event id {event_id})")
    family, event = sink.event
    timeout_s = common["timeout_s"]
    topic = Topics(settings.kafka.topic_prefix).events(family)
    check_access(settings.kafka, [topic], timeout_s=timeout_s)
    publisher = Publisher(
        settings.kafka,
        codec,
        client_id="devmetrics-emit",
        overrides={"message.timeout.ms": int(timeout_s * 1000)},
    )
    try:
        publisher.publish(family, event)
        publisher.flush(timeout_s + 5)
    except PublisherError as exc:
        raise click.ClickException(f"{family} event {event_id} was not delivered: {exc}") from exc
    click.echo(event_id)


def option_for(field: str) -> str:
    """The command-line option that sets an event field (``change_ids[1]`` -> --change-id)."""
    base = field.split("[", 1)[0]
    return _OPTION_OF_FIELD.get(base, "--" + base.replace("_", "-"))


def pop_common(kwargs: dict[str, Any]) -> dict[str, Any]:
    names = (
        "project_id",
        "team",
        "actor_kind",
        "actor_name",
        "model",
        "source",
        "at",
        "timeout_s",
    )
    return {name: kwargs.pop(name) for name in names}
