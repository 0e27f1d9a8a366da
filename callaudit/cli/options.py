"""The options every command shares, declared once so that they mean the same everywhere:
`--db`, `--json`, `--lang`, `--rules`, `--model`; and the config the group's `--config` names."""

from __future__ import annotations

import json
from typing import Any

import click

from callaudit import config as config_mod

DB_HELP = ("Database: a SQLite file path or a postgresql://user:password@host/db URL "
           "(default: $CALLAUDIT_DB, else [store] db, else ./callaudit.db).")


def config_of(ctx: click.Context) -> config_mod.Config:
    """The checked config, loaded on first use: `models list` must work with a broken config."""
    return ctx.find_object(dict)["config"]()


def db_option(f):
    return click.option("--db", help=DB_HELP)(f)


def json_option(what: str = "Print as JSON."):
    return click.option("--json", "as_json", is_flag=True, help=what)


def lang_option(what: str = "Language of the calls (default: from config)."):
    return click.option("--lang", type=click.Choice(config_mod.LANGUAGES), help=what)


def rules_option(what: str = "Rule pack file (default: by language)."):
    return click.option("--rules", "rules", type=click.Path(dir_okay=False), help=what)


def model_option(f):
    return click.option("--model", help="Model name or folder (default: from config).")(f)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def clock(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    return f"{int(m):02d}:{s:04.1f}"
