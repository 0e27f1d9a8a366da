"""Workspace accounts: `users add | list | disable | enable | password`, and how a shell user proves who
they are when recording a decision (`--as NAME` + the account's password)."""

from __future__ import annotations

import sys

import click

from callaudit.cli.options import config_of, db_option, echo_json, json_option
from callaudit.errors import CallauditError

USER_ENV = "CALLAUDIT_USER"


def read_password(from_stdin: bool, prompt: str = "Password", confirm: bool = False) -> str:
    """The password from the first line of stdin (scripts: `--password-stdin`, or any piped stdin), else
    typed at a hidden prompt. Never an option or an environment variable: those show up in `ps` and logs."""
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise CallauditError("no password on stdin: pipe it in (e.g. `printf '%s\\n' \"$PW\" | callaudit …`)")
        return line.rstrip("\r\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=confirm)


def author_option(f):
    """`--as NAME` (default $CALLAUDIT_USER): the account a decision is recorded under."""
    return click.option("--as", "as_user", envvar=USER_ENV, metavar="NAME",
                        help="Record it under this account (default: $CALLAUDIT_USER); its password is asked "
                             "for, or read from stdin.")(f)


def by_refused(f):
    """`--by` named anyone at all; it is refused with a line saying what to give instead."""
    def refuse(ctx, param, value):
        if value is not None:
            raise click.UsageError("--by is no longer accepted: a decision is recorded under an account; give "
                                   "--as NAME (or $CALLAUDIT_USER) and the account's password on stdin or at the "
                                   "prompt (accounts: `callaudit users add`)")
    return click.option("--by", hidden=True, expose_value=False, callback=refuse)(f)


def authenticated(ctx: click.Context, s, as_user: str | None):
    """The account `--as` names, proved by its password (throttled like web logins)."""
    from callaudit.store import accounts

    if not as_user:
        raise CallauditError("say who decides: --as NAME (or $CALLAUDIT_USER), with the account's password")
    web = config_of(ctx).web
    limits = accounts.Throttle(web.throttle_attempts, web.throttle_address_attempts, web.throttle_minutes)
    return accounts.authenticate(s, as_user, read_password(False), "cli", limits)


@click.group()
def users() -> None:
    """Workspace accounts and their roles (admin, hr, supervisor, agent)."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["admin", "hr", "supervisor", "agent"]))
@click.option("--extension", help="An agent's extension: they see the calls answered on it.")
@click.option("--department", help="A supervisor's department: they see its calls.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (else asked twice).")
@db_option
@click.pass_context
def add(ctx, name, role, extension, department, password_stdin, db) -> None:
    """Create an account; only an argon2 hash of its password is stored."""
    from callaudit.store import accounts
    from callaudit.store.db import open_store

    password = read_password(password_stdin, confirm=True)
    store = open_store(db, config_of(ctx))
    try:
        with store.session() as s:
            row = accounts.add_user(s, name, role, password, extension, department or "")
            where = f", extension {row.extension}" if row.extension else ""
            where += f", department {row.department}" if row.department else ""
            click.echo(f"account {row.name!r} added: {row.role}{where}")
    finally:
        store.close()


@users.command("list")
@json_option("Print the accounts as JSON.")
@db_option
@click.pass_context
def list_(ctx, as_json, db) -> None:
    """Every account, its role, extension, department and whether it is disabled."""
    from callaudit.reports.shown import printable
    from callaudit.store import accounts
    from callaudit.store.db import open_store

    store = open_store(db, config_of(ctx))
    try:
        with store.session() as s:
            rows = [{"name": u.name, "role": u.role, "extension": u.extension, "department": u.department,
                     "disabled": u.disabled, "created_at": u.created_at.isoformat()} for u in accounts.list_users(s)]
    finally:
        store.close()
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"{printable(r['name']):30} {r['role']:10} {r['extension'] or '-':8} "
                   f"{printable(r['department']) or '-':20} {'disabled' if r['disabled'] else 'enabled'}")


def _toggle(ctx, name, db, disabled: bool) -> None:
    from callaudit.store import accounts
    from callaudit.store.db import open_store

    store = open_store(db, config_of(ctx))
    try:
        with store.session() as s:
            row = accounts.set_disabled(s, name, disabled)
            click.echo(f"account {row.name!r} {'disabled: its sessions have ended' if disabled else 'enabled'}")
    finally:
        store.close()


@users.command("disable")
@click.argument("name")
@db_option
@click.pass_context
def disable(ctx, name, db) -> None:
    """Disable an account: it can no longer log in, its sessions end now; its decisions stay on record."""
    _toggle(ctx, name, db, True)


@users.command("enable")
@click.argument("name")
@db_option
@click.pass_context
def enable(ctx, name, db) -> None:
    """Enable a disabled account again."""
    _toggle(ctx, name, db, False)


@users.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin (else asked twice).")
@db_option
@click.pass_context
def password(ctx, name, password_stdin, db) -> None:
    """Set an account's password (an administrator's reset); its sessions end."""
    from callaudit.store import accounts
    from callaudit.store.db import open_store

    new = read_password(password_stdin, "New password", confirm=True)
    store = open_store(db, config_of(ctx))
    try:
        with store.session() as s:
            accounts.set_password(s, accounts.find_user(s, name), new)
            click.echo(f"account {name!r}: password changed, its sessions have ended")
    finally:
        store.close()
