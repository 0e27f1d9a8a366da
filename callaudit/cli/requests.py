"""`callaudit requests` and `callaudit customers`: customers' requests followed across calls. Wiring only:
the work is in jobs/requests.py, store/requests.py and reports/request_views.py."""

from __future__ import annotations

from pathlib import Path

import click

from callaudit.cli.options import config_of, db_option, echo_json, json_option
from callaudit.cli.users import author_option, by_refused
from callaudit.errors import CallauditError

STATUS_CHOICES = ["open", "fulfilled", "late", "overdue", "closed", "no-commitment", "customer-unknown"]


def _shown(cfg):
    from callaudit.jobs.request_settings import working_hours
    from callaudit.reports.redact import Redactor
    from callaudit.reports.request_views import Shown

    return Shown(Redactor.from_config(cfg), working_hours(cfg), _titles(cfg))


def _titles(cfg) -> dict[str, str]:
    """Topic titles from the default language's pack (a missing pack only costs the titles)."""
    from callaudit.analysis import request_pack
    from callaudit.jobs.request_settings import pack_path

    try:
        return request_pack.topic_titles(pack_path(cfg)(cfg.transcription.language))
    except CallauditError:
        return {}


def _customer(cfg, number: str | None) -> str | None:
    from callaudit.sources.customers import customer_key

    if number is None:
        return None
    key = customer_key(number, cfg.requests.region, cfg.batch.extension_pattern)
    if key is None:
        raise CallauditError(f"{number!r} is not a customer's phone number (read in region {cfg.requests.region}; "
                             "see [requests] region)")
    return key


@click.group()
def requests() -> None:
    """Customers' requests and agents' commitments, followed across calls to fulfilment."""


@requests.command("list")
@click.option("--status", type=click.Choice(STATUS_CHOICES), help="Only requests with this status.")
@click.option("--agent", help="Only this agent's (extension): who took it or is charged for it.")
@click.option("--customer", help="Only this customer's (a phone number in any usual form).")
@click.option("--period", help="When the request was made: 2026-11, last-7d, FROM..TO (default: everything).")
@json_option()
@db_option
@click.pass_context
def requests_list(ctx, status, agent, customer, period, as_json, db) -> None:
    """Requests, oldest first: status, deadline, agent, customer (masked), the words and what became of them."""
    from callaudit import periods
    from callaudit.reports.request_views import request_json, request_line
    from callaudit.store import requests as rq_store
    from callaudit.store.db import open_store

    cfg = config_of(ctx)
    shown = _shown(cfg)
    per = periods.parse(period) if period else None
    store = open_store(db, cfg)
    try:
        with store.session() as s:
            rows = rq_store.request_rows(s, status=status, agent=agent, customer=_customer(cfg, customer),
                                         since=per.start if per else None, until=per.end if per else None)
            out = [request_json(r, shown) for r in rows]
    finally:
        store.close()
    if as_json:
        echo_json(out)
        return
    if not out:
        click.echo("no requests" + (" with these filters" if (status or agent or customer or period) else
                                    " yet: run `callaudit batch FOLDER` (or `callaudit requests refresh`)"))
        return
    for j in out:
        for line in request_line(j):
            click.echo(line)
    as_of = next((j["as_of"] for j in out if j["as_of"]), None)
    if as_of:
        click.echo(f"{len(out)} request(s); statuses as of {as_of.replace('T', ' ')} (the latest recording stored)")


@requests.command("close")
@click.argument("ident", metavar="ID")
@click.option("--note", required=True, help="Why it is closed (kept with the request).")
@author_option
@by_refused
@db_option
@click.pass_context
def requests_close(ctx, ident, note, as_user, db) -> None:
    """Close a request by hand under an hr or admin account: it stops counting as open or overdue (who,
    when and why are recorded). The account is --as NAME (or $CALLAUDIT_USER); its password is read from
    stdin, or asked for."""
    from callaudit.cli.users import authenticated
    from callaudit.jobs.requests import RefreshReport, recompute
    from callaudit.store import requests as rq_store
    from callaudit.store.accounts import AuthError
    from callaudit.store.db import open_store
    from callaudit.store.schema import UserRow

    cfg = config_of(ctx)
    if not note.strip():
        raise CallauditError("closing a request needs why (--note)")
    store = open_store(db, cfg)
    try:
        with store.session() as s:
            rq_store.find_request(s, ident)  # an unknown id is said before a password is asked for
        refused = None
        with store.session() as s:  # a failed login is committed on its own, so that throttling counts it
            try:
                user_id = authenticated(ctx, s, as_user).id
            except AuthError as e:
                refused = e
        if refused:
            raise refused
        with store.session() as s:
            row = rq_store.find_request(s, ident)
            by = rq_store.close(s, row, s.get(UserRow, user_id), note).by
            public_id, customer, call_id = row.public_id, row.customer, row.call_id
        rep = RefreshReport()
        recompute(store, cfg, {customer}, set() if customer else {call_id}, rep)
    finally:
        store.close()
    click.echo(f"request {public_id}: closed by {by}")


@requests.command("refresh")
@json_option("Print what was done as JSON.")
@db_option
@click.pass_context
def requests_refresh(ctx, as_json, db) -> None:
    """Read the requests of calls not read yet and recompute statuses (every batch does this at its end)."""
    from callaudit.jobs.requests import refresh
    from callaudit.store.db import open_store

    cfg = config_of(ctx)
    store = open_store(db, cfg)
    try:
        rep = refresh(store, cfg, say=lambda m: click.echo(m, err=True))
    finally:
        store.close()
    if as_json:
        echo_json(rep.to_json())
    else:
        click.echo(rep.line())


@requests.command("problems")
@click.option("--period", help="When the problem was reported (default: everything).")
@click.option("--open", "only_open", is_flag=True, help="Only problems not resolved yet.")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "json"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file (default: stdout).")
@db_option
@click.pass_context
def requests_problems(ctx, period, only_open, fmt, output, db) -> None:
    """Service problems customers reported, by topic: for the technical department (CSV is formula-safe)."""
    from callaudit import periods
    from callaudit.reports.files import csv_text
    from callaudit.reports.request_views import PROBLEM_FIELDS, problem_row, request_json
    from callaudit.store import requests as rq_store
    from callaudit.store.db import open_store

    cfg = config_of(ctx)
    shown = _shown(cfg)
    per = periods.parse(period) if period else None
    store = open_store(db, cfg)
    try:
        with store.session() as s:
            rows = rq_store.request_rows(s, kind="problem", since=per.start if per else None,
                                         until=per.end if per else None)
            out = [problem_row(request_json(r, shown), shown, cfg.requests.problem_topics) for r in rows]
    finally:
        store.close()
    if only_open:
        out = [r for r in out if not r["resolved"]]
    if fmt == "csv":
        body = csv_text(PROBLEM_FIELDS, out)
    elif fmt == "json":
        import json

        body = json.dumps(out, ensure_ascii=False, indent=2) + "\n"
    else:
        body = "".join(f"{r['reported_at'][:16].replace('T', ' ')}  {r['topic_titles']:30}  "
                       f"{'resolved' if r['resolved'] else 'OPEN':8}  {r['customer']:20}  call {r['call']}  "
                       f"{r['quote'][:80]}\n" for r in out) or "no service problems reported\n"
    if output:
        Path(output).write_text(body, encoding="utf-8")
        click.echo(f"{len(out)} problem(s) written to {Path(output).resolve()}")
    else:
        click.echo(body, nl=False)


@click.group()
def customers() -> None:
    """Customers, known by their phone number: their calls, requests and problems."""


@customers.command("show")
@click.argument("number")
@json_option()
@db_option
@click.pass_context
def customers_show(ctx, number, as_json, db) -> None:
    """One customer: every call (when, direction, agent), every request with its status and evidence."""
    from callaudit.reports.request_views import request_json, request_line
    from callaudit.store import requests as rq_store
    from callaudit.store.db import open_store

    cfg = config_of(ctx)
    shown = _shown(cfg)
    key = _customer(cfg, number)
    store = open_store(db, cfg)
    try:
        with store.session() as s:
            calls = [{"call": call.public_id, "at": shown.when(cc.started_at), "time_source": cc.start_source,
                      "direction": cc.direction, "agent": cc.agent, "note": cc.note or None}
                     for cc, call in rq_store.customer_calls(s, key)]
            reqs = [request_json(r, shown) for r in rq_store.request_rows(s, customer=key)]
    finally:
        store.close()
    data = {"customer": shown.customer(key), "calls": calls, "requests": reqs,
            "open": sum(r["status"] in ("open", "overdue") for r in reqs)}
    if as_json:
        echo_json(data)
        return
    if not calls:
        raise CallauditError(f"no calls with customer {shown.customer(key)} in the store")
    click.echo(f"customer {data['customer']}: {len(calls)} call(s), {len(reqs)} request(s), {data['open']} open or overdue")
    for c in calls:
        click.echo(f"  {(c['at'] or '')[:16].replace('T', ' ')}  {c['direction'] or '?':8}  agent {c['agent'] or '?':6}  "
                   f"call {c['call']}" + (f"  ({c['note']})" if c["note"] else ""))
    for j in reqs:
        for line in request_line(j):
            click.echo("  " + line)
