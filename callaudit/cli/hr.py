"""HR commands: report, review, appeal, calibrate."""

from __future__ import annotations

import json
from pathlib import Path

import click

from callaudit.cli.options import config_of, db_option, json_option
from callaudit.cli.users import author_option, by_refused
from callaudit.errors import CallauditError


@click.command()
@click.option("--period", help="2026-11, last-7d or FROM..TO (default: everything stored).")
@click.option("--agent", help="Only this agent (extension or name).")
@click.option("--department", help="Only this department.")
@click.option("--flagged", is_flag=True, help="List only flagged calls.")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf", "csv", "json"]), default="html", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file (default: stdout; "
              "HTML and PDF default to report.html / report.pdf).")
@click.option("--no-audio", is_flag=True, help="Leave the audio clips out of the HTML report.")
@click.option("--details", "details", type=click.IntRange(min=0), default=50, show_default=True,
              help="Full details (transcript, evidence, clips) for at most N calls of HTML and JSON reports; "
                   "when the report holds more, the flagged calls with the lowest scores.")
@db_option
@click.pass_context
def report(ctx, period, agent, department, flagged, fmt, output, no_audio, details, db) -> None:
    """Flagged calls, call details with evidence, per-agent disciplinary reports, department summary."""
    from callaudit import periods
    from callaudit.reports import files as report_files
    from callaudit.reports import hrdata
    from callaudit.reports.redact import Redactor
    from callaudit.store.db import open_store

    cfg = config_of(ctx)
    redactor = Redactor.from_config(cfg)
    per = periods.parse(period)
    path = Path(output) if output else (Path(f"report.{fmt}") if fmt in ("html", "pdf") else None)
    store = open_store(db, cfg)
    try:
        # The calls are read while the report is written: the session stays open until the end.
        with store.session() as s:
            if fmt == "csv":  # a CSV needs no summaries, only the stream of calls
                data = hrdata.ReportData(per, None, {}, hrdata.report_calls(s, per, agent, department, flagged),
                                         [], [])
            else:
                caps = hrdata.Caps(details=details if fmt in ("html", "json") else 0)  # a PDF has no call details
                data = hrdata.gather(s, per, cfg.policy, redactor, agent, department, flagged, caps=caps,
                                     words=fmt == "html" and not no_audio, flagged_list=fmt == "html",
                                     agent_failures=fmt == "pdf")
            followed = None
            if fmt != "csv" and cfg.requests.enabled:  # commitments not kept count on the ladder too
                from callaudit.reports import requests as requests_report

                followed = requests_report.gather(s, per, cfg, _shown(cfg, redactor), agent, department)
                requests_report.apply_to_agents(data, followed, cfg)
            html = None
            if fmt == "html":  # imported only here: it brings numpy and the audio decoder
                from callaudit.reports import html_report

                blocks = (requests_report.html_section(followed, redactor, no_audio),) if followed else ()
                html = html_report.generate(data, redactor, no_audio, blocks)
            extra = requests_report.PdfSection(followed) if followed and fmt == "pdf" else None
            written = report_files.write(path, fmt, data, html, extra)
    finally:
        store.close()
    if written:
        what = f"{len(data.calls)} calls"
        if fmt != "csv":
            what += f" ({len(data.details)} in detail), {data.flagged_total} flagged, {len(data.agents)} agents"
        click.echo(f"{fmt.upper()} report: {written.resolve()} ({what}, period {per.label})")


def _shown(cfg, redactor):
    from callaudit.cli.requests import _titles
    from callaudit.jobs.request_settings import working_hours
    from callaudit.reports.request_views import Shown

    return Shown(redactor, working_hours(cfg), _titles(cfg))


def _decide(ctx, call_id: str, db: str | None, as_user: str | None, action) -> None:
    """Prove the account (`--as` + its password), then run `action(session, call, account)` in one
    transaction. A failed login is committed on its own, so that throttling counts it."""
    from callaudit.cli.users import authenticated
    from callaudit.store.accounts import AuthError
    from callaudit.store.db import open_store
    from callaudit.store.queries import find_call
    from callaudit.store.schema import UserRow

    store = open_store(db, config_of(ctx))
    try:
        with store.session() as s:
            find_call(s, call_id)  # an unknown call is said before a password is asked for
        refused = None
        with store.session() as s:
            try:
                user_id = authenticated(ctx, s, as_user).id
            except AuthError as e:
                refused = e
        if refused:
            raise refused
        with store.session() as s:
            click.echo(action(s, find_call(s, call_id), s.get(UserRow, user_id)))
    finally:
        store.close()


@click.command()
@click.argument("call_id", metavar="CALL")
@click.option("--finding", help="One failed finding (rule id); default: all failed findings of the call.")
@click.option("--confirm", is_flag=True, help="The finding stands.")
@click.option("--dismiss", is_flag=True, help="The finding is wrong: it stops counting.")
@author_option
@by_refused
@click.option("--note", required=True, help="Why.")
@db_option
@click.pass_context
def review(ctx, call_id, finding, confirm, dismiss, as_user, note, db) -> None:
    """Confirm or dismiss a call's failed findings (append-only, under an hr or admin account, with the time).

    The account is --as NAME (or $CALLAUDIT_USER); its password is read from stdin, or asked for."""
    from callaudit.store import reviews

    if confirm == dismiss:  # both or neither: a decision that is not one must not be recorded as either
        raise CallauditError("say --confirm or --dismiss (one of them)")
    decision = reviews.CONFIRMED if confirm else reviews.DISMISSED

    def act(s, call, user):
        rows = reviews.review(s, call, decision, user, note, finding)
        what = finding or "all failed findings"
        return f"call {call.public_id}: {decision} {what} by {user.name} ({len(rows)} record(s) added)"

    _decide(ctx, call_id, db, as_user, act)


@click.command()
@click.argument("call_id", metavar="CALL")
@click.option("--finding", help="Appeal one failed finding (rule id); default: the whole verdict.")
@author_option
@by_refused
@click.option("--note", required=True, help="Why the verdict is wrong.")
@db_option
@click.pass_context
def appeal(ctx, call_id, finding, as_user, note, db) -> None:
    """Record an agent's appeal against their own call's verdict, within [policy] appeal_days.

    The agent's account is --as NAME (or $CALLAUDIT_USER); its password is read from stdin, or asked for."""
    from callaudit.store import reviews

    days = config_of(ctx).policy.appeal_days

    def act(s, call, user):
        reviews.appeal(s, call, user, note, days, finding)
        return f"call {call.public_id}: appeal by {user.name} recorded"

    _decide(ctx, call_id, db, as_user, act)


@click.command()
@click.argument("human_csv", type=click.Path(dir_okay=False))
@json_option("Print the figures as JSON.")
@db_option
@click.pass_context
def calibrate(ctx, human_csv, as_json, db) -> None:
    """Compare human QA verdicts (CSV: call,rule,verdict) with the tool's: agreement, kappa, confusion."""
    from callaudit.reports.calibrate import compare, read_human
    from callaudit.store.db import open_store
    from callaudit.store.queries import find_call

    rows = read_human(Path(human_csv))
    store = open_store(db, config_of(ctx))
    pairs, missing = [], []
    try:
        with store.session() as s:
            for call_ref, rule, verdict, line in rows:
                try:
                    call = find_call(s, call_ref)
                except CallauditError:
                    missing.append(f"{human_csv}:{line}: call {call_ref!r} is not in the store")
                    continue
                score = call.current_score
                tool = next((f for f in score.findings if f.rule == rule), None) if score else None
                if tool is None:
                    missing.append(f"{human_csv}:{line}: call {call_ref} has no verdict on rule {rule!r}")
                    continue
                pairs.append((rule, verdict, {True: "pass", False: "fail", None: None}[tool.passed]))
    finally:
        store.close()
    results = compare(pairs)
    if as_json:
        click.echo(json.dumps([{"rule": a.rule, "n": a.n, "agreement": a.agreement, "kappa": a.kappa,
                                "not_evaluated": a.not_evaluated,
                                "confusion": {f"human_{h}/tool_{t}": n for (h, t), n in a.matrix.items()}}
                               for a in results] + ([{"skipped": missing}] if missing else []),
                              ensure_ascii=False, indent=2))
    else:
        click.echo(f"{'rule':20} {'n':>4} {'agree':>6} {'kappa':>6}   human pass→tool pass/fail   human fail→tool pass/fail   n/e")
        for a in results:
            m = a.matrix
            agree = "-" if a.agreement is None else f"{a.agreement:.0%}"
            kappa = "-" if a.kappa is None else f"{a.kappa:.2f}"
            click.echo(f"{a.rule:20} {a.n:>4} {agree:>6} {kappa:>6}   {m[('pass', 'pass')]:>14}/{m[('pass', 'fail')]:<10}"
                       f"   {m[('fail', 'pass')]:>14}/{m[('fail', 'fail')]:<10}   {a.not_evaluated}")
        for line in missing:
            click.echo(f"skipped: {line}", err=True)
