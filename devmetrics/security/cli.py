"""`devmetrics security init | env`: a development authority and credentials; client variables."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from core.security.errors import SecurityError
from core.security.material import DEFAULT_HOSTS, ROLES, Material, role_env
from core.security.provision import init_material


@click.group()
def security() -> None:
    """Certificates, users and keys of a secured stack (docs/security.md)."""


def _root(ctx: click.Context, directory: Path | None) -> Path:
    if directory is not None:
        return directory
    settings = ctx.obj
    if settings is None:
        from core.settings import load_settings

        settings = load_settings()
    root: Path = settings.security.dir
    return root


@security.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path), help="Where to write.")
@click.option(
    "--host",
    "hosts",
    multiple=True,
    help="A DNS name or IP address the certificates are valid for (repeatable) "
    f"[default: {', '.join(DEFAULT_HOSTS)}].",
)
@click.option("--force", is_flag=True, help="Replace a complete existing set.")
@click.pass_context
def init(ctx: click.Context, directory: Path | None, hosts: tuple[str, ...], force: bool) -> None:
    """Make a local certificate authority, server certificates, users and the pseudonym key.

    For development stacks only: production brings its own certificates and secrets.
    """
    root = _root(ctx, directory)
    material, made = init_material(root, datetime.now(UTC), hosts or DEFAULT_HOSTS, force=force)
    if not made:
        click.echo(f"security material already complete in {root} (use --force to replace)")
        return
    click.echo(f"security material written to {root}")
    click.echo("  enable it: DEVMETRICS_SECURITY__ENABLED=true devmetrics stack up")
    for role in ROLES:
        click.echo(f"  {role} client variables: {material.env_file(role)}")


@security.command()
@click.argument("role", type=click.Choice(ROLES))
@click.option("--dir", "directory", type=click.Path(path_type=Path), help="Material folder.")
@click.pass_context
def env(ctx: click.Context, role: str, directory: Path | None) -> None:
    """Print `export` lines that make a shell's devmetrics commands act as ROLE."""
    material = Material(_root(ctx, directory))
    try:
        material.check()
    except SecurityError as exc:
        raise click.ClickException(str(exc)) from exc
    for name, value in role_env(material, role).items():
        click.echo(f"export {name}={value}")


@security.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path), help="Material folder.")
@click.pass_context
def setup(ctx: click.Context, directory: Path | None) -> None:
    """Create the topics and the ACLs of every role on a secured broker, as its admin.

    `devmetrics stack up` does this itself; run it against a broker started otherwise
    (infra/docker-compose.yml) with DEVMETRICS_KAFKA__BOOTSTRAP pointing at it.
    """
    from core.kafka import ensure_topics
    from core.kafka_security import acl_bindings, apply_acls, role_settings
    from core.settings import load_settings

    settings = ctx.obj or load_settings()
    material = Material(_root(ctx, directory))
    try:
        admin = role_settings(settings.kafka, material, "admin")
        created = ensure_topics(admin)
        count = apply_acls(
            admin, acl_bindings(settings.kafka.topic_prefix, settings.processor.app_id)
        )
    except SecurityError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"topics created: {len(created)}; ACLs in force: {count}")
