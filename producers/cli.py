"""`devmetrics emit`: one event from a CI/CD job or a script.

The event is built and validated first; only a valid event opens a Kafka connection. Exit
codes: 0 sent (the event id is printed), 2 bad usage or an invalid field (nothing sent),
1 delivery failed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from producers.emit import AWARE_DATETIME, common_options, pop_common, send


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
@common_options
@click.pass_context
def deployment(ctx: click.Context, **kwargs: Any) -> None:
    """A finished deployment."""
    common = pop_common(kwargs)
    send(ctx, common, lambda c, at: c.deployment_finished(at=at, **kwargs))


@emit.command()
@click.argument("action", type=click.Choice(["opened", "resolved"]))
@click.option("--incident-id", required=True)
@click.option("--severity", required=True, help="sev1 .. sev4.")
@click.option(
    "--caused-by", "caused_by_deployment_id", default=None, help="Deployment id that caused it."
)
@click.option("--title", default=None)
@common_options
@click.pass_context
def incident(ctx: click.Context, action: str, **kwargs: Any) -> None:
    """An incident opened or resolved."""
    common = pop_common(kwargs)
    method = "incident_opened" if action == "opened" else "incident_resolved"
    send(ctx, common, lambda c, at: getattr(c, method)(at=at, **kwargs))


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
@common_options
@click.pass_context
def change(ctx: click.Context, action: str, committed_at: datetime | None, **kwargs: Any) -> None:
    """A change committed or merged."""
    common = pop_common(kwargs)
    if action == "committed":
        if committed_at is not None:
            raise click.BadParameter(
                "use --at for the commit time of a committed event",
                ctx=ctx,
                param_hint="'--committed-at'",
            )
        send(ctx, common, lambda c, at: c.change_committed(at=at, **kwargs))
        return
    if committed_at is None:
        raise click.BadParameter(
            "required for merged events", ctx=ctx, param_hint="'--committed-at'"
        )
    send(ctx, common, lambda c, at: c.change_merged(committed_at=committed_at, at=at, **kwargs))


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
@common_options
@click.pass_context
def test_run(ctx: click.Context, **kwargs: Any) -> None:
    """A completed test-suite run."""
    common = pop_common(kwargs)
    send(ctx, common, lambda c, at: c.test_run(at=at, **kwargs))
