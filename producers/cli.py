"""`devmetrics emit`: one event from a CI/CD job or a script.

The event is built and validated first; only a valid event opens a Kafka connection. Exit
codes: 0 sent (the event id is printed), 2 bad usage or an invalid field (nothing sent),
1 delivery failed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import click

from core.settings import Settings, load_settings
from producers.publisher import Publisher, PublisherError
from producers.sdk import DevMetricsClient
from schemas.codec import Codec, InvalidEvent

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


class _EmitGroup(click.Group):
    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else "-"
        if not name.startswith("-") and self.get_command(ctx, name) is None:
            raise click.UsageError(
                f"unknown event family {name!r}; `emit` sends one of: "
                f"{', '.join(self.list_commands(ctx))} (agents use the Python SDK for the others)",
                ctx,
            )
        return super().resolve_command(ctx, args)


@click.group(cls=_EmitGroup)
def emit() -> None:
    """Send one event (deployment, incident, change, test-run) to Kafka."""


def _common(command: Callable[..., Any]) -> Callable[..., Any]:
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


def _send(
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
            str(exc), ctx=ctx, param_hint=f"'{_option_for(exc.field)}'"
        ) from exc
    if sink.event is None:
        raise RuntimeError(f"building the event sent nothing (event id {event_id})")
    family, event = sink.event
    timeout_s = common["timeout_s"]
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


def _option_for(field: str) -> str:
    """The command-line option that sets an event field (``change_ids[1]`` -> --change-id)."""
    base = field.split("[", 1)[0]
    return _OPTION_OF_FIELD.get(base, "--" + base.replace("_", "-"))


def _pop_common(kwargs: dict[str, Any]) -> dict[str, Any]:
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


@emit.command()
@click.option("--deployment-id", required=True)
@click.option("--environment", required=True, help="production counts for DORA.")
@click.option("--status", required=True, help="success or failure.")
@click.option("--kind", default="planned", show_default=True, help="planned, hotfix or rollback.")
@click.option("--change-id", "change_ids", multiple=True, help="A change shipped (repeat).")
@click.option(
    "--rolls-back",
    "rolls_back_deployment_id",
    default=None,
    help="Deployment id this rollback undoes (required for kind rollback).",
)
@click.option(
    "--remediates",
    "remediates_incident_id",
    default=None,
    help="Incident id this deployment fixes.",
)
@click.option("--started-at", type=AWARE_DATETIME, default=None)
@_common
@click.pass_context
def deployment(ctx: click.Context, **kwargs: Any) -> None:
    """A finished deployment."""
    common = _pop_common(kwargs)
    _send(ctx, common, lambda c, at: c.deployment_finished(at=at, **kwargs))


@emit.command()
@click.argument("action", type=click.Choice(["opened", "resolved"]))
@click.option("--incident-id", required=True)
@click.option("--severity", required=True, help="sev1 .. sev4.")
@click.option(
    "--caused-by", "caused_by_deployment_id", default=None, help="Deployment id that caused it."
)
@click.option("--title", default=None)
@_common
@click.pass_context
def incident(ctx: click.Context, action: str, **kwargs: Any) -> None:
    """An incident opened or resolved."""
    common = _pop_common(kwargs)
    method = "incident_opened" if action == "opened" else "incident_resolved"
    _send(ctx, common, lambda c, at: getattr(c, method)(at=at, **kwargs))


@emit.command()
@click.argument("action", type=click.Choice(["committed", "merged"]))
@click.option("--change-id", required=True)
@click.option(
    "--committed-at",
    type=AWARE_DATETIME,
    default=None,
    help="Commit time; required for merged (committed uses --at).",
)
@click.option("--commit-sha", default=None)
@click.option("--task-id", default=None)
@click.option("--rfc-id", default=None)
@_common
@click.pass_context
def change(ctx: click.Context, action: str, committed_at: datetime | None, **kwargs: Any) -> None:
    """A change committed or merged."""
    common = _pop_common(kwargs)
    if action == "committed":
        if committed_at is not None:
            raise click.BadParameter(
                "use --at for the commit time of a committed event",
                ctx=ctx,
                param_hint="'--committed-at'",
            )
        _send(ctx, common, lambda c, at: c.change_committed(at=at, **kwargs))
        return
    if committed_at is None:
        raise click.BadParameter(
            "required for merged events", ctx=ctx, param_hint="'--committed-at'"
        )
    _send(ctx, common, lambda c, at: c.change_merged(committed_at=committed_at, at=at, **kwargs))


@emit.command("test-run")
@click.option("--run-id", required=True)
@click.option("--passed", type=int, required=True)
@click.option("--failed", type=int, required=True)
@click.option("--skipped", type=int, default=0, show_default=True)
@click.option(
    "--flaky",
    type=int,
    default=0,
    show_default=True,
    help="Tests that passed on retry (also counted in --passed).",
)
@click.option("--duration-seconds", type=float, required=True)
@click.option("--coverage-ratio", type=float, default=None, help="Line coverage in [0, 1].")
@click.option("--change-id", default=None)
@_common
@click.pass_context
def test_run(ctx: click.Context, **kwargs: Any) -> None:
    """A completed test-suite run."""
    common = _pop_common(kwargs)
    _send(ctx, common, lambda c, at: c.test_run(at=at, **kwargs))
