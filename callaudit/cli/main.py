"""The `callaudit` command. It only wires the stages together; the work lives in the layers below it.

Each command group lives in its own module and is registered here, one line each.
"""

from __future__ import annotations

import click

from callaudit import config as config_mod
from callaudit.cli import hr, jobs, listen, models, requests, rules, score, store, users, web
from callaudit.errors import CallauditError


class Group(click.Group):
    """Turns a CallauditError anywhere below into one line on stderr and exit code 2, and so does a
    database that fails mid-command (server restarted, disk full, lock timeout, a damaged file)."""

    def invoke(self, ctx):
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return super().invoke(ctx)
        except CallauditError as e:
            click.echo(f"callaudit: error: {e}", err=True)
            ctx.exit(e.exit_code)
        except SQLAlchemyError as e:
            from callaudit.store.db import error_line

            click.echo(f"callaudit: error: database error: {error_line(e)}; nothing half-written was kept, run "
                       "the command again", err=True)
            ctx.exit(2)


@click.group(cls=Group)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="CALLAUDIT_CONFIG",
              help="TOML config file (default: $CALLAUDIT_CONFIG, else ./callaudit.toml).")
@click.version_option(package_name="callaudit")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Listen in on, record, transcribe and score client-service calls."""
    cache: dict = {}

    def get() -> config_mod.Config:  # loaded lazily: `models list` must work with a broken config
        if "c" not in cache:
            cache["c"] = config_mod.load(config_path)
        return cache["c"]

    ctx.obj = {"config": get}


for command in (models.models, score.transcribe, score.score, rules.rules, score.samples,
                listen.listen, listen.spot_check,
                store.db, store.batch, store.worker, store.calls, jobs.jobs,
                hr.report, hr.review, hr.appeal, hr.calibrate, users.users, web.serve,
                requests.requests, requests.customers):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="callaudit")


if __name__ == "__main__":
    main()
